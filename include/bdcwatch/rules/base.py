"""What a rule is, and the one registry of them.

Each rule of CONTRACT §3 is declared once, with keyword arguments, in the file of its
family (``ecert.py``, ``cases.py``, ``staff.py``, ...)::

    declare(code="ECERT_MISSING", severity=Severity.HIGH, subject_type="BDCQZH", family="ecert",
            reads=("BDC_ZS", "BDC_DZZZ_ZZXX"), title="...", labels={"ywh": "业务号", ...},
            explanation="……（what it means for a head, and what to do）", occurred="szsj",
            explanation="纸质证书（证明）缮证已超过规定时限，省级电子证照系统中仍查不到同一证号的电子证照。请核实是否漏发，及时补发，做到“纸电同步”。",
            occurred="szsj",
            sql=_missing_sql, params=_grace)

Everything else derives from those declarations: which rules a DAG runs (``select``),
which source tables it loads (``tables_read``), the titles, explanations, detail labels
and 六不准 groups in mail and the UI, the month a problem counts in (``occurred``: the
detail key of the rule's defining date, e.g. SZSJ; none for a state such as an
incomplete staff record, which counts in the month it was detected), and the DAG
integrity test. Every module of this package is
imported once when the registry is first read, so a new file of rules needs no edit
anywhere else.

A rule's SQL (``sql(RuleInput) -> str``) is one set-based statement over staging
returning ``subject_id``, ``unit_code`` and ``detail`` (JSON text, keys = ``labels``).

Findings that people or intakes report (CONTRACT §8: a reviewer's 不合格, a complaint, a
duty without evidence) are declared with ``declare_reported``: the same title, labels
and severity for mail and the UI, no SQL, family ``reported`` (no DAG runs them as rules;
``look_back`` leaves them to people), and ``reporter`` naming the channel they come from.
Parameters shared by all rules: ``:ps`` / ``:pe`` the period start / end (exclusive) as
timestamps, ``:asof`` = ``:pe`` (data judged as they stood then, CONTRACT §2); the
rule's own parameters come from ``params(RuleInput)``, always bound, never spliced.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Engine, text

from bdcwatch.config.policy import Policy, Severity
from bdcwatch.dates.periods import Period
from bdcwatch.store.dialect import Dialect

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # the date part of a detail's ISO date or timestamp

__all__ = [
    "REPORTED", "Prohibition", "Rule", "RuleInput", "SUBJECT_TYPES", "Severity", "all_rules", "declare",
    "declare_reported", "get", "select", "tables_read",
]

# What a finding's subject is, as heads read it (CONTRACT §3 subject_id column).
SUBJECT_TYPES: dict[str, str] = {
    "BDCQZH": "不动产权证书/证明号", "ZZID": "电子证照", "YWH": "业务号", "BDC_BYSL.ID": "退件记录",
    "DJJG": "登记机构", "RYBH": "工作人员", "GDBH": "工单编号", "DUTY": "履职事项",
}
# Above this share of a table's time span a period is "wide" (a yearly cycle, a benchmark):
# rules then read in key order instead of through the time index (``RuleInput.is_wide``).
WIDE_PERIOD_SHARE = 0.5
REPORTED = "reported"  # the family of findings people or intakes report (no SQL detects them)


class Prohibition(Enum):
    """The six prohibitions of plan item 26 (六不准), in the plan's order. A rule may
    belong to one; three leave no trace in the systems bdcwatch reads."""

    ILLEGAL_REGISTRATION = "不准违法违规办理不动产登记"
    EXTRA_REQUIREMENTS = "不准随意增加登记材料或环节"
    DATA_LEAK = "不准泄露不动产登记资料信息"
    STEERING_TO_AGENTS = "不准指定或变相指定中介服务"
    FEES = "不准收取“好处费”或乱收费"
    OBSTRUCTION = "不准“推绕拖”刁难办事群众（含加急、插队，第27项）"

    @property
    def text(self) -> str:
        return self.value


@dataclass(frozen=True)
class RuleInput:
    """Everything a rule may read besides staging."""

    period: Period
    policy: Policy
    dialect: Dialect
    engine: Engine | None = None
    _shares: dict[tuple[str, str], float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def base_params(self) -> dict[str, Any]:
        return {"ps": self.period.start_at, "pe": self.period.as_of, "asof": self.period.as_of}

    def period_share(self, table: str, column: str) -> float:
        """The share (0..1) of ``table``'s time span, by ``column``, that the period covers.

        SQLite plans without range statistics: for a period covering most of the archive
        (a yearly cycle, a benchmark) a scan in key order beats the time index, for a
        daily window the reverse. Rules use this to choose; ``table`` and ``column`` are
        code constants. Read once per run from the column's index (min/max).
        """
        key = (table, column)
        if key not in self._shares:
            share = 0.0
            if self.engine is not None:
                with self.engine.connect() as conn:
                    # Two statements: SQLite answers a lone MIN or MAX from the index, not both.
                    low = conn.execute(text(f"SELECT MIN({column}) FROM {table}")).scalar()
                    high = conn.execute(text(f"SELECT MAX({column}) FROM {table}")).scalar()
                if low is not None and high is not None:
                    low, high = _as_datetime(low), _as_datetime(high)
                    span = (high - low).total_seconds() or 1.0
                    overlap = (min(high, self.period.as_of) - max(low, self.period.start_at)).total_seconds()
                    share = max(0.0, min(1.0, overlap / span))
            self._shares[key] = share
        return self._shares[key]

    def is_wide(self, table: str, column: str) -> bool:
        """Whether the period covers more than ``WIDE_PERIOD_SHARE`` of ``table``'s span by
        ``column`` (see ``period_share``)."""
        return self.period_share(table, column) > WIDE_PERIOD_SHARE


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def no_params(_: RuleInput) -> dict[str, Any]:
    """For rules that need only the period."""
    return {}


@dataclass(frozen=True)
class Rule:
    """One rule of CONTRACT §3. Build it with ``declare``; see the module docstring."""

    code: str
    severity: Severity
    subject_type: str  # a key of SUBJECT_TYPES
    family: str  # ecert | case | staff: which DAGs run it
    reads: tuple[str, ...]  # source tables (CONTRACT names) whose staging the SQL reads
    title: str  # one Chinese line a head understands
    labels: Mapping[str, str]  # detail key -> Chinese label
    sql: Callable[[RuleInput], str] | None  # None: reported by people or an intake, not detected
    params: Callable[[RuleInput], dict[str, Any]] = no_params
    explanation: str = ""  # for heads, in plain Chinese: what the finding means and what to do
    occurred: str | None = None  # detail key of the date the problem happened (the rule's defining date)
    flags: frozenset[str] = frozenset()  # detail keys that are yes/no flags (shown only when set)
    per_period: bool = False  # findings carry the period label (else period is null)
    # The label of a per-period rule when it is not the run's period (a yearly obligation
    # judged by a weekly run is labelled with its year).
    label: Callable[[RuleInput], str] | None = None
    needs_calendar: bool = False  # reads supervision_db.work_calendar (deadlines)
    prohibition: Prohibition | None = None  # its group in the monthly 六不准 report
    tags: frozenset[str] = frozenset()  # e.g. "time_limit": the daily time-limit watch
    reporter: str | None = None  # for a reported finding: the channel it comes from (Chinese)
    # The finding records something that happened (a case finished late, a step by an
    # untrained person, a past month's online share): no later data makes it not have
    # happened, so closing it records the measures taken, and 回头看 cannot verify that by
    # re-running the rule (it would reopen it every year): people verify those. Not an
    # event: a state a source can correct (an e-certificate missing, a return without a
    # lawful reason code recorded, a record incomplete).
    event: bool = False

    @property
    def detected(self) -> bool:
        """True for a rule the engine detects with SQL; False for a reported finding."""
        return self.sql is not None

    def detection_sql(self, rule_input: RuleInput) -> str:
        """The rule's SQL. Raises ValueError for a reported finding (nothing to detect)."""
        if self.sql is None:
            raise ValueError(f"{self.code} is reported by {self.reporter}, not detected by SQL")
        return self.sql(rule_input)

    def occurred_on(self, detail_json: str | None) -> date | None:
        """The day the problem happened: the ``occurred`` detail value of a finding's
        ``detail`` (JSON text), or None when the rule has none or the value is not a date."""
        if self.occurred is None:
            return None
        try:
            value = json.loads(detail_json or "{}").get(self.occurred)
        except (ValueError, AttributeError):
            return None
        match = _ISO_DAY.match(str(value or ""))
        return date.fromisoformat(match[0]) if match else None

    def period_label(self, rule_input: RuleInput) -> str | None:
        if not self.per_period:
            return None
        return self.label(rule_input) if self.label else rule_input.period.label


_REGISTRY: dict[str, Rule] = {}
_LOADED = False
_NOT_RULE_MODULES = {"base", "engine", "calendar_table"}


def declare(
    *,
    code: str,
    severity: Severity,
    subject_type: str,
    family: str,
    reads: Sequence[str],
    title: str,
    labels: Mapping[str, str],
    sql: Callable[[RuleInput], str] | None,
    params: Callable[[RuleInput], dict[str, Any]] = no_params,
    flags: Iterable[str] = (),
    per_period: bool = False,
    label: Callable[[RuleInput], str] | None = None,
    needs_calendar: bool = False,
    prohibition: Prohibition | None = None,
    tags: Iterable[str] = (),
    explanation: str = "",
    occurred: str | None = None,
    reporter: str | None = None,
    event: bool = False,
) -> Rule:
    """Declare a rule and register it under its code. Raises ValueError on a second rule
    with the same code, an unknown subject type, a flag without a label, an ``occurred``
    key that is not a detail key, or a rule of a detecting family without SQL (reported
    findings use ``declare_reported``). (Every rule must also have an ``explanation``; the
    registry test checks it rather than this function, so a rule added on another branch
    cannot stop the engine from loading.)"""
    if (sql is None) != (family == REPORTED) or (sql is None) != (reporter is not None):
        raise ValueError(f"rule {code}: a detected rule has SQL; only a reported finding (declare_reported, "
                         f"family {REPORTED!r}, a reporter) has none")
    if code in _REGISTRY:
        raise ValueError(f"rule {code} is declared twice")
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"rule {code}: subject type {subject_type!r} is not one of {', '.join(SUBJECT_TYPES)}")
    flag_set = frozenset(flags)
    if not flag_set <= set(labels):
        raise ValueError(f"rule {code}: flags {sorted(flag_set - set(labels))} have no label")
    if occurred is not None and occurred not in labels:
        raise ValueError(f"rule {code}: occurred={occurred!r} is not one of its detail keys {sorted(labels)}")
    rule = Rule(
        code=code, severity=Severity(severity), subject_type=subject_type, family=family, reads=tuple(reads),
        title=title, labels=dict(labels), sql=sql, params=params, flags=flag_set, per_period=per_period,
        label=label, needs_calendar=needs_calendar, prohibition=prohibition, tags=frozenset(tags),
        explanation=explanation.strip(), occurred=occurred, reporter=reporter, event=event,
    )
    _REGISTRY[code] = rule
    return rule


def declare_reported(
    *,
    code: str,
    severity: Severity,
    subject_type: str,
    title: str,
    labels: Mapping[str, str],
    reporter: str,
    explanation: str,
    occurred: str | None = None,
    per_period: bool = False,
) -> Rule:
    """Declare a finding that people or an intake report (CONTRACT §8): registered like a
    rule (title, labels, severity, subject type for mail and the UI), family ``reported``,
    no SQL, no source tables. Raises ValueError as ``declare`` does, or on an empty reporter."""
    if not reporter.strip():
        raise ValueError(f"rule {code}: a reported finding names its reporter")
    return declare(code=code, severity=severity, subject_type=subject_type, family=REPORTED, reads=(), title=title,
                   labels=labels, sql=None, per_period=per_period, reporter=reporter, explanation=explanation,
                   occurred=occurred)


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("bdcwatch.rules")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_RULE_MODULES:
            importlib.import_module(f"bdcwatch.rules.{module.name}")
    _LOADED = True


def all_rules() -> dict[str, Rule]:
    """Every rule the engine knows, by code, in declaration order."""
    _load()
    return dict(_REGISTRY)


def get(code: str) -> Rule:
    """The rule with ``code``. Raises KeyError naming the known codes."""
    rules = all_rules()
    try:
        return rules[code]
    except KeyError:
        raise KeyError(f"no rule {code!r}; known rules: {', '.join(rules)}") from None


def select(*, family: str | Sequence[str] | None = None, tag: str | None = None) -> list[str]:
    """Codes of the rules of ``family`` (one or several) and/or carrying ``tag``, in
    declaration order: what a DAG runs."""
    families = {family} if isinstance(family, str) else set(family or ())
    return [code for code, rule in all_rules().items()
            if (not families or rule.family in families) and (tag is None or tag in rule.tags)]


def tables_read(codes: Iterable[str], *also: str) -> list[str]:
    """The source tables the rules ``codes`` read (plus ``also``), in a stable order: what
    a DAG loads before judging."""
    from bdcwatch.sources.schema import SOURCE_TABLES

    wanted = {table for code in codes for table in get(code).reads} | set(also)
    unknown = wanted - set(SOURCE_TABLES)
    if unknown:
        raise ValueError(f"unknown source tables {sorted(unknown)}")
    return [name for name in SOURCE_TABLES if name in wanted]


def title(code: str) -> str:
    """A rule's Chinese title, or the code itself for a rule no longer known."""
    rule = all_rules().get(code)
    return rule.title if rule else code
