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
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from bdcwatch.config.sections import (
    Bulletin,
    CalendarYear,
    Code,
    CodeNames,
    Cycle,
    Duties,
    Duty,
    Ecert,
    Email,
    Intake,
    OnlineHandling,
    Person,
    QualityCheck,
    QueueJump,
    Severity,
    Staff,
    Supervisor,
    Unit,
    Zone,
    _Section,
)
from bdcwatch.errors import PolicyError
from bdcwatch.standards.normalise import code_key

POLICY_ENV = "BDCWATCH_POLICY"
# The supervisor whose heads get the city-level reports (CONTRACT §6); every policy has one.
CITY_SUPERVISOR = "CITY_BUREAU"
# Months of one cycle of each cycle DAG (CONTRACT §2 schedules: monthly, quarterly,
# half-yearly, yearly): a policy's ``cycles.<dag>.per_year`` must be what its schedule holds.
CYCLE_MONTHS = {"monthly_quality_check": 1, "county_self_inspection": 3, "city_check": 6,
                "provincial_spot_check": 12, "look_back": 12}
BUNDLED_POLICY = "policy.yaml"  # a resource of this package (importlib.resources)

__all__ = [
    "CITY_SUPERVISOR", "CYCLE_MONTHS", "POLICY_ENV", "Policy", "PolicyError", "Person", "Severity", "Supervisor", "Unit", "cached_policy",
    "load_policy", "parse_policy",
]


class Policy(_Section):
    """The whole policy file, typed. ``source`` says which file it came from."""

    timezone: Zone = ZoneInfo("Asia/Shanghai")
    units: dict[str, Unit]
    supervisors: dict[str, Supervisor]
    operations_email: Email
    time_limits_working_days: dict[Code, Annotated[int, Field(ge=0)]]  # 0: 即时办结
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
    rectification_working_days: dict[Severity, Annotated[int, Field(ge=1)]]
    calendar: dict[int, CalendarYear] = Field(default_factory=dict)
    code_names: CodeNames = Field(default_factory=CodeNames)
    # Optional (CONTRACT §8): a policy without them loads with the defaults.
    intake: Intake = Field(default_factory=Intake)
    bulletin: Bulletin = Field(default_factory=Bulletin)
    duties: Duties = Field(default_factory=Duties)

    _source: str = PrivateAttr(default="<memory>")
    # In a province file: the units (DJJG) of the other cities (config.province sets it).
    _other_cities_units: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def source(self) -> str:
        return self._source

    @property
    def other_cities_units(self) -> frozenset[str]:
        """The DJJG codes of the province's other cities (empty for a one-city policy): the
        provincial e-certificate system one deployment shares holds their e-certificates
        too, which are theirs to judge (ECERT_ORPHAN, ECERT_BAD_ID)."""
        return self._other_cities_units

    @field_validator("units", mode="before")
    @classmethod
    def _units_by_code(cls, value: Any) -> Any:
        """The file lists units; the engine looks them up by DJJG code."""
        if not isinstance(value, list):
            return value
        by_code: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for index, item in enumerate(value):
            written = item.get("code") if isinstance(item, Mapping) else None
            code = str(written).strip() if written is not None else ""
            key = code or f"#{index + 1}"
            if key in by_code:
                raise ValueError(f"unit {key} is listed twice")
            if code and (twin := spelled.get(code_key(code))):
                raise ValueError(f"units {twin} and {code} differ only in letter case, width or invisible "
                                 "characters: a DJJG code names one unit")
            spelled[code_key(code)] = code
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
        for dag_id, cycle in self.cycles.items():
            if dag_id not in CYCLE_MONTHS:
                problems.append(f"cycles.{dag_id}: not a cycle DAG ({', '.join(CYCLE_MONTHS)})")
            elif cycle.per_year != 12 // CYCLE_MONTHS[dag_id]:
                problems.append(f"cycles.{dag_id}.per_year: {cycle.per_year}, but {dag_id} runs "
                                f"{12 // CYCLE_MONTHS[dag_id]} times a year (CONTRACT §2 schedule)")
        if CITY_SUPERVISOR not in self.supervisors:
            problems.append(f"supervisors: {CITY_SUPERVISOR} is missing (CONTRACT §6: the city-level reports, "
                            "the 六不准 report, the bulletin and the annual summary go to its heads)")
        names: dict[str, str] = {}
        for unit in self.units.values():
            if (twin := names.setdefault(code_key(unit.name), unit.code)) != unit.code:
                problems.append(f"units.{unit.code}.name: {unit.name!r} is also unit {twin}'s name (a complaint "
                                "naming it could not be routed)")
        if "mortgage" not in self.time_limits_working_days:
            problems.append("time_limits_working_days: the 'mortgage' class is missing (CONTRACT §5)")
        missing = [s.value for s in Severity if s not in self.rectification_working_days]
        if missing:
            problems.append(f"rectification_working_days: missing {', '.join(missing)}")
        for year, body in self.calendar.items():
            stray = sorted(d for d in (*body.holidays, *body.makeup_workdays) if d.year != year)
            if stray:
                problems.append(f"calendar.{year}: dates outside the year: {', '.join(map(str, stray))}")
        for duty in self.duties.items:
            stray_units = sorted(set(duty.units) - set(self.units))
            if stray_units:
                problems.append(f"duties.items.{duty.code}.units: {stray_units} are not in units")
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

    def qllx_name(self, code: str) -> str | None:
        """The name of a 权利类型 code: the policy's list, then 抵押权 for the mortgage codes."""
        text = str(code).strip()
        if text in self.code_names.qllx:
            return self.code_names.qllx[text]
        return "抵押权" if text in self.mortgage_qllx_codes else None


def _vocabulary() -> set[str]:
    """Every key any policy section knows (for 'did you mean' on a misspelt key)."""
    names: set[str] = set()
    for model in (Person, Unit, Supervisor, OnlineHandling, Ecert, QueueJump, Staff, QualityCheck, Cycle,
                  CalendarYear, CodeNames, Intake, Bulletin, Duties, Duty, Policy):
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


class _PolicyLoader(yaml.SafeLoader):
    """YAML as people write policy files, read strictly where the safe loader guesses:

    * a key written twice in one mapping is an error naming both lines (a second
      ``CITY_BUREAU:`` block, or a head with two ``email:``, silently won before: mail to
      the wrong people); keys merged from an anchor (``<<: *base``) may still be overridden;
    * a number written with a leading zero is the text written: YAML 1.1 reads ``01`` and
      ``0140311`` as octal (1 and 49353), so return reason ``01`` or a DJJG lost its digits.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the safe loader's own error follows
                continue
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"key {key!r} is written twice (lines {first + 1} and {key_node.start_mark.line + 1}): "
                    "keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _int_as_written(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | str:
    text = loader.construct_scalar(node)
    if isinstance(text, str) and re.fullmatch(r"0\d+", text):
        return text
    return loader.construct_yaml_int(node)


_PolicyLoader.add_constructor("tag:yaml.org,2002:int", _int_as_written)


def read_policy_file(path: str | os.PathLike[str] | None = None) -> tuple[Any, str, Path | None]:
    """The parsed YAML of the policy file at ``path``, else ``$BDCWATCH_POLICY``, else the
    bundled default: (document, source named in errors, folder of the file or None for the
    bundled copy). Shared by the city policy and the province file (``config.province``).

    Raises PolicyError when the file is missing, is not UTF-8, is not YAML, or writes a key
    twice in one mapping (``_PolicyLoader``).
    """
    chosen = path or os.environ.get(POLICY_ENV)
    if chosen:
        file = Path(chosen)
        if not file.is_file():
            raise PolicyError(f"policy file {file} does not exist (set {POLICY_ENV} or fix the path)")
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise PolicyError(
                f"policy file {file} is not UTF-8 text (byte {error.start}: saved as GBK/ANSI or UTF-16?): "
                "save it as UTF-8") from None
        source, folder = str(file), file.parent
    else:
        (text, source), folder = _bundled_text(), None
    try:
        return yaml.load(text, Loader=_PolicyLoader), source, folder
    except yaml.YAMLError as error:
        raise PolicyError(f"policy {source} is not valid YAML: {error}") from None


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy from ``path``, else ``$BDCWATCH_POLICY``, else the bundled default.

    When the file is a province file (``config.province``: a ``cities`` list), this is
    the home city's policy, after the whole province file is validated.

    Raises PolicyError when the file is missing, is not YAML, or fails validation.
    """
    raw, source, folder = read_policy_file(path)
    if folder is not None:
        from bdcwatch.config.province import is_province, parse_province

        if is_province(raw):
            return parse_province(raw, source, folder).home.policy
    return parse_policy(raw, source)


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Policy:
    return load_policy(path)


def cached_policy(path: str | None = None) -> Policy:
    """The policy, loaded once per process (a task) for the path in force."""
    return _cached(path or os.environ.get(POLICY_ENV))
