"""Two-way fixed effects DiD (static and event study) and the forbidden-comparison diagnostic.

The regressions use :mod:`pyfixest` (fixed effects absorbed by alternating projections,
cluster-robust CRV1 standard errors by municipality).  pyfixest 0.60 works with pandas 3 and
numpy 2 and is ~100x faster than dummy-variable OLS in statsmodels for 430 units.

The diagnostic (:func:`bacon_decomposition`) is hand-written: no maintained Python package
implements the Goodman-Bacon (2021) decomposition.  It splits the static TWFE coefficient of a
balanced staggered panel into 2x2 DiD comparisons (treated vs never treated, earlier vs later
treated, later vs earlier *already treated*), whose weights sum to one and whose weighted sum
equals the TWFE coefficient exactly; it also reports the de Chaisemartin-D'Haultfoeuille
(2020) weights that TWFE puts on each treated cohort x period cell and the share that is
negative.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from kvk_analysis.did.results import TIDY_COLUMNS
from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation._common import (
    check_alpha,
    int_col,
    require_columns,
    require_numeric,
    require_unit_period_unique,
    unit_cohorts,
)

Seasonality = Literal["period", "unit"]


@dataclass(frozen=True, eq=False)
class TWFEResult:
    """Result of :func:`twfe` (static) or :func:`event_study_twfe` (dynamic).

    Attributes
    ----------
    kind : str
        ``"static"`` or ``"dynamic"``.
    event_time : ndarray of int
        Event times of the dynamic coefficients (empty for static); the reference period is
        included with estimate 0 and NaN standard error.
    estimate, std_error, p_value, conf_low, conf_high : ndarray
        Coefficients (outcome units, percentage points for ``rate``), CRV1 standard errors
        clustered by ``cluster``, t-based p-values and pointwise intervals.
    vcov : ndarray
        Covariance of the estimated coefficients (reference period excluded).
    n_obs, n_units, n_clusters : int
        Sample sizes.
    params : dict
        Full specification.
    """

    kind: str
    event_time: np.ndarray
    estimate: np.ndarray
    std_error: np.ndarray
    p_value: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_units: int
    n_clusters: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> float:
        """The static coefficient (``kind == "static"``) in outcome units."""
        if self.kind != "static":
            raise EstimationError("overall is only defined for the static TWFE coefficient")
        return float(self.estimate[0])

    def tidy(self) -> pd.DataFrame:
        """Shared tidy schema: ``term`` is ``"post"`` (static) or ``"dynamic"`` (per event time)."""
        k = len(self.estimate)
        dynamic = self.kind == "dynamic"
        return pd.DataFrame(
            {
                "term": ["dynamic" if dynamic else "post"] * k,
                "group": int_col(None, k),
                "time": int_col(None, k),
                "event_time": int_col(self.event_time if dynamic else None, k),
                "estimate": self.estimate,
                "std_error": self.std_error,
                "p_value": self.p_value,
                "conf_low": self.conf_low,
                "conf_high": self.conf_high,
                "band": ["pointwise"] * k,
            },
            columns=TIDY_COLUMNS,
        )

    def summary(self) -> str:
        """Plain-text summary of the specification and the estimates."""
        p = self.params
        title = "Static TWFE DiD" if self.kind == "static" else "Dynamic (event-study) TWFE"
        lines = [
            f"{title}: {p['yname']} on treatment with {p['fixed_effects']} fixed effects",
            f"Units: {self.n_units}; observations: {self.n_obs}; SE clustered by "
            f"{p['cluster']} ({self.n_clusters} clusters); weights: {p['weightsname'] or 'none'}",
            "",
            self.tidy()
            .drop(columns=["group", "time"])
            .to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines)


def _prepare(
    panel: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    weightsname: str | None,
    cluster: str | None,
    what: str,
) -> pd.DataFrame:
    require_columns(panel, [yname, tname, idname, gname, weightsname, cluster], what)
    require_unit_period_unique(panel, idname, tname, what)
    t, g = unit_cohorts(panel, idname, tname, gname, what)
    df = pd.DataFrame(
        {
            "_id": pd.factorize(panel[idname])[0],
            "_t": t,
            "_g": g,
            "_y": require_numeric(panel, yname, what),
            "_w": 1.0 if weightsname is None else require_numeric(panel, weightsname, what),
            "_cl": pd.factorize(panel[cluster or idname])[0],
        }
    )
    unknown = df["_g"].isna()
    if unknown.any():
        n = df.loc[unknown, "_id"].nunique()
        warnings.warn(
            f"{what}: {n} unit(s) with unknown cohort ({gname} missing) are left out",
            stacklevel=3,
        )
    df = df[~unknown & df["_y"].notna() & df["_w"].notna() & (df["_w"] > 0)]
    if (df["_g"] == 0).sum() == 0 and df["_g"].nunique() < 2:
        raise EstimationError(
            f"{what}: all units join at the same time and none is never treated; the period "
            "effects cannot be separated from the treatment effect"
        )
    if not (df["_g"] > 0).any():
        raise EstimationError(f"{what}: no treated units ({gname} > 0)")
    df["_q"] = (df["_t"].astype("int64") % 4).astype("int64")
    df["_t"] = df["_t"].astype("int64")
    return df


def _fe_formula(seasonality: Seasonality) -> str:
    if seasonality == "period":
        return "_id + _t"
    if seasonality == "unit":
        return "_id^_q + _t"
    raise InputError("unknown seasonality option", expected="'period' or 'unit'", found=seasonality)


def _fit(df: pd.DataFrame, rhs: str, seasonality: Seasonality, weighted: bool) -> Any:
    import pyfixest as pf  # heavy import, kept local

    with warnings.catch_warnings():
        # collinearity notes (turned into EstimationError by _result) and pandas deprecation
        # notices raised inside pyfixest
        warnings.simplefilter("ignore", UserWarning)
        warnings.filterwarnings("ignore", module=r"pyfixest")
        return pf.feols(
            f"_y ~ {rhs} | {_fe_formula(seasonality)}",
            data=df,
            vcov={"CRV1": "_cl"},
            weights="_w" if weighted else None,
            # tight tolerance so that the Goodman-Bacon identity holds to 1e-8
            demeaner=pf.MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000),
        )


def twfe(
    panel: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    weightsname: str | None = None,
    seasonality: Seasonality = "period",
    anticipation: int = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> TWFEResult:
    """Static two-way fixed effects DiD: ``y ~ post | unit + period``.

    Parameters
    ----------
    panel
        Analysis panel restricted to one sector and measure (one row per unit and period).
    yname
        Outcome; ``rate`` in percent, so the coefficient is in percentage points.
    tname, idname, gname
        Integer period (quarter index), unit id, first treated period (0 = never treated;
        units with a missing cohort are left out with a warning).
    weightsname
        Optional regression weights (e.g. ``"contracted_days"``); default unweighted.
    seasonality
        ``"period"``: unit and period fixed effects (quarter-of-year effects common to all
        units are absorbed by the period effects).  ``"unit"``: unit x quarter-of-year fixed
        effects plus period effects (each municipality its own seasonal pattern).
    anticipation
        Treatment starts this many quarters before ``gname``.
    cluster
        Cluster variable for the CRV1 standard errors (default ``idname``).
    alpha
        1 - confidence level.

    Returns
    -------
    TWFEResult
        ``kind == "static"``, one coefficient ``post`` (percentage points).
    """
    check_alpha(alpha)
    df = _prepare(panel, yname, tname, idname, gname, weightsname, cluster, "twfe")
    df["_post"] = ((df["_g"] > 0) & (df["_t"] >= df["_g"] - anticipation)).astype(float)
    fit = _fit(df, "_post", seasonality, weightsname is not None)
    return _result(fit, "static", np.array([], dtype=int), ["_post"], df, alpha, locals())


def event_study_twfe(
    panel: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    weightsname: str | None = None,
    seasonality: Seasonality = "period",
    min_e: int | None = None,
    max_e: int | None = None,
    ref: int = -1,
    bin_endpoints: bool = True,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> TWFEResult:
    """Dynamic (event-study) TWFE: ``y ~ sum_e 1[t - g = e] | unit + period``, ``e != ref``.

    Parameters
    ----------
    panel, yname, tname, idname, gname, weightsname, seasonality, cluster, alpha
        As in :func:`twfe`.
    min_e, max_e
        Event-time window (quarters since joining); default the full observed range.
    ref
        Reference event time normalised to zero (default -1, the quarter before joining).
    bin_endpoints
        Bin event times outside the window into the end points (``True``) or drop those
        observations of treated units (``False``).

    Returns
    -------
    TWFEResult
        ``kind == "dynamic"``; one coefficient per event time (percentage points), the
        reference period included with estimate 0.
    """
    check_alpha(alpha)
    df = _prepare(panel, yname, tname, idname, gname, weightsname, cluster, "event_study_twfe")
    treated = df["_g"] > 0
    e = (df["_t"] - df["_g"]).where(treated)
    lo = int(e.min()) if min_e is None else int(min_e)
    hi = int(e.max()) if max_e is None else int(max_e)
    if not lo <= ref <= hi or lo == hi:
        raise InputError(
            "event_study_twfe: the window must contain the reference period and more",
            expected=f"min_e <= {ref} <= max_e",
            found=(lo, hi),
        )
    binned = bool(bin_endpoints and (e.min() < lo or e.max() > hi))
    if bin_endpoints:
        e = e.clip(lo, hi)
    else:
        df = df[~treated | ((e >= lo) & (e <= hi))]
        e = e.loc[df.index]
    times = [k for k in range(lo, hi + 1) if k != ref]
    names = []
    for k in times:
        name = f"_e{'m' if k < 0 else 'p'}{abs(k)}"
        df[name] = (e == k).astype(float).to_numpy()
        names.append(name)
    if seasonality == "unit" and not binned:
        raise EstimationError(
            "event_study_twfe: with seasonality='unit' (unit x quarter-of-year fixed effects) "
            "a full set of event-time dummies cannot be estimated: in each cohort the dummies "
            "of the event times that fall in one quarter of the year add up to that cohort's "
            "own seasonal effect, so only one quarter-of-year class (the reference period's) "
            "is identified, whatever the comparison units.  Bin the end points "
            "(bin_endpoints=True with min_e/max_e inside the observed event times, so that "
            "the end bins pool several quarters of the year) or use seasonality='period'"
        )
    fit = _fit(df, " + ".join(names), seasonality, weightsname is not None)
    res = _result(fit, "dynamic", np.array(times), names, df, alpha, locals())
    # put the reference period back (estimate 0, no standard error)
    order = np.argsort(np.append(res.event_time, ref), kind="stable")
    nan = np.array([np.nan])

    def add(a: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.append(a, v)[order]

    return TWFEResult(
        kind="dynamic",
        event_time=add(res.event_time, np.array([ref])),
        estimate=add(res.estimate, np.array([0.0])),
        std_error=add(res.std_error, nan),
        p_value=add(res.p_value, nan),
        conf_low=add(res.conf_low, np.array([0.0])),
        conf_high=add(res.conf_high, np.array([0.0])),
        vcov=res.vcov,
        n_obs=res.n_obs,
        n_units=res.n_units,
        n_clusters=res.n_clusters,
        params=res.params,
    )


def _result(
    fit: Any,
    kind: str,
    event_time: np.ndarray,
    names: list[str],
    df: pd.DataFrame,
    alpha: float,
    spec: dict[str, Any],
) -> TWFEResult:
    coef = fit.coef()
    missing = [n for n in names if n not in coef.index]
    if missing:
        advice = (
            "; with seasonality='unit' event-time dummies of one quarter of the year are "
            "collinear with each cohort's seasonal effects: bin wider end points or use "
            "seasonality='period'"
            if spec["seasonality"] == "unit"
            else "; narrow the event window or add never-treated units"
        )
        raise EstimationError(
            "TWFE: coefficient(s) not identified (collinear with the fixed effects): "
            + ", ".join(missing)
            + advice
        )
    ci = fit.confint(alpha=alpha).loc[names]
    vcov = pd.DataFrame(fit._vcov, index=coef.index, columns=coef.index).loc[names, names]
    params = {
        k: spec[k]
        for k in (
            "yname",
            "tname",
            "idname",
            "gname",
            "weightsname",
            "seasonality",
            "alpha",
            "cluster",
        )
    }
    params["cluster"] = params["cluster"] or params["idname"]
    params["fixed_effects"] = (
        "unit and period"
        if spec["seasonality"] == "period"
        else "unit x quarter-of-year and period"
    )
    for k in ("anticipation", "min_e", "max_e", "ref", "bin_endpoints"):
        if k in spec:
            params[k] = spec[k]
    return TWFEResult(
        kind=kind,
        event_time=event_time,
        estimate=coef.loc[names].to_numpy(float),
        std_error=fit.se().loc[names].to_numpy(float),
        p_value=fit.pvalue().loc[names].to_numpy(float),
        conf_low=ci.iloc[:, 0].to_numpy(float),
        conf_high=ci.iloc[:, 1].to_numpy(float),
        vcov=vcov.to_numpy(float),
        n_obs=int(fit._N),
        n_units=int(df["_id"].nunique()),
        n_clusters=int(df["_cl"].nunique()),
        params=params,
    )


# ----------------------------------------------------------------------------------------
# Goodman-Bacon decomposition and negative weights
# ----------------------------------------------------------------------------------------

COMPARISON_TYPES = {
    "treated_vs_never": "Treated vs never treated",
    "earlier_vs_later": "Earlier vs later treated (later not yet treated)",
    "later_vs_earlier": "Later vs earlier treated (already-treated controls)",
    "later_vs_always": "Later treated vs always treated (treated from the first period)",
}


@dataclass(frozen=True, eq=False)
class BaconResult:
    """Goodman-Bacon decomposition of the static TWFE coefficient.

    Attributes
    ----------
    components : DataFrame
        One row per 2x2 comparison: ``type`` (``treated_vs_never``, ``earlier_vs_later``,
        ``later_vs_earlier``, ``later_vs_always``), ``treated`` and ``control`` (first treated
        period; 0 = never, the first period of the panel = always treated),
        ``estimate`` (the 2x2 DiD, outcome units) and ``weight`` (sums to one).
    twfe_estimate : float
        The TWFE coefficient (unweighted, unit and period fixed effects).
    weighted_sum : float
        ``sum(weight * estimate)``; equals ``twfe_estimate`` up to rounding.
    by_type : DataFrame
        Total weight and weighted average estimate per comparison type.
    cell_weights : DataFrame
        de Chaisemartin-D'Haultfoeuille weights on each treated (cohort, period) cell:
        ``group``, ``time``, ``weight`` (sum to one over treated cells).
    negative_weight_share : float
        Minus the sum of the negative cell weights (0 = none negative).
    forbidden_share : float
        Weight of the ``later_vs_earlier`` and ``later_vs_always`` comparisons.
    warning : str or None
        Plain-language warning when ``forbidden_share`` exceeds the threshold or some cell
        weights are negative.
    """

    components: pd.DataFrame
    twfe_estimate: float
    weighted_sum: float
    by_type: pd.DataFrame
    cell_weights: pd.DataFrame
    negative_weight_share: float
    forbidden_share: float
    warning: str | None
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """Plain-text summary: TWFE, the shares by comparison type and the warning."""
        lines = [
            f"Goodman-Bacon decomposition of the TWFE estimate {self.twfe_estimate:.4f}",
            self.by_type.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            f"Negative TWFE weights on treated cells: {self.negative_weight_share:.1%}",
        ]
        if self.warning:
            lines += ["", self.warning]
        return "\n".join(lines)


def bacon_decomposition(
    panel: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    threshold: float = 0.10,
) -> BaconResult:
    """Goodman-Bacon (2021) decomposition of the static TWFE DiD on a balanced panel.

    Parameters
    ----------
    panel
        Balanced panel (every unit observed in every period, no missing outcome), one sector.
    yname, tname, idname, gname
        As in :func:`twfe`; units whose cohort is missing are left out with a warning.
    threshold
        Share of weight on already-treated controls above which ``warning`` is set.

    Returns
    -------
    BaconResult
        Components with weights summing to one and ``sum(weight * estimate)`` equal to the
        unweighted TWFE coefficient (percentage points for ``rate``).

    Raises
    ------
    EstimationError
        Unbalanced panel, missing outcomes, or no treated cohort besides always-treated units.

    Notes
    -----
    Units treated from the first period on (always treated) are kept, as R ``bacondecomp``
    keeps them: they are the control group of ``later_vs_always`` comparisons (over the
    whole panel) and never a treated group; units first treated after the last period count
    as never treated.  ``inf`` in ``gname`` means never treated.
    """
    what = "bacon_decomposition"
    df = _prepare(panel, yname, tname, idname, gname, None, None, what)
    periods = np.sort(df["_t"].unique())
    units = np.sort(df["_id"].unique())
    n_t, n = len(periods), len(units)
    if len(df) != n_t * n:
        raise EstimationError(
            f"{what}: the decomposition needs a balanced panel without missing outcomes "
            f"({len(df)} rows for {n} units x {n_t} periods)"
        )
    wide = df.pivot(index="_id", columns="_t", values="_y").loc[units, periods].to_numpy()
    g_unit = df.groupby("_id")["_g"].first().loc[units].to_numpy()
    # units treated after the last period are never treated within the panel
    g_unit = np.where(g_unit > periods[-1], 0, g_unit)
    # always-treated units (treated from the first period on) are handled as R bacondecomp
    # does: they form one group that is never a treated group of a 2x2 comparison but is
    # the (already treated) control of every later cohort ("later_vs_always"), over the
    # whole panel; they enter TWFE the same way (their treatment is absorbed by the unit
    # effects), so the weights still sum to one and reproduce the TWFE coefficient
    always = (g_unit > 0) & (g_unit <= periods[0])
    g_unit = np.where(always, periods[0], g_unit)
    pos_of = {int(t): k for k, t in enumerate(periods)}
    cohorts = sorted(int(g) for g in np.unique(g_unit[(g_unit > 0) & ~always]))
    if len(cohorts) == 0:
        raise EstimationError(f"{what}: no treated units (other than always-treated ones)")
    first = int(periods[0])
    groups = [0, *cohorts] + ([first] if always.any() else [])
    share = {g: np.mean(g_unit == g) for g in groups}
    pos = {g: pos_of[g] if g in pos_of else int(np.searchsorted(periods, g)) for g in cohorts}
    dbar = {g: (n_t - pos[g]) / n_t for g in cohorts}
    mean_y = {g: wide[g_unit == g].mean(axis=0) for g in groups if share[g] > 0}

    # variance of the two-way demeaned treatment
    D = (g_unit[:, None] > 0) & (periods[None, :] >= g_unit[:, None])
    D = D.astype(float)
    Dt = D - D.mean(axis=1, keepdims=True) - D.mean(axis=0, keepdims=True) + D.mean()
    v_d = float(np.mean(Dt**2))

    def did(treat: int, control: int, lo: int, mid: int, hi: int) -> float:
        # 2x2 DiD over periods [lo, hi): pre [lo, mid), post [mid, hi)
        diff = mean_y[treat] - mean_y[control]
        return float(diff[mid:hi].mean() - diff[lo:mid].mean())

    def later_vs_earlier(k_share: float, l_share: float, dk: float, dl: float) -> float:
        nkl = k_share / (k_share + l_share)
        return ((k_share + l_share) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk)

    comps = []
    for k in cohorts:
        if share[0] > 0:
            nk, nu = share[k], share[0]
            nku = nk / (nk + nu)
            s = (nk + nu) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k]) / v_d
            comps.append(("treated_vs_never", k, 0, did(k, 0, 0, pos[k], n_t), s))
    for i, k in enumerate(cohorts):  # k earlier
        for l_ in cohorts[i + 1 :]:  # l later
            nk, nl = share[k], share[l_]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[l_]
            s_k = (
                ((nk + nl) * (1 - dl)) ** 2
                * nkl
                * (1 - nkl)
                * ((dk - dl) / (1 - dl))
                * ((1 - dk) / (1 - dl))
                / v_d
            )
            s_l = later_vs_earlier(nk, nl, dk, dl) / v_d
            comps.append(("earlier_vs_later", k, l_, did(k, l_, 0, pos[k], pos[l_]), s_k))
            comps.append(("later_vs_earlier", l_, k, did(l_, k, pos[k], pos[l_], n_t), s_l))
    if always.any():
        for l_ in cohorts:
            s_l = later_vs_earlier(share[first], share[l_], 1.0, dbar[l_]) / v_d
            comps.append(("later_vs_always", l_, first, did(l_, first, 0, pos[l_], n_t), s_l))
    components = pd.DataFrame(comps, columns=["type", "treated", "control", "estimate", "weight"])
    components[["treated", "control"]] = components[["treated", "control"]].astype("int64")

    twfe_fit = _fit(
        df.assign(
            _post=D[
                df["_id"].map(dict(zip(units, range(n), strict=True))),
                [pos_of[int(t)] for t in df["_t"]],
            ]
        ),
        "_post",
        "period",
        False,
    )
    beta = float(twfe_fit.coef()["_post"])
    weighted_sum = float(np.sum(components["weight"] * components["estimate"]))

    by_type = (
        components.assign(we=components["weight"] * components["estimate"])
        .groupby("type", sort=False)
        .agg(weight=("weight", "sum"), we=("we", "sum"), n_comparisons=("weight", "size"))
        .reset_index()
    )
    by_type["estimate"] = by_type["we"] / by_type["weight"]
    by_type["description"] = by_type["type"].map(COMPARISON_TYPES)
    by_type = by_type[["type", "description", "n_comparisons", "weight", "estimate"]]

    # de Chaisemartin-D'Haultfoeuille weights on treated cells
    treated_cells = D == 1
    w_cell = np.where(treated_cells, Dt, 0.0)
    w_cell = w_cell / w_cell.sum()
    cells = []
    for g in cohorts + ([first] if always.any() else []):
        rows = g_unit == g
        for p in range(pos.get(g, 0), n_t):
            cells.append((g, int(periods[p]), float(w_cell[rows, p].sum())))
    cell_weights = pd.DataFrame(cells, columns=["group", "time", "weight"])
    negative = float(-cell_weights.loc[cell_weights["weight"] < -1e-12, "weight"].sum()) + 0.0

    forbidden = float(
        components.loc[
            components["type"].isin(["later_vs_earlier", "later_vs_always"]), "weight"
        ].sum()
    )
    warning = _warning_text(forbidden, negative, threshold, beta, components)
    return BaconResult(
        components=components,
        twfe_estimate=beta,
        weighted_sum=weighted_sum,
        by_type=by_type,
        cell_weights=cell_weights,
        negative_weight_share=negative,
        forbidden_share=forbidden,
        warning=warning,
        params={
            "yname": yname,
            "tname": tname,
            "idname": idname,
            "gname": gname,
            "threshold": threshold,
        },
    )


def _warning_text(
    forbidden: float, negative: float, threshold: float, beta: float, comps: pd.DataFrame
) -> str | None:
    if forbidden <= threshold and negative <= 1e-12:
        return None
    clean = comps[~comps["type"].isin(["later_vs_earlier", "later_vs_always"])]
    clean_est = float(np.sum(clean["weight"] * clean["estimate"]) / clean["weight"].sum())
    text = (
        f"Warning: {forbidden:.0%} of the two-way fixed effects estimate ({beta:.3f}) rests on "
        "comparisons that use municipalities that had already joined the programme as the "
        "comparison group ('forbidden comparisons')."
    )
    if negative > 1e-12:
        text += (
            f" Some treated quarters enter with negative weight (together {negative:.0%} of the "
            "total weight)."
        )
    text += (
        " If the effect grows or shrinks over time these comparisons bias the estimate and can "
        f"even flip its sign. The clean comparisons alone average {clean_est:.3f}. Prefer the "
        "Callaway-Sant'Anna estimates (att_gt/aggte) for the programme effect."
    )
    return text
