"""Reading the ledger the way operators look for things (CONTRACT §7): filtered,
newest first, a page at a time; one finding with its audit trail and escalations.

The operations UI's API, its XLSX export and ``bdcwatch finding list / show`` all read
through here, so a filter means the same everywhere. Rows leave as ``FindingItem``:
the §4 columns with every text from data masked (CONTRACT §6); the caller escapes for
its medium.

Paging is by page number over ``ORDER BY id DESC`` (ids grow with first detection, so
this is newest first): the page's ids come from an index-only walk of the filter's index
(migration 0007) and only those rows are read, so a deep page costs an index range, not
a sort of the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, Connection, and_, func, not_, or_, select

from bdcwatch import rules
from bdcwatch.dates.periods import Period, parse_period_label
from bdcwatch.ledger.lifecycle import OPEN_STATUSES
from bdcwatch.safe_text import typed
from bdcwatch.standards.masking import mask_id_numbers, mask_json_text
from bdcwatch.store.models import finding, finding_escalation, finding_event

Status = Literal["open", "rectifying", "closed", "reopened"]
SeverityName = Literal["high", "medium", "low"]
MAX_PAGE_SIZE = 500


class FindingFilter(BaseModel):
    """The ledger's filters (CONTRACT §7 ``GET /bdcwatch/api/findings``); None = any.

    ``overdue``: True = an open status (open, rectifying, reopened) with ``due_date``
    before today; False = everything else. ``q``: a case-insensitive substring of the
    subject id (certificate number, case number, ...). ``period``: the period label as
    stored (CONTRACT §4: only per-period rules have one). ``within``: a period label
    (``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``, ``2026-11-01..2026-11-16``) and every
    finding that belongs to it — what the digests print as 所属期间: a per-period finding
    whose period lies inside it, any other whose problem happened in it
    (``finding.occurred_on``). ``recurred``: True = closed, yet detected again after it
    was closed (``recurs``), the paper closure 挂账销号 must not end in. Raises ValueError
    (422 in the API) for a label that is not one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str | None = None
    rule: str | None = None
    severity: SeverityName | None = None
    status: Status | None = None
    overdue: bool | None = None
    period: str | None = None
    within: str | None = Field(default=None, max_length=40)
    q: str | None = Field(default=None, max_length=100)
    recurred: bool | None = None

    @field_validator("unit", "rule", "period", "within", "q", mode="before")
    @classmethod
    def _blank_is_any(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = typed(value).strip()  # a NUL typed into a filter: PostgreSQL refuses it in a query
            return value or None
        return value

    @field_validator("unit", "rule", mode="after")
    @classmethod
    def _codes_upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value  # DJJG and rule codes are upper case

    @field_validator("within", "period", mode="after")
    @classmethod
    def _a_period_label(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            period = parse_period_label(value)
        except ValueError:
            shown = mask_id_numbers(value)  # echoed back to the caller: §6 all the same
            raise ValueError(f"“{shown}”不是期间，应写作 2026-11、2026-Q4、2026-H2、2026 或 2026-11-01..2026-11-16"
                             f"（{shown!r} is not a period）") from None
        return period.label  # one spelling: 2026-q4 and 2026-Q4 are the same period

    def conditions(self, today: date, dialect: str = "postgresql") -> list[ColumnElement[bool]]:
        """SQL conditions on ``finding`` (``today``: the policy zone's date, for overdue;
        ``dialect``: SQLite's LIKE is already case-insensitive, so no lower() there)."""
        found: list[ColumnElement[bool]] = []
        if self.unit:
            found.append(finding.c.unit_code == self.unit)
        if self.rule:
            found.append(finding.c.rule_code == self.rule)
        if self.severity:
            found.append(finding.c.severity == self.severity)
        if self.status:
            found.append(finding.c.status == self.status)
        if self.period:
            found.append(finding.c.period == self.period)
        if self.within:
            found.append(_belongs_to(parse_period_label(self.within)))
        if self.overdue is not None:
            late = and_(finding.c.status.in_(OPEN_STATUSES), finding.c.due_date < today)
            found.append(late if self.overdue else not_(late))
        if self.recurred is not None:
            found.append(_recurred() if self.recurred else not_(_recurred()))
        if self.q:
            found.append(_subject_search(self.q, dialect))
        return found

    def as_query(self) -> dict[str, str]:
        """The filter as URL query parameters (links to the next page, the export)."""
        return {k: ("true" if v is True else "false" if v is False else str(v))
                for k, v in self.model_dump().items() if v is not None}


def _subject_search(q: str, dialect: str) -> ColumnElement[bool]:
    """``q`` as a substring of the subject as the pages show it (``subject_shown``: ID
    numbers masked, else the subject as written): a search over the raw subject let any
    reader spell out a masked ID number digit by digit (§6); the masked form copied from
    a page finds its finding."""
    shown = func.coalesce(finding.c.subject_shown, finding.c.subject_id)
    return shown.contains(q, autoescape=True) if dialect == "sqlite" else shown.icontains(q, autoescape=True)


@lru_cache(maxsize=1)
def _state_rules() -> tuple[str, ...]:
    """Rules whose finding is a state a source can correct (not ``Rule.event``, not
    reported): detected again after closing, the problem is still there. The registry is
    fixed once loaded: computed once, not per row of a page."""
    return tuple(sorted(code for code, rule in rules.all_rules().items() if rule.detected and not rule.event))


def recurs(rule_code: str, status: str, closed_at: datetime | None, last_detected_at: datetime) -> bool:
    """A closed finding its rule detected again after it was closed: the state the closing
    said was fixed is still (or again) in the data. Rules about past events are left out
    (a rerun of an old period finds the same event again, and says nothing new)."""
    return (status == "closed" and closed_at is not None and last_detected_at > closed_at
            and rule_code in _state_rules())


def _recurred() -> ColumnElement[bool]:
    return and_(finding.c.status == "closed", finding.c.closed_at.is_not(None),
                finding.c.last_detected_at > finding.c.closed_at, finding.c.rule_code.in_(list(_state_rules())))


def labels_inside(window: Period) -> list[str]:
    """Every calendar period label (year, half, quarter, month) whose period lies inside
    ``window``; years before 1990 and after 2100 are not enumerated."""
    found: list[str] = []
    for year in range(max(window.start.year, 1990), min(window.end.year, 2100) + 1):
        labels = [f"{year}", f"{year}-H1", f"{year}-H2", *(f"{year}-Q{q}" for q in range(1, 5)),
                  *(f"{year}-{m:02d}" for m in range(1, 13))]
        found += [label for label in labels
                  if window.start <= (p := parse_period_label(label)).start and p.end <= window.end]
    return found


def _belongs_to(window: Period) -> ColumnElement[bool]:
    """A finding belongs to ``window``: its period label lies inside it (a calendar label,
    or an ad hoc ``start..end`` label compared as ISO text), or it has no period and its
    problem happened in it."""
    period = finding.c.period
    ad_hoc = and_(period.like("____-__-__..____-__-__"), func.substr(period, 1, 10) >= window.start.isoformat(),
                  func.substr(period, 13, 10) <= window.end.isoformat())
    happened = and_(period.is_(None), finding.c.occurred_on >= window.start, finding.c.occurred_on < window.end)
    return or_(period.in_(labels_inside(window)), ad_hoc, happened)


@dataclass(frozen=True)
class FindingItem:
    """A finding as it leaves the ledger: the §4 columns, texts masked, plus its rule's
    title and whether it is overdue today."""

    id: int
    fingerprint: str
    rule_code: str
    rule_title: str
    severity: str
    unit_code: str | None
    subject_type: str
    subject_id: str
    period: str | None
    occurred_on: date | None  # the day the problem happened (see store.models.finding)
    detail: str  # JSON text, masked
    status: str
    first_detected_at: datetime
    last_detected_at: datetime
    due_date: date
    closed_at: datetime | None
    overdue: bool
    dag_id: str
    recurred: bool = False  # closed, yet detected again after closing (``recurs``)

    @classmethod
    def from_row(cls, row: Any, today: date) -> FindingItem:
        return cls(
            id=int(row.id), fingerprint=mask_id_numbers(row.fingerprint), rule_code=row.rule_code,
            rule_title=rules.title(row.rule_code), severity=row.severity, unit_code=row.unit_code,
            subject_type=row.subject_type, subject_id=mask_id_numbers(row.subject_id), period=row.period,
            occurred_on=row.occurred_on, detail=mask_json_text(row.detail or "{}"), status=row.status,
            first_detected_at=row.first_detected_at, last_detected_at=row.last_detected_at, due_date=row.due_date,
            closed_at=row.closed_at,
            overdue=row.status in OPEN_STATUSES and row.due_date < today, dag_id=row.dag_id,
            recurred=recurs(row.rule_code, row.status, row.closed_at, row.last_detected_at),
        )

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: timestamps as ``YYYY-MM-DD HH:MM:SS`` (local time), dates ISO."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat(sep=" ")
            elif isinstance(value, date):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class FindingPage:
    total: int
    page: int
    page_size: int
    items: list[FindingItem]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def find_findings(conn: Connection, flt: FindingFilter, *, today: date, page: int = 1,
                  page_size: int = 50) -> FindingPage:
    """One page of the filtered ledger, newest first, with the number of matches.

    A subject search (``q``) cannot use a B-tree range: its page and count come from one
    pass (a window count) instead of two scans.

    Raises:
        ValueError: page < 1, or page_size outside 1..MAX_PAGE_SIZE.
    """
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    where = flt.conditions(today, conn.dialect.name)
    ids = select(finding.c.id).where(*where).order_by(finding.c.id.desc()).limit(page_size).offset((page - 1) * page_size)
    total: int | None = None
    if flt.q:
        counted = conn.execute(ids.add_columns(func.count().over().label("total"))).all()
        total = int(counted[0].total) if counted else None
        wanted = [row.id for row in counted]
        rows = conn.execute(select(finding).where(finding.c.id.in_(wanted)).order_by(finding.c.id.desc())).all()
    else:
        page_ids = ids.subquery("page_ids")
        rows = conn.execute(select(finding).join(page_ids, page_ids.c.id == finding.c.id)
                            .order_by(finding.c.id.desc())).all()
    if total is None:
        total = int(conn.execute(select(func.count()).select_from(finding).where(*where)).scalar_one())
    return FindingPage(total, page, page_size, [FindingItem.from_row(r, today) for r in rows])


def iter_findings(conn: Connection, flt: FindingFilter, *, today: date, limit: int) -> Iterator[FindingItem]:
    """Every match, newest first, at most ``limit`` (streamed: the export of a big ledger
    never holds it in memory)."""
    query = select(finding).where(*flt.conditions(today, conn.dialect.name)).order_by(finding.c.id.desc()).limit(limit)
    for row in conn.execution_options(yield_per=2000).execute(query):
        yield FindingItem.from_row(row, today)


def count_findings(conn: Connection, flt: FindingFilter, *, today: date) -> int:
    where = flt.conditions(today, conn.dialect.name)
    return int(conn.execute(select(func.count()).select_from(finding).where(*where)).scalar_one())


@dataclass(frozen=True)
class Event:
    """One entry of a finding's audit trail (``from_status`` None: its detection)."""

    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str  # masked


@dataclass(frozen=True)
class Escalation:
    """A month in which the finding went up to its unit's supervisor (plan items 31, 36)."""

    period: str
    supervisor: str
    escalated_at: datetime
    outbox_id: int


@dataclass(frozen=True)
class FindingDetail:
    item: FindingItem
    events: list[Event]
    escalations: list[Escalation]


def finding_detail(conn: Connection, finding_id: int, *, today: date) -> FindingDetail | None:
    """The finding with its audit trail (oldest first) and escalations; None if unknown."""
    row = conn.execute(select(finding).where(finding.c.id == finding_id)).first()
    if row is None:
        return None
    events = [
        Event(e.at, e.actor, e.from_status, e.to_status, mask_id_numbers(e.note))
        for e in conn.execute(select(finding_event).where(finding_event.c.finding_id == finding_id)
                              .order_by(finding_event.c.id))
    ]
    escalations = [
        Escalation(e.period, e.supervisor, e.escalated_at, int(e.outbox_id))
        for e in conn.execute(select(finding_escalation).where(finding_escalation.c.finding_id == finding_id)
                              .order_by(finding_escalation.c.period))
    ]
    return FindingDetail(FindingItem.from_row(row, today), events, escalations)

