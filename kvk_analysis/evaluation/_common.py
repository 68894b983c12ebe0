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


def _freq(dtype: pd.PeriodDtype) -> str:
    return str(dtype.freq.freqstr)


def period_numbers(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Period column as float64 integer-valued numbers (NaN where missing).

    * numbers: must be whole numbers (a fractional period would otherwise be truncated in
      one place and compared exactly in another - a silent wrong answer);
    * pandas ``Period[Q]``: the project's quarter index (:func:`kvk_analysis.periods.
      quarter_index`, 2007Q1 -> 8028), any other ``Period`` frequency: the period ordinal
      (consecutive integers), so event times count in that frequency;
    * datetime columns are refused: a date does not say which period (quarter, month, year)
      it stands for.
    """
    col = data[column]
    if isinstance(col.dtype, pd.PeriodDtype):
        from kvk_analysis.periods import quarter_index

        missing = col.isna().to_numpy()
        out = np.full(len(col), np.nan)
        ok = col[~missing]
        if _freq(col.dtype).startswith("Q"):
            out[~missing] = quarter_index(ok).to_numpy(float)
        else:
            out[~missing] = np.array([p.ordinal for p in ok], dtype=float)
        return out
    if pd.api.types.is_datetime64_any_dtype(col):
        raise InputError(
            f"{what}: column '{column}' holds dates; convert it to an integer period index "
            "first (e.g. kvk_analysis.periods.quarter_index(col.dt.to_period('Q'))) or to a "
            "pandas Period column",
            column=column,
            expected="integer periods or pandas Period",
            found=str(col.dtype),
        )
    values = require_numeric(data, column, what)
    finite = np.isfinite(values)
    frac = finite & (np.mod(np.where(finite, values, 0.0), 1) != 0)
    if frac.any():
        raise InputError(
            f"{what}: periods in '{column}' must be whole numbers",
            column=column,
            row=int(np.flatnonzero(frac)[0]),
            expected="an integer period",
            found=values[frac][0],
        )
    return values


def unit_cohorts(
    data: pd.DataFrame, idname: str, tname: str, gname: str, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Checked period and cohort columns of a staggered-adoption panel.

    Returns ``(t, g)`` as float64 arrays aligned with ``data``: ``t`` the period number
    (:func:`period_numbers`), ``g`` the first treated period on the same scale with
    never-treated units coded 0 (``inf``, as R ``did`` accepts it, becomes 0) and NaN for an
    unknown cohort.  Raises :class:`InputError` for a cohort that changes within a unit, a
    fractional or ``-inf`` cohort, a missing period, or a ``Period`` time column with a
    numeric cohort column of another scale (and vice versa).
    """
    t = period_numbers(data, tname, what)
    if np.isnan(t).any():
        raise InputError(
            f"{what}: missing period in '{tname}'",
            column=tname,
            row=int(np.flatnonzero(np.isnan(t))[0]),
            expected="a period in every row",
            found="missing",
        )
    t_is_period = isinstance(data[tname].dtype, pd.PeriodDtype)
    g_is_period = isinstance(data[gname].dtype, pd.PeriodDtype)
    if g_is_period and not t_is_period:
        raise InputError(
            f"{what}: '{gname}' holds pandas Periods but '{tname}' does not; give both on the "
            "same scale",
            column=gname,
            expected="the same kind of period as the time column",
            found=str(data[gname].dtype),
        )
    if g_is_period:
        if _freq(data[gname].dtype) != _freq(data[tname].dtype):
            raise InputError(
                f"{what}: '{gname}' and '{tname}' are Periods of different frequencies",
                column=gname,
                expected=_freq(data[tname].dtype),
                found=_freq(data[gname].dtype),
            )
        g = period_numbers(data, gname, what)  # NaT (never treated) -> NaN
        g = np.where(np.isnan(g), 0.0, g)
    else:
        raw = require_numeric(data, gname, what)
        if np.isneginf(raw).any():
            raise InputError(
                f"{what}: '{gname}' is -inf",
                column=gname,
                row=int(np.flatnonzero(np.isneginf(raw))[0]),
                expected="first treated period, 0 or inf = never treated",
                found=-np.inf,
            )
        g = np.where(np.isposinf(raw), 0.0, raw)  # never treated coded inf, as in R did
        finite = np.isfinite(g)
        frac = finite & (np.mod(np.where(finite, g, 0.0), 1) != 0)
        if frac.any():
            raise InputError(
                f"{what}: first treated periods in '{gname}' must be whole numbers",
                column=gname,
                row=int(np.flatnonzero(frac)[0]),
                expected="an integer period, 0 or inf = never treated",
                found=g[frac][0],
            )
    # cohort constant within a unit (a missing cohort counts as a value)
    codes = pd.factorize(data[idname])[0]
    key = np.where(np.isnan(g), -np.inf, g)
    frame = pd.DataFrame({"u": codes, "g": key})
    n_distinct = frame.groupby("u")["g"].nunique()
    bad = n_distinct.index[n_distinct > 1]
    if len(bad):
        ids = pd.unique(data[idname].to_numpy()[np.isin(codes, bad)])
        raise InputError(
            f"{what}: {len(bad)} unit(s) whose '{gname}' changes over time, e.g. "
            f"{list(ids[:5])}; the cohort must be constant within a unit",
            column=gname,
            row=int(np.flatnonzero(np.isin(codes, bad))[0]),
            expected="one first-treated period per unit",
            found=sorted(set(g[codes == bad[0]].tolist()))[:5],
        )
    return t, g
