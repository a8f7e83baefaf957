"""What one task hands the next through XCom: a pydantic model as JSON.

Airflow keeps XCom values as JSON, so a result crosses as ``model_dump(mode="json")`` and
is read back validated; inside one process (tests, ``dag.test()``) the object itself may
arrive and is taken as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel


class XcomModel(BaseModel):
    """A task result that travels through XCom (``to_xcom`` / ``from_xcom``)."""

    def to_xcom(self) -> dict[str, Any]:
        """The JSON-ready dict Airflow stores."""
        return self.model_dump(mode="json")

    @classmethod
    def from_xcom(cls, value: Mapping[str, Any] | Self | None) -> Self:
        """The model back from what XCom holds (``None``: an empty result where every field
        has a default). Raises pydantic.ValidationError for a value of another shape."""
        return value if isinstance(value, cls) else cls.model_validate(dict(value or {}))
