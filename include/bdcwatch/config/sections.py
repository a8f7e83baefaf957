"""The sections of the policy file, as frozen pydantic models (see ``config.policy``)."""

from __future__ import annotations

import math
import re
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator


class Severity(StrEnum):
    """A finding's severity (CONTRACT §3); also the key of rectification deadlines (§4)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


UnitLevel = Literal["city", "county"]  # decides the online-handling target (plan item 12)


def _fraction(value: Any) -> Fraction:
    """0.25, "0.25" or "1/4" as an exact fraction (thresholds compare without float noise)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"expected a number such as 0.25, got {value!r}") from None


def _zone(value: Any) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None


# local@domain: dot-separated parts, none empty (``a..b@example..org`` is refused: one bad
# address makes the relay refuse the whole message to every head). Loose otherwise: an
# intranet's ``yq.local`` or a Chinese domain is an address here.
_EMAIL = re.compile(r"^[^@\s.]+(\.[^@\s.]+)*@[^@\s.]+(\.[^@\s.]+)+$")


def _email(value: Any) -> str:
    text = str(value).strip()
    if not _EMAIL.match(text):
        raise ValueError(f"{value!r} is not an email address")
    return text


def _share(value: Fraction) -> Fraction:
    if not 0 <= value <= 1:
        raise ValueError(f"{value} is no share: write one between 0 and 1 (0.3 for 30 %)")
    return value


def _code(value: Any) -> str:
    """37 and "37" are the same code; a leading zero is kept (the policy loader reads
    ``01`` as the text written, not YAML 1.1's octal 1); empty is no code."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"{value!r} is no code (write the code, quoted if it starts with 0)")
    text = str(value).strip()
    if not text:
        raise ValueError("a code is empty")
    return text


ExactFraction = Annotated[Fraction, BeforeValidator(_fraction), PlainSerializer(str)]
Share = Annotated[Fraction, BeforeValidator(_fraction), AfterValidator(_share), PlainSerializer(str)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone), PlainSerializer(str)]
Email = Annotated[str, BeforeValidator(_email)]
Code = Annotated[str, BeforeValidator(_code)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Person(_Section):
    """Someone who receives mail: a unit's or a supervisor's head (责任主体)."""

    name: str
    role: str = ""
    email: Email


class Unit(_Section):
    """A registration unit (登记机构), keyed by its DJJG code."""

    code: Code
    name: str
    level: UnitLevel
    qxdm: tuple[Code, ...] = ()
    supervisor: str
    heads: tuple[Person, ...]

    @field_validator("heads")
    @classmethod
    def _someone_answers(cls, heads: tuple[Person, ...]) -> tuple[Person, ...]:
        if not heads:
            raise ValueError("a unit needs at least one head (who receives its mail)")
        return heads


class Supervisor(_Section):
    """A supervising body (自然资源主管部门): escalations and city reports go to its heads."""

    code: str
    name: str
    heads: tuple[Person, ...]

    @field_validator("heads")
    @classmethod
    def _someone_answers(cls, heads: tuple[Person, ...]) -> tuple[Person, ...]:
        if not heads:
            raise ValueError("a supervisor needs at least one head (who receives its mail)")
        return heads


class OnlineHandling(_Section):
    """Plan item 12: share of 预告/抵押 cases applied for online, by unit level."""

    online_sqfs: tuple[int, ...]
    targets: dict[UnitLevel, Share]
    min_cases: int = Field(ge=0)


class Ecert(_Section):
    """Plan item 16: e-certificates."""

    type_codes: dict[int, str]  # ZSLX -> ZZLXDM
    max_delay_hours: int = Field(ge=0)


class QueueJump(_Section):
    """Plan items 27, 33: queue-jump detection (CONTRACT §3 CASE_QUEUE_JUMP)."""

    max_fraction_of_median: ExactFraction
    min_overtaken: int = Field(ge=0)
    exempt_classes: tuple[Code, ...] = ()

    @field_validator("max_fraction_of_median")
    @classmethod
    def _a_fraction(cls, value: Fraction) -> Fraction:
        if not 0 < value <= 1:
            raise ValueError("must be above 0 and at most 1")
        return value


class Staff(_Section):
    """Plan items 21, 24, 28."""

    min_training_hours_per_year: float = Field(gt=0)
    rotation_years: int = Field(gt=0)
    key_posts: tuple[str, ...] = ()
    pledge_deadline: str  # MM-DD

    @field_validator("pledge_deadline")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            date(2024, *(int(part) for part in str(value).split("-")))  # a leap year admits 02-29
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a month and day written MM-DD") from None
        return str(value)

    def pledge_deadline_in(self, year: int) -> date:
        """The day the 廉政承诺书 must be signed by in ``year`` (29 Feb becomes 28 Feb)."""
        month, day = (int(part) for part in self.pledge_deadline.split("-"))
        try:
            return date(year, month, day)
        except ValueError:
            return date(year, month, 28)


class QualityCheck(_Section):
    """Plan item 32: monthly hand review of a sample of completed cases."""

    min_sample_fraction: Share
    min_sample_size: int = Field(ge=0)


class Cycle(_Section):
    """Plan item 34: how often an inspection cycle is due."""

    per_year: int = Field(ge=1)


class CalendarYear(_Section):
    """One year's State Council holidays and makeup working days, for a year the bundled
    calendar does not know yet (CONTRACT §5)."""

    holidays: tuple[date, ...] = ()
    makeup_workdays: tuple[date, ...] = ()




# 登记大类 (DJDL) of the national code table (不动产登记数据库标准 TD/T 1066, 附录A 登记类型).
DJDL_NAMES: dict[str, str] = {
    "100": "首次登记", "200": "转移登记", "300": "变更登记", "400": "注销登记", "500": "更正登记",
    "600": "异议登记", "700": "预告登记", "800": "查封登记", "900": "其他登记",
}
# 权利类型 (QLLX) 1-22 of the same standard's 权利类型 table. Vendors extend and renumber the
# codes after 22 (抵押权 is 37 in one list, 23 in another): those come from the policy.
QLLX_NAMES: dict[str, str] = {
    "1": "集体土地所有权", "2": "国家土地所有权", "3": "国有建设用地使用权",
    "4": "国有建设用地使用权/房屋（构筑物）所有权", "5": "宅基地使用权", "6": "宅基地使用权/房屋（构筑物）所有权",
    "7": "集体建设用地使用权", "8": "集体建设用地使用权/房屋（构筑物）所有权", "9": "土地承包经营权",
    "10": "土地承包经营权/森林、林木所有权", "11": "林地使用权", "12": "林地使用权/森林、林木使用权",
    "13": "草原使用权", "14": "水域滩涂养殖权", "15": "海域使用权", "16": "海域使用权/构（建）筑物所有权",
    "17": "无居民海岛使用权", "18": "无居民海岛使用权/构（建）筑物所有权", "19": "地役权", "20": "取水权",
    "21": "探矿权", "22": "采矿权",
}


class CodeNames(_Section):
    """What heads read instead of codes (issue 11): 登记大类 and 权利类型 names by code, from
    the national tables (defaults above) and the registration system's own list (the
    policy file). 退件原因 names are ``return_reason_codes``. A code without a name is
    shown as the code, said to be unknown."""

    standard: str = "不动产登记数据库标准（TD/T 1066）附录A"
    djdl: dict[Code, str] = Field(default_factory=lambda: dict(DJDL_NAMES))
    qllx: dict[Code, str] = Field(default_factory=lambda: dict(QLLX_NAMES))


# --- Closing the loops (CONTRACT §8; plan items 3, 4, 11, 19, 30, 31, 32, 35) -------------
# Optional sections: a policy file without them (the contract's policy.yaml) loads with
# these defaults.


class Intake(_Section):
    """Plan item 31: complaint exports (12345, 好差评, 信访) dropped into a folder.

    ``complaints_dir`` may be relative: it is then read relative to the policy file's
    folder (or the working directory for the bundled policy). None (the contract's
    policy.yaml has no ``intake``): the default folder ``intake.complaints.complaints_dir``
    names, so that an upload in the UI works on any policy (CONTRACT §8).
    """

    complaints_dir: str | None = None
    # 诉求类型 → severity of the COMPLAINT finding. CONTRACT §8: "severity from policy
    # intake.complaint_severity by 诉求类型, default medium": without the mapping every
    # type is medium (the bundled policy.yaml lists its own).
    complaint_severity: dict[str, Severity] = Field(default_factory=dict)
    default_severity: Severity = Severity.MEDIUM
    # A file the complaint_intake run finds is taken in only once it has not been written
    # to for this many seconds by the folder's own clock: an export copied in over a share
    # under its final name is otherwise read half-written (intake.files.settled). 0: files
    # here are always written whole (renamed into place, as ``bdcwatch complaints drop`` does).
    settle_seconds: int = Field(default=60, ge=0, le=86_400)


# The bulletin's indicators (CONTRACT §8 scorecard), in the order the 通报 shows them.
INDICATORS: tuple[str, ...] = (
    "ecert_coverage", "on_time_completion", "online_share", "findings_per_1000", "rectified_on_time",
    "training_on_track",
)
_DEFAULT_WEIGHTS: dict[str, float] = {"ecert_coverage": 20, "on_time_completion": 20, "online_share": 15, "findings_per_1000": 15,
                    "rectified_on_time": 20, "training_on_track": 10}
# Below this many in an indicator's population a unit is shown as 样本不足 and not ranked on it.
_DEFAULT_MIN_POPULATION = {"ecert_coverage": 10, "on_time_completion": 10, "online_share": 10,
                           "findings_per_1000": 30, "rectified_on_time": 5, "training_on_track": 5}


def _indicator_keys(value: Any, defaults: dict[str, int]) -> Any:
    if not isinstance(value, dict):
        return value
    unknown = sorted(set(map(str, value)) - set(INDICATORS))
    if unknown:
        raise ValueError(f"unknown indicator(s) {unknown}; the indicators are {', '.join(INDICATORS)}")
    return {**defaults, **{str(k): v for k, v in value.items()}}


class Bulletin(_Section):
    """Plan items 32, 35: the monthly scorecard, ranking and 通报 (see ``reports/scorecard``).

    ``weights``: an indicator left out of a given mapping weighs 0 (shown, not scored).
    ``min_population``: an indicator left out keeps its default threshold.
    ``findings_per_1000_zero_score``: findings per 1,000 cases at which that indicator
    scores 0 (it scores 100 at none, linearly in between).
    """

    weights: dict[str, float] = Field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))
    min_population: dict[str, int] = Field(default_factory=lambda: dict(_DEFAULT_MIN_POPULATION))
    findings_per_1000_zero_score: float = Field(default=200.0, gt=0)

    @field_validator("weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        checked = _indicator_keys(value, {})
        if isinstance(checked, dict):
            checked = {name: checked.get(name, 0) for name in INDICATORS}
        return checked

    @field_validator("weights")
    @classmethod
    def _weights_positive(cls, value: dict[str, float]) -> dict[str, float]:
        if not all(math.isfinite(w) for w in value.values()):  # .nan / .inf in YAML: the bulletin failed mid-run
            raise ValueError("weights must be numbers (not .nan or .inf)")
        if any(w < 0 for w in value.values()) or not any(w > 0 for w in value.values()):
            raise ValueError("weights must be 0 or more, and at least one above 0")
        return value

    @field_validator("min_population", mode="before")
    @classmethod
    def _thresholds(cls, value: Any) -> Any:
        return _indicator_keys(value, _DEFAULT_MIN_POPULATION)


DutyFrequency = Literal["yearly", "half_yearly", "quarterly"]


class Duty(_Section):
    """A duty that leaves no trace in the data (plan items 3, 4, 11, 19, 30): operators
    record evidence of it (``ledger.duties``); a period without ``min_count`` records by
    its deadline becomes DUTY_MISSED for the unit."""

    code: Code
    name: str
    plan_items: str = ""
    frequency: DutyFrequency = "yearly"
    deadline: str | None = None  # MM-DD within the year (yearly duties); default: the period's last day
    units: tuple[Code, ...] = ()  # DJJG codes answering for it; empty = every unit
    min_count: int = Field(default=1, ge=1)
    severity: Severity = Severity.MEDIUM

    @field_validator("deadline")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            date(2023, *(int(part) for part in str(value).split("-")))  # not a leap year: no 02-29
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a month and day written MM-DD (29 Feb is not allowed)") from None
        return str(value)


def _default_duties() -> tuple[Duty, ...]:
    return (
        Duty(code="LEADER_VISIT", name="领导干部以办事群众身份体验登记业务流程", plan_items="3"),
        Duty(code="SERVICE_EDUCATION", name="为民服务宗旨专题教育", plan_items="4"),
        Duty(code="EMERGENCY_DRILL", name="窗口应急演练", plan_items="11"),
        Duty(code="WARNING_EDUCATION", name="警示教育", plan_items="30"),
    )


class Duties(_Section):
    """The duties operators record evidence for, and how far back a missed deadline is
    still judged (a new deployment is not blamed for the years before it)."""

    judge_within_days: int = Field(default=31, ge=1)
    items: tuple[Duty, ...] = Field(default_factory=_default_duties)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: tuple[Duty, ...]) -> tuple[Duty, ...]:
        codes = [d.code for d in items]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"duty code(s) listed twice: {', '.join(twice)}")
        return items
