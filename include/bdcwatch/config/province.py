"""A province file: several cities in one deployment (issue 13 item 5).

``BDCWATCH_POLICY`` may name a city policy (contract/policy.yaml shape, one city) or a
**province file**, a YAML mapping whose only top-level key is ``cities``::

    cities:
      - {code: "1403", name: 阳泉市, policy: yangquan.yaml}      # the home city
      - {code: "1401", name: 太原市, policy: taiyuan.yaml, queue: city_1401, pool: city_1401}

Each entry: ``code`` (digits, the city's 行政区划 prefix), ``name``, ``policy`` (that
city's policy file, relative to the province file) and optionally ``queue`` / ``pool``
(the Celery queue and Airflow pool of the city's tasks). The first city is the **home**
city: it keeps the contract's DAG ids and connection ids and, unless its entry says
otherwise, the default queue and pool; every other city gets ``city_<code>`` for both.

Validation is whole, like the city policy's: an unknown or missing key, a policy file that
does not exist or fails its own validation, a city code listed twice or a unit code
(DJJG) used by two cities fails at load with a ``PolicyError`` naming the file and key.
Everything that reads "the policy" without a city (the CLI, the operations UI) gets the
home city's policy from ``load_policy``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bdcwatch.config.policy import POLICY_ENV, Policy, parse_policy, read_policy_file
from bdcwatch.errors import PolicyError
from bdcwatch.standards.normalise import code_key

__all__ = ["City", "Province", "cached_province", "chosen_city", "is_province", "load_province", "parse_province"]

CITY_KEY = "cities"


class _CityEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[0-9]{2,12}$")
    name: str = Field(min_length=1)
    policy: str = Field(min_length=1)
    queue: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    pool: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        """``code: 1401`` unquoted in YAML is an int: read it as the digits written."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _ProvinceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cities: list[_CityEntry] = Field(min_length=1)


@dataclass(frozen=True)
class City:
    """One city of a province: its code, name, policy and where its tasks run.

    ``queue`` / ``pool`` are None for the Airflow defaults (the home city unless its entry
    names them)."""

    code: str
    name: str
    policy_path: Path
    policy: Policy
    home: bool
    queue: str | None
    pool: str | None

    def dag_id(self, base: str) -> str:
        """The city's id of DAG ``base``: ``base`` for the home city, else ``base__<code>``."""
        return base if self.home else f"{base}__{self.code}"

    def conn_id(self, base: str) -> str:
        """The city's Airflow connection id: ``base`` for the home city, else ``base__<code>``."""
        return base if self.home else f"{base}__{self.code}"


@dataclass(frozen=True)
class Province:
    """The cities of a province file, the home city first. ``source``: the file."""

    cities: tuple[City, ...]
    source: str

    @property
    def home(self) -> City:
        return self.cities[0]

    def city(self, code: str) -> City:
        """The city with ``code``. Raises PolicyError naming the known codes."""
        for city in self.cities:
            if city.code == code:
                return city
        raise PolicyError(f"province {self.source}: no city {code!r}; cities: "
                          f"{', '.join(c.code for c in self.cities)}")

    def city_of_dag(self, dag_id: str) -> City:
        """The city a DAG belongs to: the one whose ``dag_id(...)`` suffix it carries, else
        the home city (a plain contract id)."""
        base, sep, code = dag_id.rpartition("__")
        if sep and base:
            for city in self.cities[1:]:
                if city.code == code:
                    return city
        return self.home


def _key_path(loc: tuple[int | str, ...]) -> str:
    """``("cities", 1, "policy")`` → ``cities[1].policy``."""
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")


def is_province(raw: Any) -> bool:
    """Whether a parsed YAML document is a province file (a mapping with ``cities``)."""
    return isinstance(raw, Mapping) and CITY_KEY in raw


def parse_province(raw: Any, source: str, base_dir: Path) -> Province:
    """Validate a province mapping and load each city's policy (paths relative to
    ``base_dir``).

    Raises:
        PolicyError: naming ``source`` and the key: not a mapping, an unknown or missing
            key, a bad code, a city's policy file missing, invalid or itself a province
            file, a city code listed twice, a unit code (DJJG) in two cities' policies
            (compared as ``code_key``), or two cities taking complaints from one folder.
    """
    from bdcwatch.intake.complaints import complaints_dir  # the folder rule lives with the intake

    if not isinstance(raw, Mapping):
        raise PolicyError(f"province {source} is not a YAML mapping")
    try:
        parsed = _ProvinceFile.model_validate(dict(raw))
    except ValidationError as error:
        problems = []
        for e in error.errors():
            where = _key_path(e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(f"{_key_path(e['loc'][:-1]) or 'the top level'}: unknown key {str(e['loc'][-1])!r}")
            elif e["type"] == "missing":
                problems.append(f"{where}: required key is missing")
            else:
                problems.append(f"{where}: {e['msg']}")
        raise PolicyError(f"province {source}: {'; '.join(problems)}") from None
    cities: list[City] = []
    unit_owner: dict[str, tuple[str, str]] = {}  # code_key → (city, the code as written)
    intake_owner: dict[Path, str] = {}
    problems = []
    for index, entry in enumerate(parsed.cities):
        key = f"cities[{index}]"
        if any(c.code == entry.code for c in cities):
            problems.append(f"{key}.code: city {entry.code} is listed twice")
            continue
        path = Path(entry.policy)
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            problems.append(f"{key}.policy: file {path} does not exist")
            continue
        try:
            city_raw, city_source, _ = read_policy_file(path)
            if is_province(city_raw):  # loading it as a city would read the province again, forever
                raise PolicyError(f"{path} is a province file (it lists cities), not a city's policy")
            policy = parse_policy(city_raw, city_source)
        except PolicyError as error:
            problems.append(f"{key}.policy: {error}")
            continue
        for unit in policy.units:
            city, written = unit_owner.setdefault(code_key(unit), (entry.code, unit))
            if city != entry.code:
                spelled = "" if written == unit else f", written {written}"
                problems.append(f"{key}.policy: unit {unit} is also in city {city}'s policy{spelled} "
                                "(a DJJG code belongs to one city, whatever its case or width)")
        folder = complaints_dir(policy).resolve()
        if (sharer := intake_owner.setdefault(folder, entry.code)) != entry.code:
            problems.append(f"{key}.policy: intake.complaints_dir {folder} is also city {sharer}'s: each city "
                            "takes in its own complaint exports (one city's intake would take the other's "
                            "files and hold their units as unknown); set intake.complaints_dir per city")
        home = index == 0
        default = None if home else f"city_{entry.code}"
        cities.append(City(code=entry.code, name=entry.name, policy_path=path, policy=policy, home=home,
                           queue=entry.queue or default, pool=entry.pool or default))
    if problems:
        raise PolicyError(f"province {source}: {'; '.join(problems)}")
    for member in cities:
        member.policy._other_cities_units = frozenset(
            unit for other in cities if other is not member for unit in other.policy.units)
    return Province(tuple(cities), source)


def load_province(path: str | os.PathLike[str] | None = None) -> Province | None:
    """The province file at ``path`` (else ``$BDCWATCH_POLICY``), or None when that is a
    single city's policy or unset (a one-city deployment).

    Raises:
        PolicyError: the file is missing, not YAML, or an invalid province file.
    """
    if not (path or os.environ.get(POLICY_ENV)):
        return None
    raw, source, folder = read_policy_file(path)
    if folder is None or not is_province(raw):
        return None
    return parse_province(raw, source, folder)


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Province | None:
    return load_province(path)


def cached_province(path: str | None = None) -> Province | None:
    """The province in force (None: one city), loaded once per process."""
    return _cached(path or os.environ.get(POLICY_ENV))


def cities_in_force() -> list[City]:
    """Every city of the province in force, home first; empty for one city.

    Raises:
        PolicyError: the province file or a city's policy does not load.
    """
    province = cached_province()
    return list(province.cities) if province is not None else []


def chosen_city(code: str | None) -> City | None:
    """City ``code`` of the province in force, for a tool run by hand (the CLI's
    ``--city``): None for None without a province file; the home city for None with one.

    Raises:
        PolicyError: ``code`` is not a city of the province (naming the ones it has), or a
            code is given where no province file is in force.
    """
    province = cached_province()
    if province is None:
        if code is not None:
            raise PolicyError(f"--city {code}: {POLICY_ENV} names one city's policy, not a province file")
        return None
    return province.home if code is None else province.city(code)
