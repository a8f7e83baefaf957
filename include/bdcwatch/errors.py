"""What can go wrong, sorted by whether trying again can help.

The orchestration layer turns a ``PermanentError`` into Airflow's non-retryable failure
(the task fails at once and operations are alerted): a misspelt policy key, a source
table without a column, a period like ``2026-13-01`` or too many broken rows do not fix
themselves in five minutes. Everything else (a database or mail relay that does not
answer) is left to Airflow's retries with backoff.
"""

from __future__ import annotations


class BdcwatchError(Exception):
    """Base of the engine's own errors.

    ``zh``: what went wrong in Chinese, for the operations desk (the failure alert puts it
    above the English message, which stays what the logs and a search find). ``None`` when
    the error has no Chinese wording.
    """

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh


class PermanentError(BdcwatchError):
    """Retrying the same task cannot help: configuration, schema or input is wrong."""


class PolicyError(PermanentError, ValueError):
    """The policy file is missing, unreadable, or holds a wrong, missing or unknown key.
    Its Chinese text says so and carries the message (the file and the key's path)."""

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message, zh=zh or f"策略文件有误（或未包含所需的登记机构、主管部门）：请按下列提示修改文件中对应的键后重新运行。{message}")


class RunSpecError(PermanentError, ValueError):
    """A run was asked for something impossible: a bad period, an unknown unit or conf key."""


class QualityGateError(PermanentError):
    """A source table as a whole cannot be trusted (table-level expectation, too many bad rows)."""


class SourceSchemaError(QualityGateError):
    """A source table is missing or lacks required columns."""


class AuditTrailError(PermanentError):
    """The hash chain of the audit trail is broken: an entry was edited, deleted or reordered."""


class ConnectionConfigError(PermanentError, ValueError):
    """An Airflow Connection holds a setting the engine cannot use (e.g. an unknown extra value)."""
