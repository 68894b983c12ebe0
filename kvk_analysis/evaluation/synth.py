"""Synthetic control (Abadie & Gardeazabal 2003; Abadie, Diamond & Hainmueller 2010).

:func:`synth` is the general method on any panel, with the arguments of R ``Synth``'s
``dataprep``/``synth`` in snake_case: predictors averaged over ``time_predictors_prior``,
special predictors ``(column, periods, op)``, the fit judged on the outcome over
``time_optimize_ssr``, and predictor weights V chosen by nested optimisation as ``Synth``
does it: for a given diagonal V the donor weights W solve the quadratic program
``min_W (X1 - X0 W)' V (X1 - X0 W)``, ``W >= 0``, ``sum(W) = 1`` on the predictors scaled
by their standard deviation over all units of the run; the outer search over V minimises
the mean squared prediction error of the outcome over ``time_optimize_ssr``, from two
starting points as ``Synth`` (equal weights and the regression-based V), by Nelder-Mead.
Inference is by in-space placebos: every donor in turn is treated as if it had been treated
(donor pool: the other donors), with the same specification and its own V; the treated
unit's ratio of post- to pre-period root mean squared prediction error (RMSPE) is ranked
among them, ``p = rank / (n_placebos + 1)``.  Checked on California's Proposition 99
(``tests/test_eval_synth.py``).

Why hand-written: pysyncon 1.7 works with pandas 3, but one fit with a fixed V took ~1.9 s on
290 donors x 20 quarters (it solves a general constrained problem with SLSQP), i.e. ~9 minutes
per municipality with placebos, and its nested V search is slower still.  The inner problem
here is a simplex-constrained least-squares problem, ``min ||A w - b||^2, w >= 0,
sum(w) = 1`` (``A = V^(1/2) X0``), solved with scipy's NNLS (Lawson-Hanson active set) and a
heavily weighted row ``M * (sum(w) - 1)`` for the adding-up constraint
(:func:`simplex_least_squares`): exact to ~1e-10 and ~100 times faster than a general QP.

The KVK layer (:func:`synth_municipality`) evaluates one municipality of the analysis
panel: its donor pool and specification are project choices made on top of :func:`synth`.

Donor pool of :func:`synth_municipality` (``donors="auto"``, the default; see
:func:`select_donors`).  With all ~285
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
p-value resolution of 1/41.  Its specification: every pre-period quarter's outcome is a
predictor (plus optional unit-level predictors), with fixed predictor weights (each quarter
weighted by its cross-unit variance, i.e. the plain least-squares fit of the outcome path,
each unit-level predictor as much as ``predictor_weight`` quarters): with the whole
pre-period outcome path as predictors the predictor weights matter little (Kaul et al.
2022) and the nested V search would make the 145 profiles with their placebos ~100 times
slower; ``v="optimize"`` gives the nested search.  On the demo panel a profile's synthetic
control with its placebos takes ~0.01 s (0.07 s with all donors); under no effect the placebo
p-values of 20 participants spread over (0, 1] (mean 0.44, 15 % below 0.1, against 35 % with
all donors) - see ``tests/test_eval_synth.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize, nnls

from kvk_analysis.did.results import TIDY_COLUMNS
from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation._common import (
    int_col,
    period_numbers,
    require_columns,
    require_numeric,
    require_unit_period_unique,
    unit_cohorts,
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
    """Synthetic control of one unit with in-space placebo inference.

    Attributes
    ----------
    unit : object
        The treated unit.
    treatment_period : int
        First treated period (period number: the quarter index for quarterly data).
    path : DataFrame
        ``tname`` (period number), ``period`` (the period as given: a pandas Period for the
        KVK panel), ``actual``, ``synthetic``, ``gap`` (actual - synthetic, outcome units:
        percentage points for ``rate``) and ``post`` (bool) for every period.
    weights : DataFrame
        ``unit`` and ``weight`` of every donor (sorted by weight, descending; sum to one).
    pre_rmspe, post_rmspe, ratio : float
        RMSPE before and from ``treatment_period`` on (outcome units) and post/pre ratio.
    effect : float
        Mean post-period gap (outcome units).
    placebo_stats : DataFrame
        Per donor treated as a placebo: ``unit``, ``pre_rmspe``, ``post_rmspe``, ``ratio``.
    placebo_gaps : DataFrame
        Long table ``unit``, ``tname``, ``gap`` of the placebo gaps, for plotting.
    rank : int
        Rank of the treated unit's ratio among treated + placebos (1 = largest).
    p_value : float
        ``rank / (n_placebos + 1)``; NaN without placebos.
    dropped_donors : list
        Donors left out because of missing outcomes or predictors.
    params : dict
        Specification, including ``donor_rule`` (how the pool was chosen, in words) and
        ``n_donors`` (pool size).
    v : DataFrame
        ``predictor`` and ``weight``: the predictor weights (diagonal of V, sum to one) that
        apply to the predictors scaled by their standard deviation (as R ``Synth``'s
        ``solution.v``).
    predictor_balance : DataFrame
        ``predictor``, ``treated``, ``synthetic``, ``donor_mean``: the predictor values of
        the treated unit, of its synthetic control and the donors' mean (``Synth``'s
        ``tab.pred``).
    loss_v : float
        Mean squared prediction error of the outcome over ``time_optimize_ssr`` (``Synth``'s
        ``loss.v``).
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
    v: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["predictor", "weight"]))
    predictor_balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    loss_v: float = np.nan

    @property
    def placebo_ratios(self) -> pd.DataFrame:
        """Post/pre RMSPE ratios of the treated unit and every placebo: ``unit``, ``ratio``,
        ``rank`` (1 = largest) and ``treated`` (bool), largest first."""
        rows = pd.concat(
            [
                pd.DataFrame({"unit": [self.unit], "ratio": [self.ratio], "treated": [True]}),
                self.placebo_stats[["unit", "ratio"]].assign(treated=False),
            ],
            ignore_index=True,
        )
        rows = rows.sort_values(["ratio", "treated"], ascending=False, kind="stable")
        rows["rank"] = rows["ratio"].rank(ascending=False, method="max").astype(int)
        return rows.reset_index(drop=True)[["unit", "ratio", "rank", "treated"]]

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
        start = self.path.loc[self.path["post"], "period"]
        start = start.iloc[0] if len(start) else self.treatment_period
        lines = [
            f"Synthetic control for {self.unit} (treated from {start})",
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


Op = Literal["mean", "median", "sum", "min", "max"]
_OPS = {
    "mean": np.nanmean,
    "median": np.nanmedian,
    "sum": np.nansum,
    "min": np.nanmin,
    "max": np.nanmax,
}


def _period_value(value: Any, dtype: Any, name: str) -> int:
    """A period given by the user on the scale of :func:`period_numbers` of the time column."""
    if isinstance(value, bool):
        raise InputError(f"synth: '{name}' must be a period", column=name, found=value)
    if isinstance(value, int | np.integer) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    if isinstance(dtype, pd.PeriodDtype) and not str(dtype.freq.freqstr).startswith("Q"):
        try:
            return int(pd.Period(value, freq=dtype.freq).ordinal)
        except (ValueError, TypeError) as exc:
            raise InputError(f"synth: '{name}' is not a period", column=name, found=value) from exc
    try:
        return quarter_index(parse_quarter(value))
    except ValueError as exc:
        raise InputError(
            f"synth: '{name}' must be a period number or a quarter", column=name, found=value
        ) from exc


def _periods(value: Any, dtype: Any, name: str) -> list[int]:
    """A set of periods: one period, a list/range of periods, or a ``(first, last)`` pair."""
    if isinstance(value, range):
        return list(value)
    if isinstance(value, tuple) and len(value) == 2:
        lo, hi = (_period_value(v, dtype, name) for v in value)
        if hi < lo:
            raise InputError(f"synth: '{name}' runs backwards", column=name, found=value)
        return list(range(lo, hi + 1))
    if isinstance(value, list | np.ndarray | pd.Index):
        return [_period_value(v, dtype, name) for v in value]
    return [_period_value(value, dtype, name)]


def _scaled(X: np.ndarray) -> np.ndarray:
    # R Synth: each predictor divided by its standard deviation over all units of the run
    sd = X.std(axis=1, ddof=1, keepdims=True)
    sd[~(sd > 0)] = 1.0
    return X / sd


def _weights_for_v(Xs: np.ndarray, target: int, pool: np.ndarray, v: np.ndarray) -> np.ndarray:
    r = np.sqrt(v)[:, None]
    return simplex_least_squares(r * Xs[:, pool], r[:, 0] * Xs[:, target])


def _fit_one(
    X: np.ndarray,
    Z: np.ndarray,
    target: int,
    pool: np.ndarray,
    v_spec: Any,
) -> tuple[np.ndarray, np.ndarray, float]:
    """W, V and the outcome MSPE over the optimisation periods for one treated unit."""
    units = np.append(target, pool)
    Xs = _scaled(X[:, units])
    k = Xs.shape[0]
    t_idx, p_idx = 0, np.arange(1, len(units))
    z1, Z0 = Z[:, target], Z[:, pool]

    def loss(v: np.ndarray) -> float:
        w = _weights_for_v(Xs, t_idx, p_idx, v)
        return float(np.mean((z1 - Z0 @ w) ** 2))

    if isinstance(v_spec, str) and v_spec == "optimize" and k > 1:

        def objective(par: np.ndarray) -> float:
            a = np.abs(par)
            total = a.sum()
            return loss(a / total) if total > 0 else np.inf

        starts = [np.full(k, 1.0 / k)]
        scale = max(float(np.mean(z1**2)), 1e-300)  # tolerances relative to the outcome
        # Synth's second start: the regression-based V (diagonal of B B', B the coefficients
        # of the optimisation-period outcomes on the scaled predictors)
        design = np.column_stack([np.ones(len(units)), Xs.T])
        beta, *_ = np.linalg.lstsq(design, Z[:, units].T, rcond=None)
        sv2 = np.sum(beta[1:] ** 2, axis=1)
        if np.isfinite(sv2).all() and sv2.sum() > 0:
            starts.append(sv2 / sv2.sum())
        best = None
        for x0 in starts:
            res = minimize(
                objective,
                x0,
                method="Nelder-Mead",
                options={"maxiter": 200 * k, "xatol": 1e-4, "fatol": 1e-8 * scale},
            )
            # one restart from the optimum: Nelder-Mead often stalls on this piecewise
            # smooth loss
            res = minimize(
                objective,
                np.abs(res.x) / np.abs(res.x).sum(),
                method="Nelder-Mead",
                options={"maxiter": 200 * k, "xatol": 1e-5, "fatol": 1e-9 * scale},
            )
            if best is None or res.fun < best.fun:
                best = res
        v = np.abs(best.x) / np.abs(best.x).sum()
    elif isinstance(v_spec, str) and v_spec in ("optimize", "equal"):
        v = np.full(k, 1.0 / k)
    else:
        v = np.asarray(v_spec, dtype=float)
        v = v / v.sum()
    w = _weights_for_v(Xs, t_idx, p_idx, v)
    return w, v, loss(v)


def synth(
    data: pd.DataFrame,
    treated: Any,
    *,
    yname: str | None = None,
    idname: str | None = None,
    tname: str | None = None,
    treatment_period: Any = None,
    gname: str | None = None,
    donors: Sequence[Any] | Literal["all", "auto"] = "all",
    predictors: Sequence[str] = (),
    predictors_op: Op = "mean",
    time_predictors_prior: Any = None,
    special_predictors: Sequence[tuple[str, Any, Op]] = (),
    time_optimize_ssr: Any = None,
    v: Literal["optimize", "equal"] | Sequence[float] = "optimize",
    placebo: bool = True,
    **kvk: Any,
) -> SynthResult:
    """Synthetic control of one treated unit (R ``Synth``'s ``dataprep`` + ``synth``).

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    treated
        Id (``idname`` value) of the treated unit (``treatment.identifier``).
    yname, idname, tname
        Outcome (``dependent``), unit id (``unit.variable``) and period (``time.variable``):
        whole numbers (e.g. years or the project's quarter index) or a pandas ``Period``
        column; dates are refused.
    treatment_period
        First treated period (e.g. 1989 for Proposition 99, or ``"2007Q1"``); default the
        unit's ``gname``.
    gname
        Optional first-treated-period column (0 or ``inf`` = never treated); then
        ``donors="all"`` means the never-treated units, and it must be constant within units.
    donors
        ``"all"`` (every other unit, or every never-treated unit when ``gname`` is given) or
        a list of ids (``controls.identifier``).  Donors with a missing outcome in a period of
        the fit or the plot, or a missing predictor, are left out (``dropped_donors``).
    predictors, predictors_op, time_predictors_prior
        Columns averaged (``predictors_op``: mean, median, sum, min or max, missing values
        ignored, as ``dataprep``) over ``time_predictors_prior`` (a ``(first, last)`` pair, a
        list or one period; default every period before ``treatment_period``).
    special_predictors
        ``(column, periods, op)`` triples (``special.predictors``), e.g.
        ``("cigsale", 1975, "mean")`` or ``("beer", (1984, 1988), "mean")``.  Without any
        predictor the outcome in every period of ``time_optimize_ssr`` is one.
    time_optimize_ssr
        Periods over which the outcome fit is judged when V is optimised (default every period
        before ``treatment_period``).
    v
        ``"optimize"`` (default): nested optimisation of the predictor weights, as ``Synth``;
        ``"equal"``: equal weights on the scaled predictors; or a custom V (``custom.v``) with
        one nonnegative weight per predictor (``predictors`` first, then
        ``special_predictors``).
    placebo
        Run the in-space placebos (each donor as if treated; donor pool: the other donors).
    **kvk
        Compatibility: called as ``synth(panel, kommunenummer, ...)`` without ``yname``,
        ``idname`` and ``tname`` (the call of earlier versions), the KVK layer
        :func:`synth_municipality` runs with the remaining arguments (a
        ``PendingDeprecationWarning``); call it directly instead.

    Returns
    -------
    SynthResult
        Paths, weights W, V, predictor balance, RMSPEs, placebo ratios, rank and p-value.

    Raises
    ------
    InputError
        Missing columns, unknown unit or donors, duplicate rows, a cohort changing within a
        unit, fractional periods, dates, missing outcomes or predictors of the treated unit.
    EstimationError
        Fewer than two pre-periods or donors, or no post-period.
    """
    what = "synth"
    if yname is None and idname is None and tname is None:
        import warnings

        warnings.warn(
            "synth(panel, unit) without yname/idname/tname runs the KVK municipality layer; "
            "call synth_municipality(panel, unit, ...) instead",
            PendingDeprecationWarning,
            stacklevel=2,
        )
        legacy = dict(kvk)
        if treatment_period is not None:
            legacy["treatment_period"] = treatment_period
        if predictors:
            legacy["predictors"] = predictors
        # the earlier default pool was the KVK one
        pool_arg = "auto" if isinstance(donors, str) and donors == "all" else donors
        return synth_municipality(data, treated, donors=pool_arg, placebo=placebo, **legacy)
    if kvk or None in (yname, idname, tname) or donors == "auto":
        raise InputError(
            f"{what}: give yname, idname and tname; donors 'auto' and the arguments "
            f"{sorted(kvk)} belong to synth_municipality",
            expected="yname, idname, tname",
            found={"yname": yname, "idname": idname, "tname": tname, **kvk},
        )
    special = [tuple(sp) for sp in special_predictors]
    for sp in special:
        if len(sp) != 3 or sp[2] not in _OPS:
            raise InputError(
                f"{what}: special predictors are (column, periods, op) triples",
                column="special_predictors",
                expected=f"op one of {sorted(_OPS)}",
                found=sp,
            )
    if predictors_op not in _OPS:
        raise InputError(
            f"{what}: unknown predictors_op",
            column="predictors_op",
            expected=sorted(_OPS),
            found=predictors_op,
        )
    require_columns(
        data, [yname, idname, tname, gname, *predictors, *(sp[0] for sp in special)], what
    )
    require_unit_period_unique(data, idname, tname, what)
    ids = data[idname]
    if not (ids == treated).any():
        raise InputError(
            f"{what}: unit {treated!r} is not in the panel", column=idname, found=treated
        )
    tdtype = data[tname].dtype
    if gname is not None:
        t, gvals = unit_cohorts(data, idname, tname, gname, what)
    else:
        t = period_numbers(data, tname, what)
        gvals = None
    if treatment_period is None:
        if gvals is None:
            raise InputError(
                f"{what}: give treatment_period (or a gname column)",
                column="treatment_period",
                expected="the first treated period",
                found=None,
            )
        g = gvals[(ids == treated).to_numpy()][0]
        if not np.isfinite(g) or g == 0:
            raise InputError(
                f"{what}: unit {treated!r} has no first treated period; pass treatment_period",
                column=gname,
                found=g,
            )
        g = int(g)
    else:
        g = _period_value(treatment_period, tdtype, "treatment_period")
    t = t.astype("int64")
    wide = pd.DataFrame({"id": ids.to_numpy(), "t": t, "y": require_numeric(data, yname, what)})
    wide = wide.pivot(index="id", columns="t", values="y")
    periods = wide.columns.to_numpy()
    label_of = {
        int(k): (int(val) if isinstance(val, float) and val.is_integer() else val)
        for k, val in zip(t, data[tname], strict=True)
    }
    pre = periods < g
    if pre.sum() < 2:
        raise EstimationError(f"{what}: fewer than two pre-periods before {label_of.get(g, g)}")
    if (~pre).sum() == 0:
        raise EstimationError(f"{what}: no period from {treatment_period or g} on in the panel")
    pre_periods = periods[pre].tolist()
    opt = (
        pre_periods
        if time_optimize_ssr is None
        else _periods(time_optimize_ssr, tdtype, "time_optimize_ssr")
    )
    prior = (
        pre_periods
        if time_predictors_prior is None
        else _periods(time_predictors_prior, tdtype, "time_predictors_prior")
    )
    for name, ps in (("time_optimize_ssr", opt), ("time_predictors_prior", prior)):
        missing = [p for p in ps if p not in wide.columns]
        if missing or not ps:
            raise InputError(
                f"{what}: periods of {name} not in the panel",
                column=name,
                expected="periods of the panel",
                found=missing[:5] or ps,
            )

    # donor pool
    rule = "as given"
    if isinstance(donors, str):
        if donors != "all":
            raise InputError(
                f"{what}: donors must be 'all' or a list of ids", column="donors", found=donors
            )
        if gvals is not None:
            gu = pd.Series(gvals, index=ids.to_numpy()).groupby(level=0).first()
            pool = gu.index[(gu == 0).to_numpy()].tolist()
            rule = "all never-treated units"
        else:
            pool = wide.index.tolist()
            rule = "all other units"
    else:
        pool = list(donors)
        unknown = [d for d in pool if d not in wide.index]
        if unknown:
            raise InputError(f"{what}: donors not in the panel", column=idname, found=unknown[:5])
    pool = [d for d in pool if d != treated]

    # predictor matrix X (rows: predictors; columns: units) and outcome matrix Z
    rows, names = [], []
    ids_arr = ids.to_numpy()
    cache: dict[str, pd.DataFrame] = {yname: wide}

    def by_period(col: str) -> pd.DataFrame:
        if col not in cache:
            frame = pd.DataFrame({"id": ids_arr, "t": t, "v": require_numeric(data, col, what)})
            cache[col] = frame.pivot(index="id", columns="t", values="v").reindex(
                index=wide.index, columns=periods
            )
        return cache[col]

    def aggregate(col: str, ps: list[int], op: str) -> np.ndarray:
        unknown = [p for p in ps if p not in wide.columns]
        if unknown:
            raise InputError(
                f"{what}: predictor periods not in the panel",
                column=col,
                expected="periods of the panel",
                found=unknown[:5],
            )
        block = by_period(col)[ps].to_numpy(float)
        out = np.full(len(block), np.nan)
        some = np.isfinite(block).any(axis=1)  # missing values ignored, as dataprep's na.rm
        out[some] = _OPS[op](block[some], axis=1)
        return out

    for c in predictors:
        rows.append(aggregate(c, prior, predictors_op))
        names.append(c if predictors_op == "mean" else f"{c} ({predictors_op})")
    for col, ps, op in special:
        ps_ = _periods(ps, tdtype, "special_predictors")
        rows.append(aggregate(col, ps_, op))
        first, last = label_of.get(ps_[0], ps_[0]), label_of.get(ps_[-1], ps_[-1])
        names.append(f"{col} ({op} {first}-{last})" if len(ps_) > 1 else f"{col} {first}")
    if not rows:
        for p in opt:
            rows.append(wide[p].to_numpy(float))
            names.append(f"{yname} {label_of.get(p, p)}")
    X_all = pd.DataFrame(np.vstack(rows).T, index=wide.index, columns=names)
    if not isinstance(v, str):
        if len(np.asarray(v, dtype=float)) != len(names) or np.any(np.asarray(v, float) < 0):
            raise InputError(
                f"{what}: custom v needs one nonnegative weight per predictor",
                column="v",
                expected=len(names),
                found=list(v),
            )
    elif v not in ("optimize", "equal"):
        raise InputError(f"{what}: v must be 'optimize', 'equal' or weights", found=v)
    bad_treated = [n for n in names if not np.isfinite(X_all.loc[treated, n])]
    y1 = wide.loc[treated].to_numpy(float)
    if not np.isfinite(y1).all():
        raise InputError(
            f"{what}: the treated unit has missing outcomes",
            column=yname,
            expected="an outcome in every period",
            found=[str(label_of.get(p, p)) for p in periods[~np.isfinite(y1)]],
        )
    if bad_treated:
        raise InputError(
            f"{what}: the treated unit has no value for predictor(s)",
            column=bad_treated[0],
            expected="a value in the predictor periods",
            found=bad_treated,
        )
    complete = np.isfinite(wide.loc[pool].to_numpy(float)).all(axis=1) & np.isfinite(
        X_all.loc[pool].to_numpy(float)
    ).all(axis=1)
    dropped = [d for d, ok in zip(pool, complete, strict=True) if not ok]
    pool = [d for d, ok in zip(pool, complete, strict=True) if ok]
    if len(pool) < 2:
        raise EstimationError(f"{what}: fewer than two donors with complete outcomes")
    units = [treated, *pool]
    X = X_all.loc[units].to_numpy(float).T  # predictors x units
    Y = wide.loc[units].to_numpy(float)  # units x periods; row 0 = treated
    opt_cols = np.searchsorted(periods, opt)
    Z = Y[:, opt_cols].T  # opt periods x units

    idx = np.arange(1, len(units))
    w, vv, loss_v = _fit_one(X, Z, 0, idx, v)
    gap = Y[0] - w @ Y[idx]
    pre_r, post_r = _rmspe(gap, pre)
    stats_rows, gaps = [], []
    if placebo:
        for j in idx:
            wj, _, _ = _fit_one(X, Z, j, idx[idx != j], v)
            gj = Y[j] - wj @ Y[idx[idx != j]]
            pr, po = _rmspe(gj, pre)
            stats_rows.append((units[j], pr, po, _ratio(po, pr)))
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
    path = pd.DataFrame(
        {
            "tname": periods,
            "period": [label_of[p] for p in periods],
            "actual": Y[0],
            "synthetic": Y[0] - gap,
            "gap": gap,
            "post": ~pre,
        }
    )
    weights = (
        pd.DataFrame({"unit": pool, "weight": w})
        .sort_values("weight", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    balance = pd.DataFrame(
        {
            "predictor": names,
            "treated": X[:, 0],
            "synthetic": X[:, 1:] @ w,
            "donor_mean": X[:, 1:].mean(axis=1),
        }
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
            "predictors_op": predictors_op,
            "special_predictors": special,
            "v": v if isinstance(v, str) else "custom",
            "donors": donors if isinstance(donors, str) else "list",
            "donor_rule": rule,
            "n_donors": len(pool),
            "n_pre_periods": int(pre.sum()),
        },
        v=pd.DataFrame({"predictor": names, "weight": vv}),
        predictor_balance=balance,
        loss_v=loss_v,
    )


def synth_municipality(
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
    v: Literal["fixed", "optimize"] = "fixed",
    placebo: bool = True,
) -> SynthResult:
    """Synthetic control of one KVK municipality: the project's donor pool and specification
    on top of :func:`synth` (reasons in the module docstring).

    Parameters
    ----------
    panel
        Analysis panel for one sector and measure (one row per unit and period).
    treated
        ``kommunenummer`` of the municipality to evaluate.
    yname, idname, tname, gname
        Outcome (``rate`` in percent, so gaps are percentage points), unit id, quarter index
        (or ``Period[Q]`` column), first treated quarter (0 or ``inf`` = never treated).
    treatment_period
        First treated quarter (index or e.g. ``"2007Q1"``); default the unit's ``gname``.
    donors
        ``"auto"`` (default): comparable never-participants chosen by
        :func:`select_donors` (same size group if it has ``min_group`` units, then the
        ``n_donors`` nearest by pre-period path and log population); ``"all"``: every
        never-participant; or a list of ids.  Donors with a missing outcome are left out
        (``dropped_donors``).  Placebos run within the pool.
    n_donors, min_group, size_name, pop_name
        Pool size, smallest usable size group and the columns ``donors="auto"`` uses (each
        step skipped when the panel lacks the column).
    pre_start
        First quarter of the fitting period (default the first in the panel).
    predictors
        Unit-level columns (e.g. ``log_pop``) fitted besides the pre-period outcomes.
    predictor_weight
        Weight of each of them relative to one pre-period quarter (``v="fixed"``).
    v
        ``"fixed"`` (default): every pre-period quarter's outcome is a predictor weighted by
        its cross-unit variance (the least-squares fit of the outcome path) and each unit-level
        predictor counts as ``predictor_weight`` quarters; ``"optimize"``: nested search as
        :func:`synth` (about 100 times slower with placebos).
    placebo
        Run the in-space placebos.

    Returns
    -------
    SynthResult
        As :func:`synth`; ``path["period"]`` holds pandas ``Period[Q]``.
    """
    what = "synth"
    require_columns(panel, [yname, idname, tname, gname, *predictors], what)
    require_unit_period_unique(panel, idname, tname, what)
    ids = panel[idname]
    if not (ids == treated).any():
        raise InputError(
            f"{what}: unit {treated!r} is not in the panel", column=idname, found=treated
        )
    t, gvals = unit_cohorts(panel, idname, tname, gname, what)
    if treatment_period is None:
        g = gvals[(ids == treated).to_numpy()][0]
        if not np.isfinite(g) or g == 0:
            raise InputError(
                f"{what}: unit {treated!r} has no first treated period; pass treatment_period",
                column=gname,
                found=g,
            )
        g = int(g)
    else:
        g = _to_index(treatment_period, "treatment_period")
    if v not in ("fixed", "optimize"):
        raise InputError(f"{what}: v must be 'fixed' or 'optimize'", column="v", found=v)
    t = t.astype("int64")
    df = pd.DataFrame({"id": ids.to_numpy(), "t": t, "y": require_numeric(panel, yname, what)})
    for c in predictors:
        df[c] = require_numeric(panel, c, what)
    if pre_start is not None:
        df = df[df["t"] >= _to_index(pre_start, "pre_start")]
    wide = df.pivot(index="id", columns="t", values="y")
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
        gu = pd.Series(gvals, index=ids.to_numpy()).groupby(level=0).first()
        pool = gu.index[(gu == 0).to_numpy()].tolist()
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
    sub = df[df["id"].isin([treated, *pool])].copy()
    sub["tname"] = sub["t"]
    pre_q = periods[pre].tolist()
    special = [("y", [p], "mean") for p in pre_q]
    if v == "fixed":
        # synth() scales every predictor by its standard deviation over the units of the
        # run; weighting each quarter by its variance undoes that, so W is the plain
        # least-squares fit of the outcome path (plus predictors counting as
        # predictor_weight quarters of average variance)
        F = wide.loc[[treated, *pool], pre].to_numpy(float)
        var_q = F.var(axis=0, ddof=1)
        sd_y = float(np.mean(np.sqrt(var_q)))
        v_spec: Any = [*(predictor_weight * sd_y**2 for _ in predictors), *var_q]
        if not np.sum(v_spec) > 0:
            v_spec = "equal"
    else:
        v_spec = "optimize"
    res = synth(
        sub,
        treated,
        yname="y",
        idname="id",
        tname="tname",
        treatment_period=g,
        donors=pool,
        predictors=list(predictors),
        predictors_op="mean",
        time_predictors_prior=pre_q,
        special_predictors=special,
        time_optimize_ssr=pre_q,
        v=v_spec,
        placebo=placebo,
    )
    path = res.path.assign(
        period=pd.PeriodIndex([index_to_quarter(p) for p in res.path["tname"]], freq="Q")
    )
    names = [*predictors, *(f"{yname} {index_to_quarter(p)}" for p in pre_q)]
    params = {
        **res.params,
        "yname": yname,
        "idname": idname,
        "tname": tname,
        "gname": gname,
        "predictors": list(predictors),
        "predictor_weight": predictor_weight,
        "special_predictors": [(yname, index_to_quarter(p), "mean") for p in pre_q],
        "v": v,
        "donors": donors if isinstance(donors, str) else "list",
        "donor_rule": rule,
        "n_donors": len(pool),
    }
    return SynthResult(
        unit=res.unit,
        treatment_period=res.treatment_period,
        path=path,
        weights=res.weights,
        pre_rmspe=res.pre_rmspe,
        post_rmspe=res.post_rmspe,
        ratio=res.ratio,
        effect=res.effect,
        placebo_stats=res.placebo_stats,
        placebo_gaps=res.placebo_gaps,
        rank=res.rank,
        p_value=res.p_value,
        dropped_donors=dropped,
        params=params,
        v=res.v.assign(predictor=names),
        predictor_balance=res.predictor_balance.assign(predictor=names),
        loss_v=res.loss_v,
    )


def _to_index(value: int | str | pd.Period, name: str) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        return quarter_index(parse_quarter(value))
    except ValueError as exc:
        raise InputError(f"'{name}' must be a quarter index or a quarter", found=value) from exc


def _rmspe(gap: np.ndarray, pre: np.ndarray) -> tuple[float, float]:
    return float(np.sqrt(np.mean(gap[pre] ** 2))), float(np.sqrt(np.mean(gap[~pre] ** 2)))


def _ratio(post: float, pre: float) -> float:
    # a perfect pre-period fit gives an infinite ratio (ranks first)
    return post / pre if pre > 0 else np.inf
