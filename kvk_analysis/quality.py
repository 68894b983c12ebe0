"""Data-quality table: suspicious but legal values in a tidy sick-leave table.

These are not errors (the schema in :mod:`kvk_analysis.schema` catches those); they are
findings to read before trusting an estimate, and to list in a report's data appendix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .periods import index_to_quarter
from .readers.tidy import KEY_COLUMNS, dimension_columns

__all__ = ["QUALITY_COLUMNS", "data_quality_table"]

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
    period and check.
    """
    dims = dimension_columns(tidy)
    unit = [c for c in dims if c != "period"]
    df = tidy.drop(columns="_line", errors="ignore").sort_values(unit + ["period"], kind="stable")
    findings: list[pd.DataFrame] = []

    def add(rows: pd.DataFrame, check: str, value, detail) -> None:
        if len(rows):
            out = rows[dims].copy()
            out["check"] = check
            out["value"] = np.asarray(value, dtype=float)
            out["detail"] = list(detail)
            findings.append(out)

    # Jumps between consecutive quarters.
    prev = df.groupby(unit, observed=True, sort=False)[["period", "rate"]].shift(1)
    consecutive = prev["period"].notna() & (_qindex(df["period"]) - _qindex(prev["period"]) == 1)
    change = df["rate"] - prev["rate"]
    jump = consecutive & (change.abs() > jump_pp)
    add(
        df[jump],
        "jump",
        change[jump],
        (
            f"rate {a:.1f} -> {b:.1f} % ({d:+.1f} pp) from {p}"
            for a, b, d, p in zip(
                prev["rate"][jump],
                df["rate"][jump],
                change[jump],
                prev["period"][jump],
                strict=True,
            )
        ),
    )
    # Tiny units.
    small_emp = df["employees"] < min_employees
    small_days = df["contracted_days"] < min_contracted_days
    tiny = small_emp | small_days
    add(
        df[tiny],
        "tiny_unit",
        np.where(small_emp[tiny], df["employees"][tiny], df["contracted_days"][tiny]),
        (
            f"{e:g} employees" if se else f"{c:g} contracted days"
            for se, e, c in zip(
                small_emp[tiny], df["employees"][tiny], df["contracted_days"][tiny], strict=True
            )
        ),
    )
    # Gaps inside a unit's series.
    gaps = []
    for key, g in df.groupby(unit, observed=True, sort=False):
        q = np.sort(_qindex(g["period"]).to_numpy())
        if len(q) < 2:
            continue
        missing = np.setdiff1d(np.arange(q[0], q[-1] + 1), q)
        if len(missing):
            key = key if isinstance(key, tuple) else (key,)
            first, last = g["period"].min(), g["period"].max()
            for m in missing:
                row = dict(zip(unit, key, strict=True))
                row["period"] = index_to_quarter(m)
                row["detail"] = f"quarter missing inside the series {first}-{last}"
                gaps.append(row)
    if gaps:
        gdf = pd.DataFrame(gaps)
        add(gdf, "gap", np.full(len(gdf), np.nan), gdf["detail"])
    # Suppressed or missing cells.
    sup = df["status"].isin(["missing", "not_applicable", "confidential"])
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


def _qindex(periods: pd.Series) -> pd.Series:
    """Quarter index year*4+q-1 (NaN where the period is missing)."""
    p = periods.astype("period[Q-DEC]")
    return p.dt.year * 4 + p.dt.quarter - 1
