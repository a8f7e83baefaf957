"""The quality gate's suites (``sources/expectations/*.json``, one per source table): where
a table's suite is read from and what its expectations declare. Plain JSON, no GX and no
pandas, so the operations UI can read the declarations without loading the gate.

Each expectation's ``meta`` declares

* ``level`` - what the gate does with a failing row (``row``, ``finding``, ``table``; see
  ``gate``);
* ``why`` - in English, the words of the gate's errors and of the log line of each row it
  holds, beside GX's expectation type;
* ``why_zh`` - what operations read on the quarantine page and in the quarantine notice:
  what is wrong, in the registration standard's words (``缮证时间为空或不是有效日期``;
  ``reasons`` puts table and column in front).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from bdcwatch.errors import SourceSchemaError

EXPECTATIONS_ENV = "BDCWATCH_EXPECTATIONS"  # a folder of suites replacing the bundled ones
INVALID_SUFFIX = "__invalid"
LEVELS = ("row", "finding", "table")


def suite_file(table: str) -> Traversable:
    """Where the suite of ``table`` is read from: ``$BDCWATCH_EXPECTATIONS/<table>.json``,
    else the suite bundled in this package (``sources/expectations``, which the project's
    top-level ``expectations/`` links to)."""
    name = f"{table.lower()}.json"
    folder = os.environ.get(EXPECTATIONS_ENV)
    return Path(folder) / name if folder else resources.files(__package__).joinpath("expectations", name)


@lru_cache(maxsize=32)
def load_suite_json(table: str) -> dict[str, Any]:
    """The suite for a source table (see ``suite_file``). Raises SourceSchemaError when
    the table has no suite, ValueError when an expectation lacks its gate level."""
    path = suite_file(table)
    if not path.is_file():
        raise SourceSchemaError(f"no expectation suite for source table {table} at {path}",
                                zh=f"源表 {table} 没有质量检查套件（{path}）")
    suite: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for item in suite["expectations"]:
        level = item.get("meta", {}).get("level")
        if level not in LEVELS:
            raise ValueError(f"{path}: expectation {item['type']} needs meta.level one of {', '.join(LEVELS)}")
    return suite


def why_zh(table: str, column: str, expectation: str) -> str | None:
    """The Chinese words the suite of ``table`` declares for ``expectation`` (GX's type)
    on ``column`` (its ``__invalid`` companion counts as the column, as the quarantine
    names it), or None when there are none: no suite for that table, the expectation is
    no longer in the suite, or a suite replaced through BDCWATCH_EXPECTATIONS without
    ``why_zh``."""
    try:
        suite = load_suite_json(table)
    except (SourceSchemaError, ValueError, KeyError, OSError):
        return None
    for item in suite["expectations"]:
        named = str(item.get("kwargs", {}).get("column", "")).removesuffix(INVALID_SUFFIX)
        if item.get("type") == expectation and named == column:
            words = item.get("meta", {}).get("why_zh")
            return str(words) if words else None
    return None
