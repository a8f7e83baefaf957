"""Custom Great Expectations for the source systems' own codes.

Importing this module registers the expectations with GX (class definition is
registration), so ``validate.TableValidator`` imports it before building any suite.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine  # type: ignore[attr-defined]
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (  # type: ignore[attr-defined]
    ColumnMapMetricProvider,
    column_condition_partial,
)

from bdcwatch.standards import identifiers


class ColumnValuesValidGb11643Id(ColumnMapMetricProvider):
    """Row-wise: the value is an 18-character GB 11643 ID number with a correct check character."""

    condition_metric_name = "column_values.valid_gb11643_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N805 (GX calls it on the class)
        return column.map(lambda value: identifiers.is_valid_id_number(str(value)))


class ExpectColumnValuesToBeValidGb11643Id(ColumnMapExpectation):
    """Expect column values to be citizen ID numbers valid under GB 11643 (CONTRACT §5).

    Nulls are not judged here (GX map expectations skip them); a missing ID number is a
    separate question (STAFF_RECORD_INCOMPLETE asks it).
    """

    map_metric = "column_values.valid_gb11643_id"
    success_keys = ("mostly",)
