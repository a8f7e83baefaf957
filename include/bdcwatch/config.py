"""The supervision policy (contract/policy.yaml shape), loaded and typed once per task.

The file is found through env var ``BDCWATCH_POLICY``, else the copy bundled with the
package. Every number the rules use comes from here; code holds no second copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

POLICY_ENV = "BDCWATCH_POLICY"
BUNDLED_POLICY = Path(__file__).with_name("policy.yaml")


class PolicyError(ValueError):
    """The policy file is missing a key or holds a value of the wrong kind."""


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    email: str


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    qxdm: tuple[str, ...]
    supervisor: str
    heads: tuple[Person, ...]


@dataclass(frozen=True)
class Supervisor:
    code: str
    name: str
    heads: tuple[Person, ...]


@dataclass(frozen=True)
class Policy:
    """Typed view of the policy file; ``raw`` keeps the whole mapping for later sections."""

    source: str
    timezone: ZoneInfo
    units: dict[str, Unit]
    supervisors: dict[str, Supervisor]
    operations_email: str
    ecert_type_codes: dict[int, str]
    ecert_max_delay_hours: int
    rectification_working_days: dict[str, int]
    raw: dict[str, Any] = field(repr=False)

    def unit(self, code: str) -> Unit:
        try:
            return self.units[code]
        except KeyError:
            known = ", ".join(sorted(self.units))
            raise PolicyError(
                f"unit {code!r} is not in the policy ({self.source}); known units: {known}"
            ) from None

    def supervisor_of(self, unit_code: str) -> Supervisor:
        return self.supervisors[self.unit(unit_code).supervisor]


def _people(items: Any, where: str) -> tuple[Person, ...]:
    if not isinstance(items, list) or not items:
        raise PolicyError(f"{where}: 'heads' must be a non-empty list")
    return tuple(Person(str(p["name"]), str(p.get("role", "")), str(p["email"])) for p in items)


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise PolicyError(f"{where}: required key {key!r} is missing")
    return mapping[key]


def parse_policy(raw: dict[str, Any], source: str = "<memory>") -> Policy:
    """Validate and type a policy mapping. Raises PolicyError naming the bad key."""
    where = f"policy {source}"
    units = {}
    for item in _require(raw, "units", where):
        code = str(_require(item, "code", f"{where} units[]"))
        units[code] = Unit(
            code=code,
            name=str(item["name"]),
            level=str(item["level"]),
            qxdm=tuple(str(q) for q in item.get("qxdm", [])),
            supervisor=str(item["supervisor"]),
            heads=_people(item.get("heads"), f"{where} unit {code}"),
        )
    supervisors = {
        str(code): Supervisor(str(code), str(body["name"]), _people(body.get("heads"), f"{where} supervisor {code}"))
        for code, body in _require(raw, "supervisors", where).items()
    }
    for unit in units.values():
        if unit.supervisor not in supervisors:
            raise PolicyError(f"{where}: unit {unit.code} names unknown supervisor {unit.supervisor!r}")
    ecert = _require(raw, "ecert", where)
    return Policy(
        source=source,
        timezone=ZoneInfo(str(raw.get("timezone", "Asia/Shanghai"))),
        units=units,
        supervisors=supervisors,
        operations_email=str(_require(raw, "operations_email", where)),
        ecert_type_codes={int(k): str(v) for k, v in _require(ecert, "type_codes", f"{where} ecert").items()},
        ecert_max_delay_hours=int(_require(ecert, "max_delay_hours", f"{where} ecert")),
        rectification_working_days={
            str(k): int(v) for k, v in _require(raw, "rectification_working_days", where).items()
        },
        raw=raw,
    )


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy from ``path``, else ``$BDCWATCH_POLICY``, else the bundled default."""
    chosen = Path(path or os.environ.get(POLICY_ENV) or BUNDLED_POLICY)
    if not chosen.is_file():
        raise PolicyError(f"policy file {chosen} does not exist (set {POLICY_ENV} or fix the path)")
    with chosen.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, dict):
        raise PolicyError(f"policy file {chosen} is not a YAML mapping")
    return parse_policy(raw, str(chosen))


@lru_cache(maxsize=4)
def cached_policy(path: str | None = None) -> Policy:
    """Policy loaded once per process (a task), keyed by the path in force."""
    return load_policy(path)
