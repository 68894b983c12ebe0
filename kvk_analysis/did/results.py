"""Result objects of :func:`~kvk_analysis.did.att_gt` and :func:`~kvk_analysis.did.aggte`.

Every result has ``.params`` (the full specification), ``.tidy()`` (the shared tidy schema
of ``docs/architecture.md``) and ``.summary()`` (plain text).  Plots and tables read only
``tidy()`` and ``params``.

Tidy schema
-----------
``term, group, time, event_time, estimate, std_error, p_value, conf_low, conf_high, band``

* ``term`` is ``"att_gt"`` for group-time effects; for aggregations it is ``"overall"`` for
  the summary row and the aggregation type (``"dynamic"``, ``"group"``, ``"calendar"``) for
  the disaggregated rows.
* ``group``/``time``/``event_time`` are nullable integers (``Int64``); columns that a row
  does not use are ``<NA>``.
* ``band`` says how ``conf_low``/``conf_high`` were made: ``"uniform"`` (simultaneous
  sup-t band from the multiplier bootstrap) or ``"pointwise"``.
* ``p_value`` is always pointwise (normal approximation with ``std_error``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special

TIDY_COLUMNS = [
    "term",
    "group",
    "time",
    "event_time",
    "estimate",
    "std_error",
    "p_value",
    "conf_low",
    "conf_high",
    "band",
]


@dataclass(frozen=True)
class DIDParams:
    """Full specification of an :func:`att_gt` run plus facts about the estimation sample.

    Attributes are the arguments of :func:`att_gt` (see there) and, derived from the data:
    ``n_units`` (units used), ``n_clusters`` (bootstrap clusters), ``tlist`` (periods),
    ``glist`` (cohorts), ``cohort_sizes`` (units per cohort, ``0`` = never treated),
    ``balanced`` (whether the panel used is balanced) and ``covariates`` (design columns).
    ``fix_weights`` (an :func:`att_gt` argument) comes last to keep positional order.
    """

    yname: str
    tname: str
    idname: str
    gname: str
    control_group: str = "nevertreated"
    anticipation: int = 0
    base_period: str = "varying"
    xformla: str | tuple[str, ...] | None = None
    est_method: str = "dr"
    weightsname: str | None = None
    bstrap: bool = True
    biters: int = 999
    cband: bool = True
    alp: float = 0.05
    clustervars: tuple[str, ...] = ()
    seed: int | None = None
    allow_unbalanced_panel: bool = False
    bootstrap_weights: str = "rademacher"
    # derived from the data
    n_units: int = 0
    n_clusters: int = 0
    tlist: tuple[int, ...] = ()
    glist: tuple[int, ...] = ()
    cohort_sizes: dict[int, int] = field(default_factory=dict)
    balanced: bool = True
    covariates: tuple[str, ...] = ()
    fix_weights: str | None = None


@dataclass(frozen=True)
class AggteParams:
    """Specification of an :func:`aggte` run; ``did`` holds the underlying :class:`DIDParams`."""

    type: str
    balance_e: int | None
    min_e: float
    max_e: float
    na_rm: bool
    bstrap: bool
    biters: int
    cband: bool
    alp: float
    did: DIDParams


class PretrendTest(NamedTuple):
    """Wald test that all pre-treatment ATT(g,t) are zero (R ``did``'s ``W``/``Wpval``).

    ``statistic`` is chi-square with ``df`` degrees of freedom; ``p_value`` its upper tail.
    """

    statistic: float
    df: int
    p_value: float


class Overall(NamedTuple):
    """Overall summary of an aggregation: estimate, standard error and pointwise CI.

    Units are those of the outcome (percentage points for ``rate``).
    """

    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    p_value: float


def _p_values(est: np.ndarray, se: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(est / se)
    return 2.0 * special.ndtr(-z)


def _int_col(values: object, n: int) -> pd.Series:
    if values is None:
        return pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    return pd.Series(pd.array(np.asarray(values, dtype="int64"), dtype="Int64"))


def _band_label(uniform: bool) -> str:
    return "uniform" if uniform else "pointwise"


def _method_text(p: DIDParams) -> str:
    names = {
        "dr": "doubly robust",
        "ipw": "inverse probability weighting",
        "reg": "outcome regression",
    }
    cov = ", ".join(p.covariates) if p.covariates else "none"
    return f"{names[p.est_method]} ({p.est_method}); covariates: {cov}"


@dataclass(frozen=True, eq=False)
class ATTgtResult:
    """Group-time average treatment effects ATT(g,t) with influence functions.

    Attributes
    ----------
    group, time : ndarray of int
        Cohort (first treated period) and period of each ATT(g,t).
    att : ndarray of float
        Point estimates, in units of the outcome.
    std_error : ndarray of float
        Standard errors (bootstrap when ``params.bstrap`` else analytic); NaN only where
        the estimate is fixed by construction (the reference period with
        ``base_period="universal"``).
    analytic_se : ndarray of float
        Analytic influence-function standard errors (always computed).
    critical_value : float
        Critical value for the confidence intervals (sup-t when ``uniform``).
    uniform : bool
        Whether the intervals are a simultaneous (uniform) band.
    influence : ndarray, shape (n_units, n_cells)
        Influence function of each ATT(g,t), scaled as in R ``did`` (variance =
        ``influence.T @ influence / n**2``).
    unit_ids, unit_group, unit_weight : ndarray
        Unit identifiers, their cohort (0 = never treated) and sampling weight, aligned with
        the rows of ``influence``.
    cluster_codes : ndarray of int
        Cluster index of each unit (``arange(n)`` when clustering by unit).
    pretrend_test : PretrendTest or None
        Joint Wald pre-test; ``None`` when there are no testable pre-periods.
    params : DIDParams
        Full specification.
    bootstrap_draws : ndarray, shape (biters, n_cells), or None
        Multiplier-bootstrap draws ``V @ influence / n`` (``None`` without ``bstrap``).
    bootstrap_weight_draws : ndarray, shape (biters, len(glist) + 1), or None
        The same draws of each cohort's weight sum ``sum_i V_i w_i 1[G_i = g] / n`` and of
        ``sum_i V_i / n``: with ``bootstrap_draws`` they give the bootstrap of every
        aggregation (:func:`aggte`) without another pass over the units.
    """

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    std_error: np.ndarray
    analytic_se: np.ndarray
    critical_value: float
    uniform: bool
    influence: np.ndarray
    unit_ids: np.ndarray
    unit_group: np.ndarray
    unit_weight: np.ndarray
    cluster_codes: np.ndarray
    pretrend_test: PretrendTest | None
    params: DIDParams
    bootstrap_draws: np.ndarray | None = None
    bootstrap_weight_draws: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        """Number of units in the estimation sample."""
        return int(self.influence.shape[0])

    @property
    def event_time(self) -> np.ndarray:
        """``time - group`` for each ATT(g,t), in periods of ``tname``."""
        return self.time - self.group

    @property
    def conf_low(self) -> np.ndarray:
        """Lower confidence limits (uniform band when ``uniform``)."""
        return self.att - self.critical_value * self.std_error

    @property
    def conf_high(self) -> np.ndarray:
        """Upper confidence limits (uniform band when ``uniform``)."""
        return self.att + self.critical_value * self.std_error

    def vcov(self) -> np.ndarray:
        """Analytic covariance matrix of ``att`` from the influence functions, clustered like
        the bootstrap (units or ``clustervars``); squared outcome units."""
        from kvk_analysis.did.inference import analytic_cov  # noqa: PLC0415

        return analytic_cov(self.influence, self.cluster_codes, self.params.n_clusters)

    def tidy(self) -> pd.DataFrame:
        """One row per ATT(g,t) in the shared tidy schema (``term == "att_gt"``)."""
        k = len(self.att)
        return pd.DataFrame(
            {
                "term": ["att_gt"] * k,
                "group": _int_col(self.group, k),
                "time": _int_col(self.time, k),
                "event_time": _int_col(self.time - self.group, k),
                "estimate": self.att,
                "std_error": self.std_error,
                "p_value": _p_values(self.att, self.std_error),
                "conf_low": self.conf_low,
                "conf_high": self.conf_high,
                "band": [_band_label(self.uniform)] * k,
            },
            columns=TIDY_COLUMNS,
        )

    def summary(self) -> str:
        """Plain-text summary stating the specification, the table and the pre-test."""
        p = self.params
        lines = [
            "Group-time average treatment effects, ATT(g,t) (Callaway & Sant'Anna 2021)",
            f"Outcome: {p.yname}; time: {p.tname}; unit: {p.idname}; cohort: {p.gname}",
            f"Control group: {_control_text(p.control_group)}; anticipation periods: "
            f"{p.anticipation}; base period: {p.base_period}",
            f"Estimation method: {_method_text(p)}",
            f"Units: {p.n_units} ({'balanced' if p.balanced else 'unbalanced'} panel); "
            f"cohorts: {len(p.glist)} ({_cohort_text(p)})",
            _inference_text(p, self.uniform, self.critical_value),
            "",
            self.tidy()
            .drop(columns=["term", "event_time"])
            .to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            "",
            _pretest_text(self.pretrend_test),
        ]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class AggteResult:
    """Aggregated treatment effects (R ``did``'s ``AGGTEobj``).

    Attributes
    ----------
    type : str
        ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"``.
    egt : ndarray of int
        Event times, cohorts or periods of the disaggregated effects (empty for simple).
    att_egt, se_egt : ndarray of float
        Disaggregated estimates and standard errors (outcome units).
    critical_value : float
        Critical value of the disaggregated intervals (sup-t when ``uniform``).
    uniform : bool
        Whether the disaggregated intervals are a simultaneous band.
    overall : Overall
        The overall summary parameter with a pointwise interval.
    influence_egt : ndarray, shape (n_units, len(egt))
        Influence functions of the disaggregated effects.
    influence_overall : ndarray, shape (n_units,)
        Influence function of the overall effect.
    params : AggteParams
        Specification (includes the :class:`DIDParams` of the underlying ``att_gt``).
    cluster_codes : ndarray of int
        Cluster of each unit (rows of the influence functions).
    """

    type: str
    egt: np.ndarray
    att_egt: np.ndarray
    se_egt: np.ndarray
    critical_value: float
    uniform: bool
    overall: Overall
    influence_egt: np.ndarray
    influence_overall: np.ndarray
    params: AggteParams
    cluster_codes: np.ndarray

    def vcov(self) -> np.ndarray:
        """Analytic covariance matrix of ``att_egt`` (e.g. the event-study coefficients for
        Rambachan-Roth sensitivity), clustered like the bootstrap; squared outcome units."""
        from kvk_analysis.did.inference import analytic_cov  # noqa: PLC0415

        return analytic_cov(self.influence_egt, self.cluster_codes, self.params.did.n_clusters)

    def tidy(self) -> pd.DataFrame:
        """Overall row (``term == "overall"``) followed by one row per event time/cohort/period."""
        k = len(self.att_egt)
        ov = self.overall
        first = pd.DataFrame(
            {
                "term": ["overall"],
                "group": _int_col(None, 1),
                "time": _int_col(None, 1),
                "event_time": _int_col(None, 1),
                "estimate": [ov.estimate],
                "std_error": [ov.std_error],
                "p_value": [ov.p_value],
                "conf_low": [ov.conf_low],
                "conf_high": [ov.conf_high],
                "band": ["pointwise"],
            },
            columns=TIDY_COLUMNS,
        )
        if k == 0:
            return first
        index = {"group": None, "time": None, "event_time": None}
        key = {"dynamic": "event_time", "group": "group", "calendar": "time"}[self.type]
        index[key] = self.egt
        rest = pd.DataFrame(
            {
                "term": [self.type] * k,
                "group": _int_col(index["group"], k),
                "time": _int_col(index["time"], k),
                "event_time": _int_col(index["event_time"], k),
                "estimate": self.att_egt,
                "std_error": self.se_egt,
                "p_value": _p_values(self.att_egt, self.se_egt),
                "conf_low": self.att_egt - self.critical_value * self.se_egt,
                "conf_high": self.att_egt + self.critical_value * self.se_egt,
                "band": [_band_label(self.uniform)] * k,
            },
            columns=TIDY_COLUMNS,
        )
        return pd.concat([first, rest], ignore_index=True)

    def summary(self) -> str:
        """Plain-text summary: specification, overall effect, disaggregated table, pre-test."""
        a = self.params
        p = a.did
        titles = {
            "simple": "Simple weighted average of post-treatment ATT(g,t)",
            "dynamic": "Event-study (dynamic) aggregation; overall = average over event times >= 0",
            "group": "Aggregation by cohort; overall = cohort-size weighted average",
            "calendar": "Aggregation by calendar period; overall = average over periods",
        }
        ov = self.overall
        lines = [
            f"Aggregated treatment effects: {titles[self.type]}",
            f"Outcome: {p.yname}; control group: {_control_text(p.control_group)}; "
            f"anticipation periods: {p.anticipation}; base period: {p.base_period}",
            f"Estimation method: {_method_text(p)}",
            f"Units: {p.n_units}; cohorts: {len(p.glist)} ({_cohort_text(p)})",
            _inference_text(
                DIDParams(**{**p.__dict__, "bstrap": a.bstrap, "biters": a.biters, "alp": a.alp}),
                self.uniform,
                self.critical_value,
            ),
        ]
        if a.balance_e is not None:
            lines.append(f"Balanced in event time up to e = {a.balance_e}")
        lines += [
            "",
            f"Overall ATT: {ov.estimate:.4f} (SE {ov.std_error:.4f}); "
            f"{100 * (1 - a.alp):.0f}% CI [{ov.conf_low:.4f}, {ov.conf_high:.4f}]",
        ]
        if len(self.att_egt):
            key = {"dynamic": "event_time", "group": "group", "calendar": "time"}[self.type]
            table = self.tidy().iloc[1:][
                [key, "estimate", "std_error", "conf_low", "conf_high", "band"]
            ]
            lines += ["", table.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
        return "\n".join(lines)


def _control_text(control_group: str) -> str:
    return {"nevertreated": "never treated", "notyettreated": "not yet treated"}[control_group]


def _cohort_text(p: DIDParams) -> str:
    parts = [f"{g}: {p.cohort_sizes.get(g, 0)}" for g in p.glist]
    parts.append(f"never treated: {p.cohort_sizes.get(0, 0)}")
    return ", ".join(parts)


def _inference_text(p: DIDParams, uniform: bool, crit: float) -> str:
    level = f"{100 * (1 - p.alp):.0f}%"
    if p.bstrap:
        wts = p.bootstrap_weights.capitalize()
        se = f"multiplier bootstrap ({p.biters} draws, {wts} weights)"
    else:
        se = "analytic (influence function)"
    cl = f"clustered by {', '.join(p.clustervars)}" if p.clustervars else f"clustered by {p.idname}"
    band = "uniform (simultaneous) band" if uniform else "pointwise intervals"
    return f"Standard errors: {se}, {cl}; {level} {band}, critical value {crit:.3f}"


def _pretest_text(test: PretrendTest | None) -> str:
    if test is None:
        return "Pre-trend test: not available (no testable pre-treatment ATT(g,t))"
    return (
        f"Pre-trend test (all pre-treatment ATT(g,t) = 0, as R did): Wald chi2({test.df}) = "
        f"{test.statistic:.3f}, p = {test.p_value:.4f}"
        + (
            "\n  (many pre-period cells for few units per cohort: this test over-rejects; "
            "prefer kvk_analysis.did.pretrend_test)"
            if test.df > 12
            else ""
        )
    )
