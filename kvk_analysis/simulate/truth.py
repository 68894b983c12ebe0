"""The planted truth: true ATT by cohort x quarter x sector and the aggregates estimators report.

Definitions (all in percentage points of the *expected* rate, so an unbiased estimator converges
to them):

- Unit effect in a sector: ``tau_ist = E[Y_ist] - E[Y0_ist]`` (the planted effect).
- Unit effect on the all-sector rate: the effect on the ratio of sums
  ``sum_s lost_ist / sum_s contracted_ist``.  Contracted days are not affected by treatment,
  so this is ``sum_s c_ist tau_ist / sum_s c_ist`` (contracted-days-weighted over sectors;
  for 1505 Kristiansund before 2008 the parts 1503 and 1556 are summed first).
- ``true_att_pp`` of cohort g in quarter t: the unweighted mean of the unit effects over the
  cohort's municipalities (what ``att_gt`` estimates without weights).
  ``true_att_pp_days_weighted`` weights units by their contracted days in that cell.
- Aggregates follow Callaway & Sant'Anna's ``aggte`` with group sizes ``n_g`` (number of
  municipalities in the cohort) as weights, over the quarters of the simulated window:
  ``simple`` = sum over post cells (t >= g) of n_g ATT(g,t) / sum of n_g over those cells;
  ``dynamic`` = per event time e, sum_g n_g ATT(g, g+e) / sum_g n_g over cohorts observed at e
  (overall = mean over e >= 0); ``group`` = per cohort the mean of ATT(g,t) over t >= g
  (overall = n_g-weighted mean); ``calendar`` = per quarter t >= first cohort, the n_g-weighted
  mean over cohorts with g <= t (overall = mean over those quarters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import quarter_index
from .scenarios import PULJER, SimulationConfig

TRUTH_SECTORS = ("all", "care", "education", "other")


def unit_effects(cells: pd.DataFrame) -> pd.DataFrame:
    """Effect per 2008 unit x quarter x sector (``all`` included) with contracted days.

    Returns columns ``unit, period, sector, tau, contracted_days`` (tau in pp).
    """
    c = cells.assign(_wt=cells["contracted_days"] * cells["true_effect_pp"])
    by = c.groupby(["unit", "period", "sector"], sort=True)[["_wt", "contracted_days"]].sum()
    sec = by.reset_index()
    sec["tau"] = sec["_wt"] / sec["contracted_days"]
    allp = c.groupby(["unit", "period"], sort=True)[["_wt", "contracted_days"]].sum().reset_index()
    allp["tau"] = allp["_wt"] / allp["contracted_days"]
    allp["sector"] = "all"
    out = pd.concat([allp, sec], ignore_index=True)[
        ["unit", "period", "sector", "tau", "contracted_days"]
    ]
    return out


def truth_table(
    config: SimulationConfig, cells: pd.DataFrame, units: pd.DataFrame, periods: pd.PeriodIndex
) -> pd.DataFrame:
    """True ATT per pulje x quarter x sector.

    Columns: ``pulje, first_treated`` (str ``2007Q2``), ``group`` (int quarter index of
    first_treated, the ``gname``), ``period`` (str), ``time`` (int quarter index), ``event_time``
    (quarters), ``sector`` (all/care/education/other), ``true_att_pp`` (unweighted mean over
    units, pp), ``true_att_pp_days_weighted`` (pp), ``n_units``, ``weight`` (contracted days of
    the cohort in the cell).  Every quarter of the window is listed, pre-treatment included.
    """
    eff = unit_effects(cells)
    coh = units.loc[units["participant"], ["kommunenummer", "pulje", "first_treated"]]
    eff = eff.merge(coh.rename(columns={"kommunenummer": "unit"}), on="unit", how="inner")
    eff["_wt"] = eff["tau"] * eff["contracted_days"]
    grp = eff.groupby(["pulje", "first_treated", "period", "sector"], sort=False)
    out = grp.agg(
        true_att_pp=("tau", "mean"),
        _wt=("_wt", "sum"),
        weight=("contracted_days", "sum"),
        n_units=("unit", "nunique"),
    ).reset_index()
    out["true_att_pp_days_weighted"] = out["_wt"] / out["weight"]
    out["group"] = quarter_index(out["first_treated"].astype(f"period[{periods.freqstr}]"))
    out["time"] = quarter_index(out["period"].astype(f"period[{periods.freqstr}]"))
    out["event_time"] = out["time"] - out["group"]
    out["first_treated"] = out["first_treated"].astype(str)
    out["period"] = out["period"].astype(str)
    out["_p"] = out["pulje"].map({p: k for k, p in enumerate(PULJER)})
    out["_s"] = out["sector"].map({s: k for k, s in enumerate(TRUTH_SECTORS)})
    out = out.sort_values(["_p", "group", "_s", "time"], ignore_index=True)
    cols = [
        "pulje",
        "first_treated",
        "group",
        "period",
        "time",
        "event_time",
        "sector",
        "true_att_pp",
        "true_att_pp_days_weighted",
        "n_units",
        "weight",
    ]
    out = out[cols]
    # noise-free zero: exact zeros print as 0 rather than -0
    out["true_att_pp"] = out["true_att_pp"].where(out["true_att_pp"] != 0, 0.0)
    out["true_att_pp_days_weighted"] = out["true_att_pp_days_weighted"].where(
        out["true_att_pp_days_weighted"] != 0, 0.0
    )
    return out


def aggregate_truth(truth: pd.DataFrame) -> pd.DataFrame:
    """The aggregated truths (see the module docstring for the definitions).

    Returns columns ``aggregation`` (simple/dynamic/group/calendar), ``term`` (``overall``,
    ``event_time``, ``group``, ``calendar``), ``sector``, ``group`` (int gname or NA),
    ``first_treated`` (str or empty), ``time`` (int or NA), ``period`` (str or empty),
    ``event_time`` (int or NA), ``true_att_pp`` (pp).
    """
    rows: list[dict] = []
    # group sizes: the number of units of each cohort (the same in every cell)
    for sector in TRUTH_SECTORS:
        t = truth[truth["sector"] == sector]
        n_g = t.groupby("group")["n_units"].max()
        ft = t.groupby("group")["first_treated"].first()
        post = t[t["event_time"] >= 0]
        w = post["group"].map(n_g).to_numpy(dtype=float)
        simple = float(np.sum(w * post["true_att_pp"]) / np.sum(w))
        rows.append(_row("simple", "overall", sector, simple))
        # dynamic
        dyn = {}
        for e, sub in t.groupby("event_time", sort=True):
            ww = sub["group"].map(n_g).to_numpy(dtype=float)
            dyn[int(e)] = float(np.sum(ww * sub["true_att_pp"]) / np.sum(ww))
            rows.append(_row("dynamic", "event_time", sector, dyn[int(e)], event_time=int(e)))
        post_e = [v for e, v in dyn.items() if e >= 0]
        rows.append(_row("dynamic", "overall", sector, float(np.mean(post_e))))
        # group
        theta_g = {}
        for g, sub in post.groupby("group", sort=True):
            theta_g[int(g)] = float(sub["true_att_pp"].mean())
            rows.append(
                _row("group", "group", sector, theta_g[int(g)], group=int(g), first_treated=ft[g])
            )
        tot = sum(n_g[g] for g in theta_g)
        rows.append(
            _row(
                "group", "overall", sector, float(sum(n_g[g] * v for g, v in theta_g.items()) / tot)
            )
        )
        # calendar
        theta_t = {}
        for (time, period), sub in post.groupby(["time", "period"], sort=True):
            ww = sub["group"].map(n_g).to_numpy(dtype=float)
            theta_t[int(time)] = float(np.sum(ww * sub["true_att_pp"]) / np.sum(ww))
            rows.append(
                _row(
                    "calendar",
                    "calendar",
                    sector,
                    theta_t[int(time)],
                    time=int(time),
                    period=period,
                )
            )
        rows.append(_row("calendar", "overall", sector, float(np.mean(list(theta_t.values())))))
    out = pd.DataFrame(rows)
    for col in ("group", "time", "event_time"):
        out[col] = out[col].astype("Int64")
    out["true_att_pp"] = out["true_att_pp"].where(out["true_att_pp"] != 0, 0.0)
    return out


def _row(
    aggregation: str,
    term: str,
    sector: str,
    value: float,
    *,
    group: int | None = None,
    first_treated: str = "",
    time: int | None = None,
    period: str = "",
    event_time: int | None = None,
) -> dict:
    return {
        "aggregation": aggregation,
        "term": term,
        "sector": sector,
        "group": group,
        "first_treated": first_treated,
        "time": time,
        "period": period,
        "event_time": event_time,
        "true_att_pp": value,
    }
