"""A staggered-adoption panel with a known, heterogeneous and dynamic treatment effect.

Like R ``did``'s ``build_sim_dataset``: unit and period effects, a covariate, and an effect
that differs by cohort and grows with time since treatment, so two-way fixed effects is
biased while ATT(g,t) is not.  Cohort sizes are fixed (not random), so the aggregation
targets computed by :func:`true_aggregates` are exact for every simulated dataset.

The defaults mimic the KVK panel: 430 units, 28 quarters 2005Q1-2011Q4 as quarter index
(``year*4 + q - 1``), cohorts 2007Q2, 2007Q4, 2008Q3, 2009Q1 with 40/49/34/21 units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from kvk_analysis.errors import EstimationError
from kvk_analysis.periods import quarter_index


def _q(label: str) -> int:
    return int(quarter_index(pd.Period(label, freq="Q")))


#: KVK default: 2005Q1 .. 2011Q4 as quarter index
KVK_PERIODS: tuple[int, ...] = tuple(range(_q("2005Q1"), _q("2011Q4") + 1))
#: KVK default cohorts (pulje I-IV start quarters) and their sizes
KVK_COHORTS: dict[int, int] = {
    _q("2007Q2"): 40,
    _q("2007Q4"): 49,
    _q("2008Q3"): 34,
    _q("2009Q1"): 21,
}

EffectFn = Callable[[int, int, int], float]


def default_effect(group_rank: int, group: int, event_time: int) -> float:
    """Default effect (outcome units) in event time ``e >= 0`` for the cohort of rank ``k``.

    ``-(0.3 + 0.05 e) (1 + 0.25 k)``: grows with exposure, larger for later cohorts.
    """
    return -(0.3 + 0.05 * event_time) * (1 + 0.25 * group_rank)


def simulate_staggered(
    n_units: int = 430,
    periods: Sequence[int] = KVK_PERIODS,
    cohorts: Mapping[int, int] | None = None,
    effect: EffectFn | None = None,
    unit_sd: float = 1.0,
    noise_sd: float = 0.5,
    x_trend: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate a balanced staggered-adoption panel.

    ``y_it = a_i + l_t + x_trend * x_i * (t - t_0) / T + tau(g, t - g) 1[t >= g] + e_it``

    Parameters
    ----------
    n_units : int
        Number of units; those not in a cohort are never treated (``gname == 0``).
    periods : sequence of int
        Consecutive integer periods.
    cohorts : mapping of int to int
        First treated period -> number of units (default: KVK's four cohorts).
    effect : callable ``(rank, group, event_time) -> float`` or None
        Treatment effect for ``event_time >= 0`` (default :func:`default_effect`).
    unit_sd, noise_sd : float
        Standard deviations of the unit effect and the idiosyncratic error.
    x_trend : float
        Effect of the covariate ``x`` on the trend.  ``x`` is higher in treated cohorts, so
        with ``x_trend != 0`` parallel trends hold only conditional on ``x``.
    seed : int, Generator or None
        Random seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, period, y, gname, x, weight, true_effect`` (``weight`` is a positive,
        time-invariant sampling weight; ``true_effect`` is ``y(1) - y(0)``).
    """
    rng = np.random.default_rng(seed)
    cohorts = dict(KVK_COHORTS if cohorts is None else cohorts)
    effect = default_effect if effect is None else effect
    periods = np.asarray(periods, dtype=np.int64)
    n_treated = sum(cohorts.values())
    if n_treated > n_units:
        raise EstimationError(f"cohorts hold {n_treated} units but n_units is {n_units}")
    gname = np.zeros(n_units, dtype=np.int64)
    start = 0
    ranks = {g: k for k, g in enumerate(sorted(cohorts))}
    for g in sorted(cohorts):
        gname[start : start + cohorts[g]] = g
        start += cohorts[g]
    n_t = len(periods)
    treated = gname > 0
    x = rng.normal(0.0, 1.0, n_units) + 1.0 * treated
    a = rng.normal(0.0, unit_sd, n_units) + 0.3 * treated
    lam = np.cumsum(rng.normal(0.0, 0.2, n_t)) + 0.5 * np.sin(np.arange(n_t) * np.pi / 2)
    trend = (periods - periods[0]) / n_t
    y0 = (
        a[:, None]
        + lam[None, :]
        + x_trend * x[:, None] * trend[None, :]
        + rng.normal(0.0, noise_sd, (n_units, n_t))
    )
    tau = np.zeros((n_units, n_t))
    for g, k in ranks.items():
        rows = gname == g
        for j, t in enumerate(periods):
            if t >= g:
                tau[rows, j] = effect(k, int(g), int(t - g))
    weight = rng.lognormal(0.0, 0.5, n_units)
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(1, n_units + 1), n_t),
            "period": np.tile(periods, n_units),
            "y": (y0 + tau).ravel(),
            "gname": np.repeat(gname, n_t),
            "x": np.repeat(x, n_t),
            "weight": np.repeat(weight, n_t),
            "true_effect": tau.ravel(),
        }
    )


def true_aggregates(
    periods: Sequence[int] = KVK_PERIODS,
    cohorts: Mapping[int, int] | None = None,
    effect: EffectFn | None = None,
) -> dict[str, object]:
    """True ATT(g,t) and the targets of every ``aggte`` type for :func:`simulate_staggered`.

    Weights are cohort sizes (unweighted units), as ``aggte`` uses without sampling weights.

    Returns
    -------
    dict
        ``"att_gt"``: DataFrame ``group, time, att`` of post-treatment cells (pre-treatment
        ATT(g,t) are 0); ``"dynamic"``: Series by event time ``e >= 0``; ``"group"``: Series
        by cohort; ``"calendar"``: Series by period; ``"simple"``, ``"dynamic_overall"``,
        ``"group_overall"``, ``"calendar_overall"``: floats.
    """
    cohorts = dict(KVK_COHORTS if cohorts is None else cohorts)
    effect = default_effect if effect is None else effect
    periods = np.asarray(periods, dtype=np.int64)
    rows = []
    for k, g in enumerate(sorted(cohorts)):
        for t in periods[periods >= g]:
            rows.append((g, int(t), effect(k, int(g), int(t - g)), cohorts[g]))
    cells = pd.DataFrame(rows, columns=["group", "time", "att", "size"])
    cells["e"] = cells["time"] - cells["group"]

    def wmean(d: pd.DataFrame) -> float:
        return float(np.sum(d["att"] * d["size"]) / d["size"].sum())

    dynamic = cells.groupby("e")[["att", "size"]].apply(wmean)
    group = cells.groupby("group")["att"].mean()
    calendar = cells.groupby("time")[["att", "size"]].apply(wmean)
    sizes = np.array([cohorts[g] for g in group.index], dtype=float)
    return {
        "att_gt": cells[["group", "time", "att"]],
        "simple": wmean(cells),
        "dynamic": dynamic,
        "dynamic_overall": float(dynamic.mean()),
        "group": group,
        "group_overall": float(np.sum(group.to_numpy() * sizes) / sizes.sum()),
        "calendar": calendar,
        "calendar_overall": float(calendar.mean()),
    }
