"""Synthetic control for a single municipality (Abadie, Diamond & Hainmueller 2010).

The synthetic municipality is a weighted average of non-participants (the donor pool) with
nonnegative weights summing to one, chosen so that its sick-leave path before joining matches
the participant's (optionally also unit-level predictors).  Inference is by in-space placebos:
every donor is in turn treated as if it had joined, and the participant's ratio of post- to
pre-period root mean squared prediction error (RMSPE) is ranked among them;
``p = rank / (n_placebos + 1)``.

Why not pysyncon: pysyncon 1.7 works with pandas 3, but one fit with a fixed V took ~1.9 s on
290 donors x 20 quarters (it solves a general constrained problem with SLSQP), i.e. ~9 minutes
per municipality with placebos.  The weights here solve the simplex-constrained least-squares
problem ``min ||x1 - X0 w||^2, w >= 0, sum(w) = 1`` with scipy's NNLS (Lawson-Hanson active
set) and the classic heavily weighted row ``M * (sum(w) - 1)`` for the adding-up constraint;
290 placebo fits take ~0.1 s.  V is not optimised by the nested ADH search: with the whole
pre-period outcome path as predictors the predictor weights matter little (Kaul et al.
2022), and the nested search is what makes ADH slow; predictors get a fixed weight instead.

Donor pool (``donors="auto"``, the default; see :func:`select_donors`).  With all ~285
never-participants and only 9-16 pre-period quarters the simplex fit interpolates noise: the
treated path lies inside the convex hull of the donors' paths, the synthetic control is a mix
of tiny, noisy municipalities and the pre-period RMSPE is ~0, so the post/pre ratio (and its
placebo rank) mean nothing (in the simulated register without effect, 9 of 20 participants
got a pre-period RMSPE below 0.01 pp).  Following Abadie (2021, "Using synthetic controls",
JEL 59(2), on the donor pool: restrict it to units similar to the treated one, to limit
interpolation bias and overfitting) the default pool is

1. the never-participants (``gname == 0``) with an outcome in every period;
2. restricted to the treated unit's size group (``size_group``: <5k, 5-20k, >=20k
   inhabitants) when that group has at least ``min_group`` (20) such units - rates of small
   municipalities are much noisier (small denominators), and a large municipality is not
   credibly "made of" small ones;
3. the ``n_donors`` (40) nearest of these by a distance that gives equal weight to the
   pre-period outcome path (root mean squared difference over the fitting quarters) and to
   log population, each divided by its standard deviation over the candidates.

40 donors is about 2.5-5 times the number of pre-quarters (9-16): enough for a good fit of
the level, seasonality and trend, too few to fit the noise exactly, and enough placebos for a
p-value resolution of 1/41.  ``donors="all"`` gives the classic pool (all never-participants)
and an explicit list any other.  Placebo inference always runs within the chosen pool.  On
the demo panel a profile's synthetic control with its placebos takes ~0.01 s (0.07 s with
all donors); under no effect the placebo p-values of 20 participants spread over (0, 1]
(mean 0.44, 15 % below 0.1, against 35 % with all donors) - see ``tests/test_eval_synth.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from kvk_analysis.did.results import TIDY_COLUMNS
from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation._common import (
    int_col,
    require_columns,
    require_numeric,
    require_unit_period_unique,
)
from kvk_analysis.periods import index_to_quarter, parse_quarter, quarter_index


def simplex_least_squares(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``min ||A w - b||^2`` subject to ``w >= 0`` and ``sum(w) == 1``.

    Parameters
    ----------
    A
        Matrix, shape (rows, donors).
    b
        Target vector, shape (rows,).

    Returns
    -------
    ndarray
        Weights, shape (donors,), nonnegative and summing to one.
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    # the adding-up constraint as a heavily weighted extra row; the solution's sum is within
    # ~1e-10 of one and is renormalised
    big = 1e4 * max(1.0, float(np.abs(A).max()), float(np.abs(b).max()))
    Aa = np.vstack([A, np.full((1, A.shape[1]), big)])
    ba = np.append(b, big)
    w, _ = nnls(Aa, ba, maxiter=50 * A.shape[1])
    total = w.sum()
    if not total > 0:
        raise EstimationError("synthetic control: the weight problem has no solution")
    return w / total


#: Default size of the donor pool of ``donors="auto"`` (see :func:`select_donors`).
N_DONORS = 40
#: Fewest never-participants of the treated unit's size group for the pool to keep to it.
MIN_SIZE_GROUP = 20


def select_donors(
    paths: pd.DataFrame,
    treated: Any,
    candidates: Sequence[Any],
    *,
    size_group: pd.Series | None = None,
    log_pop: pd.Series | None = None,
    n_donors: int = N_DONORS,
    min_group: int = MIN_SIZE_GROUP,
) -> tuple[list[Any], str]:
    """The default (``"auto"``) donor pool of :func:`synth`: comparable never-participants.

    Steps (the reasons are in the module docstring): keep to the treated unit's size group
    when it has at least ``min_group`` candidates; then take the ``n_donors`` candidates
    nearest to the treated unit by ``sqrt(d_path^2 + d_pop^2)``, where ``d_path`` is the root
    mean squared difference of the pre-period outcome paths and ``d_pop`` the difference in
    log population, each divided by its standard deviation over the candidates (``d_pop`` is
    left out without ``log_pop``).  Ties are broken by id order, so the pool is deterministic.

    Parameters
    ----------
    paths
        Pre-period outcomes, one row per unit (index: ids) and one column per quarter; must
        hold ``treated`` and every candidate, without missing values.
    treated
        Id of the treated unit.
    candidates
        Eligible donors (never-participants with complete outcomes), ``treated`` excluded.
    size_group, log_pop
        Per-unit size group and log population (index: ids); ``None`` skips that step.
    n_donors
        Largest pool size.
    min_group
        Fewest candidates in the treated unit's size group for the pool to keep to it.

    Returns
    -------
    tuple
        The chosen ids (nearest first) and a one-line description of the rule as applied.
    """
    if n_donors < 2:
        raise InputError("synth: n_donors must be at least 2", column="n_donors", found=n_donors)
    pool = list(candidates)
    steps = ["never-participants"]
    if size_group is not None and treated in size_group.index:
        own = size_group.loc[treated]
        same = [d for d in pool if size_group.get(d) == own]
        if pd.notna(own) and len(same) >= min_group:
            pool = same
            steps.append(f"size group {own}")
        else:
            steps.append(f"all sizes (size group {own} has {len(same)} < {min_group})")
    if len(pool) > n_donors:
        x1 = paths.loc[treated].to_numpy(float)
        d_path = np.sqrt(np.mean((paths.loc[pool].to_numpy(float) - x1) ** 2, axis=1))
        dist = (d_path / _scale(d_path)) ** 2
        what = "pre-period path"
        if log_pop is not None and treated in log_pop.index:
            lp = log_pop.reindex(pool).to_numpy(float)
            d_pop = np.abs(lp - float(log_pop.loc[treated]))
            if np.isfinite(d_pop).all():
                dist = dist + (d_pop / _scale(lp)) ** 2
                what += " and log population"
        order = np.argsort(dist, kind="stable")[:n_donors]
        pool = [pool[i] for i in order]
        steps.append(f"{n_donors} nearest by {what}")
    return pool, ", ".join(steps)


def _scale(values: np.ndarray) -> float:
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return sd if sd > 0 else 1.0


@dataclass(frozen=True, eq=False)
class SynthResult:
    """Synthetic control of one municipality with in-space placebo inference.

    Attributes
    ----------
    unit : object
        The treated municipality.
    treatment_period : int
        First treated quarter (quarter index).
    path : DataFrame
        ``tname``, ``period``, ``actual``, ``synthetic``, ``gap`` (actual - synthetic, pp for
        ``rate``) and ``post`` (bool) for every period.
    weights : DataFrame
        ``unit`` and ``weight`` of every donor (sorted by weight, descending; sum to one).
    pre_rmspe, post_rmspe, ratio : float
        RMSPE before and from ``treatment_period`` on (outcome units) and post/pre ratio.
    effect : float
        Mean post-period gap (pp for ``rate``).
    placebo_stats : DataFrame
        Per donor treated as a placebo: ``unit``, ``pre_rmspe``, ``post_rmspe``, ``ratio``.
    placebo_gaps : DataFrame
        Long table ``unit``, ``tname``, ``gap`` of the placebo gaps, for plotting.
    rank : int
        Rank of the treated unit's ratio among treated + placebos (1 = largest).
    p_value : float
        ``rank / (n_placebos + 1)``; NaN without placebos.
    dropped_donors : list
        Donors left out because of missing outcomes.
    params : dict
        Specification, including ``donor_rule`` (how the pool was chosen, in words) and
        ``n_donors`` (pool size).
    """

    unit: Any
    treatment_period: int
    path: pd.DataFrame
    weights: pd.DataFrame
    pre_rmspe: float
    post_rmspe: float
    ratio: float
    effect: float
    placebo_stats: pd.DataFrame
    placebo_gaps: pd.DataFrame
    rank: int
    p_value: float
    dropped_donors: list[Any]
    params: dict[str, Any] = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """Shared tidy schema: an ``overall`` row (mean post gap, placebo p-value) and one
        ``gap`` row per post period; standard errors and intervals are NA (placebo
        inference gives a p-value only)."""
        post = self.path[self.path["post"]]
        k = len(post) + 1
        nan = np.full(k, np.nan)
        g = self.treatment_period
        times = np.append([0], post["tname"].to_numpy())
        p = np.full(k, np.nan)
        p[0] = self.p_value
        out = pd.DataFrame(
            {
                "term": ["overall"] + ["gap"] * (k - 1),
                "group": int_col([g] * k, k),
                "time": pd.Series(pd.array([pd.NA, *times[1:].tolist()], dtype="Int64")),
                "event_time": pd.Series(
                    pd.array([pd.NA, *(times[1:] - g).tolist()], dtype="Int64")
                ),
                "estimate": np.append(self.effect, post["gap"].to_numpy()),
                "std_error": nan,
                "p_value": p,
                "conf_low": nan,
                "conf_high": nan,
                "band": ["pointwise"] * k,
            },
            columns=TIDY_COLUMNS,
        )
        return out

    def summary(self) -> str:
        """Plain-text summary."""
        top = self.weights[self.weights["weight"] > 0.005].head(10)
        lines = [
            f"Synthetic control for {self.unit} (joined {index_to_quarter(self.treatment_period)})",
            f"Pre-period RMSPE {self.pre_rmspe:.3f}; post-period RMSPE {self.post_rmspe:.3f}; "
            f"ratio {self.ratio:.2f}",
            f"Mean post-period gap: {self.effect:.3f}; placebo rank {self.rank} of "
            f"{len(self.placebo_stats) + 1}, p = {self.p_value:.3f}",
            f"Donor pool: {self.params.get('n_donors', len(self.weights))} units "
            f"({self.params.get('donor_rule', 'as given')})",
            "Largest donor weights:",
            top.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)


def _to_index(value: int | str | pd.Period, name: str) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        return quarter_index(parse_quarter(value))
    except ValueError as exc:
        raise InputError(f"'{name}' must be a quarter index or a quarter", found=value) from exc


def synth(
    panel: pd.DataFrame,
    treated: Any,
    *,
    yname: str = "rate",
    idname: str = "kommunenummer",
    tname: str = "tname",
    gname: str = "gname",
    treatment_period: int | str | pd.Period | None = None,
    donors: Sequence[Any] | Literal["auto", "all"] = "auto",
    n_donors: int = N_DONORS,
    min_group: int = MIN_SIZE_GROUP,
    size_name: str = "size_group",
    pop_name: str = "log_pop",
    pre_start: int | str | pd.Period | None = None,
    predictors: Sequence[str] = (),
    predictor_weight: float = 1.0,
    placebo: bool = True,
) -> SynthResult:
    """Synthetic-control estimate of the effect on one municipality, with placebo inference.

    Parameters
    ----------
    panel
        Analysis panel for one sector and measure (one row per unit and period).
    treated
        Id (``idname`` value) of the municipality to evaluate.
    yname
        Outcome; ``rate`` in percent, so gaps are in percentage points.
    idname, tname, gname
        Unit id, integer quarter index, first treated quarter (0 = never treated).
    treatment_period
        First treated quarter (index or e.g. ``"2007Q1"``); default the unit's ``gname``.
    donors
        Donor pool: ``"auto"`` (default) comparable never-participants chosen by
        :func:`select_donors` (same size group if it has ``min_group`` units, then the
        ``n_donors`` nearest by pre-period path and log population); ``"all"`` every unit with
        ``gname == 0``; or an explicit list of ids.  Donors with a missing outcome in any
        period are left out (listed in ``dropped_donors``).  Placebos run within the pool.
    n_donors, min_group
        Pool size and smallest usable size group of ``donors="auto"``.
    size_name, pop_name
        Columns of the size group and log population used by ``donors="auto"`` (skipped
        when the panel lacks them).
    pre_start
        First quarter of the fitting period (default the first in the panel).
    predictors
        Unit-level columns (e.g. ``log_pop``) fitted besides the pre-period outcomes; each is
        standardised and counts as much as ``predictor_weight`` pre-period quarters.
    predictor_weight
        Weight of each predictor relative to one pre-period quarter.
    placebo
        Run the in-space placebos (every donor as if treated, donor pool = other donors).

    Returns
    -------
    SynthResult
        Actual and synthetic paths, gap, weights, RMSPEs, placebo rank and p-value.

    Raises
    ------
    InputError
        Missing columns, unknown unit, missing outcomes of the treated unit.
    EstimationError
        Fewer than two pre-periods or donors, or no post-period.
    """
    what = "synth"
    require_columns(panel, [yname, idname, tname, gname, *predictors], what)
    require_unit_period_unique(panel, idname, tname, what)
    ids = panel[idname]
    if not (ids == treated).any():
        raise InputError(
            f"{what}: unit {treated!r} is not in the panel", column=idname, found=treated
        )
    if treatment_period is None:
        g = panel.loc[ids == treated, gname].iloc[0]
        if pd.isna(g) or g == 0:
            raise InputError(
                f"{what}: unit {treated!r} has no first treated period; pass treatment_period",
                column=gname,
                found=g,
            )
        g = int(g)
    else:
        g = _to_index(treatment_period, "treatment_period")
    y = require_numeric(panel, yname, what)
    t = require_numeric(panel, tname, what).astype("int64")
    wide = pd.DataFrame({"id": ids.to_numpy(), "t": t, "y": y}).pivot(
        index="id", columns="t", values="y"
    )
    if pre_start is not None:
        wide = wide.loc[:, wide.columns >= _to_index(pre_start, "pre_start")]
    periods = wide.columns.to_numpy()
    pre = periods < g
    if pre.sum() < 2:
        raise EstimationError(f"{what}: fewer than two pre-periods before {index_to_quarter(g)}")
    if (~pre).sum() == 0:
        raise EstimationError(f"{what}: no period from {index_to_quarter(g)} on in the panel")
    x1 = wide.loc[treated].to_numpy(float)
    if not np.isfinite(x1).all():
        raise InputError(
            f"{what}: the treated unit has missing outcomes",
            column=yname,
            expected="an outcome in every period",
            found=[index_to_quarter(p).strftime("%YQ%q") for p in periods[~np.isfinite(x1)]],
        )
    rule = "as given"
    if isinstance(donors, str):
        if donors not in ("auto", "all"):
            raise InputError(
                f"{what}: donors must be 'auto', 'all' or a list of ids",
                column="donors",
                found=donors,
            )
        gu = panel.groupby(idname)[gname].first()
        pool = gu.index[(gu == 0).fillna(False).to_numpy(dtype=bool)].tolist()
        rule = "all never-participants"
    else:
        pool = list(donors)
        unknown = [d for d in pool if d not in wide.index]
        if unknown:
            raise InputError(f"{what}: donors not in the panel", column=idname, found=unknown[:5])
    pool = [d for d in pool if d != treated]
    complete = np.isfinite(wide.loc[pool].to_numpy(float)).all(axis=1)
    dropped = [d for d, ok in zip(pool, complete, strict=True) if not ok]
    pool = [d for d, ok in zip(pool, complete, strict=True) if ok]
    if isinstance(donors, str) and donors == "auto":
        per_unit = panel.groupby(idname)
        pool, rule = select_donors(
            wide.loc[:, pre],
            treated,
            pool,
            size_group=per_unit[size_name].first() if size_name in panel.columns else None,
            log_pop=per_unit[pop_name].first() if pop_name in panel.columns else None,
            n_donors=n_donors,
            min_group=min_group,
        )
    if len(pool) < 2:
        raise EstimationError(f"{what}: fewer than two donors with complete outcomes")
    Y = wide.loc[[treated, *pool]].to_numpy(float)  # row 0 = treated

    # fitting matrix: pre-period outcomes (+ standardised predictors)
    F = Y[:, pre]
    if predictors:
        units = panel.groupby(idname)[list(predictors)].first().loc[[treated, *pool]]
        P = np.column_stack([require_numeric(units, c, what) for c in predictors])
        if not np.isfinite(P).all():
            raise InputError(f"{what}: missing predictor values", column=list(predictors))
        sd_y = float(np.mean(F.std(axis=0, ddof=1)))
        sd_p = P.std(axis=0, ddof=1)
        sd_p[sd_p == 0] = 1.0
        P = (P - P.mean(axis=0)) / sd_p * sd_y * np.sqrt(predictor_weight)
        F = np.hstack([F, P])

    def fit(target: int, pool_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = simplex_least_squares(F[pool_rows].T, F[target])
        return w, Y[target] - w @ Y[pool_rows]

    rows = np.arange(1, len(Y))
    w, gap = fit(0, rows)
    pre_r, post_r = _rmspe(gap, pre)
    stats_rows, gaps = [], []
    if placebo:
        for j in rows:
            _, gj = fit(j, rows[rows != j])
            pr, po = _rmspe(gj, pre)
            stats_rows.append((pool[j - 1], pr, po, _ratio(po, pr)))
            gaps.append(gj)
    placebo_stats = pd.DataFrame(stats_rows, columns=["unit", "pre_rmspe", "post_rmspe", "ratio"])
    ratio = _ratio(post_r, pre_r)
    if placebo:
        rank = 1 + int(np.sum(placebo_stats["ratio"].to_numpy() >= ratio))
        p_value = rank / (len(placebo_stats) + 1)
        placebo_gaps = pd.DataFrame(
            {
                "unit": np.repeat(pool, len(periods)),
                "tname": np.tile(periods, len(pool)),
                "gap": np.concatenate(gaps),
            }
        )
    else:
        rank, p_value = 1, np.nan
        placebo_gaps = pd.DataFrame(columns=["unit", "tname", "gap"])
    synthetic = Y[0] - gap
    path = pd.DataFrame(
        {
            "tname": periods,
            "period": pd.PeriodIndex([index_to_quarter(p) for p in periods], freq="Q"),
            "actual": Y[0],
            "synthetic": synthetic,
            "gap": gap,
            "post": ~pre,
        }
    )
    weights = (
        pd.DataFrame({"unit": pool, "weight": w})
        .sort_values("weight", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return SynthResult(
        unit=treated,
        treatment_period=g,
        path=path,
        weights=weights,
        pre_rmspe=pre_r,
        post_rmspe=post_r,
        ratio=ratio,
        effect=float(gap[~pre].mean()),
        placebo_stats=placebo_stats,
        placebo_gaps=placebo_gaps,
        rank=rank,
        p_value=p_value,
        dropped_donors=dropped,
        params={
            "yname": yname,
            "idname": idname,
            "tname": tname,
            "gname": gname,
            "predictors": list(predictors),
            "predictor_weight": predictor_weight,
            "donors": donors if isinstance(donors, str) else "list",
            "donor_rule": rule,
            "n_donors": len(pool),
            "n_pre_periods": int(pre.sum()),
        },
    )


def _rmspe(gap: np.ndarray, pre: np.ndarray) -> tuple[float, float]:
    return float(np.sqrt(np.mean(gap[pre] ** 2))), float(np.sqrt(np.mean(gap[~pre] ** 2)))


def _ratio(post: float, pre: float) -> float:
    # a perfect pre-period fit gives an infinite ratio (ranks first)
    return post / pre if pre > 0 else np.inf
