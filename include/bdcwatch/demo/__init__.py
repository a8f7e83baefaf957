"""Deterministic demo data for the three source systems, with its ground truth.

``generate(...)`` fills a registration system, an e-certificate system and a staff registry
(any SQLAlchemy URL: SQLite, PostgreSQL, MySQL) with realistic Yangquan data, plants a
known set of problems of every e-certificate and case rule, traps and quarantine rows, and
returns the ``GroundTruth`` that the engine's answers can be compared with. See ``generator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bdcwatch.demo.generator import (
        Finding,
        GroundTruth,
        QuarantinedRow,
        Trap,
        generate,
        main,
    )

__all__ = ["Finding", "GroundTruth", "QuarantinedRow", "Trap", "generate", "main"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `python -m bdcwatch.demo.generator` does not find the module
    # already in sys.modules (runpy warns about that and it would run the module twice).
    if name in __all__:
        from bdcwatch.demo import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
