"""Data-quality table: suspicious but legal values in a tidy sick-leave table.

These are not errors (the schema in :mod:`kvk_analysis.schema` catches those); they are
findings to read before trusting an estimate, and to list in a report's data appendix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .periods import index_to_quarter
from .readers.tidy import KEY_COLUMNS, dimension_columns

__all__ = ["QUALITY_COLUMNS", "data_quality_table", "read_quality_table"]

QUALITY_COLUMNS = [*KEY_COLUMNS, "check", "value", "detail"]


def data_quality_table(
    tidy: pd.DataFrame,
    *,
    jump_pp: float = 5.0,
    min_employees: float = 10,
    min_contracted_days: float = 500,
    rate_conflicts: list[dict] | None = None,
) -> pd.DataFrame:
    """One row per finding, with columns :data:`QUALITY_COLUMNS` (plus any extra dimension).

    Checks (``check`` column):

    * ``jump``: the rate changes by more than ``jump_pp`` percentage points between two
      consecutive quarters of a unit (``value`` = the change in pp);
    * ``tiny_unit``: fewer than ``min_employees`` employees or fewer than
      ``min_contracted_days`` contracted days in a quarter (``value`` = that number); rates
      of such units swing by chance;
    * ``gap``: a quarter missing inside a unit's series (``value`` NaN);
    * ``suppressed``: a cell that is missing, not applicable or confidential (``value`` NaN,
      ``detail`` the status);
    * ``rate_conflict``: the source published a rate (percent) that contradicts its own days;
      the tidy rate is the one computed from the days (``value`` = the published rate,
      ``detail`` both rates and the file line).  The records come from ``rate_conflicts``
      (default ``tidy.attrs["rate_conflicts"]``, set by the readers; the build passes those of
      every file).

    A unit is a municipality x sector x measure (x other dimensions).  Sorted by unit,
    period and check.  Vectorised over all units at once (no per-unit loop; the input's
    ``attrs`` are not carried into intermediate frames).
    """
    dims = dimension_columns(tidy)
    unit = [c for c in dims if c != "period"]
    # A plain copy without attrs: pandas deep-copies attrs (notes, column maps) into every
    # intermediate frame and Series, which cost most of the time of this function.
    df = tidy.drop(columns="_line", errors="ignore")
    df.attrs = {}
    df = df.sort_values(unit + ["period"], kind="stable").reset_index(drop=True)
    findings: list[pd.DataFrame] = []

    def add(rows: pd.DataFrame, check: str, value, detail) -> None:
        if len(rows):
            out = rows[dims].copy()
            out["check"] = check
            out["value"] = np.asarray(value, dtype=float)
            out["detail"] = list(detail)
            findings.append(out)

    # Integer unit id (rows of a unit are consecutive after the sort) and quarter index.
    uid = df.groupby(unit, observed=True, sort=False, dropna=False).ngroup().to_numpy()
    q = _qindex_array(df["period"])
    rate = df["rate"].to_numpy(dtype=float)
    same_unit = np.zeros(len(df), dtype=bool)
    same_unit[1:] = uid[1:] == uid[:-1]
    prev_q = np.full(len(df), np.nan)
    prev_q[1:] = q[:-1]
    prev_rate = np.full(len(df), np.nan)
    prev_rate[1:] = rate[:-1]
    prev_rate[~same_unit] = np.nan

    # Jumps between consecutive quarters.
    consecutive = same_unit & (q - prev_q == 1)
    change = rate - prev_rate
    with np.errstate(invalid="ignore"):
        jump = consecutive & (np.abs(change) > jump_pp)
    idx = np.flatnonzero(jump)
    prev_period = df["period"].array[idx - 1] if len(idx) else []  # only these boxed
    add(
        df.iloc[idx],
        "jump",
        change[idx],
        (
            f"rate {a:.1f} -> {b:.1f} % ({d:+.1f} pp) from {p}"
            for a, b, d, p in zip(prev_rate[idx], rate[idx], change[idx], prev_period, strict=True)
        ),
    )
    # Tiny units.
    employees = df["employees"].to_numpy(dtype=float)
    contracted = df["contracted_days"].to_numpy(dtype=float)
    small_emp = employees < min_employees
    small_days = contracted < min_contracted_days
    tiny = np.flatnonzero(small_emp | small_days)
    add(
        df.iloc[tiny],
        "tiny_unit",
        np.where(small_emp[tiny], employees[tiny], contracted[tiny]),
        (
            f"{e:g} employees" if se else f"{c:g} contracted days"
            for se, e, c in zip(small_emp[tiny], employees[tiny], contracted[tiny], strict=True)
        ),
    )
    # Gaps inside a unit's series: between consecutive distinct quarters of a unit.
    step = np.where(same_unit, q - prev_q, 0)
    holes = np.flatnonzero(step > 1)
    if len(holes):
        first_q = pd.Series(q).groupby(uid).transform("min").to_numpy()
        last_q = pd.Series(q).groupby(uid).transform("max").to_numpy()
        count = (step[holes] - 1).astype(np.int64)
        rows = np.repeat(holes, count)
        offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        missing_q = prev_q[rows].astype(np.int64) + 1 + offset
        gdf = df.iloc[rows][unit].reset_index(drop=True)
        gdf["period"] = pd.PeriodIndex([index_to_quarter(m) for m in missing_q], freq="Q-DEC")
        spans = {
            (a, b): f"quarter missing inside the series {index_to_quarter(a)}-{index_to_quarter(b)}"
            for a, b in set(zip(first_q[rows].tolist(), last_q[rows].tolist(), strict=True))
        }
        gdf["detail"] = [
            spans[(a, b)]
            for a, b in zip(first_q[rows].tolist(), last_q[rows].tolist(), strict=True)
        ]
        add(gdf, "gap", np.full(len(gdf), np.nan), gdf["detail"])
    # Suppressed or missing cells.
    sup = df["status"].isin(["missing", "not_applicable", "confidential"]).to_numpy()
    add(df[sup], "suppressed", np.full(int(sup.sum()), np.nan), df["status"][sup])

    # Published rates that contradict their days (found by the readers).
    if rate_conflicts is None:
        rate_conflicts = tidy.attrs.get("rate_conflicts") or []
    if rate_conflicts:
        rc = pd.DataFrame(rate_conflicts)
        for c in dims:
            if c not in rc:
                rc[c] = "" if c != "period" else pd.NA
        rc["period"] = pd.PeriodIndex(rc["period"].astype(str), freq="Q")
        blank = [None] * len(rc)
        details = []
        for p, d, ln, f in zip(
            rc["published"], rc["from_days"], rc.get("line", blank), rc.get("file", blank),
            strict=True,
        ):  # fmt: skip
            where = [x for x in (f, None if ln is None or pd.isna(ln) else f"line {ln:g}") if x]
            details.append(
                f"published rate {p:g} % but the days give {d:.2f} %"
                + (f" ({', '.join(map(str, where))})" if where else "")
                + "; the rate from the days is used"
            )
        add(rc, "rate_conflict", rc["published"], details)

    columns = [*dims, "check", "value", "detail"]
    if not findings:
        empty = pd.DataFrame(
            {c: pd.Series(dtype=tidy[c].dtype if c in tidy else "str") for c in columns}
        )
        empty["value"] = empty["value"].astype(float)
        return empty
    out = pd.concat(findings, ignore_index=True)
    out["period"] = out["period"].astype("period[Q-DEC]")
    out = out[columns].sort_values(unit + ["period", "check"], kind="stable")
    return out.reset_index(drop=True)


def _qindex_array(periods: pd.Series) -> np.ndarray:
    """Quarter index year*4+q-1 as float (NaN where the period is missing)."""
    p = pd.PeriodIndex(periods.astype("period[Q-DEC]"))
    out = (p.year * 4 + p.quarter - 1).to_numpy(dtype=float)
    out[np.asarray(p.isna())] = np.nan
    return out


def read_quality_table(path: str | Path) -> pd.DataFrame:
    """The data-quality table the build wrote (``data_quality.csv``), typed as
    :func:`data_quality_table` returns it: codes and checks as text, ``period`` as
    ``Period[Q]``, ``value`` as float.

    The build computes the table once, with the readers' rate conflicts (file and line of
    each), so reports read it here instead of computing it again without them.
    """
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if "period" in df:
        df["period"] = pd.PeriodIndex([p if p else None for p in df["period"]], freq="Q").to_series(
            index=df.index
        )
    if "value" in df:
        df["value"] = pd.to_numeric(df["value"].replace("", np.nan), errors="coerce")
    return df
