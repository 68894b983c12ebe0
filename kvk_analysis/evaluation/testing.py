"""Small simulated panels with a known effect, for the tests of :mod:`kvk_analysis.evaluation`.

The full register simulator lives in ``kvk_analysis.simulate``; this module only builds the
small, fast panels that the evaluation tests need (known ATT, optional heterogeneity, selection
on the pre-programme level), with the columns of the analysis-panel contract in
``docs/architecture.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kvk_analysis.periods import quarter_index

#: default cohorts (pulje -> first treated quarter) of the simulated panels
DEFAULT_COHORTS: dict[str, str] = {
    "I": "2007Q1",
    "II": "2007Q3",
    "III": "2008Q1",
    "IV": "2008Q3",
}


def simulate_panel(
    *,
    n_units: int = 200,
    share_treated: float = 0.4,
    cohorts: dict[str, str] | None = None,
    start: str = "2005Q1",
    end: str = "2011Q4",
    effect: float = -0.5,
    dynamic_slope: float = 0.0,
    cohort_effects: dict[str, float] | None = None,
    sectors: Sequence[str] = ("all",),
    selection: float = 0.0,
    noise: float = 0.3,
    seasonal: float = 0.4,
    seed: int = 1,
) -> pd.DataFrame:
    """Simulate a municipality x quarter x sector panel with a planted treatment effect.

    The rate (percent) is ``unit level + common trend + seasonality + effect + noise``.
    The effect of a treated unit at event time ``e >= 0`` is
    ``effect + cohort_effects[pulje] + dynamic_slope * e`` percentage points.

    Parameters
    ----------
    n_units
        Number of municipalities.
    share_treated
        Share of municipalities that participate (spread evenly over the cohorts).
    cohorts
        Pulje -> first treated quarter; default :data:`DEFAULT_COHORTS`.
    start, end
        First and last quarter of the panel.
    effect
        Homogeneous part of the effect, percentage points.
    dynamic_slope
        Change of the effect per quarter since joining, percentage points.
    cohort_effects
        Extra effect per pulje, percentage points.
    sectors
        Sector values; each gets its own noise and a level shift.
    selection
        Participation propensity per percentage point of the unit's level (0 = random);
        positive values make high-sick-leave municipalities join more often.
    noise
        Standard deviation of the idiosyncratic noise, percentage points.
    seasonal
        Amplitude of the quarter-of-year pattern, percentage points.
    seed
        Seed of the random generator.

    Returns
    -------
    DataFrame
        Columns of the analysis-panel contract; ``weight`` equals ``contracted_days`` and
        ``rate`` equals ``lost_days / contracted_days * 100`` exactly.
    """
    rng = np.random.default_rng(seed)
    cohorts = dict(DEFAULT_COHORTS if cohorts is None else cohorts)
    cohort_effects = cohort_effects or {}
    periods = pd.period_range(start, end, freq="Q")
    n_t = len(periods)

    level = rng.normal(6.5, 1.0, n_units)
    population = np.exp(rng.normal(8.7, 1.1, n_units)).round()
    fylkesnr = rng.choice(["01", "02", "03", "04", "05"], n_units)
    # participation: logit in the unit level
    n_treat = int(round(share_treated * n_units))
    score = selection * (level - level.mean()) + rng.logistic(size=n_units)
    treated_idx = np.argsort(-score)[:n_treat]
    pulje = np.full(n_units, None, dtype=object)
    names = list(cohorts)
    for k, i in enumerate(rng.permutation(treated_idx)):
        pulje[i] = names[k % len(names)]

    rows = []
    trend = np.linspace(0.0, 0.6, n_t) + 0.2 * np.sin(np.arange(n_t) / 3.0)
    season = seasonal * np.array([1.0, -0.2, -1.0, 0.2])[periods.quarter - 1]
    tname = np.asarray(quarter_index(periods))
    for s_k, sector in enumerate(sectors):
        sector_shift = 0.5 * s_k
        for i in range(n_units):
            first = pd.Period(cohorts[pulje[i]], freq="Q") if pulje[i] is not None else None
            g = quarter_index(first) if first is not None else 0
            event = tname - g if g else np.full(n_t, np.nan)
            te = np.zeros(n_t)
            if g:
                post = event >= 0
                te[post] = effect + cohort_effects.get(pulje[i], 0.0) + dynamic_slope * event[post]
            rate = level[i] + sector_shift + trend + season + te + rng.normal(0, noise, n_t)
            contracted = rng.uniform(0.5, 1.5) * population[i] * 1.5 * np.ones(n_t)
            contracted = contracted * rng.uniform(0.95, 1.05, n_t)
            lost = rate / 100 * contracted
            rows.append(
                pd.DataFrame(
                    {
                        "kommunenummer": f"{i + 1001:04d}",
                        "kommune": f"Kommune {i + 1}",
                        "fylkesnr": fylkesnr[i],
                        "fylke": f"Fylke {fylkesnr[i]}",
                        "period": periods,
                        "tname": tname,
                        "year": periods.year,
                        "quarter": periods.quarter,
                        "sector": sector,
                        "measure": "total",
                        "lost_days": lost,
                        "contracted_days": contracted,
                        "employees": contracted / 60.0,
                        "rate": lost / contracted * 100,
                        "weight": contracted,
                        "participant": g != 0,
                        "pulje": pulje[i] if g else pd.NA,
                        "cohort_known": True,
                        "membership_source": "simulated",
                        "first_treated": first if first is not None else pd.NaT,
                        "gname": g,
                        "event_time": pd.array(event, dtype="Float64").astype("Int64"),
                        "never_treated": g == 0,
                        "population": population[i],
                    }
                )
            )
    panel = pd.concat(rows, ignore_index=True)
    panel["period"] = panel["period"].astype("period[Q-DEC]")
    panel["first_treated"] = pd.PeriodIndex(panel["first_treated"], freq="Q")
    panel["pulje"] = panel["pulje"].astype("string")
    panel["log_pop"] = np.log(panel["population"])
    panel["size_group"] = pd.cut(
        panel["population"], [0, 5000, 20000, np.inf], labels=["<5k", "5-20k", ">=20k"], right=False
    ).astype("string")
    pre = panel[panel["year"] <= 2006]
    pre_level = pre.groupby(["kommunenummer", "sector"])["rate"].mean().rename("pre_level")
    slopes = pre.groupby(["kommunenummer", "sector"]).apply(
        lambda d: np.polyfit(d["tname"] / 4.0, d["rate"], 1)[0], include_groups=False
    )
    panel = panel.join(pre_level, on=["kommunenummer", "sector"])
    panel = panel.join(slopes.rename("pre_trend"), on=["kommunenummer", "sector"])
    return panel


def true_att(panel: pd.DataFrame, **kwargs: float) -> float:
    """Average planted effect over treated post-period unit-quarters (unweighted), in pp.

    ``kwargs`` are ``effect``, ``dynamic_slope`` as passed to :func:`simulate_panel`.
    """
    post = panel[panel["participant"] & (panel["tname"] >= panel["gname"])]
    e = (post["tname"] - post["gname"]).to_numpy(float)
    return float(np.mean(kwargs.get("effect", 0.0) + kwargs.get("dynamic_slope", 0.0) * e))


def fit_att_gt(panel: pd.DataFrame, **kwargs: Any) -> Any:
    """:func:`kvk_analysis.did.att_gt` on a panel of :func:`simulate_panel` (its column names),
    with analytic standard errors unless ``kwargs`` ask for the bootstrap, and the
    ``UserWarning`` notes on small cohorts silenced.  ``kwargs`` go to ``att_gt``.
    """
    from kvk_analysis.did import att_gt

    args: dict[str, Any] = {"bstrap": False, "cband": False, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return att_gt(
            panel, yname="rate", tname="tname", idname="kommunenummer", gname="gname", **args
        )
