"""Deterministic demo data for Yangquan's three source systems, with a ground truth.

The generator writes what the engine reads (CONTRACT §1): the registration system (cases,
review steps, 登簿, paper certificates, returns, seizures), the provincial e-certificate
system and the staff registry, for the five units of the policy. The bulk is clean; on top
of it, it plants a known set of problems of every ECERT_* and case rule (CASE_*, RETURN_*,
MORTGAGE_WHILE_SEALED, ONLINE_RATIO_LOW) and of every STAFF_* rule, traps that a correct
engine must not flag, and a handful of out-of-domain rows that the quality gate should
quarantine. ``GroundTruth`` lists all three.

Design choices worth knowing:

* Determinism: one ``random.Random(seed)``, no wall clock, no iteration over sets; the same
  arguments give the same rows on every dialect, whatever the batch size.
* Flat memory: rows are produced day by day and written in batches of ``batch_size`` rows,
  one transaction per batch. What is kept in memory is proportional to the planted
  problems (the ground truth itself), never to the bulk.
* Clean means clean for every rule of CONTRACT §3: each bulk case is registered 1..3
  working days after acceptance (never the same day, never past its time limit, so no
  overdue case and no queue jump), online shares of mortgage/预告 cases stay far above the
  targets, and every handler is on the roster, trained and in post. The bulk has no returns
  and no seizures: those rows are all planted, on unit numbers of their own.
* Planted case problems print no certificate (the certificate count stays exact and no
  ECERT rule is touched). Each triggers only its own rule: no registered case, planted or
  not, takes more than 1/max_fraction_of_median working days (4), so no month's median can
  make a case of one working day or more look fast; the only same-day cases are the planted
  queue jumpers (with ordinary peers in their month), exempt 查封/异议 and the busy-day trap
  in class 900, which nothing else uses. Seizures of the sealed-mortgage plants date from
  before the period's first month, away from the period's 查封 statistics.
* Staff plants are people added beside the roster (RYBH numbers 101 and up, so the bulk
  never picks them): untrained, departed or unknown (黄牛-style or mistyped) ids take case
  steps on clean 转移 cases of their own (no certificate, registered in time, never fast);
  the others (records, rotation, pledge, training hours) take no step and are judged as of
  as-of. The staff rules depend on the period: TRAINING_HOURS exists only when period_end is
  1 January, TRAINING_BEHIND only a whole month into the year, PLEDGE_MISSING only after the
  pledge deadline. Each planted person is therefore judged by the generator's own reading of
  CONTRACT §3 for the period given: a plant that would trigger a rule it is not built for
  raises, and one whose rule the period does not judge is recorded as a trap instead.
* Staff quarantine rows (an RY_PXJL course with KHJG 5, RY_JBXX rows with ZT 3 or YGLX 9)
  are harmless whether kept or set aside: an extra course of a well-trained roster member,
  people who take no case step and trigger no rule.
* Timestamps are whole seconds (MySQL DATETIME keeps no fraction by default) and local
  time, as the reference schema says.
* Nothing happens after ``today`` 00:00, the moment the sources are read (a source holds
  no future events). By default that is ten days after period_end, so the history runs on
  past as-of and the as-of traps (an e-certificate revoked or issued after as-of, a person
  posted after it) are there for the engine to ignore. Read on the day the period ends (the
  demo on the 1st of a month), the history stops at as-of: what would come later has not
  happened yet (the e-certificate is still valid, or not issued; the case is still 在办),
  which gives the same findings, and the as-of traps that need a later event are left out.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import uuid
from bisect import bisect_right
from calendar import monthrange
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import chinese_calendar
from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    MetaData,
    Numeric,
    Table,
    create_engine,
    event,
)

from bdcwatch.config.policy import Policy, Unit, load_policy
from bdcwatch.demo.dirty import DirtyWorld
from bdcwatch.sources.schema import (
    ECERT,
    REGISTRATION,
    SOURCE_TABLES,
    STAFF,
    build_metadata,
)
from bdcwatch.standards.identifiers import id_number_check_character, is_valid_id_number, make_ecert_identifier
from bdcwatch.standards.normalise import normalize_certificate_number

__all__ = ["Finding", "GroundTruth", "QuarantinedRow", "Trap", "generate", "main"]

# --------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Finding:
    """A finding the engine must report (rule + subject, as in CONTRACT §3)."""

    rule_code: str
    subject_id: str
    unit_code: str


@dataclass(frozen=True)
class QuarantinedRow:
    """A source row with an out-of-domain value that the quality gate must set aside."""

    table: str
    key: str
    column: str


@dataclass(frozen=True)
class Trap:
    """A row built to look like a problem that is not one (or only as of as-of)."""

    kind: str
    table: str
    key: str
    note: str


@dataclass
class GroundTruth:
    """What a correct engine finds in the generated data for the given period."""

    period_start: date
    period_end: date
    as_of: datetime
    seed: int
    size: int
    findings: list[Finding] = field(default_factory=list)
    quarantine: list[QuarantinedRow] = field(default_factory=list)
    traps: list[Trap] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: findings sorted by (rule_code, subject_id)."""
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "seed": self.seed,
            "size": self.size,
            "findings": [
                {"rule_code": f.rule_code, "subject_id": f.subject_id, "unit_code": f.unit_code}
                for f in sorted(self.findings)
            ],
            "quarantine": [
                {"table": q.table, "key": q.key, "column": q.column} for q in self.quarantine
            ],
            "traps": [
                {"kind": t.kind, "table": t.table, "key": t.key, "note": t.note} for t in self.traps
            ],
        }

    def write(self, path: str | Path) -> Path:
        """Write the ground truth as UTF-8 JSON (Chinese kept readable) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        return target

    @classmethod
    def read(cls, path: str | Path) -> GroundTruth:
        """Load a ground truth written by :meth:`write`."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            period_start=date.fromisoformat(raw["period_start"]),
            period_end=date.fromisoformat(raw["period_end"]),
            as_of=datetime.fromisoformat(raw["as_of"]),
            seed=int(raw["seed"]),
            size=int(raw["size"]),
            findings=[Finding(**f) for f in raw["findings"]],
            quarantine=[QuarantinedRow(**q) for q in raw["quarantine"]],
            traps=[Trap(**t) for t in raw["traps"]],
        )


# --------------------------------------------------------------------------------------
# Realism constants (demo volumes and vocabulary; codes with a meaning come from the policy)
# --------------------------------------------------------------------------------------

LEAD_IN_DAYS = 91  # history starts ~3 months before the period ...
TAIL_DAYS = 10  # ... and runs on ~10 days after it (real systems keep running), unless read sooner
MIN_PERIOD_DAYS = 14  # room for planted problems plus the 24 h grace before as-of
PLANTED_SHARE = 0.015  # planted findings, as a share of the certificates
TRAPS_PER_CERTIFICATES = 10_000  # one trap of each kind per this many certificates (min 2)

# Relative case volumes; a unit the policy adds later gets weight 10.
_UNIT_WEIGHT = {"YQ00": 40, "YQ11": 15, "YQ21": 18, "YQ22": 15, "YQGX": 12}
# County units print their own county on the certificate; the others print 阳泉市.
_PLACE = {"YQ21": "平定县", "YQ22": "盂县"}
_CITY_PLACE = "阳泉市"
_CERT_WORD = {1: "不动产权", 2: "不动产证明"}  # the certificate number's type word (CONTRACT §5)
_PROVINCE = "晋"

_SURNAMES = (
    "王李张刘赵杨郭武陈梁吴孙周徐马高胡朱林何罗宋郑谢韩唐冯于董程曹袁邓许"
    "傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金"
    "陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常乔贺赖龚文牛翟霍"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红文斌玉海燕鹏飞宇"
    "浩然晓东俊欣怡梓涵子轩雨桐思远佳琪秀英春梅丹凤立新永利晋宏亮瑞雪慧晨阳"
)
_ID_AREAS = ("140302", "140302", "140303", "140311", "140321", "140322", "140300")
_SHYJ = ("经审核，符合登记条件，同意登记。", "材料齐全，符合法定形式，同意。", "同意登簿。")
_COURTS = ("阳泉市中级人民法院", "阳泉市城区人民法院", "阳泉市郊区人民法院", "平定县人民法院", "盂县人民法院")
_LOOSE_RETURN_REASONS = ("材料需进一步补充", "系统原因，请重新申报", "请到窗口咨询", "资料不全")
_COURSES = (
    "不动产登记业务规范",
    "《不动产登记暂行条例》实施细则",
    "不动产权籍调查与单元代码",
    "电子证照签发与管理",
    "廉政风险防控警示教育",
    "一网通办与窗口服务规范",
    "信息安全与个人信息保护",
)
# Roster per unit level: how many people hold each post. 受理/审核/登簿 handle the steps.
_ROSTER = {
    "city": (("受理", 4), ("审核", 3), ("登簿", 2), ("缮证", 2), ("发证", 1), ("综合", 1)),
    "county": (("受理", 2), ("审核", 2), ("登簿", 1), ("缮证", 1), ("发证", 1), ("综合", 1)),
}

# Minutes after midnight.
_OPEN, _CLOSE = 8 * 60 + 30, 17 * 60 + 30
_SL_WINDOW = (_OPEN, 16 * 60)  # acceptance: leaves the first review room within the day
_DB_WINDOW = (10 * 60 + 30, 16 * 60 + 30)  # 登簿: leaves room for the final review before it
_ASOF_EVE_WINDOW = (11 * 60, _CLOSE)  # "less than 24 h before as-of" events, after a 登簿
_AFTERNOON = (14 * 60 + 30, 16 * 60 + 30)  # 登簿 after a planted same-day case's (12:00-14:00)
_TH_WINDOW = (11 * 60, 17 * 60)  # 退件 (leaves room for acceptance and review before it)
_JUMP_PEERS = 3  # ordinary cases planted beside each queue jumper in its month
_INDUCTION = "不动产登记岗前培训"

_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_EPOCH, _MILLISECOND = datetime(1970, 1, 1), timedelta(milliseconds=1)
_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
_FULLWIDTH_PARENS = str.maketrans("()", "（）")

T = TypeVar("T")


class _Weighted(Generic[T]):
    """Weighted choice by bisection over cumulative weights (much faster than choices())."""

    def __init__(self, items: Sequence[tuple[T, float]]) -> None:
        total = sum(weight for _, weight in items)
        self._values = [value for value, _ in items]
        self._cumulative = list(accumulate(weight / total for _, weight in items))

    def pick(self, u: float) -> T:
        return self._values[min(bisect_right(self._cumulative, u), len(self._values) - 1)]


@dataclass(frozen=True)
class _CaseType:
    djdl: str
    qllx: str
    zslx: int | None  # the certificate the case issues (None: it issues none)
    land_only: bool
    djxl: str  # 登记小类, informative
    max_elapsed: int  # working days from acceptance to 登簿: 1..min(3, time limit)
    online_scope: bool  # counted by the online-handling share (item 12)
    limit_class: str  # CONTRACT §5
    limit: int  # its time limit in working days


# --------------------------------------------------------------------------------------
# Working days
# --------------------------------------------------------------------------------------


class _WorkCalendar:
    """Working days as the engine counts them (CONTRACT §5).

    The State Council calendar (holidays and 调休 makeup days) where chinese_calendar knows
    the year, else Monday to Friday, which is the engine's documented fallback.
    """

    def __init__(self) -> None:
        self._cache: dict[date, bool] = {}

    def is_workday(self, day: date) -> bool:
        known = self._cache.get(day)
        if known is None:
            try:
                known = bool(chinese_calendar.is_workday(day))
            except NotImplementedError:  # a year the package does not know yet
                known = day.weekday() < 5
            self._cache[day] = known
        return known

    @staticmethod
    def is_named_holiday(day: date) -> bool:
        """A day off of a statutory holiday (Spring Festival, National Day ...), not a plain weekend."""
        try:
            off, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return False
        return bool(off) and name is not None

    def on_or_after(self, day: date) -> date:
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def on_or_before(self, day: date) -> date:
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def shift(self, day: date, count: int) -> date:
        """The |count|-th working day after (count > 0) or before (count < 0) ``day``."""
        step = timedelta(days=1 if count > 0 else -1)
        for _ in range(abs(count)):
            day += step
            while not self.is_workday(day):
                day += step
        return day

    def workdays(self, first: date, last: date) -> list[date]:
        """Working days in [first, last]."""
        days, day = [], first
        while day <= last:
            if self.is_workday(day):
                days.append(day)
            day += timedelta(days=1)
        return days


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


# Bulk loads into SQLite bypass SQLAlchemy's per-parameter processing (about half the run
# time at a million certificates). Tests turn this off to prove both store the same bytes.
_SQLITE_FAST_PATH = True


def _sqlite_storage(column_type: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy's SQLite dialect stores a value of this type (None: as is).

    Same text as its bind processors ('2026-01-05 09:12:33.000000', '2026-01-05', float),
    computed by C-level isoformat instead of Python string formatting.
    """
    if isinstance(column_type, DateTime):
        return lambda value: value.isoformat(" ", "microseconds")
    if isinstance(column_type, Date):
        return date.isoformat
    if isinstance(column_type, Numeric):
        return float
    return None


class _TableInserter:
    """Inserts batches of one table's rows (dicts keyed by column name)."""

    def __init__(self, table: Table, conn: Connection) -> None:
        self._table = table
        self._conn = conn
        self.dialect = conn.dialect.name
        self._fast = _SQLITE_FAST_PATH and conn.dialect.name == "sqlite"
        if self._fast:
            compiled = table.insert().compile(dialect=conn.dialect)
            names = list(compiled.positiontup or ())
            assert names == [c.name for c in table.columns], "unexpected INSERT parameter order"
            self._sql = str(compiled)
            self._values = itemgetter(*names)
            self._storage = [
                (i, convert)
                for i, column in enumerate(table.columns)
                if (convert := _sqlite_storage(column.type)) is not None
            ]

    def insert(self, rows: list[dict[str, Any]]) -> None:
        with self._conn.begin():
            if not self._fast:
                self._conn.execute(self._table.insert(), rows)
                return
            tuples = []
            for row in rows:
                values = list(self._values(row))
                for i, convert in self._storage:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                tuples.append(tuple(values))
            self._conn.exec_driver_sql(self._sql, tuples)


_Rewrite = Callable[[str, list[dict[str, Any]], str], list[dict[str, Any]]]


class _BatchWriter:
    """Buffers rows per table and inserts each full buffer in its own transaction."""

    def __init__(self, batch_size: int, rewrite: _Rewrite | None = None) -> None:
        self._batch_size = batch_size
        self._rewrite = rewrite  # the dirty world's (table, rows, dialect) -> rows, see demo.dirty
        self._inserters: dict[str, _TableInserter] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in SOURCE_TABLES}
        self.counts: dict[str, int] = dict.fromkeys(SOURCE_TABLES, 0)

    def bind(self, targets: dict[str, tuple[Table, Connection]]) -> None:
        """Attach each table to the connection of its system (before the first row)."""
        self._inserters = {name: _TableInserter(table, conn) for name, (table, conn) in targets.items()}

    def add(self, table: str, row: dict[str, Any]) -> None:
        buffer = self._buffers[table]
        buffer.append(row)
        self.counts[table] += 1
        if len(buffer) >= self._batch_size:
            self._flush(table)

    def _flush(self, table: str) -> None:
        if self._buffers[table]:
            rows, inserter = self._buffers[table], self._inserters[table]
            if self._rewrite is not None:
                rows = self._rewrite(table, rows, inserter.dialect)
            inserter.insert(rows)
            self._buffers[table] = []

    def flush_all(self) -> None:
        for table in self._buffers:
            self._flush(table)


# --------------------------------------------------------------------------------------
# Row factory: cases, certificates, e-certificates, staff
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Case:
    ywh: str
    unit: str
    qxdm: str
    ctype: _CaseType
    bdcdyh: str
    dbsj: datetime


class _CaseRef(NamedTuple):
    """A planted case as written."""

    ywh: str
    unit: str
    bdcdyh: str
    slsj: datetime
    dbsj: datetime | None
    jssj: datetime | None


@dataclass(slots=True)
class _Issue:
    """A registered case and the paper certificate it printed (row not yet written)."""

    case: _Case
    paper: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(normalize_certificate_number(self.paper["BDCQZH"]))


class _RowFactory:
    """Builds internally consistent rows; the only owner of the random stream's use."""

    def __init__(
        self,
        rng: random.Random,
        policy: Policy,
        writer: _BatchWriter,
        calendar: _WorkCalendar,
        history_start: date,
    ) -> None:
        self.rng = rng
        self.rnd = rng.random
        self.policy = policy
        self.writer = writer
        self.cal = calendar
        self.type_codes = policy.ecert.type_codes
        self.units: list[Unit] = list(policy.units.values())
        self._unit_pick = _Weighted([(u, _UNIT_WEIGHT.get(u.code, 10)) for u in self.units])
        self._limits: dict[str, int] = dict(policy.time_limits_working_days)
        self._mortgage_codes = list(policy.mortgage_qllx_codes)
        online = policy.online_handling
        self._online_sqfs = list(online.online_sqfs)
        self._offline_sqfs = [s for s in (1, 2, 3, 4) if s not in self._online_sqfs]
        # Online share of in-scope cases, spread evenly (Bresenham) so every run of 20 or
        # more of a unit's cases clears the highest target with room to spare.
        self._online_share = min(0.95, max(float(t) for t in online.targets.values()) + 0.25)
        self._online_seen: dict[tuple[str, bool], int] = {}
        # Per (unit, accepted in the period) overrides of that share (see configure_online).
        self._online_shares: dict[tuple[str, bool], float] = {}
        self._online_window = (datetime.min, datetime.min)
        # In-scope cases accepted in the period, per unit: [cases, online ones].
        self.online_tally: dict[str, list[int]] = {}
        queue = policy.queue_jump
        self.min_overtaken = queue.min_overtaken
        self.exempt_classes = list(queue.exempt_classes)
        fraction = queue.max_fraction_of_median
        # No group median can exceed the slowest registered case: while every case takes at
        # most 1/fraction working days, a case taking 1 or more is never "fast".
        self.max_slow = math.floor(1 / fraction) if fraction > 0 else 10**6
        self._ordinary_sqfs = _Weighted([(1, 0.45), (2, 0.35), (3, 0.08), (4, 0.12)])

        mortgage = self._mortgage_codes[0]
        self.first = self._case_type("100", "4", 1)
        self.transfer_type = self._case_type("200", "4", 1)
        self.change = self._case_type("300", "4", 1)
        self.land = self._case_type("100", "3", 1, land_only=True)
        self.mortgage = self._case_type("100", mortgage, 2)
        self.presale = self._case_type("700", "4", 2)
        self.release = self._case_type("400", mortgage, None)
        # Case types only the planted case problems use (no certificate printed).
        other_mortgage = self._mortgage_codes[1 % len(self._mortgage_codes)]
        self.mortgage_alt = self._case_type("100", other_mortgage, None, bulk=False)
        self.seizure = self._case_type("800", "4", None, bulk=False)
        self.objection = self._case_type("600", "4", None, bulk=False)
        self.other = self._case_type("900", "4", None, bulk=False)
        self.returnable = _Weighted(
            [(self.first, 0.25), (self.transfer_type, 0.4), (self.change, 0.1), (self.mortgage, 0.2), (self.presale, 0.05)]
        )
        self.case_mix = _Weighted(
            [
                (self.first, 0.20),
                (self.transfer_type, 0.40),
                (self.change, 0.10),
                (self.land, 0.03),
                (self.mortgage, 0.21),
                (self.presale, 0.06),
            ]
        )
        self._seq = {"ywh": 0, "zs": 0, "ysxlh": 0, "zzbs": 0, "px": 0, "dyh": 0, "th": 0}
        self._cert_serial: dict[tuple[int, int, str], int] = {}
        self._history_start = history_start
        self.staff: dict[str, dict[str, list[str]]] = {}  # unit -> post -> RYBH list
        self.pledge_day = date.min  # set by write_staff

    # -- small random helpers -----------------------------------------------------------
    def randint(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi]."""
        return lo + int(self.rnd() * (hi - lo + 1))

    def minutes(self, lo: float, hi: float) -> timedelta:
        """A whole-second duration between lo and hi minutes."""
        return timedelta(seconds=int((lo + self.rnd() * (hi - lo)) * 60))

    def moment(self, day: date, window: tuple[int, int]) -> datetime:
        """A whole-second moment on ``day`` within (minutes after midnight) ``window``."""
        lo, hi = window
        return datetime.combine(day, time()) + timedelta(
            seconds=int((lo + self.rnd() * (hi - lo)) * 60)
        )

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.rnd() * len(items))]

    def next_seq(self, name: str) -> int:
        self._seq[name] += 1
        return self._seq[name]

    def case_number(self, slsj: datetime) -> str:
        """业务号: acceptance date + a sequence (arithmetic, not strftime: hot path)."""
        return f"{slsj.year * 10000 + slsj.month * 100 + slsj.day}{self.next_seq('ywh'):08d}"

    def pick_unit(self) -> tuple[str, str]:
        unit = self._unit_pick.pick(self.rnd())
        return unit.code, self.qxdm_of(unit.code)

    def qxdm_of(self, unit_code: str) -> str:
        # A unit's first 区县 carries most of its volume (城区 over 矿区 for the city).
        qxdm = self.policy.unit(unit_code).qxdm
        return qxdm[0] if len(qxdm) == 1 or self.rnd() < 0.7 else self.pick(qxdm[1:])

    # -- people and codes ---------------------------------------------------------------
    def person_name(self) -> str:
        # Squaring the uniform draw favours the common surnames at the head of the list.
        surname = _SURNAMES[int(self.rnd() ** 2 * len(_SURNAMES))]
        given = self.pick(_GIVEN)
        if self.rnd() < 0.7:
            given += self.pick(_GIVEN)
        return surname + given

    def id_number(self, born_from: int = 1950, born_to: int = 2003) -> str:
        """A GB 11643 number from a Yangquan area with a correct check character."""
        # Day 1..28 keeps every birth date real without calendar arithmetic (hot path).
        body = (
            f"{self.pick(_ID_AREAS)}{self.randint(born_from, born_to):04d}"
            f"{self.randint(1, 12):02d}{self.randint(1, 28):02d}{self.randint(1, 999):03d}"
        )
        return body + id_number_check_character(body)

    def holders(self, count: int | None = None) -> tuple[list[str], list[str]]:
        """1–3 distinct holder names (mostly one) and their ID numbers."""
        if count is None:
            u = self.rnd()
            count = 1 if u < 0.6 else 2 if u < 0.95 else 3
        names: list[str] = []
        while len(names) < count:
            name = self.person_name()
            if name not in names:
                names.append(name)
        return names, [self.id_number() for _ in names]

    def misspell(self, name: str, others: Sequence[str] = ()) -> str:
        """The same person's name with the last character wrong (a typing error)."""
        while True:
            wrong = name[:-1] + self.pick(_GIVEN)
            if wrong != name and wrong not in others:
                return wrong

    def unit_number(self, qxdm: str, land_only: bool = False) -> str:
        """A GB/T 37346 不动产单元号: 6+3+3+2+5 for the parcel, then F/W + 8 for the unit."""
        parcel = (
            f"{qxdm}{self.randint(1, 12):03d}{self.randint(1, 30):03d}"
            f"{'GB' if self.rnd() < 0.9 else 'JC'}{self.randint(1, 3000):05d}"
        )
        if land_only:
            return parcel + "W00000000"
        return f"{parcel}F{self.randint(1, 40):04d}{self.randint(1, 240):04d}"

    def other_unit_number(self, bdcdyh: str) -> str:
        """A neighbouring flat's number: same building, another 户号 (a typical mix-up)."""
        flat = int(bdcdyh[-4:])
        return f"{bdcdyh[:-4]}{flat % 9999 + self.randint(1, 8):04d}"

    def certificate_number(self, year: int, zslx: int, place: str) -> str:
        key = (year, zslx, place)
        if key not in self._cert_serial:
            # The history starts mid-year: continue that year's numbering plausibly.
            start = self._history_start
            self._cert_serial[key] = start.timetuple().tm_yday * 25 if year == start.year else 0
        self._cert_serial[key] += 1
        return f"{_PROVINCE}({year}){place}{_CERT_WORD[zslx]}第{self._cert_serial[key]:07d}号"

    def ecert_identifier(self, zzlxdm: str, issuer: str, letter_check: bool = False) -> str:
        """A valid 证照标识; ``letter_check`` skips serials until the check is a letter."""
        while True:
            zzbs = make_ecert_identifier(zzlxdm, issuer, self.next_seq("zzbs"))
            if not letter_check or zzbs[-1].isalpha():
                return zzbs

    def time_ordered_id(self, at: datetime) -> str:
        """A time-ordered UUID (version 7 layout): ``at`` in ms, then seeded random bits.

        Current platforms issue such ids; derived from the issue time (never the clock),
        they stay deterministic and sort roughly by issue.
        """
        millis = (at - _EPOCH) // _MILLISECOND
        value = (millis << 80) | (0x7 << 76) | (self.rng.getrandbits(12) << 64) | (0b10 << 62) | self.rng.getrandbits(62)
        return str(uuid.UUID(int=value))

    # -- staff --------------------------------------------------------------------------
    def write_staff(self, period_start: date, as_of: datetime, last_day: date) -> None:
        """A clean roster per unit: on post for years, trained monthly, pledge signed."""
        rotation_days = self.policy.staff.rotation_years * 365
        # This year's pledges are signed from 2 January: a history that ends before has last year's.
        pledge_year = as_of.year if last_day >= date(as_of.year, 1, 2) else as_of.year - 1
        pledge_day = date(pledge_year, 1, self.randint(2, max(2, min(25, (last_day - date(pledge_year, 1, 1)).days))))
        self.pledge_day = pledge_day  # the year's signing day, for the planted people too
        for unit in self.units:
            posts: dict[str, list[str]] = {}
            number = 0
            for post, count in _ROSTER.get(unit.level, _ROSTER["county"]):
                for _ in range(count):
                    number += 1
                    rybh = f"{unit.code}{number:03d}"
                    posts.setdefault(post, []).append(rybh)
                    sgsj = period_start - timedelta(days=self.randint(3 * 365, 12 * 365))
                    # Within the rotation limit, so no STAFF_ROTATION_DUE on key posts.
                    gwkssj = max(sgsj, period_start - timedelta(days=self.randint(120, rotation_days // 2)))
                    self.writer.add("RY_JBXX", self.staff_row(rybh, unit.code, post, sgsj, gwkssj, pledge_day))
                    self.write_training(rybh, sgsj, last_day)
            self.staff[unit.code] = posts

    def staff_row(
        self,
        rybh: str,
        unit: str,
        post: str,
        sgsj: date,
        gwkssj: date,
        lzcnsj: date | None,
        *,
        zt: int = 1,
        lgsj: date | None = None,
    ) -> dict[str, Any]:
        """An RY_JBXX row with a valid ID number, edited last on its latest date."""
        latest = max(d for d in (sgsj, gwkssj, lgsj, lzcnsj) if d is not None)
        return {
            "RYBH": rybh,
            "XM": self.person_name(),
            "ZJH": self.id_number(1965, 1998),
            "DWDM": unit,
            "YGLX": 1 if self.rnd() < 0.7 else 2,
            "GW": post,
            "SGSJ": sgsj,
            "GWKSSJ": gwkssj,
            "ZT": zt,
            "LGSJ": lgsj,
            "LZCNSJ": lzcnsj,
            "GXSJ": datetime.combine(latest, time(10, 0)),
        }

    def write_training(self, rybh: str, sgsj: date, until: date) -> list[dict[str, Any]]:
        """Induction before the first day on post, then 4 h early every month up to ``until``:
        48 h a year, and never behind the pro-rata 40 h (hours by month m >= 4m > 40m/12)."""
        first = self.training_row(rybh, sgsj - timedelta(days=self.randint(7, 30)), _INDUCTION, "24.0")
        return [first, *self.monthly_training(rybh, sgsj, until)]

    def monthly_training(self, rybh: str, after: date, until: date, hours: str = "4.0") -> list[dict[str, Any]]:
        """A passed course early in every month after ``after``'s month, up to ``until``."""
        rows: list[dict[str, Any]] = []
        year, month = after.year, after.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            day = date(year, month, self.randint(3, 12))
            if day > until:
                return rows
            rows.append(self.training_row(rybh, day, _COURSES[(year * 12 + month) % len(_COURSES)], hours))

    def training_row(
        self, rybh: str, day: date, course: str, hours: str, khjg: int = 1, gxsj: datetime | None = None
    ) -> dict[str, Any]:
        """Write one RY_PXJL row (KHJG 1 合格, 0 不合格) and return it."""
        row = {
            "ID": f"PX{self.next_seq('px'):08d}",
            "RYBH": rybh,
            "PXMC": course,
            "PXRQ": day,
            "XS": Decimal(hours),
            "KHJG": khjg,
            "GXSJ": gxsj or datetime.combine(day, time(17, 0)),
        }
        self.writer.add("RY_PXJL", row)
        return row

    def handler(self, unit: str, post: str) -> str:
        return self.pick(self.staff[unit][post])

    # -- cases --------------------------------------------------------------------------
    def _case_type(
        self, djdl: str, qllx: str, zslx: int | None, land_only: bool = False, bulk: bool = True
    ) -> _CaseType:
        limit_class = self.limit_class(djdl, qllx)
        limit = self._limits[limit_class]
        if bulk and limit < 1:
            raise ValueError(f"demo cases need a time limit of at least 1 working day ({limit_class})")
        return _CaseType(
            djdl, qllx, zslx, land_only,
            djxl=f"{djdl}{qllx:0>2}01",
            max_elapsed=min(3, limit, self.max_slow),
            online_scope=djdl == "700" or qllx in self._mortgage_codes,
            limit_class=limit_class,
            limit=limit,
        )

    def limit_class(self, djdl: str, qllx: str | None) -> str:
        """Limit class of CONTRACT §5, first match wins."""
        if djdl in ("800", "600", "700"):
            return djdl
        return "mortgage" if qllx in self._mortgage_codes else djdl

    def configure_online(
        self, start_at: datetime, as_of: datetime, shares: dict[str, float]
    ) -> None:
        """Online shares of in-scope cases accepted in [start_at, as_of), by unit (others: high)."""
        self._online_window = (start_at, as_of)
        self._online_shares = {(unit, True): share for unit, share in shares.items()}

    def _in_online_window(self, slsj: datetime) -> bool:
        return self._online_window[0] <= slsj < self._online_window[1]

    def _sqfs(self, unit: str, ctype: _CaseType, slsj: datetime) -> int:
        if ctype.online_scope:
            # Bresenham per unit and side of the period: every run of a unit's cases keeps
            # its share, whatever the other units and plants do.
            key = (unit, self._in_online_window(slsj))
            share = self._online_shares.get(key, self._online_share)
            seen = self._online_seen.get(key, 0)
            self._online_seen[key] = seen + 1
            online = int((seen + 1) * share) > int(seen * share)
            return self._online_sqfs[0] if online else self.pick(self._offline_sqfs)
        return self._ordinary_sqfs.pick(self.rnd())

    def add_case_row(self, row: dict[str, Any]) -> None:
        """Write one DJT_DJ_SL row, keeping the tally of the online-handling rule's population."""
        self.writer.add("DJT_DJ_SL", row)
        if (row["DJDL"] == "700" or row["QLLX"] in self._mortgage_codes) and self._in_online_window(row["SLSJ"]):
            tally = self.online_tally.setdefault(row["DJJG"], [0, 0])
            tally[0] += 1
            tally[1] += row["SQFS"] in self._online_sqfs

    def online_sqfs(self, online: bool) -> int:
        return self._online_sqfs[0] if online else self.pick(self._offline_sqfs)

    def case(
        self, unit: str, qxdm: str, ctype: _CaseType, dbsj: datetime, bdcdyh: str | None = None
    ) -> _Case:
        """Write a completed case registered at ``dbsj`` (a working day, in _DB_WINDOW).

        Accepted k working days earlier, 1 <= k <= min(3, limit): never the same day (a
        same-day case would look like a queue jump against its peers) and never late.
        """
        k = 1 + int(self.rnd() * ctype.max_elapsed)
        slsj = self.moment(self.cal.shift(dbsj.date(), -k), _SL_WINDOW)
        ywh = self.case_number(slsj)
        bdcdyh = bdcdyh or self.unit_number(qxdm, ctype.land_only)
        jssj = dbsj + self.minutes(1, 30)
        add = self.writer.add
        self.add_case_row(
            {
                "YWH": ywh,
                "DJJG": unit,
                "QXDM": qxdm,
                "DJDL": ctype.djdl,
                "DJXL": ctype.djxl,
                "QLLX": ctype.qllx,
                "BDCDYH": bdcdyh,
                "SQFS": self._sqfs(unit, ctype, slsj),
                "SLRYBH": self.handler(unit, "受理"),
                "SLSJ": slsj,
                "AJZT": 2,
                "JSSJ": jssj,
                "GQTS": 0,
                "GXSJ": jssj,
            },
        )
        # 初审 on the day of acceptance; a 复审 on the day of 登簿 for about half the cases.
        start = slsj + self.minutes(10, 60)
        steps = [("初审", start, start + self.minutes(5, 30))]
        if self.rnd() < 0.5:
            start = dbsj - self.minutes(40, 120)
            steps.append(("复审", start, start + self.minutes(5, 30)))
        for sxh, (jdmc, begin, end) in enumerate(steps, start=1):
            add(
                "DJF_DJ_SH",
                {
                    "YWH": ywh,
                    "SXH": sxh,
                    "JDMC": jdmc,
                    "SHRYBH": self.handler(unit, "审核"),
                    "SHKSSJ": begin,
                    "SHJSSJ": end,
                    "CZJG": 1,
                    "SHYJ": self.pick(_SHYJ),
                    "GXSJ": end,
                },
            )
        add("DJF_DJ_DB", {"YWH": ywh, "DBRYBH": self.handler(unit, "登簿"), "DBSJ": dbsj, "GXSJ": dbsj})
        return _Case(ywh, unit, qxdm, ctype, bdcdyh, dbsj)

    def open_case(self, unit: str, qxdm: str, day: date) -> None:
        """A case still 在办 at the end of the history (accepted in its last days)."""
        ctype = self.case_mix.pick(self.rnd())
        slsj = self.moment(day, _SL_WINDOW)
        ywh = self.case_number(slsj)
        gxsj = slsj
        if self.rnd() < 0.6:
            gxsj = slsj + self.minutes(10, 60)
            self.writer.add(
                "DJF_DJ_SH",
                {"YWH": ywh, "SXH": 1, "JDMC": "初审", "SHRYBH": self.handler(unit, "审核"),
                 "SHKSSJ": gxsj, "SHJSSJ": None, "CZJG": None, "SHYJ": None, "GXSJ": gxsj},
            )
        self.add_case_row(
            {"YWH": ywh, "DJJG": unit, "QXDM": qxdm, "DJDL": ctype.djdl,
             "DJXL": ctype.djxl, "QLLX": ctype.qllx,
             "BDCDYH": self.unit_number(qxdm, ctype.land_only), "SQFS": self._sqfs(unit, ctype, slsj),
             "SLRYBH": self.handler(unit, "受理"), "SLSJ": slsj, "AJZT": 1, "JSSJ": None,
             "GQTS": 0, "GXSJ": gxsj},
        )

    # -- planted cases (case rules): no certificate, so the certificate count stays exact --
    def planted_unit_number(self, qxdm: str) -> str:
        """A flat's 不动产单元号 that no other row uses: 宗地顺序号 50000+ (the bulk stays below 3001)."""
        n = self.next_seq("dyh")
        parcel = f"{qxdm}{1 + (n // 50_000) % 12:03d}{self.randint(1, 30):03d}GB{50_000 + n % 50_000:05d}"
        return f"{parcel}F{self.randint(1, 40):04d}{self.randint(1, 240):04d}"

    def plant_case(
        self,
        unit: str,
        ctype: _CaseType,
        slsj: datetime,
        *,
        ajzt: int,
        jssj: datetime | None = None,
        dbsj: datetime | None = None,
        gqts: int = 0,
        bdcdyh: str | None = None,
        sqfs: int | None = None,
        review: str | None = "pass",
        staff: dict[str, str | None] | None = None,
    ) -> _CaseRef:
        """Write one case exactly as told (the caller owns its timing), with its review step
        ("pass", "return", "open" = started and not finished, None = none) and its 登簿 row.
        ``staff`` overrides the roster's handler of a step ("SL", "SH", "DB"; None: no id)."""
        who = staff or {}
        qxdm = bdcdyh[:6] if bdcdyh else self.qxdm_of(unit)
        bdcdyh = bdcdyh or self.planted_unit_number(qxdm)
        ywh = self.case_number(slsj)
        stamps = [t for t in (slsj, jssj, dbsj) if t is not None]
        if review is not None:
            # Reviewed on the day of acceptance, or on the next working day if it came in on a day off.
            first_day = self.cal.on_or_after(slsj.date())
            begin = (
                slsj + self.minutes(10, 40)
                if first_day == slsj.date()
                else self.moment(first_day, (9 * 60, 10 * 60))
            )
            end = None if review == "open" else begin + self.minutes(5, 20)
            self.writer.add(
                "DJF_DJ_SH",
                {
                    "YWH": ywh, "SXH": 1, "JDMC": "初审",
                    "SHRYBH": who["SH"] if "SH" in who else self.handler(unit, "审核"),
                    "SHKSSJ": begin, "SHJSSJ": end, "CZJG": None if end is None else 2 if review == "return" else 1,
                    "SHYJ": None if end is None else "不符合受理条件，予以退回。" if review == "return" else self.pick(_SHYJ),
                    "GXSJ": end or begin,
                },
            )
            stamps.append(end or begin)
        self.add_case_row(
            {
                "YWH": ywh, "DJJG": unit, "QXDM": qxdm, "DJDL": ctype.djdl, "DJXL": ctype.djxl,
                "QLLX": ctype.qllx, "BDCDYH": bdcdyh,
                "SQFS": self._sqfs(unit, ctype, slsj) if sqfs is None else sqfs,
                "SLRYBH": who["SL"] if "SL" in who else self.handler(unit, "受理"),
                "SLSJ": slsj, "AJZT": ajzt, "JSSJ": jssj, "GQTS": gqts, "GXSJ": max(stamps),
            }
        )
        if dbsj is not None:
            dbrybh = who["DB"] if "DB" in who else self.handler(unit, "登簿")
            self.writer.add("DJF_DJ_DB", {"YWH": ywh, "DBRYBH": dbrybh, "DBSJ": dbsj, "GXSJ": dbsj})
        return _CaseRef(ywh, unit, bdcdyh, slsj, dbsj, jssj)

    def return_row(self, case: _CaseRef, thsj: datetime, code: str | None) -> str:
        """The BDC_BYSL row of a returned case; returns its ID."""
        ident = f"TH{thsj.year * 10000 + thsj.month * 100 + thsj.day}{self.next_seq('th'):08d}"
        reasons = self.policy.return_reason_codes
        reason = reasons[code] if code in reasons else self.pick(_LOOSE_RETURN_REASONS)
        self.writer.add(
            "BDC_BYSL",
            {"ID": ident, "YWH": case.ywh, "BDCDYH": case.bdcdyh, "THSJ": thsj, "THYYDM": code,
             "THYY": reason, "CZRYBH": self.handler(case.unit, "受理"), "GXSJ": thsj},
        )
        return ident

    def seizure_row(self, case: _CaseRef, jfsj: datetime | None) -> None:
        """The QLF_QL_CFDJ row of a registered 查封 case: in force from its 登簿."""
        assert case.dbsj is not None
        self.writer.add(
            "QLF_QL_CFDJ",
            {"YWH": case.ywh, "BDCDYH": case.bdcdyh, "CFJG": self.pick(_COURTS), "CFKSSJ": case.dbsj,
             "JFSJ": jfsj, "GXSJ": max(case.dbsj, jfsj or case.dbsj)},
        )

    # -- certificates -------------------------------------------------------------------
    def paper(
        self,
        case: _Case,
        szsj: datetime | None = None,
        holders: tuple[list[str], list[str]] | None = None,
    ) -> _Issue:
        """The paper certificate/proof of a case, printed minutes to hours after 登簿."""
        zslx = case.ctype.zslx
        assert zslx is not None, "this case type issues no certificate"
        szsj = szsj or case.dbsj + self.minutes(5, 180)
        names, ids = holders or self.holders()
        place = _PLACE.get(case.unit, _CITY_PLACE)
        row = {
            "ZSID": f"ZS{self.next_seq('zs'):012d}",
            "YWH": case.ywh,
            "ZSLX": zslx,
            "BDCQZH": self.certificate_number(szsj.year, zslx, place),
            "YSXLH": f"1403{self.next_seq('ysxlh'):010d}",
            "BDCDYH": case.bdcdyh,
            "QLRMC": "、".join(names),
            "QLRZJH": "、".join(ids),
            "DJJG": case.unit,
            "SZSJ": szsj,
            "ZSZT": 1,
            "ZXSJ": None,
            "ZXYWH": None,
            "GXSJ": szsj,
        }
        return _Issue(case, row)

    def issue(
        self,
        unit: str,
        dbsj_day: date,
        ctype: _CaseType | None = None,
        holder_count: int | None = None,
    ) -> _Issue:
        """A registered case on working day ``dbsj_day`` and its (unwritten) paper."""
        qxdm = self.qxdm_of(unit)
        ctype = ctype or self.case_mix.pick(self.rnd())
        case = self.case(unit, qxdm, ctype, self.moment(dbsj_day, _DB_WINDOW))
        return self.paper(case, holders=self.holders(holder_count) if holder_count else None)

    def ecert_row(
        self,
        *,
        unit: str,
        qxdm: str,
        zslx: int,
        bdcqzh: str,
        bdcdyh: str,
        czzt: str,
        czztdm: str,
        zzbfrq: datetime,
        letter_check: bool = False,
    ) -> dict[str, Any]:
        zzlxdm = self.type_codes[zslx]
        return {
            "ZZID": self.time_ordered_id(zzbfrq),
            "ZZBS": self.ecert_identifier(zzlxdm, qxdm, letter_check),
            "ZZLXDM": zzlxdm,
            "BDCQZH": bdcqzh,
            "BDCDYH": bdcdyh,
            "CZZT": czzt,
            "CZZTDM": czztdm,
            "ZZBFJGDM": unit,
            "ZZBFRQ": zzbfrq,
            "ZZZT": 1,
            "ZXSJ": None,
            "ZXYY": None,
            "GXSJ": zzbfrq,
        }

    def ecert(
        self, issue: _Issue, zzbfrq: datetime | None = None, letter_check: bool = False
    ) -> dict[str, Any]:
        """The e-certificate rendering a paper, issued minutes to hours after 登簿."""
        paper = issue.paper
        return self.ecert_row(
            unit=issue.case.unit,
            qxdm=issue.case.qxdm,
            zslx=paper["ZSLX"],
            bdcqzh=paper["BDCQZH"],
            bdcdyh=paper["BDCDYH"],
            czzt=paper["QLRMC"],
            czztdm=paper["QLRZJH"],
            zzbfrq=zzbfrq or issue.case.dbsj + self.minutes(2, 240),
            letter_check=letter_check,
        )

    @staticmethod
    def revoke(ecert: dict[str, Any], at: datetime, reason: int = 1) -> None:
        """注销 an e-certificate (reason 1: normal business, 2: signing error)."""
        ecert.update(ZZZT=2, ZXSJ=at, ZXYY=reason, GXSJ=max(ecert["GXSJ"], at))

    def transfer(
        self,
        old: _Issue,
        dbsj: datetime,
        zxsj: datetime | None = None,
        suffix: str | None = None,
    ) -> tuple[_Issue, dict[str, Any]] | None:
        """A later case on the same unit that cancels ``old``'s paper.

        Property certificates are transferred (a 200 case printing a new certificate to the
        buyers, returned with its e-certificate); proofs are released (a 400 case printing
        nothing, None returned). The old paper is 注销 just after the new 登簿, or at
        ``zxsj``; its number gets ``suffix`` (e.g. "(销)") when one is given. The old
        e-certificate is the caller's business: revoking it is what the rules check.
        """
        old_case = old.case
        ctype = self.transfer_type if old.paper["ZSLX"] == 1 else self.release
        case = self.case(old_case.unit, old_case.qxdm, ctype, dbsj, bdcdyh=old.paper["BDCDYH"])
        zxsj = zxsj or dbsj + self.minutes(1, 20)
        paper = old.paper
        paper.update(ZSZT=2, ZXSJ=zxsj, ZXYWH=case.ywh, GXSJ=max(paper["GXSJ"], zxsj))
        if suffix:
            paper["BDCQZH"] += suffix
        if ctype.zslx is None:
            return None
        new = self.paper(case)
        return new, self.ecert(new)

    def write(self, issue: _Issue | None = None, *ecerts: dict[str, Any]) -> None:
        if issue is not None:
            self.writer.add("BDC_ZS", issue.paper)
        for row in ecerts:
            self.writer.add("BDC_DZZZ_ZZXX", row)


# --------------------------------------------------------------------------------------
# The clean bulk
# --------------------------------------------------------------------------------------


class _NormalStream:
    """Clean certificates day by day, with later transfers/releases cancelling some.

    ``total`` paper certificates exactly: fresh ones fill each working day up to a
    cumulative target, and a transfer (which prints a new certificate) is only started
    while the total leaves room for it.
    """

    TRANSFER_SHARE = 0.06  # property certificates later transferred
    RELEASE_SHARE = 0.10  # mortgage proofs later released
    SUFFIX_SHARE = 0.5  # cancelled paper numbers that carry (销)

    def __init__(self, f: _RowFactory, total: int, days: list[date], last_day: date) -> None:
        self.f = f
        self.total = total
        self.days = days
        self.last_day = last_day
        self.emitted = 0
        self._day_index = {day: i for i, day in enumerate(days)}

    def fill(self, day: date) -> None:
        """Generate the fresh certificates of working day ``day``."""
        index = self._day_index.get(day)
        if index is None:
            return
        target = self.total * (index + 1) // len(self.days)
        while self.emitted < target:
            unit, qxdm = self.f.pick_unit()
            ctype = self.f.case_mix.pick(self.f.rnd())
            case = self.f.case(unit, qxdm, ctype, self.f.moment(day, _DB_WINDOW))
            self._certify(self.f.paper(case))

    def _certify(self, issue: _Issue) -> None:
        self.emitted += 1
        ecert = self.f.ecert(issue)
        self._maybe_cancel(issue, ecert)
        self.f.write(issue, ecert)

    def _maybe_cancel(self, issue: _Issue, ecert: dict[str, Any]) -> None:
        f = self.f
        ctype = issue.case.ctype
        # Flats are sold on (a new certificate) and mortgages released (none); land-only
        # certificates and 预告 proofs stay as they are in this demo.
        if ctype is f.mortgage:
            share, prints_successor = self.RELEASE_SHARE, False
        elif ctype.zslx == 1 and not ctype.land_only:
            share, prints_successor = self.TRANSFER_SHARE, True
        else:
            return
        if f.rnd() >= share:
            return
        day = f.cal.on_or_after(issue.paper["SZSJ"].date() + timedelta(days=f.randint(7, 75)))
        if day > self.last_day or (prints_successor and self.emitted >= self.total):
            return
        suffix = "(销)" if f.rnd() < self.SUFFIX_SHARE else None
        successor = f.transfer(issue, f.moment(day, _DB_WINDOW), suffix=suffix)
        f.revoke(ecert, issue.paper["ZXSJ"] + f.minutes(1, 180))
        if successor is not None:
            self._certify(successor[0])  # the buyers' certificate may be cancelled in turn


# --------------------------------------------------------------------------------------
# Planted problems, traps and quarantine rows
# --------------------------------------------------------------------------------------


# The quarantine rows: kind -> (table, column, bad value or a function of the good one).
# Values every dialect stores; each is out of the domain the reference schema documents.
_QUARANTINE: dict[str, tuple[str, str, Any]] = {
    "q_zszt": ("BDC_ZS", "ZSZT", 9),
    "q_zslx": ("BDC_ZS", "ZSLX", 7),
    "q_bdcdyh_short": ("BDC_ZS", "BDCDYH", lambda good: good[:27]),
    "q_bdcdyh_blank": ("BDC_ZS", "BDCDYH", ""),
    "q_zzzt": ("BDC_DZZZ_ZZXX", "ZZZT", 5),
    "q_blank_number": ("BDC_DZZZ_ZZXX", "BDCQZH", ""),
}
# Staff quarantine rows: kind -> (table, column, out-of-domain value).
_STAFF_QUARANTINE: dict[str, tuple[str, str, int]] = {
    "q_khjg": ("RY_PXJL", "KHJG", 5),
    "q_zt": ("RY_JBXX", "ZT", 3),
    "q_yglx": ("RY_JBXX", "YGLX", 9),
}
# Case steps (CONTRACT §3): who takes them, and the table that holds them.
_STEP_ROLES = ("SL", "SH", "DB")
_STEP_POST = {"SL": "受理", "SH": "审核", "DB": "登簿"}
_STEP_TABLE = {"SL": "DJT_DJ_SL", "SH": "DJF_DJ_SH", "DB": "DJF_DJ_DB"}
_QUIET_POSTS = ("缮证", "发证", "综合")  # posts that take no case step


@dataclass(slots=True)
class _Person:
    """A planted person: the RY_JBXX row (written once settled), courses and step dates."""

    row: dict[str, Any]
    training: list[dict[str, Any]] = field(default_factory=list)
    steps: list[date] = field(default_factory=list)

    @property
    def rybh(self) -> str:
        return str(self.row["RYBH"])


def _add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clipped to the month's end (as dateutil's relativedelta)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _whole_months(start: date, end: date) -> int:
    """The number of whole months m with start + m months <= end (0 if start > end)."""
    months = max(0, (end.year - start.year) * 12 + end.month - start.month - 1)
    while _add_months(start, months + 1) <= end:
        months += 1
    return months


def _years_before(day: date, years: int) -> date:
    """The same month and day ``years`` earlier (29 February becomes the 28th)."""
    return date(day.year - years, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)


class _Spec(NamedTuple):
    day: date
    order: int  # tie-breaker keeping the plan's order within a day
    kind: str
    unit: str
    variant: int


class _Planted(NamedTuple):
    """What a planted problem makes a correct engine report."""

    rule_code: str
    subject_id: str
    unit_code: str
    table: str
    key: str
    note: str
    at: datetime | None = None  # the rule's defining timestamp (None: judged as of as-of)


@dataclass(frozen=True)
class _Kind:
    name: str
    build: Callable[[_Spec], None]
    count: int
    papers: int  # paper certificates each instance writes (for the exact total)
    window: str  # which days it is anchored on (see _Specials._windows)
    variants: int = 1  # instance i is variant i % variants


class _Specials:
    """Builds every non-clean row and records it in the ground truth.

    Each planted builder makes one problem anchored on a day and returns what it should
    trigger; the same builders anchored just before period_start make the
    "outside the period" traps, so the two can never drift apart.
    """

    def __init__(self, f: _RowFactory, truth: GroundTruth, last_day: date, read_at: datetime) -> None:
        self.f = f
        self.truth = truth
        self.ps = truth.period_start
        self.start_at = datetime.combine(truth.period_start, time())
        self.as_of = truth.as_of
        self.last_day = last_day  # the history's last day
        self.read_at = read_at  # when the sources are read: no event after it
        self.delay = timedelta(hours=f.policy.ecert.max_delay_hours)
        self.repeat_days = f.policy.repeat_return_days
        self._lawful_codes = sorted(f.policy.return_reason_codes)
        self._unknown_code = next(c for c in ("99", "98", "XX") if c not in self._lawful_codes)
        self._exempt_types = [t for t in (f.seizure, f.objection) if t.limit_class in f.exempt_classes]
        slowest_plant = max(2, f.transfer_type.limit + 1, f.mortgage.limit + 2, f.presale.limit + 1)
        if f.max_slow < slowest_plant or f.other.limit < 2:
            raise ValueError(
                "the policy's time limits and queue_jump.max_fraction_of_median leave no room for the "
                "demo's planted case problems"
            )
        staff = f.policy.staff
        self.min_hours = int(staff.min_training_hours_per_year)
        self.rotation_years = staff.rotation_years
        self.key_posts = list(staff.key_posts)
        month, day = (int(part) for part in staff.pledge_deadline.split("-"))
        self.pledge_deadline = date(self.as_of.year, month, day)
        self._staff_numbers: dict[str, int] = {}  # unit -> last planted person's number
        self._unknown_ids: set[str] = set()
        self._months: dict[tuple[int, int], list[date]] = {}
        self._makeup = [d for d in _days(self.ps, self.as_of.date() - timedelta(days=1))
                        if d.weekday() >= 5 and f.cal.is_workday(d)]  # weekend 调休 working days
        self._off = self._days_off()
        self.online_low, self.online_exact = self._online_units()
        self.windows = self._windows()
        self.kinds = self._kinds(truth.size)
        self._by_name = {kind.name: kind for kind in self.kinds}

    def _online_units(self) -> tuple[str, str | None]:
        """The county unit planted below its online target, and another one exactly at it."""
        f = self.f
        counties = [u.code for u in f.units if u.level == "county"] or [u.code for u in f.units]
        index = int(f.rnd() * len(counties))
        low = counties[index]
        exact = counties[(index + 1) % len(counties)] if len(counties) > 1 else None
        shares = {low: float(self._online_target(low)) * 2 / 3}
        if exact is not None:
            shares[exact] = float(self._online_target(exact))
        f.configure_online(self.start_at, self.as_of, shares)
        return low, exact

    def _online_target(self, unit: str) -> Fraction:
        return self.f.policy.online_handling.targets[self.f.policy.unit(unit).level]

    def _windows(self) -> dict[str, list[date]]:
        """Candidate anchor days per window, validated non-empty."""
        cal, as_of_day = self.f.cal, self.as_of.date()
        period = cal.workdays(self.ps, as_of_day - timedelta(days=7))
        last_before = cal.shift(self.ps, -1)
        windows = {
            # In the period, early enough that 登簿 + 4 days is still before as-of.
            "period": period,
            # Days before as-of (the period's last working days if a holiday covers them).
            "period_tail": cal.workdays(as_of_day - timedelta(days=7), as_of_day - timedelta(days=3))
            or period[-3:],
            "before": [cal.shift(last_before, -i) for i in range(3)],
            "eve": [as_of_day - timedelta(days=1)],
            "lead_in": cal.workdays(self.ps - timedelta(days=60), self.ps - timedelta(days=15)),
        }
        for window, days in windows.items():
            if not days:
                raise ValueError(
                    f"no working day in the {window!r} window of {self.ps}..{self.truth.period_end}: "
                    "the period is too short or lies within a holiday"
                )
        return windows

    def _kinds(self, size: int) -> list[_Kind]:
        """The plan's table: what is built, how often, and where in time."""
        per_rule = max(2, round(size * PLANTED_SHARE / 7))
        per_trap = max(2, size // TRAPS_PER_CERTIFICATES)
        as_of_cases = max(2, per_rule // 10)
        kinds: list[_Kind] = []
        planted: list[tuple[str, Callable[[_Spec], _Planted], int, int]] = [
            # name, builder, papers, variants
            ("missing", self._missing, 1, 1),
            ("late", self._late, 1, 1),
            ("not_revoked", self._not_revoked, 2, 1),
            ("mismatch", self._mismatch, 1, 4),
            ("duplicate", self._duplicate, 1, 1),
            ("orphan", self._orphan, 0, 1),
            ("bad_id", self._bad_id, 1, 2),
        ]
        for name, builder, papers, variants in planted:
            kinds.append(_Kind(name, self._as_finding(builder), max(per_rule, variants), papers, "period", variants))
            kinds.append(
                _Kind(f"before_{name}", self._as_before_trap(builder), max(per_trap, variants), papers, "before", variants)
            )
        traps: list[tuple[str, Callable[[_Spec], None], int, int, int, str]] = [
            # name, builder, count, papers, variants, window
            ("width", self._trap_width, per_trap, 1, 4, "period"),
            ("suffix", self._trap_suffix, per_trap, 2, 2, "period"),
            ("holder_format", self._trap_holder_format, per_trap, 1, 5, "period"),
            ("grace", self._trap_grace, per_trap, 1, 1, "period"),
            ("fresh_paper", self._trap_fresh_paper, per_trap, 1, 1, "eve"),
            ("fresh_cancel", self._trap_fresh_cancel, per_trap, 2, 1, "eve"),
            ("signing_error", self._trap_signing_error, per_trap, 1, 2, "period"),
            ("letter_check", self._trap_letter_check, per_trap, 1, 1, "period"),
            ("asof_revoked", self._asof_revoked, as_of_cases, 2, 1, "period"),
            ("asof_issued", self._asof_issued, as_of_cases, 1, 1, "period_tail"),
        ]
        for name, build, count, papers, variants, window in traps:
            kinds.append(_Kind(name, build, max(count, variants), papers, window, variants))
        for name in _QUARANTINE:
            kinds.append(_Kind(name, self._quarantine_row, 1, 1, "lead_in"))
        # Case rules: planted cases print no certificate (papers 0). ONLINE_RATIO_LOW is
        # planted after the history, in finish().
        case_planted: list[tuple[str, Callable[[_Spec], list[_Planted]], int, bool]] = [
            # name, builder, variants, with a twin just before the period (a trap)
            ("overdue", self._overdue, 4, True),
            ("overdue_open", self._overdue_open, 4, False),
            ("queue_jump", self._queue_jump, 2, True),
            ("unjustified_return", self._unjustified_return, 3, True),
            ("repeated_return", self._repeated_return, 2, True),
            ("sealed_mortgage", self._sealed_mortgage, 3, True),
        ]
        for name, case_builder, variants, before in case_planted:
            kinds.append(_Kind(name, self._as_case_findings(case_builder), max(per_rule, variants), 0, "period", variants))
            if before:
                kinds.append(
                    _Kind(f"before_{name}", self._as_case_before_traps(case_builder), max(per_trap, variants), 0,
                          "before", variants)
                )
        case_traps: list[tuple[str, Callable[[_Spec], None], int]] = [
            # name, builder, variants
            ("makeup_day_deadline", self._trap_makeup_day, 1),
            ("holiday_acceptance", self._trap_holiday_acceptance, 1),
            ("suspended_in_time", self._trap_suspended_in_time, 2),
            ("exempt_fast", self._trap_exempt_fast, len(self._exempt_types)),
            ("busy_day", self._trap_busy_day, 1),
            ("lawful_return", self._trap_lawful_return, 1),
            ("return_by_other_unit", self._trap_return_by_other_unit, 1),
            ("return_after_window", self._trap_return_after_window, 1),
            ("mortgage_after_release", self._trap_mortgage_after_release, 1),
            ("seizure_after_mortgage", self._trap_seizure_after_mortgage, 1),
            ("suspended_open", self._trap_suspended_open, 1),
        ]
        for name, build, variants in case_traps:
            if variants:
                kinds.append(_Kind(name, build, max(per_trap, variants), 0, "period", variants))
        # Staff rules: a handful of people whatever the size (the roster does not grow with it).
        # "period" kinds take case steps on their day; the others are judged as of as-of.
        per_staff = min(per_rule, 2 + size // 200_000)
        staff: list[tuple[str, Callable[[_Spec], None], int, str]] = [
            # name, builder, variants, window
            ("staff_untrained", self._staff_untrained, 2, "period"),
            ("staff_unknown", self._staff_unknown, 2, "period"),
            ("staff_inactive", self._staff_inactive, 2, "period"),
            ("staff_lapsed", self._staff_lapsed, 1, "lead_in"),
            ("staff_record", self._staff_record, 5, "lead_in"),
            ("staff_rotation", self._staff_rotation, 2, "lead_in"),
            ("staff_pledge", self._staff_pledge, 2, "lead_in"),
            ("staff_pro_rata", self._staff_trap_pro_rata, 1, "lead_in"),
            ("staff_id_x", self._staff_trap_id_x, 1, "lead_in"),
            ("staff_first_day", self._staff_trap_first_day, 1, "period"),
            ("staff_leaving_day", self._staff_trap_leaving_day, 1, "period"),
            ("staff_left_without_pledge", self._staff_trap_left_without_pledge, 1, "lead_in"),
            ("staff_posted_after_as_of", self._staff_trap_posted_after_as_of, 1, "lead_in"),
            ("staff_rotation_day", self._staff_trap_rotation_day, 1, "lead_in"),
            ("staff_rotation_non_key", self._staff_trap_rotation_non_key, 1, "lead_in"),
            ("staff_null_id", self._staff_trap_null_id, len(_STEP_ROLES), "period"),
        ]
        for name, build, variants, window in staff:
            kinds.append(_Kind(name, build, max(per_staff, variants), 0, window, variants))
        for name in _STAFF_QUARANTINE:
            kinds.append(_Kind(name, self._staff_quarantine_row, 1, 0, "lead_in"))
        return kinds

    @property
    def papers(self) -> int:
        return sum(kind.count * kind.papers for kind in self.kinds)

    def plan(self) -> list[_Spec]:
        """Every special instance, anchored and sorted by day (small: O(planted))."""
        units = [u.code for u in self.f.units]
        specs: list[_Spec] = []
        for k_index, kind in enumerate(self.kinds):
            days = self.windows[kind.window]
            for i in range(kind.count):
                specs.append(
                    _Spec(
                        day=self.f.pick(days),
                        order=len(specs),
                        kind=kind.name,
                        unit=units[(i + k_index) % len(units)],
                        variant=i % kind.variants,
                    )
                )
        specs.sort()
        return specs

    def build(self, spec: _Spec) -> None:
        self._by_name[spec.kind].build(spec)

    # -- recording ----------------------------------------------------------------------
    def _as_finding(self, builder: Callable[[_Spec], _Planted]) -> Callable[[_Spec], None]:
        def build(spec: _Spec) -> None:
            planted = builder(spec)
            self.truth.findings.append(Finding(planted.rule_code, planted.subject_id, planted.unit_code))

        return build

    def _as_before_trap(self, builder: Callable[[_Spec], _Planted]) -> Callable[[_Spec], None]:
        def build(spec: _Spec) -> None:
            p = builder(spec)
            self._trap(
                f"before_period_{p.rule_code.lower()}", p.table, p.key,
                f"{p.note}, just before period_start: outside the period, not a finding ({p.subject_id})",
            )

        return build

    def _as_case_findings(self, builder: Callable[[_Spec], list[_Planted]]) -> Callable[[_Spec], None]:
        def build(spec: _Spec) -> None:
            for p in builder(spec):
                if p.at is None or self.start_at <= p.at < self.as_of:
                    self.truth.findings.append(Finding(p.rule_code, p.subject_id, p.unit_code))
                else:  # e.g. the earlier repeat of a return chain that starts before the period
                    self._trap(f"before_period_{p.rule_code.lower()}", p.table, p.key,
                               f"{p.note}, before period_start: outside the period, not a finding ({p.subject_id})")

        return build

    def _as_case_before_traps(self, builder: Callable[[_Spec], list[_Planted]]) -> Callable[[_Spec], None]:
        def build(spec: _Spec) -> None:
            for p in builder(spec):
                assert p.at is not None and p.at < self.start_at, p
                self._trap(f"before_period_{p.rule_code.lower()}", p.table, p.key,
                           f"{p.note}, just before period_start: outside the period, not a finding ({p.subject_id})")

        return build

    def _trap(self, kind: str, table: str, key: str, note: str) -> None:
        self.truth.traps.append(Trap(kind, table, key, note))

    def _earlier_issue(self, spec: _Spec) -> _Issue:
        """A property certificate printed 20–60 days before the spec's day (to cancel)."""
        day = self.f.cal.on_or_before(spec.day - timedelta(days=self.f.randint(20, 60)))
        return self.f.issue(spec.unit, day, self.f.transfer_type)

    # -- planted problems (one rule each) -----------------------------------------------
    def _missing(self, spec: _Spec) -> _Planted:
        issue = self.f.issue(spec.unit, spec.day)
        self.f.write(issue)
        return _Planted("ECERT_MISSING", issue.subject, spec.unit, "BDC_ZS",
                        issue.paper["ZSID"], "paper certificate with no e-certificate at all")

    def _late(self, spec: _Spec) -> _Planted:
        issue = self.f.issue(spec.unit, spec.day)
        ecert = self.f.ecert(issue, issue.case.dbsj + self.f.minutes(48 * 60, 96 * 60))
        self.f.write(issue, ecert)
        hours = (ecert["ZZBFRQ"] - issue.case.dbsj) / timedelta(hours=1)
        return _Planted("ECERT_LATE", issue.subject, spec.unit, "BDC_DZZZ_ZZXX", ecert["ZZID"],
                        f"e-certificate issued {hours:.0f} h after 登簿")

    def _not_revoked(self, spec: _Spec) -> _Planted:
        old = self._earlier_issue(spec)
        old_ecert = self.f.ecert(old)
        successor = self.f.transfer(old, self.f.moment(spec.day, _DB_WINDOW), suffix="(销)" if spec.order % 2 else None)
        assert successor is not None
        self.f.write(old, old_ecert)
        self.f.write(*successor)
        return _Planted("ECERT_NOT_REVOKED", old.subject, spec.unit, "BDC_DZZZ_ZZXX", old_ecert["ZZID"],
                        "paper certificate cancelled, its e-certificate still 现势")

    def _mismatch(self, spec: _Spec) -> _Planted:
        variant = spec.variant
        issue = self.f.issue(spec.unit, spec.day, self.f.transfer_type, holder_count=2 if variant == 2 else None)
        ecert = self.f.ecert(issue)
        if variant == 0:
            ecert["BDCDYH"] = self.f.other_unit_number(ecert["BDCDYH"])
            note = "e-certificate carries another flat's 不动产单元号"
        elif variant == 1:
            names = ecert["CZZT"].split("、")
            names[-1] = self.f.misspell(names[-1], names)
            ecert["CZZT"] = "、".join(names)
            note = "a holder's name is misspelt on the e-certificate"
        elif variant == 2:
            ecert["CZZT"] = ecert["CZZT"].split("、")[0]
            ecert["CZZTDM"] = ecert["CZZTDM"].split("、")[0]
            note = "a holder is missing from the e-certificate"
        else:
            # The other type, with an identifier built for that type, so only the type is wrong.
            other = self.f.type_codes[2 if issue.paper["ZSLX"] == 1 else 1]
            ecert["ZZLXDM"] = other
            ecert["ZZBS"] = self.f.ecert_identifier(other, issue.case.qxdm)
            note = "e-certificate of the other type (证明 for a 证书)"
        self.f.write(issue, ecert)
        return _Planted("ECERT_MISMATCH", issue.subject, spec.unit, "BDC_DZZZ_ZZXX", ecert["ZZID"], note)

    def _duplicate(self, spec: _Spec) -> _Planted:
        issue = self.f.issue(spec.unit, spec.day)
        first = self.f.ecert(issue, issue.case.dbsj + self.f.minutes(2, 60))
        second = self.f.ecert(issue, first["ZZBFRQ"] + self.f.minutes(30, 180))
        self.f.write(issue, first, second)
        return _Planted("ECERT_DUPLICATE", issue.subject, spec.unit, "BDC_DZZZ_ZZXX", second["ZZID"],
                        "issued twice, neither revoked")

    def _orphan(self, spec: _Spec) -> _Planted:
        # The number is drawn from the real sequence and then never printed on paper.
        f = self.f
        qxdm = f.qxdm_of(spec.unit)
        zzbfrq = f.moment(spec.day, (9 * 60, 17 * 60))
        names, ids = f.holders()
        ecert = f.ecert_row(
            unit=spec.unit, qxdm=qxdm, zslx=1,
            bdcqzh=f.certificate_number(zzbfrq.year, 1, _PLACE.get(spec.unit, _CITY_PLACE)),
            bdcdyh=f.unit_number(qxdm), czzt="、".join(names), czztdm="、".join(ids), zzbfrq=zzbfrq,
        )
        f.write(None, ecert)
        return _Planted("ECERT_ORPHAN", ecert["ZZID"], spec.unit, "BDC_DZZZ_ZZXX", ecert["ZZID"],
                        f"e-certificate {ecert['BDCQZH']} has no paper certificate")

    def _bad_id(self, spec: _Spec) -> _Planted:
        issue = self.f.issue(spec.unit, spec.day)
        ecert = self.f.ecert(issue)
        zzbs = ecert["ZZBS"]
        if spec.variant == 0:
            wrong = _ALNUM36[(_ALNUM36.index(zzbs[-1]) + self.f.randint(1, 35)) % 36]
            ecert["ZZBS"] = zzbs[:-1] + wrong
            note = f"证照标识 check character {wrong} should be {zzbs[-1]}"
        else:
            parts = zzbs.split(".")
            parts[-3] = parts[-3][1:]  # an 8-digit serial
            ecert["ZZBS"] = ".".join(parts)
            note = "证照标识 serial has 8 digits instead of 9"
        self.f.write(issue, ecert)
        return _Planted("ECERT_BAD_ID", ecert["ZZID"], spec.unit, "BDC_DZZZ_ZZXX", ecert["ZZID"], note)

    # -- traps: look wrong, are not ------------------------------------------------------
    def _trap_width(self, spec: _Spec) -> None:
        issue = self.f.issue(spec.unit, spec.day)
        ecert = self.f.ecert(issue)
        number = issue.paper["BDCQZH"]
        if spec.variant == 0:
            ecert["BDCQZH"] = number.translate(_FULLWIDTH_PARENS)
            table, key, note = "BDC_DZZZ_ZZXX", ecert["ZZID"], "full-width parentheses on the e-certificate only"
        elif spec.variant == 1:
            issue.paper["BDCQZH"] = number.translate(_FULLWIDTH_DIGITS)
            table, key, note = "BDC_ZS", issue.paper["ZSID"], "full-width digits on the paper record only"
        elif spec.variant == 2:
            ecert["BDCQZH"] = number.replace(")", ") ").replace("第", " 第 ")
            table, key, note = "BDC_DZZZ_ZZXX", ecert["ZZID"], "inner spaces on the e-certificate only"
        else:
            place_end = number.index(_CERT_WORD[issue.paper["ZSLX"]])
            paper_number = number[:place_end] + "\u3000" + number[place_end:]
            issue.paper["BDCQZH"] = paper_number.translate(_FULLWIDTH_PARENS)
            table, key, note = "BDC_ZS", issue.paper["ZSID"], "full-width parentheses and an ideographic space on the paper only"
        self.f.write(issue, ecert)
        self._trap("number_format", table, key, f"{note}; same number once normalized ({issue.subject})")

    def _trap_suffix(self, spec: _Spec) -> None:
        old = self._earlier_issue(spec)
        old_ecert = self.f.ecert(old)
        suffix = "(销)" if spec.variant == 0 else "（销）"
        successor = self.f.transfer(old, self.f.moment(spec.day, _DB_WINDOW), suffix=suffix)
        assert successor is not None
        self.f.revoke(old_ecert, old.paper["ZXSJ"] + self.f.minutes(5, 180))
        self.f.write(old, old_ecert)
        self.f.write(*successor)
        self._trap("cancelled_suffix", "BDC_ZS", old.paper["ZSID"],
                   f"cancelled paper number ends in {suffix}, e-certificate revoked in time ({old.subject})")

    def _trap_holder_format(self, spec: _Spec) -> None:
        issue = self.f.issue(spec.unit, spec.day, holder_count=2 + spec.order % 2)
        ecert = self.f.ecert(issue)
        names, ids = ecert["CZZT"].split("、"), ecert["CZZTDM"].split("、")
        separator, reverse = [("、", True), ("，", False), ("；", True), (" , ", False), ("; ", True)][spec.variant]
        if reverse:
            names, ids = names[::-1], ids[::-1]
        ecert["CZZT"], ecert["CZZTDM"] = separator.join(names), separator.join(ids)
        self.f.write(issue, ecert)
        self._trap("holder_format", "BDC_DZZZ_ZZXX", ecert["ZZID"],
                   f"holders written {ecert['CZZT']!r} vs {issue.paper['QLRMC']!r}: same set ({issue.subject})")

    def _trap_grace(self, spec: _Spec) -> None:
        issue = self.f.issue(spec.unit, spec.day)
        ecert = self.f.ecert(issue, issue.case.dbsj + self.delay - self.f.minutes(10, 60))
        self.f.write(issue, ecert)
        self._trap("late_within_grace", "BDC_DZZZ_ZZXX", ecert["ZZID"],
                   f"e-certificate issued 23–24 h after 登簿, inside the grace ({issue.subject})")

    def _eve_dbsj(self, moment: datetime) -> datetime:
        """A 登簿 moment on the last working day up to ``moment``, and before it."""
        f = self.f
        db_day = f.cal.on_or_before(moment.date())
        latest = _DB_WINDOW[1]
        if db_day == moment.date():
            latest = min(latest, moment.hour * 60 + moment.minute - 10)
        return f.moment(db_day, (_DB_WINDOW[0], latest))

    def _trap_fresh_paper(self, spec: _Spec) -> None:
        f = self.f
        szsj = f.moment(spec.day, _ASOF_EVE_WINDOW)  # < 24 h before as-of
        case = f.case(spec.unit, f.qxdm_of(spec.unit), f.transfer_type, self._eve_dbsj(szsj))
        issue = f.paper(case, szsj=szsj)
        f.write(issue)
        self._trap("fresh_paper", "BDC_ZS", issue.paper["ZSID"],
                   f"printed {(self.as_of - szsj) / timedelta(hours=1):.1f} h before as-of, "
                   f"no e-certificate yet ({issue.subject})")

    def _trap_fresh_cancel(self, spec: _Spec) -> None:
        f = self.f
        old = self._earlier_issue(spec)
        old_ecert = f.ecert(old)
        zxsj = f.moment(spec.day, _ASOF_EVE_WINDOW)  # < 24 h before as-of
        successor = f.transfer(old, self._eve_dbsj(zxsj), zxsj=zxsj)
        assert successor is not None
        revoked = self.as_of + f.minutes(60, 360)  # after as-of, within 24 h of zxsj
        if revoked <= self.read_at:  # else not revoked yet when the sources are read: valid at as-of all the same
            f.revoke(old_ecert, revoked)
        f.write(old, old_ecert)
        f.write(*successor)
        self._trap("fresh_cancel", "BDC_ZS", old.paper["ZSID"],
                   f"cancelled {(self.as_of - zxsj) / timedelta(hours=1):.1f} h before as-of, "
                   f"e-certificate still 现势 then ({old.subject})")

    def _trap_signing_error(self, spec: _Spec) -> None:
        f = self.f
        issue = f.issue(spec.unit, spec.day)
        wrong = f.ecert(issue, issue.case.dbsj + f.minutes(2, 60))
        if spec.variant == 0:
            wrong["CZZT"] = f.misspell(wrong["CZZT"].split("、")[0])
            wrong["CZZTDM"] = wrong["CZZTDM"].split("、")[0]
        else:
            wrong["BDCDYH"] = f.other_unit_number(wrong["BDCDYH"])
        f.revoke(wrong, wrong["ZZBFRQ"] + f.minutes(20, 120), reason=2)
        reissue = f.ecert(issue, wrong["ZXSJ"] + f.minutes(5, 60))
        f.write(issue, wrong, reissue)
        self._trap("signing_error_reissue", "BDC_DZZZ_ZZXX", wrong["ZZID"],
                   f"wrong e-certificate revoked for a signing error (ZXYY 2) and reissued: one valid, no duplicate, no mismatch ({issue.subject})")

    def _trap_letter_check(self, spec: _Spec) -> None:
        issue = self.f.issue(spec.unit, spec.day)
        ecert = self.f.ecert(issue, letter_check=True)
        self.f.write(issue, ecert)
        self._trap("letter_check_character", "BDC_DZZZ_ZZXX", ecert["ZZID"],
                   f"valid 证照标识 whose check character is the letter {ecert['ZZBS'][-1]}")

    # -- as-of cases: findings only because the rules look at as-of ---------------------
    def _asof_revoked(self, spec: _Spec) -> None:
        f = self.f
        old = self._earlier_issue(spec)
        old_ecert = f.ecert(old)
        successor = f.transfer(old, f.moment(spec.day, _DB_WINDOW))
        assert successor is not None
        revoked = self.as_of + f.minutes(120, 72 * 60)
        if revoked <= self.read_at:  # else still valid when the sources are read: a plain finding
            f.revoke(old_ecert, revoked)
        f.write(old, old_ecert)
        f.write(*successor)
        self.truth.findings.append(Finding("ECERT_NOT_REVOKED", old.subject, spec.unit))
        if revoked > self.read_at:
            return
        self._trap("asof_revoked_after_asof", "BDC_DZZZ_ZZXX", old_ecert["ZZID"],
                   f"paper cancelled {old.paper['ZXSJ']:%Y-%m-%d}, e-certificate revoked only after as-of: "
                   f"IS ECERT_NOT_REVOKED as of as-of ({old.subject})")

    def _asof_issued(self, spec: _Spec) -> None:
        issue = self.f.issue(spec.unit, spec.day)
        ecert = self.f.ecert(issue, self.as_of + self.f.minutes(60, 48 * 60))
        self.truth.findings.append(Finding("ECERT_MISSING", issue.subject, spec.unit))
        if ecert["ZZBFRQ"] > self.read_at:  # not issued yet when the sources are read: a plain finding
            self.f.write(issue)
            return
        self.f.write(issue, ecert)
        self._trap("asof_issued_after_asof", "BDC_DZZZ_ZZXX", ecert["ZZID"],
                   f"paper printed {issue.paper['SZSJ']:%Y-%m-%d}, e-certificate issued only after as-of: "
                   f"IS ECERT_MISSING as of as-of ({issue.subject})")

    # -- case rules: building blocks -----------------------------------------------------
    # Every registered planted case takes at most f.max_slow working days, like the bulk,
    # so no month's median can make a case of 1 working day or more look "fast": only the
    # planted same-day cases can ever be queue jumps, and each is placed on purpose.

    def _registered(
        self,
        unit: str,
        ctype: _CaseType,
        dbsj: datetime,
        elapsed: int,
        *,
        gqts: int = 0,
        bdcdyh: str | None = None,
        sqfs: int | None = None,
        staff: dict[str, str | None] | None = None,
    ) -> _CaseRef:
        """A case registered and completed at ``dbsj`` (on a working day), accepted
        ``elapsed`` working days earlier (0: the same morning, ``dbsj`` from noon)."""
        f = self.f
        assert elapsed <= f.max_slow, elapsed
        if elapsed == 0:
            assert dbsj.hour >= 12, dbsj
            slsj = f.moment(dbsj.date(), (_OPEN, 10 * 60))
        else:
            slsj = f.moment(f.cal.shift(dbsj.date(), -elapsed), _SL_WINDOW)
        return f.plant_case(
            unit, ctype, slsj, ajzt=2, jssj=dbsj + f.minutes(1, 30), dbsj=dbsj, gqts=gqts, bdcdyh=bdcdyh, sqfs=sqfs,
            staff=staff,
        )

    def _seizure_case(
        self, unit: str, dbsj: datetime, *, bdcdyh: str | None = None, jfsj: datetime | None = None
    ) -> _CaseRef:
        """A 查封 entered the day it came in (its limit is 0), with its QLF_QL_CFDJ row."""
        case = self._registered(unit, self.f.seizure, dbsj, 0, bdcdyh=bdcdyh)
        self.f.seizure_row(case, jfsj)
        return case

    def _seizure_day(self, before: date) -> date:
        """A working day before ``before`` and before the period's first month: the seizures
        of the sealed-mortgage plants stay out of the period's own 查封 month statistics."""
        latest = min(before - timedelta(days=3), self.ps.replace(day=1) - timedelta(days=1))
        return self.f.cal.on_or_before(latest - timedelta(days=self.f.randint(0, 40)))

    def _returned(
        self, unit: str, thsj: datetime, code: str | None, bdcdyh: str | None = None
    ) -> tuple[_CaseRef, str]:
        """A case returned at ``thsj`` (a working day, _TH_WINDOW): AJZT 3, JSSJ = THSJ, no 登簿."""
        f = self.f
        ctype = f.returnable.pick(f.rnd())
        if f.rnd() < 0.5:
            slsj = f.moment(thsj.date(), (_OPEN, thsj.hour * 60 + thsj.minute - 70))
        else:
            slsj = f.moment(f.cal.shift(thsj.date(), -1), _SL_WINDOW)
        case = f.plant_case(unit, ctype, slsj, ajzt=3, jssj=thsj, bdcdyh=bdcdyh, review="return")
        return case, f.return_row(case, thsj, code)

    def _lawful_code(self) -> str:
        return self.f.pick(self._lawful_codes)

    def _month_workdays(self, day: date) -> list[date]:
        key = (day.year, day.month)
        if key not in self._months:
            first = day.replace(day=1)
            following = (first + timedelta(days=32)).replace(day=1)
            self._months[key] = self.f.cal.workdays(first, following - timedelta(days=1))
        return self._months[key]

    def _overdue_by_as_of(self, ctype: _CaseType) -> date:
        """An acceptance day whose deadline is before date(as-of)."""
        f = self.f
        last = f.cal.on_or_before(self.as_of.date() - timedelta(days=1))
        return f.cal.shift(last, -(ctype.limit + 1 + f.randint(0, 6)))

    # -- case rules: planted problems --------------------------------------------------------
    def _overdue(self, spec: _Spec) -> list[_Planted]:
        f = self.f
        ctype, gqts = ((f.transfer_type, 0), (f.mortgage, 0), (f.presale, 0), (f.mortgage, 1))[spec.variant]
        allowed = ctype.limit + gqts
        elapsed = allowed + f.randint(1, max(1, f.max_slow - allowed))
        case = self._registered(spec.unit, ctype, f.moment(spec.day, _DB_WINDOW), elapsed, gqts=gqts)
        suspended = f" + {gqts} suspended" if gqts else ""
        note = (f"{ctype.limit_class} case done {elapsed} working days after its start "
                f"(limit {ctype.limit}{suspended}): {elapsed - allowed} day(s) late")
        return [_Planted("CASE_OVERDUE", case.ywh, spec.unit, "DJT_DJ_SL", case.ywh, note, case.jssj)]

    def _overdue_open(self, spec: _Spec) -> list[_Planted]:
        f = self.f
        variant = spec.variant
        ctype = (f.transfer_type, f.first, f.mortgage, f.presale)[variant]
        if variant == 1:  # "whatever its acceptance date": stuck since before the period
            day = f.cal.on_or_before(self.ps - timedelta(days=f.randint(20, 70)))
        else:
            day = self._overdue_by_as_of(ctype)
        slsj = f.moment(day, _SL_WINDOW)
        if variant <= 1:
            case = f.plant_case(spec.unit, ctype, slsj, ajzt=1, review="open")
            how = "still 在办"
        elif variant == 2:
            dbsj = f.moment(f.cal.on_or_after(self.as_of.date()), _DB_WINDOW)
            jssj = dbsj + f.minutes(1, 30)
            if jssj <= self.read_at:
                case = f.plant_case(spec.unit, ctype, slsj, ajzt=2, jssj=jssj, dbsj=dbsj)
                how = f"registered only on {dbsj:%Y-%m-%d}, after as-of: 在办"
            else:  # its 登簿 has not happened when the sources are read
                case = f.plant_case(spec.unit, ctype, slsj, ajzt=1)
                how = "reviewed, still 在办"
        else:
            jssj = f.moment(f.cal.on_or_after(self.as_of.date()), (9 * 60, 17 * 60))
            if jssj <= self.read_at:
                case = f.plant_case(spec.unit, ctype, slsj, ajzt=5, jssj=jssj, review=None)
                how = f"withdrawn only on {jssj:%Y-%m-%d}, after as-of: 在办"
            else:  # its withdrawal has not happened when the sources are read
                case = f.plant_case(spec.unit, ctype, slsj, ajzt=1, review=None)
                how = "not reviewed, still 在办"
        deadline = f.cal.shift(f.cal.on_or_after(day), ctype.limit)
        assert deadline < self.as_of.date()
        note = f"{ctype.limit_class} case accepted {day}, deadline {deadline}, {how} at as-of"
        return [_Planted("CASE_OVERDUE_OPEN", case.ywh, spec.unit, "DJT_DJ_SL", case.ywh, note)]

    def _queue_jump(self, spec: _Spec) -> list[_Planted]:
        f = self.f
        ctype = f.transfer_type if spec.variant == 0 else f.mortgage
        day, unit = spec.day, spec.unit
        jumper = self._registered(unit, ctype, f.moment(day, (12 * 60, 14 * 60)), 0)
        # The queue it jumps: accepted 1-2 working days before it, registered after it, in time.
        queue = f.min_overtaken + 1
        for _ in range(queue):
            wait = f.randint(1, min(2, ctype.limit))
            later = f.randint(0, ctype.limit - wait)
            dbsj = (f.moment(day, _AFTERNOON) if later == 0
                    else f.moment(f.cal.shift(day, later), _DB_WINDOW))
            self._registered(unit, ctype, dbsj, wait + later)
        # Ordinary peers registered in the same month: the month's median is an ordinary one.
        month = [d for d in self._month_workdays(day) if d < self.as_of.date() and d != day] or [day]
        for _ in range(_JUMP_PEERS):
            peer_day = f.pick(month)
            dbsj = f.moment(peer_day, _DB_WINDOW if peer_day != day else _AFTERNOON)
            self._registered(unit, ctype, dbsj, f.randint(1, ctype.max_elapsed))
        note = (f"{ctype.limit_class} case registered on its day of acceptance, ahead of {queue} cases "
                "accepted 1-2 working days earlier")
        return [_Planted("CASE_QUEUE_JUMP", jumper.ywh, unit, "DJT_DJ_SL", jumper.ywh, note, jumper.dbsj)]

    def _unjustified_return(self, spec: _Spec) -> list[_Planted]:
        code = (None, "  ", self._unknown_code)[spec.variant]
        thsj = self.f.moment(spec.day, _TH_WINDOW)
        _, ident = self._returned(spec.unit, thsj, code)
        what = ("no reason code", "a blank reason code", f"code {code!r}, not a lawful reason")[spec.variant]
        return [_Planted("RETURN_UNJUSTIFIED", ident, spec.unit, "BDC_BYSL", ident, f"return with {what}", thsj)]

    def _repeated_return(self, spec: _Spec) -> list[_Planted]:
        """Two (variant 0) or three (variant 1) returns of one unit number by one unit, each
        within the window of the one before (gaps of at most 18 + 9 holiday days)."""
        f = self.f
        bdcdyh = f.planted_unit_number(f.qxdm_of(spec.unit))
        days = [spec.day]
        for _ in range(1 + spec.variant):
            days.insert(0, f.cal.on_or_before(days[0] - timedelta(days=f.randint(3, 10 if spec.variant else 18))))
        window = timedelta(days=self.repeat_days)
        planted: list[_Planted] = []
        earlier: list[datetime] = []
        for day in days:
            thsj = f.moment(day, _TH_WINDOW)
            _, ident = self._returned(spec.unit, thsj, self._lawful_code(), bdcdyh)
            if any(t + window >= thsj for t in earlier):
                note = f"return no. {len(earlier) + 1} of {bdcdyh} by {spec.unit} within {self.repeat_days} days"
                planted.append(_Planted("RETURN_REPEATED", ident, spec.unit, "BDC_BYSL", ident, note, thsj))
            earlier.append(thsj)
        return planted

    def _sealed_mortgage(self, spec: _Spec) -> list[_Planted]:
        f = self.f
        bdcdyh = f.planted_unit_number(f.qxdm_of(spec.unit))
        dbsj = f.moment(spec.day, _DB_WINDOW)
        jfsj = None
        if spec.variant == 1:  # lifted, but only after the mortgage was registered
            lift_day = f.cal.on_or_before(min(self.last_day, spec.day + timedelta(days=f.randint(2, 40))))
            jfsj = f.moment(lift_day, (9 * 60, 17 * 60)) if lift_day > spec.day else dbsj + f.minutes(30, 90)
        seizure = self._seizure_case(spec.unit, f.moment(self._seizure_day(spec.day), _AFTERNOON),
                                     bdcdyh=bdcdyh, jfsj=jfsj)
        ctype = f.mortgage_alt if spec.variant == 2 else f.mortgage
        mortgage = self._registered(spec.unit, ctype, dbsj, f.randint(1, ctype.max_elapsed), bdcdyh=bdcdyh)
        lifted = f"lifted {jfsj:%Y-%m-%d}" if jfsj else "still in force"
        note = f"mortgage (QLLX {ctype.qllx}) registered on a unit seized {seizure.dbsj:%Y-%m-%d} ({lifted})"
        return [_Planted("MORTGAGE_WHILE_SEALED", mortgage.ywh, spec.unit, "DJT_DJ_SL", mortgage.ywh, note, dbsj)]

    # -- case rules: traps -------------------------------------------------------------------
    def _days_off(self) -> list[date]:
        """Days off (statutory holidays if there are any, else weekends) from which a 转移
        case's deadline, counted from the next working day, falls in the period."""
        cal, limit = self.f.cal, self.f.transfer_type.limit
        days = [d for d in _days(self.ps - timedelta(days=14), self.as_of.date() - timedelta(days=1))
                if not cal.is_workday(d) and self.ps <= cal.shift(cal.on_or_after(d), limit) < self.as_of.date()]
        if not days:
            raise ValueError(
                f"no day off in or just before {self.ps}..{self.truth.period_end} whose deadline falls in it: "
                "the period is too short or lies within a holiday"
            )
        return [d for d in days if cal.is_named_holiday(d)] or days

    def _trap_makeup_day(self, spec: _Spec) -> None:
        f = self.f
        if not self._makeup:  # the period has no weekend makeup day: nothing to plant
            return
        day = f.pick(self._makeup)
        ctype = f.transfer_type
        case = self._registered(spec.unit, ctype, f.moment(day, _DB_WINDOW), ctype.limit)
        self._trap("deadline_on_makeup_day", "DJT_DJ_SL", case.ywh,
                   f"accepted {case.slsj:%Y-%m-%d}, done on its deadline {day} ({day:%A}, a 调休 working day): in time")

    def _trap_holiday_acceptance(self, spec: _Spec) -> None:
        f = self.f
        ctype = f.transfer_type
        off = f.pick(self._off)
        deadline = f.cal.shift(f.cal.on_or_after(off), ctype.limit)
        slsj = f.moment(off, (9 * 60, 16 * 60))  # an online application on a day off
        dbsj = f.moment(deadline, _DB_WINDOW)
        case = f.plant_case(spec.unit, ctype, slsj, ajzt=2, jssj=dbsj + f.minutes(1, 30), dbsj=dbsj,
                            sqfs=f.online_sqfs(True))
        self._trap("accepted_on_day_off", "DJT_DJ_SL", case.ywh,
                   f"accepted {off} (day off), start moves to {f.cal.on_or_after(off)}, done on its deadline {deadline}: in time")

    def _trap_suspended_in_time(self, spec: _Spec) -> None:
        f = self.f
        ctype, gqts = ((f.mortgage, 2), (f.transfer_type, 1))[spec.variant]
        elapsed = min(ctype.limit + f.randint(1, gqts), f.max_slow)
        case = self._registered(spec.unit, ctype, f.moment(spec.day, _DB_WINDOW), elapsed, gqts=gqts)
        self._trap("suspension_extends_limit", "DJT_DJ_SL", case.ywh,
                   f"done {elapsed} working days after its start: past the limit {ctype.limit}, within {ctype.limit} + GQTS {gqts}")

    def _trap_exempt_fast(self, spec: _Spec) -> None:
        f = self.f
        ctype = self._exempt_types[spec.variant]
        day, unit = spec.day, spec.unit

        def register(dbsj: datetime, elapsed: int) -> _CaseRef:
            case = self._registered(unit, ctype, dbsj, elapsed, gqts=max(0, elapsed - ctype.limit))
            if ctype is f.seizure:
                f.seizure_row(case, None)
            return case

        fast = register(f.moment(day, (12 * 60, 14 * 60)), 0)
        # Earlier ones, suspended (GQTS) while waiting and registered after it: in time.
        waiting = f.min_overtaken + 2
        for _ in range(waiting):
            later = f.randint(0, 1)
            dbsj = f.moment(day, _AFTERNOON) if later == 0 else f.moment(f.cal.shift(day, later), _DB_WINDOW)
            register(dbsj, f.randint(1 + later, min(2 + later, f.max_slow)))
        self._trap("exempt_class_fast", "DJT_DJ_SL", fast.ywh,
                   f"{ctype.limit_class} case done on the spot ahead of {waiting} earlier ones: exempt class, not a queue jump")

    def _trap_busy_day(self, spec: _Spec) -> None:
        """Same-day 登簿 of most of a month's 其他 (900) cases: the median is 0, nobody is fast.
        900 is a class only these traps use, so that month's median is theirs."""
        f = self.f
        ctype, day, unit = f.other, spec.day, spec.unit
        waiting = f.min_overtaken
        longest = min(ctype.limit, f.max_slow)
        for _ in range(waiting):
            elapsed = f.randint(2, longest)
            later = f.randint(1, elapsed - 1)
            self._registered(unit, ctype, f.moment(f.cal.shift(day, later), _DB_WINDOW), elapsed)
        for _ in range(waiting + 2):
            case = self._registered(unit, ctype, f.moment(day, _AFTERNOON), 0)
            self._trap("busy_day_same_day", "DJT_DJ_SL", case.ywh,
                       f"registered on its day of acceptance {day} ahead of {waiting} earlier cases, "
                       "but most of the month's cases are: median 0, not fast")

    def _trap_lawful_return(self, spec: _Spec) -> None:
        code = self._lawful_code()
        _, ident = self._returned(spec.unit, self.f.moment(spec.day, _TH_WINDOW), code)
        self._trap("lawful_return", "BDC_BYSL", ident, f"returned with lawful reason code {code}")

    def _neighbour(self, unit: str) -> tuple[str, str]:
        """Another unit, one sharing a 区县 with ``unit`` if there is one, and that 区县."""
        own = self.f.policy.unit(unit).qxdm
        others = [u for u in self.f.units if u.code != unit]
        for other in others:
            shared = [q for q in own if q in other.qxdm]
            if shared:
                return other.code, shared[0]
        return others[0].code, own[0]

    def _trap_return_by_other_unit(self, spec: _Spec) -> None:
        f = self.f
        other, qxdm = self._neighbour(spec.unit)
        bdcdyh = f.planted_unit_number(qxdm)
        first = f.moment(f.cal.on_or_before(spec.day - timedelta(days=f.randint(2, 15))), _TH_WINDOW)
        self._returned(other, first, self._lawful_code(), bdcdyh)
        _, ident = self._returned(spec.unit, f.moment(spec.day, _TH_WINDOW), self._lawful_code(), bdcdyh)
        self._trap("return_by_other_unit", "BDC_BYSL", ident,
                   f"{bdcdyh} returned by {other} on {first:%Y-%m-%d} and now by {spec.unit}: not the same unit")

    def _trap_return_after_window(self, spec: _Spec) -> None:
        f = self.f
        bdcdyh = f.planted_unit_number(f.qxdm_of(spec.unit))
        gap = self.repeat_days + f.randint(1, 15)
        first = f.moment(f.cal.on_or_before(spec.day - timedelta(days=gap)), _TH_WINDOW)
        self._returned(spec.unit, first, self._lawful_code(), bdcdyh)
        thsj = f.moment(spec.day, _TH_WINDOW)
        _, ident = self._returned(spec.unit, thsj, self._lawful_code(), bdcdyh)
        self._trap("return_after_window", "BDC_BYSL", ident,
                   f"{bdcdyh} returned again {(thsj - first).days} days after the previous return")

    def _trap_mortgage_after_release(self, spec: _Spec) -> None:
        f = self.f
        bdcdyh = f.planted_unit_number(f.qxdm_of(spec.unit))
        seized = self._seizure_day(spec.day)
        lift_day = f.cal.on_or_before(spec.day - timedelta(days=f.randint(1, 20)))
        jfsj = f.moment(lift_day, (9 * 60, 17 * 60)) if lift_day > seized else f.moment(spec.day, (_OPEN, 10 * 60))
        self._seizure_case(spec.unit, f.moment(seized, _AFTERNOON), bdcdyh=bdcdyh, jfsj=jfsj)
        mortgage = self._registered(spec.unit, f.mortgage, f.moment(spec.day, _DB_WINDOW), 1, bdcdyh=bdcdyh)
        self._trap("mortgage_after_release", "DJT_DJ_SL", mortgage.ywh,
                   f"seized {seized}, lifted {jfsj:%Y-%m-%d %H:%M}, mortgage registered after: not sealed then")

    def _trap_seizure_after_mortgage(self, spec: _Spec) -> None:
        f = self.f
        bdcdyh = f.planted_unit_number(f.qxdm_of(spec.unit))
        mortgage = self._registered(spec.unit, f.mortgage, f.moment(spec.day, _DB_WINDOW), 1, bdcdyh=bdcdyh)
        seizure = self._seizure_case(spec.unit, f.moment(f.cal.shift(spec.day, f.randint(1, 4)), _AFTERNOON),
                                     bdcdyh=bdcdyh)
        self._trap("seizure_after_mortgage", "DJT_DJ_SL", mortgage.ywh,
                   f"mortgage registered {spec.day}, the unit seized only on {seizure.dbsj:%Y-%m-%d}")

    def _trap_suspended_open(self, spec: _Spec) -> None:
        f = self.f
        ctype = f.transfer_type
        day = self._overdue_by_as_of(ctype)
        case = f.plant_case(spec.unit, ctype, f.moment(day, _SL_WINDOW), ajzt=4)
        self._trap("suspended_past_deadline", "DJT_DJ_SL", case.ywh,
                   f"accepted {day}, deadline passed, but 挂起 (AJZT 4) at as-of: not counted as 在办")

    # -- online handling: after the history, from the tally of what was written ----------
    def finish(self) -> None:
        """Plant ONLINE_RATIO_LOW for one county unit and put another exactly at its target.

        The stream already gave the low unit a low share in the period (and the exact one its
        target share); withdrawn in-scope cases (AJZT 5, no 登簿) top up what small sizes
        lack (at least min_cases) and make the exact unit's share exact. O(1) rows at any size.
        """
        f = self.f
        min_cases = f.policy.online_handling.min_cases
        tally = f.online_tally
        low, exact = self.online_low, self.online_exact
        target = self._online_target(low)
        tally.setdefault(low, [0, 0])
        while tally[low][0] < min_cases:
            self._withdrawn(low, None)  # the stream's (low) share
        while tally[low][1] * target.denominator >= target.numerator * tally[low][0]:
            self._withdrawn(low, f.online_sqfs(False))
        self.truth.findings.append(Finding("ONLINE_RATIO_LOW", low, low))
        if exact is not None:
            target = self._online_target(exact)
            total, online = tally.get(exact, [0, 0])
            extra = max(0, min_cases - total)
            while (total + extra) * target.numerator % target.denominator or not (
                0 <= (total + extra) * target.numerator // target.denominator - online <= extra
            ):
                extra += 1
                if extra > 100 * (total + min_cases + target.denominator):
                    raise RuntimeError("cannot bring the online share to its target (generator bug)")
            more_online = (total + extra) * target.numerator // target.denominator - online
            for i in range(extra):
                self._withdrawn(exact, f.online_sqfs(i < more_online))
            total, online = tally[exact]
            self._trap("online_share_at_target", "DJT_DJ_SL", exact,
                       f"{online} of {total} 预告/抵押 cases online: exactly the target {target}, not below")
        for unit, (total, online) in sorted(tally.items()):
            target = self._online_target(unit)
            below = total >= min_cases and online * target.denominator < target.numerator * total
            at = online * target.denominator == target.numerator * total
            if below != (unit == low) or (unit == exact and not at):
                raise RuntimeError(f"online share of {unit} is {online}/{total} (generator bug)")

    def _withdrawn(self, unit: str, sqfs: int | None) -> None:
        """An in-scope case accepted in the period and withdrawn (AJZT 5) the same day."""
        f = self.f
        ctype = f.mortgage if f.rnd() < 0.75 else f.presale
        slsj = f.moment(f.pick(self.windows["period"]), _SL_WINDOW)
        f.plant_case(unit, ctype, slsj, ajzt=5, jssj=slsj + f.minutes(20, 90), sqfs=sqfs, review=None)

    # -- quarantine: out-of-domain values, placed before the period ----------------------
    def _quarantine_row(self, spec: _Spec) -> None:
        """One bad row, with its counterparts before the period so nothing cascades.

        Excluded or not, it triggers no rule: its paper and e-certificate both date from
        before period_start. Its GXSJ falls in the period (the bad edit), so incremental
        extraction of the period meets it.
        """
        f = self.f
        issue = f.issue(spec.unit, spec.day, f.transfer_type)
        ecert = f.ecert(issue)
        edited = f.moment(f.cal.on_or_after(self.ps + timedelta(days=2)), (9 * 60, 17 * 60))
        table, column, value = _QUARANTINE[spec.kind]
        row = issue.paper if table == "BDC_ZS" else ecert
        if callable(value):
            value = value(row[column])
        row[column] = value
        row["GXSJ"] = edited
        key = row["ZSID"] if table == "BDC_ZS" else row["ZZID"]
        f.write(issue, ecert)
        self.truth.quarantine.append(QuarantinedRow(table, key, column))

    # -- staff rules (CONTRACT §3, item 21/24/28): building blocks --------------------------
    # Planted people are RY_JBXX rows beside the roster; whether one is a finding depends on
    # the period, so each is judged by _staff_rules_of when it is written (see the module
    # docstring).

    def _person(self, unit: str, post: str, sgsj: date, *, gwkssj: date | None = None) -> _Person:
        """A new person on post from ``sgsj``, the year's pledge signed (on joining if later)."""
        f = self.f
        number = self._staff_numbers.get(unit, 100) + 1
        if number > 999:
            raise ValueError("too many planted staff for one unit: use a smaller size")
        self._staff_numbers[unit] = number
        pledge = max(sgsj, f.pledge_day)
        return _Person(f.staff_row(f"{unit}{number:03d}", unit, post, sgsj, gwkssj or sgsj, pledge))

    def _old_hand(
        self,
        unit: str,
        post: str,
        *,
        gwkssj: date | None = None,
        left: date | None = None,
        trained_until: date | None = None,
    ) -> _Person:
        """Someone on post for years like the roster (or who left on ``left``), trained monthly
        up to ``trained_until`` (default: the end of the history, or the leaving day)."""
        f = self.f
        if gwkssj is None:
            sgsj = self.ps - timedelta(days=f.randint(3 * 365, 12 * 365))
            gwkssj = max(sgsj, self.ps - timedelta(days=f.randint(120, self.rotation_years * 365 // 2)))
        else:
            sgsj = gwkssj - timedelta(days=f.randint(0, 3 * 365))
        p = self._person(unit, post, sgsj, gwkssj=gwkssj)
        if left is not None:
            signed = left.year if left >= date(left.year, 1, 26) else left.year - 1
            p.row.update(ZT=2, LGSJ=left, LZCNSJ=date(signed, 1, f.randint(2, 25)),
                         GXSJ=datetime.combine(left, time(17, 0)))
        p.training += f.write_training(p.rybh, sgsj, trained_until or left or self.last_day)
        return p

    def _train(self, p: _Person, day: date, hours: str, course: str = _INDUCTION, passed: bool = True) -> dict[str, Any]:
        row = self.f.training_row(p.rybh, day, course, hours, khjg=1 if passed else 0)
        p.training.append(row)
        return row

    def _staffed_case(self, p: _Person | None, unit: str, role: str, day: date, rybh: str | None) -> _CaseRef:
        """A clean registered 转移 case whose ``role`` step (SL 受理, SH 审核, DB 登簿) on working
        day ``day`` carries ``rybh``; every other step is the roster's."""
        f = self.f
        ctype = f.transfer_type
        elapsed = f.randint(1, ctype.max_elapsed)
        dbsj = f.moment(day if role == "DB" else f.cal.shift(day, elapsed), _DB_WINDOW)
        case = self._registered(unit, ctype, dbsj, elapsed, staff={role: rybh})
        if p is not None:
            p.steps.append(day)
        return case

    def _staff_rules_of(self, p: _Person) -> list[str]:
        """The staff rules the person triggers, read from CONTRACT §3 (as of as-of)."""
        row, as_of = p.row, self.as_of.date()
        year_start = date(as_of.year, 1, 1)
        passed = [(t["PXRQ"], t["XS"]) for t in p.training if t["KHJG"] == 1]
        first = min((day for day, _ in passed), default=None)
        steps = [day for day in p.steps if self.ps <= day < as_of]
        rules = []
        if any(first is None or day < first for day in steps):
            rules.append("STAFF_UNTRAINED_ON_POST")
        if row["LGSJ"] is not None and any(day > row["LGSJ"] for day in steps):
            rules.append("STAFF_INACTIVE_HANDLER")
        sgsj, lgsj = row["SGSJ"], row["LGSJ"]

        def hours(lo: date, hi: date) -> Decimal:
            return sum((xs for day, xs in passed if lo <= day < hi), Decimal(0))

        # 在岗 all year: on post from 1 January to 31 December of the finished year, whatever
        # came after (still on post, or left on 31 December or later). A missing SGSJ is read
        # the strict way (on post all year, months from 1 January): the plants that lack one
        # stay clean whichever way an engine reads it.
        last_year = date(as_of.year - 1, 1, 1)
        all_year = (lgsj is None and row["ZT"] == 1) or (lgsj is not None and lgsj >= date(as_of.year - 1, 12, 31))
        if (as_of == year_start and (sgsj is None or sgsj <= last_year) and all_year
                and hours(last_year, year_start) < self.min_hours):
            rules.append("STAFF_TRAINING_HOURS")
        if not (row["ZT"] == 1 and (sgsj is None or sgsj < as_of) and (lgsj is None or lgsj >= as_of)):
            return rules
        months = _whole_months(max(year_start, sgsj or year_start), as_of)
        if hours(year_start, as_of) * 12 < self.min_hours * months:
            rules.append("STAFF_TRAINING_BEHIND")
        if any(row[c] is None or not str(row[c]).strip() for c in ("ZJH", "DWDM", "YGLX", "GW", "SGSJ")) or (
            not is_valid_id_number(row["ZJH"])
        ):
            rules.append("STAFF_RECORD_INCOMPLETE")
        if (row["GW"] in self.key_posts and row["GWKSSJ"] is not None
                and row["GWKSSJ"] < _years_before(as_of, self.rotation_years)):
            rules.append("STAFF_ROTATION_DUE")
        if as_of > self.pledge_deadline and (row["LZCNSJ"] is None or row["LZCNSJ"] < year_start):
            rules.append("STAFF_PLEDGE_MISSING")
        return rules

    def _settle(self, p: _Person, allowed: Collection[str], what: str) -> list[str]:
        """Write the person's row and record the findings it gives (only ``allowed`` ones)."""
        self.f.writer.add("RY_JBXX", p.row)
        rules = self._staff_rules_of(p)
        if not set(rules) <= set(allowed):
            raise RuntimeError(f"planted person {p.rybh} ({what}) triggers {rules} (generator bug)")
        for rule in rules:
            self.truth.findings.append(Finding(rule, p.rybh, p.row["DWDM"]))
        return rules

    def _staff_trap(self, p: _Person, kind: str, note: str) -> None:
        self._settle(p, (), kind)
        self._trap(kind, "RY_JBXX", p.rybh, note)

    def _broker_id(self) -> str:
        """An id off the units' RYBH pattern, as a 黄牛 (broker) account would be."""
        while True:
            ident = f"HN{self.f.randint(10_000, 99_999)}"
            if ident not in self._unknown_ids:
                return ident

    # -- staff rules: planted problems ------------------------------------------------------
    def _staff_untrained(self, spec: _Spec) -> None:
        f, as_of = self.f, self.as_of.date()
        if spec.variant == 0:  # posted, steps first, passed training only days later
            role, day = _STEP_ROLES[spec.order % 3], spec.day
            p = self._person(spec.unit, _STEP_POST[role], day - timedelta(days=f.randint(0, 5)))
            trained = min(f.cal.shift(day, f.randint(1, 3)), as_of - timedelta(days=1))
            self._train(p, trained, "24.0")
            p.training += f.monthly_training(p.rybh, trained, self.last_day)
            note = f"posted {p.row['SGSJ']}, {role} step on {day}, first passed training only on {trained}"
        else:  # posted less than a month before as-of (no pro-rata hours due), only failed its course
            role = "SL"
            sgsj = max(self.ps, _add_months(as_of, -1) + timedelta(days=1)) + timedelta(days=f.randint(0, 3))
            day = f.cal.on_or_after(sgsj + timedelta(days=f.randint(0, 2)))
            if day >= as_of:
                day = f.cal.on_or_before(as_of - timedelta(days=1))
                sgsj = min(sgsj, day)
            assert self.ps <= day < as_of, day
            p = self._person(spec.unit, _STEP_POST[role], sgsj)
            self._train(p, sgsj - timedelta(days=f.randint(1, 5)), "24.0", passed=False)
            note = f"posted {sgsj}, {role} step on {day}, only a failed (KHJG 0) induction"
        self._staffed_case(p, spec.unit, role, day, p.rybh)
        self._settle(p, ("STAFF_UNTRAINED_ON_POST",), note)

    def _staff_unknown(self, spec: _Spec) -> None:
        f = self.f
        ident, role = None, "SL"
        if spec.variant == 1:  # a real colleague's id mistyped: a 0 typed as the letter O
            role = ("SH", "DB")[spec.order % 2]
            for real in f.staff[spec.unit][_STEP_POST[role]]:
                number = real[len(spec.unit):]
                typo = spec.unit + (number.replace("0", "O", 1) if "0" in number else number[:-1])
                if typo not in self._unknown_ids:
                    ident = typo
                    break
        ident = ident or self._broker_id()
        self._unknown_ids.add(ident)
        self._staffed_case(None, spec.unit, role, spec.day, ident)
        # The subject is the id as written, the unit the case's DJJG (one unit per id).
        self.truth.findings.append(Finding("STAFF_UNKNOWN_HANDLER", ident, spec.unit))

    def _staff_inactive(self, spec: _Spec) -> None:
        f, day = self.f, spec.day
        if spec.variant == 0:  # left before the period
            role, left = "DB", self.ps - timedelta(days=f.randint(3, 40))
        else:  # left within the period (or the day before it), a step days later
            role = "SH"
            left = max(self.ps, day - timedelta(days=f.randint(1, 7))) if day > self.ps else day - timedelta(days=1)
        p = self._old_hand(spec.unit, _STEP_POST[role], left=left)
        self._staffed_case(p, spec.unit, role, day, p.rybh)
        self._settle(p, ("STAFF_INACTIVE_HANDLER",), f"left {left}, {role} step on {day}")

    def _staff_lapsed(self, spec: _Spec) -> None:
        """An old hand who stopped training: short of the year's hours when period_end is
        1 January (TRAINING_HOURS), else behind the pro-rata hours (TRAINING_BEHIND). Failed
        courses would clear either threshold if they were counted."""
        f, as_of = self.f, self.as_of.date()
        year_start = date(as_of.year, 1, 1)
        post = f.pick(_QUIET_POSTS)
        if as_of == year_start:
            judged = date(as_of.year - 1, 1, 1)
            p = self._old_hand(spec.unit, post, trained_until=judged - timedelta(days=1))
            months = f.randint(3, 8)
            p.training += f.monthly_training(p.rybh, judged - timedelta(days=1), date(judged.year, months, 28))
            failed_hours = 44 - 4 * months
            failed_day = date(judged.year, f.randint(months + 1, 12), f.randint(13, 25))
        else:
            p = self._old_hand(spec.unit, post, trained_until=year_start - timedelta(days=1))
            failed_hours = math.ceil(self.min_hours * _whole_months(year_start, as_of) / 12) + 4
            failed_day = year_start + timedelta(days=f.randint(0, (as_of - year_start).days - 1))
        failed = self._train(p, failed_day, f"{failed_hours}.0", f.pick(_COURSES), passed=False)
        rules = self._settle(p, ("STAFF_TRAINING_HOURS", "STAFF_TRAINING_BEHIND"), "lapsed training")
        if rules:
            self._trap("failed_course_not_counted", "RY_PXJL", failed["ID"],
                       f"{failed_hours} h failed (KHJG 0) on {failed_day}: counted, {p.rybh} would be clear; "
                       f"not counted, {p.rybh} IS {' and '.join(rules)}")
        else:
            self._trap("training_not_yet_judged", "RY_JBXX", p.rybh,
                       f"no passed training since {year_start - timedelta(days=1):%Y}, but as-of {as_of} is "
                       "neither a 1 January period end nor a whole month into the year")

    def _staff_record(self, spec: _Spec) -> None:
        f = self.f
        p = self._old_hand(spec.unit, f.pick(_QUIET_POSTS))
        row = p.row
        if spec.variant == 0:
            row["ZJH"], what = None, "no ID number"
        elif spec.variant == 1:
            right = row["ZJH"][-1]
            wrong = f.pick([c for c in "0123456789X" if c != right])
            row["ZJH"], what = row["ZJH"][:-1] + wrong, f"ID number check character {wrong} should be {right}"
        elif spec.variant == 2:
            row["GW"], what = None, "no post (GW)"
        elif spec.variant == 3:
            row["YGLX"], what = None, "no employment type (YGLX)"
        else:  # trained monthly all the same: clean for the training rules however SGSJ is read
            row["SGSJ"], what = None, "no first day on post (SGSJ)"
        self._settle(p, ("STAFF_RECORD_INCOMPLETE",), what)

    def _staff_rotation(self, spec: _Spec) -> None:
        f = self.f
        due = _years_before(self.as_of.date(), self.rotation_years)
        post = self.key_posts[spec.variant % len(self.key_posts)]
        p = self._old_hand(spec.unit, post, gwkssj=due - timedelta(days=f.randint(1, 700)))
        self._settle(p, ("STAFF_ROTATION_DUE",), f"{post} since {p.row['GWKSSJ']}")

    def _staff_pledge(self, spec: _Spec) -> None:
        f = self.f
        p = self._old_hand(spec.unit, f.pick(_QUIET_POSTS))
        if spec.variant == 0:
            p.row["LZCNSJ"], what = None, "no 廉政承诺书 on file"
        else:
            p.row["LZCNSJ"] = date(self.as_of.year - 1, 1, f.randint(2, 25))
            what = f"廉政承诺书 last signed {p.row['LZCNSJ']}"
        if not self._settle(p, ("STAFF_PLEDGE_MISSING",), what):
            self._trap("pledge_before_deadline", "RY_JBXX", p.rybh,
                       f"{what}, but as-of {self.as_of.date()} is not after the deadline {self.pledge_deadline}")

    # -- staff rules: traps -----------------------------------------------------------------
    def _staff_trap_pro_rata(self, spec: _Spec) -> None:
        """Joined this year: few hours, enough counted from SGSJ, not from 1 January (and,
        as-of 1 January, joined last year: not on post all year, not judged on the year)."""
        f, as_of = self.f, self.as_of.date()
        year_start = date(as_of.year, 1, 1)
        post = f.pick(_QUIET_POSTS)
        if as_of.month == 1:
            sgsj = date(as_of.year - 1, f.randint(6, 9), f.randint(1, 28))
            p = self._person(spec.unit, post, sgsj)
            self._train(p, sgsj - timedelta(days=f.randint(3, 10)), "8.0")
            p.training += f.monthly_training(p.rybh, sgsj, self.last_day)
            year_hours = sum(t["XS"] for t in p.training if t["PXRQ"].year == sgsj.year)
            assert year_hours < self.min_hours, year_hours
            note = f"joined {sgsj}: {year_hours} h in {sgsj.year}, but not on post all year"
        else:
            from_january = _whole_months(year_start, as_of)
            sgsj = _add_months(as_of, -(from_january // 2)) - timedelta(days=f.randint(1, 20))
            months = _whole_months(sgsj, as_of)
            hours = max(2, math.ceil(self.min_hours * months / 12))
            assert sgsj > year_start and hours * 12 < self.min_hours * from_january, (sgsj, hours)
            p = self._person(spec.unit, post, sgsj)
            self._train(p, sgsj - timedelta(days=f.randint(1, 7)), f"{hours}.0")
            note = (f"joined {sgsj}: {hours} h, {months} whole month(s) on post this year; "
                    f"counted from 1 January ({from_january} months) it would be behind")
        self._staff_trap(p, "pro_rata_training", note)

    def _staff_trap_id_x(self, spec: _Spec) -> None:
        f = self.f
        p = self._old_hand(spec.unit, f.pick(_QUIET_POSTS))
        while not p.row["ZJH"].endswith("X"):
            p.row["ZJH"] = f.id_number(1965, 1998)
        self._staff_trap(p, "id_number_check_x", "valid ID number whose check character is X")

    def _staff_trap_first_day(self, spec: _Spec) -> None:
        day = spec.day
        p = self._person(spec.unit, _STEP_POST["SL"], day)
        self._train(p, day, "24.0")
        p.training += self.f.monthly_training(p.rybh, day, self.last_day)
        self._staffed_case(p, spec.unit, "SL", day, p.rybh)
        self._staff_trap(p, "trained_on_first_day", f"posted, trained and first 受理 step all on {day}")

    def _staff_trap_leaving_day(self, spec: _Spec) -> None:
        p = self._old_hand(spec.unit, _STEP_POST["DB"], left=spec.day)
        self._staffed_case(p, spec.unit, "DB", spec.day, p.rybh)
        self._staff_trap(p, "step_on_leaving_day", f"last 登簿 step on the leaving day {spec.day}")

    def _staff_trap_left_without_pledge(self, spec: _Spec) -> None:
        left = self.ps - timedelta(days=self.f.randint(10, 60))
        p = self._old_hand(spec.unit, self.f.pick(_QUIET_POSTS), left=left)
        p.row["LZCNSJ"] = None
        self._staff_trap(p, "left_without_pledge", f"no 廉政承诺书, but left on {left}: not on post")

    def _staff_trap_posted_after_as_of(self, spec: _Spec) -> None:
        f = self.f
        later = (self.last_day - self.as_of.date()).days  # days of history after as-of
        if later < 1:  # read on the day the period ends: nobody is posted after as-of yet
            return
        sgsj = self.as_of.date() + timedelta(days=f.randint(1, min(TAIL_DAYS - 1, later)))
        p = self._person(spec.unit, _STEP_POST["SL"], sgsj)
        p.row["LZCNSJ"] = None
        self._train(p, sgsj - timedelta(days=f.randint(1, 3)), "24.0")
        self._staff_trap(p, "posted_after_as_of", f"on the registry (ZT 1) but first day on post {sgsj}, after as-of")

    def _staff_trap_rotation_day(self, spec: _Spec) -> None:
        due = _years_before(self.as_of.date(), self.rotation_years)
        post = self.key_posts[spec.order % len(self.key_posts)]
        p = self._old_hand(spec.unit, post, gwkssj=due)
        self._staff_trap(p, "rotation_on_the_day", f"{post} since {due}: exactly {self.rotation_years} years at as-of")

    def _staff_trap_rotation_non_key(self, spec: _Spec) -> None:
        f = self.f
        post = next(p for p in (*_STEP_POST.values(), *_QUIET_POSTS) if p not in self.key_posts)
        since = _years_before(self.as_of.date(), self.rotation_years) - timedelta(days=f.randint(365, 1500))
        p = self._old_hand(spec.unit, post, gwkssj=since)
        self._staff_trap(p, "rotation_non_key_post", f"{post} since {since}: not a key post")

    def _staff_trap_null_id(self, spec: _Spec) -> None:
        role = _STEP_ROLES[spec.variant]
        case = self._staffed_case(None, spec.unit, role, spec.day, None)
        self._trap("null_staff_id", _STEP_TABLE[role], case.ywh, f"{role} step on {spec.day} without a staff id")

    # -- staff quarantine: out-of-domain codes on otherwise clean rows ---------------------
    def _staff_quarantine_row(self, spec: _Spec) -> None:
        """Kept or set aside, the row triggers nothing: an extra course of a roster member
        (their monthly courses cover the hours), or a person with no case steps."""
        f = self.f
        table, column, value = _STAFF_QUARANTINE[spec.kind]
        edited = f.moment(f.cal.on_or_after(self.ps + timedelta(days=2)), (9 * 60, 17 * 60))
        if table == "RY_PXJL":
            rybh = f.pick(f.staff[spec.unit]["缮证"])
            key = f.training_row(rybh, spec.day, f.pick(_COURSES), "4.0", khjg=value, gxsj=edited)["ID"]
        else:
            p = self._old_hand(spec.unit, f.pick(_QUIET_POSTS))
            p.row.update({column: value, "GXSJ": edited})
            self._settle(p, (), spec.kind)
            key = p.rybh
        self.truth.quarantine.append(QuarantinedRow(table, key, column))


# --------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------


def _tables_by_system() -> dict[str, list[str]]:
    systems: dict[str, list[str]] = {REGISTRATION: [], ECERT: [], STAFF: []}
    for table in SOURCE_TABLES.values():
        systems[table.system].append(table.name)
    return systems


def _fast_sqlite(engine: Engine) -> None:
    """Demo loads only: WAL and no fsync per commit (a crash means regenerating)."""

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def _open_targets(
    urls: dict[str, str], metadata: MetaData, drop_existing: bool, prepare: Callable[[Engine], None] | None = None
) -> tuple[list[Engine], dict[str, Connection], dict[str, tuple[Table, Connection]]]:
    """One engine and connection per distinct URL; each system's tables (re)created there
    (``prepare``: called on each new engine before its first connection)."""
    engines: dict[str, Engine] = {}
    connections: dict[str, Connection] = {}
    targets: dict[str, tuple[Table, Connection]] = {}
    for system, names in _tables_by_system().items():
        url = urls[system]
        if url not in engines:
            engine = create_engine(url)
            if engine.dialect.name == "sqlite":
                _fast_sqlite(engine)
            if prepare is not None:
                prepare(engine)
            engines[url] = engine
        engine = engines[url]
        tables = [metadata.tables[name] for name in names]
        if drop_existing:
            metadata.drop_all(engine, tables=tables, checkfirst=True)
        metadata.create_all(engine, tables=tables, checkfirst=True)
        if url not in connections:
            connections[url] = engine.connect()
        for table in tables:
            targets[table.name] = (table, connections[url])
    return list(engines.values()), connections, targets


def _close(engines: Iterable[Engine], connections: dict[str, Connection]) -> None:
    # Idle pooled connections (from create_all) first: SQLite leaves WAL only when alone.
    for engine in engines:
        engine.dispose()
    for conn in connections.values():
        if conn.in_transaction():
            conn.rollback()
        if conn.dialect.name == "sqlite":
            # Fold the WAL back so that the demo database is one self-contained file.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
            conn.commit()
        conn.close()


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def generate(
    registration_url: str,
    ecert_url: str,
    staff_url: str,
    *,
    size: int = 500,
    seed: int = 20261125,
    period_start: date,
    period_end: date,
    drop_existing: bool = True,
    policy: Policy | None = None,
    batch_size: int = 10_000,
    dirty: bool = False,
    today: date | None = None,
) -> GroundTruth:
    """Fill the three source systems with demo data and return its ground truth.

    Args:
        registration_url, ecert_url, staff_url: SQLAlchemy URLs (the same or different
            databases; SQLite, PostgreSQL, MySQL via ``mysql+pymysql``).
        size: number of paper certificates (BDC_ZS rows) in all, planted ones included.
        seed: the only source of randomness; same arguments give identical rows.
        period_start, period_end: the audit period [start, end) the ground truth judges,
            as of period_end 00:00. At least 14 days. History runs from ~3 months before
            the period to 10 days after it, or to ``today``.
        drop_existing: drop the systems' tables first (else create missing ones and add).
        policy: the supervision policy (default: ``load_policy()``).
        batch_size: rows per INSERT transaction.
        dirty: write the same world as vendor databases hold it (integer ids, zone-carrying
            timestamps, zero dates, control and look-alike characters, ID numbers in free
            text; see ``bdcwatch.demo.dirty``, issue 10). The truth is the clean world's,
            with staff ids renamed as written.
        today: the day the sources are read (never the wall clock: the caller says it). No
            generated timestamp is after its 00:00 (module docstring). Default: 10 days
            after period_end; not before period_end.

    Raises:
        ValueError: the period is too short, ``today`` before period_end, or ``size`` too
            small to hold the plan.
    """
    if (period_end - period_start).days < MIN_PERIOD_DAYS:
        raise ValueError(f"the period must be at least {MIN_PERIOD_DAYS} days, got {period_start}..{period_end}")
    full_tail = period_end + timedelta(days=TAIL_DAYS - 1)  # the history's last day when read later
    today = today or full_tail + timedelta(days=1)
    if today < period_end:
        raise ValueError(f"today {today} is before period_end {period_end}: the period has not ended")
    policy = policy or load_policy()
    rng = random.Random(seed)
    as_of = datetime.combine(period_end, time())
    history_start = period_start - timedelta(days=LEAD_IN_DAYS)
    last_day = min(full_tail, today - timedelta(days=1))  # every event of a day ends before midnight
    truth = GroundTruth(period_start, period_end, as_of, seed, size)
    calendar = _WorkCalendar()

    dirt = DirtyWorld(seed, policy) if dirty else None
    writer = _BatchWriter(batch_size, dirt.rewrite if dirt else None)
    factory = _RowFactory(rng, policy, writer, calendar, history_start)
    specials = _Specials(factory, truth, last_day, datetime.combine(today, time()))
    clean = size - specials.papers
    if clean < specials.papers:  # checked before any table is dropped
        raise ValueError(
            f"size {size} is too small: the planted rows alone take {specials.papers} "
            f"certificates; use at least {2 * specials.papers}"
        )
    plan = specials.plan()
    # Certificates need their 登簿 before the history ends: the last days of a full tail hold
    # open cases only. Open cases are accepted in the history's last days, but not before the
    # last working day before period_end: none of them is overdue at as-of.
    stream_days = calendar.workdays(history_start, min(last_day, full_tail - timedelta(days=5)))
    stream = _NormalStream(factory, clean, stream_days, last_day)
    open_from = max(last_day - timedelta(days=4), calendar.on_or_before(period_end - timedelta(days=1)))
    open_days = set(calendar.workdays(open_from, last_day))
    open_per_day = max(1, size // max(1, len(stream.days)) // 3)

    urls = {REGISTRATION: registration_url, ECERT: ecert_url, STAFF: staff_url}
    metadata = dirt.metadata() if dirt else build_metadata()
    engines, connections, targets = _open_targets(urls, metadata, drop_existing, dirt.prepare_engine if dirt else None)
    try:
        writer.bind(targets)
        factory.write_staff(period_start, as_of, last_day)
        next_spec = 0
        for day in _days(history_start, last_day):
            stream.fill(day)
            while next_spec < len(plan) and plan[next_spec].day == day:
                specials.build(plan[next_spec])
                next_spec += 1
            if day in open_days:
                for _ in range(open_per_day):
                    factory.open_case(*factory.pick_unit(), day)
        if next_spec != len(plan) or stream.emitted != clean:
            raise RuntimeError("demo plan and history window disagree (generator bug)")
        specials.finish()
        writer.flush_all()
    finally:
        _close(engines, connections)
    if writer.counts["BDC_ZS"] != size:
        raise RuntimeError(f"wrote {writer.counts['BDC_ZS']} certificates instead of {size} (generator bug)")
    truth.findings.sort()
    return dirt.rename_truth(truth) if dirt else truth


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bdcwatch.demo.generator --registration-url URL ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m bdcwatch.demo.generator",
        description="Fill demo source databases (registration, e-certificates, staff) for bdcwatch.",
    )
    parser.add_argument("--registration-url", required=True, help="SQLAlchemy URL of the registration system")
    parser.add_argument("--ecert-url", help="e-certificate system URL (default: the registration URL)")
    parser.add_argument("--staff-url", help="staff registry URL (default: the registration URL)")
    parser.add_argument("--size", type=int, default=500, help="paper certificates in all (default 500)")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--period-start", type=date.fromisoformat, required=True, help="ISO date, inclusive")
    parser.add_argument("--period-end", type=date.fromisoformat, required=True, help="ISO date, exclusive (as-of)")
    parser.add_argument("--today", type=date.fromisoformat,
                        help="ISO date the sources are read: nothing happens after its 00:00 "
                             f"(default: period end + {TAIL_DAYS} days)")
    parser.add_argument("--truth", type=Path, help="write the ground truth JSON here")
    parser.add_argument("--keep-existing", action="store_true", help="do not drop existing tables first")
    parser.add_argument("--dirty", action="store_true",
                        help="write the sources as vendor databases hold them (issue 10; same findings)")
    args = parser.parse_args(argv)
    try:
        truth = generate(
            args.registration_url,
            args.ecert_url or args.registration_url,
            args.staff_url or args.registration_url,
            size=args.size,
            seed=args.seed,
            period_start=args.period_start,
            period_end=args.period_end,
            drop_existing=not args.keep_existing,
            dirty=args.dirty,
            today=args.today,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.truth:
        truth.write(args.truth)
    print(
        f"{truth.size} certificates; {len(truth.findings)} findings, {len(truth.traps)} traps, "
        f"{len(truth.quarantine)} quarantine rows for {truth.period_start}..{truth.period_end}"
        + (f"; ground truth in {args.truth}" if args.truth else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
