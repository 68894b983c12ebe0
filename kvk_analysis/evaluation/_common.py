"""Input checks and small helpers shared by the evaluation estimators."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from kvk_analysis.errors import InputError


def require_columns(data: pd.DataFrame, columns: Iterable[str | None], what: str) -> None:
    """Raise :class:`InputError` naming the first column of ``columns`` missing from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(
            f"{what} needs a pandas DataFrame", expected="DataFrame", found=type(data).__name__
        )
    for col in columns:
        if col is not None and col not in data.columns:
            raise InputError(
                f"{what}: the panel has no column '{col}'",
                column=col,
                expected="a column of the analysis panel",
                found=sorted(map(str, data.columns))[:12],
            )


def require_unit_period_unique(data: pd.DataFrame, idname: str, tname: str, what: str) -> None:
    """Raise :class:`InputError` if a unit has more than one row in a period.

    The evaluation estimators work on one sector and one measure at a time.
    """
    dup = data.duplicated([idname, tname])
    if dup.any():
        first = data.loc[dup, [idname, tname]].iloc[0].tolist()
        raise InputError(
            f"{what}: more than one row per unit and period (filter the panel to one sector "
            "and one measure first, e.g. panel[panel.sector == 'all'])",
            column=idname,
            expected="one row per unit and period",
            found=first,
        )


def require_numeric(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Return ``data[column]`` as float64, raising :class:`InputError` if not numeric."""
    try:
        return data[column].to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{what}: column '{column}' must be numeric",
            column=column,
            expected="numbers",
            found=str(data[column].dtype),
        ) from exc


def check_alpha(alpha: float) -> None:
    """Raise :class:`InputError` unless ``0 < alpha < 1``."""
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputError("alpha must be between 0 and 1", expected="0 < alpha < 1", found=alpha)


def equals(series: pd.Series, value: object) -> np.ndarray:
    """Boolean mask of ``series == value``, where a missing ``value`` matches missing entries."""
    if pd.isna(value):
        return series.isna().to_numpy()
    return (series == value).fillna(False).to_numpy(dtype=bool)


def int_col(values: object, n: int) -> pd.Series:
    """Nullable integer column (all ``<NA>`` when ``values`` is ``None``)."""
    if values is None:
        return pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    return pd.Series(pd.array(values, dtype="Int64"))
