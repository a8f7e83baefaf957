"""The supervision policy (contract/policy.yaml shape), validated whole at load.

The file is found through env var ``BDCWATCH_POLICY``, else the copy bundled with the
package. Every number the rules use comes from here; code holds no second copy. Loading
turns the YAML into frozen, typed objects (pydantic): a missing, misspelt or unknown key,
or a value of the wrong kind, fails at load with the key's path and the file, e.g.
``policy /srv/policy.yaml: units.YQ21.heads[0]: unknown key 'emial' (did you mean
'email'?)`` — never as a ``KeyError`` inside a rule.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bdcwatch.errors import PolicyError

POLICY_ENV = "BDCWATCH_POLICY"
BUNDLED_POLICY = "policy.yaml"  # a resource of this package (importlib.resources)

__all__ = [
    "POLICY_ENV", "Policy", "PolicyError", "Person", "Severity", "Supervisor", "Unit", "cached_policy",
    "load_policy", "parse_policy",
]


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


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: Any) -> str:
    text = str(value).strip()
    if not _EMAIL.match(text):
        raise ValueError(f"{value!r} is not an email address")
    return text


ExactFraction = Annotated[Fraction, BeforeValidator(_fraction), PlainSerializer(str)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone), PlainSerializer(str)]
Email = Annotated[str, BeforeValidator(_email)]
Code = Annotated[str, BeforeValidator(lambda v: str(v).strip())]  # 37 and "37" are the same code


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
    targets: dict[UnitLevel, ExactFraction]
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

    min_sample_fraction: ExactFraction
    min_sample_size: int = Field(ge=0)


class Cycle(_Section):
    """Plan item 34: how often an inspection cycle is due."""

    per_year: int = Field(ge=1)


class CalendarYear(_Section):
    """One year's State Council holidays and makeup working days, for a year the bundled
    calendar does not know yet (CONTRACT §5)."""

    holidays: tuple[date, ...] = ()
    makeup_workdays: tuple[date, ...] = ()


class Policy(_Section):
    """The whole policy file, typed. ``source`` says which file it came from."""

    timezone: Zone = ZoneInfo("Asia/Shanghai")
    units: dict[str, Unit]
    supervisors: dict[str, Supervisor]
    operations_email: Email
    time_limits_working_days: dict[Code, int]
    due_soon_working_days: int = Field(ge=0)
    mortgage_qllx_codes: tuple[Code, ...]
    online_handling: OnlineHandling
    ecert: Ecert
    return_reason_codes: dict[Code, str]
    repeat_return_days: int = Field(gt=0)
    queue_jump: QueueJump
    staff: Staff
    quality_check: QualityCheck
    cycles: dict[str, Cycle]
    rectification_working_days: dict[Severity, int]
    calendar: dict[int, CalendarYear] = Field(default_factory=dict)

    _source: str = PrivateAttr(default="<memory>")

    @property
    def source(self) -> str:
        return self._source

    @field_validator("units", mode="before")
    @classmethod
    def _units_by_code(cls, value: Any) -> Any:
        """The file lists units; the engine looks them up by DJJG code."""
        if not isinstance(value, list):
            return value
        by_code: dict[str, Any] = {}
        for index, item in enumerate(value):
            code = str(item.get("code", "")).strip() if isinstance(item, Mapping) else ""
            key = code or f"#{index + 1}"
            if key in by_code:
                raise ValueError(f"unit {key} is listed twice")
            by_code[key] = item
        return by_code

    @field_validator("supervisors", mode="before")
    @classmethod
    def _supervisor_codes(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {str(code): ({"code": str(code), **body} if isinstance(body, Mapping) else body)
                for code, body in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems = []
        for unit in self.units.values():
            if unit.supervisor not in self.supervisors:
                problems.append(f"units.{unit.code}.supervisor: {unit.supervisor!r} is not in supervisors "
                                f"({', '.join(sorted(self.supervisors))})")
            if unit.level not in self.online_handling.targets:
                problems.append(f"online_handling.targets: no target for level {unit.level!r} (unit {unit.code})")
        if "mortgage" not in self.time_limits_working_days:
            problems.append("time_limits_working_days: the 'mortgage' class is missing (CONTRACT §5)")
        missing = [s.value for s in Severity if s not in self.rectification_working_days]
        if missing:
            problems.append(f"rectification_working_days: missing {', '.join(missing)}")
        for year, body in self.calendar.items():
            stray = sorted(d for d in (*body.holidays, *body.makeup_workdays) if d.year != year)
            if stray:
                problems.append(f"calendar.{year}: dates outside the year: {', '.join(map(str, stray))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def unit(self, code: str) -> Unit:
        """The unit with DJJG ``code``. Raises PolicyError naming the known units."""
        try:
            return self.units[code]
        except KeyError:
            raise PolicyError(
                f"unit {code!r} is not in the policy ({self.source}); known units: {', '.join(sorted(self.units))}"
            ) from None

    def supervisor_of(self, unit_code: str) -> Supervisor:
        return self.supervisors[self.unit(unit_code).supervisor]

    def online_target(self, unit_code: str) -> Fraction:
        return self.online_handling.targets[self.unit(unit_code).level]


def _vocabulary() -> set[str]:
    """Every key any policy section knows (for 'did you mean' on a misspelt key)."""
    names: set[str] = set()
    for model in (Person, Unit, Supervisor, OnlineHandling, Ecert, QueueJump, Staff, QualityCheck, Cycle,
                  CalendarYear, Policy):
        names.update(model.model_fields)
    return names


def _describe(error: Mapping[str, Any]) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, _vocabulary(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parent = path.rsplit(".", 1)[0] if "." in path else "the top level"
        return f"{parent}: unknown key {key!r}{hint}"
    if error["type"] == "missing":
        return f"{path}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path or 'policy'}: {message}"


def parse_policy(raw: Any, source: str = "<memory>") -> Policy:
    """Validate and type a policy mapping. Raises PolicyError naming file, key and problem."""
    if not isinstance(raw, Mapping):
        raise PolicyError(f"policy {source} is not a YAML mapping")
    try:
        policy = Policy.model_validate(dict(raw))
    except ValidationError as error:
        problems = "; ".join(_describe(e) for e in error.errors())
        raise PolicyError(f"policy {source}: {problems}") from None
    policy._source = source
    return policy


def _bundled_text() -> tuple[str, str]:
    resource = resources.files(__package__).joinpath(BUNDLED_POLICY)
    return resource.read_text(encoding="utf-8"), f"{resource} (bundled default)"


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy from ``path``, else ``$BDCWATCH_POLICY``, else the bundled default.

    Raises PolicyError when the file is missing, is not YAML, or fails validation.
    """
    chosen = path or os.environ.get(POLICY_ENV)
    if chosen:
        file = Path(chosen)
        if not file.is_file():
            raise PolicyError(f"policy file {file} does not exist (set {POLICY_ENV} or fix the path)")
        text, source = file.read_text(encoding="utf-8"), str(file)
    else:
        text, source = _bundled_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"policy {source} is not valid YAML: {error}") from None
    return parse_policy(raw, source)


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Policy:
    return load_policy(path)


def cached_policy(path: str | None = None) -> Policy:
    """The policy, loaded once per process (a task) for the path in force."""
    return _cached(path or os.environ.get(POLICY_ENV))
