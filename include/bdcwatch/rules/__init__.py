"""The rules of CONTRACT §3: one declaration each (``declare``), one registry.

``select`` and ``tables_read`` give a DAG its rules and the tables they read; ``engine``
runs them set-based in supervision_db and records the findings.
"""

from bdcwatch.rules.base import (
    REPORTED,
    SUBJECT_TYPES,
    Prohibition,
    Rule,
    RuleInput,
    all_rules,
    declare,
    declare_reported,
    get,
    select,
    tables_read,
    title,
)

__all__ = [
    "REPORTED", "SUBJECT_TYPES", "Prohibition", "Rule", "RuleInput", "all_rules", "declare", "declare_reported", "get",
    "select", "tables_read", "title",
]
