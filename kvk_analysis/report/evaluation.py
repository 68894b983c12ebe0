"""One results object per report specification: :class:`Specification` and :func:`evaluate`.

A report computes every estimate it shows exactly once, here, and every table, figure and
sentence is a pure function of the returned :class:`EvaluationResults` and a language.  So a
number that appears twice in a report is the same number, computed with the same inference,
and the report's text always knows its own specification.

The headline estimate
---------------------
The headline is the ``"group"`` aggregation's overall effect of ``att_gt`` ("samlet effekt
(gjennomsnitt over puljer)" / "overall effect (average over cohorts)"): each cohort's average
effect over its own post-start quarters, averaged over cohorts with weights proportional to
cohort size.  It is chosen deliberately (Callaway & Sant'Anna 2021, sec. 3.1.1, recommend it
as the overall summary): every participating municipality counts equally whatever its start
date, whereas the ``"simple"`` average over all post-start cells gives early cohorts, which are
observed for more quarters after the start, more weight, and the ``"dynamic"`` average over
event times gives late event times (identified by the early cohorts only) the same weight as
the first quarters.  The other aggregations are computed with the same inference and shown
under their own names.

Weighting
---------
``weighting="units"`` weights every municipality equally (the effect on the average
municipality); ``"days"`` weights municipalities by contracted working days (``weight``
column, the effect per contracted working day).  Both are always computed: the one named by
the specification is the headline, the other is shown beside it.

Inference
---------
``inference="bootstrap"``: multiplier bootstrap clustered by municipality (R ``did``'s
default), uniform (sup-t) bands for event-time, cohort and calendar effects; ``"analytic"``:
analytic (influence-function) standard errors, pointwise intervals.  One choice per report,
used for every estimate in it (robustness rows and subgroups included).  Overall effects
always carry pointwise intervals; p-values are always pointwise and are printed only next to
pointwise intervals.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import KvkError, ReportError

PULJER = ("I", "II", "III", "IV")
SECTORS = ("all", "care", "education", "other")
MEASURES = ("total", "self_certified", "doctor_certified")
CONTROL_GROUPS = ("nevertreated", "notyettreated")
BASE_PERIODS = ("varying", "universal")
EST_METHODS = ("dr", "ipw", "reg")
WEIGHTINGS = ("units", "days")
INFERENCES = ("bootstrap", "analytic")

#: The aggregation whose overall effect is the headline (see the module docstring).
HEADLINE_AGGREGATION = "group"

#: Balanced event window used in the robustness table when the specification has none:
#: cohorts observed at least this many quarters after the start (four quarters = one year).
ROBUSTNESS_BALANCE_E = 4

#: Fake start this many quarters before the real one in the placebo rows.
PLACEBO_SHIFT = 4

#: Covariates of the "with covariates" robustness row (pre-programme level and log population).
ROBUSTNESS_COVARIATES = "~ pre_level + log_pop"

#: Event-time window (quarters relative to the start) of the estimator comparison: every
#: event-study estimator's overall number there is the mean of its effects at event times
#: ``0..COMPARISON_MAX_E`` (the estimand of ``aggte(type="dynamic", max_e=...)``'s overall).
COMPARISON_MIN_E = -8
COMPARISON_MAX_E = 8

#: Bootstrap draws (over municipalities, weights re-estimated in each) of the synthetic-DiD
#: standard error in the reports.  Chosen for speed (about 0.1 s per draw on the demo data,
#: against about 1.8 s per report for 20 draws): the standard error is itself estimated with
#: a relative error of about ``1 / sqrt(2 * (20 - 1))`` = 16 %, and the report says so.
#: R ``synthdid``'s placebo variance needs as many re-estimations, its jackknife one per
#: municipality (several hundred), so neither is cheaper here.
SDID_REPLICATIONS = 20
# -- sensitivity (Roth 2022 power, Rambachan-Roth 2023 bounds): see _sensitivity -----------

#: Grid of ``Mbar`` (relative magnitudes) of the report's sensitivity figure (R HonestDiD's
#: README grid).
HONEST_MBAR_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)

#: Bisection steps that refine the breakdown value between the last grid ``Mbar`` whose
#: interval excludes zero and the next one (3 steps: resolution 0.5 / 8 = 0.0625).
HONEST_REFINE_STEPS = 3

#: Earliest event time of the sensitivity analysis and the power calculation (two years).
HONEST_MIN_E = -8

_ROBUST_COLUMNS = [
    "key",
    "kind",
    "aggregation",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "n_units",
    "n_treated",
    "note",
]


@dataclass(frozen=True)
class Specification:
    """Every choice of one report run.

    Attributes
    ----------
    sector
        Sector analysed: ``all``, ``care``, ``education``, ``other``.
    measure
        Sick-leave measure of the panel (``total``, ``self_certified``, ``doctor_certified``).
    control_group
        ``nevertreated`` or ``notyettreated`` (R ``did``).
    base_period
        ``varying`` or ``universal`` (R ``did``).
    est_method
        ``dr``, ``ipw`` or ``reg`` (R ``did``).
    anticipation
        Quarters before the start in which municipalities may already react.
    weighting
        ``units`` (each municipality equally) or ``days`` (contracted working days): the
        headline's weighting; the other is computed and shown too.
    cohorts
        Puljer included (``I`` ... ``IV``).
    start, end
        Analysis window as quarters (``"2005Q1"``), or ``None`` for the whole panel.
    balance_e
        Balanced event window for the event study (R ``aggte(balance_e=)``), or ``None``.
    inference
        ``bootstrap`` (multiplier bootstrap, uniform bands) or ``analytic`` (pointwise).
    alpha
        1 - confidence level.
    biters
        Bootstrap draws.
    seed
        Random seed of the bootstrap.
    """

    sector: str = "all"
    measure: str = "total"
    control_group: str = "nevertreated"
    base_period: str = "varying"
    est_method: str = "dr"
    anticipation: int = 0
    weighting: str = "units"
    cohorts: tuple[str, ...] = PULJER
    start: str | None = None
    end: str | None = None
    balance_e: int | None = None
    inference: str = "bootstrap"
    alpha: float = 0.05
    biters: int = 999
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = {
            "sector": (self.sector, SECTORS),
            "measure": (self.measure, MEASURES),
            "control_group": (self.control_group, CONTROL_GROUPS),
            "base_period": (self.base_period, BASE_PERIODS),
            "est_method": (self.est_method, EST_METHODS),
            "weighting": (self.weighting, WEIGHTINGS),
            "inference": (self.inference, INFERENCES),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ReportError(
                    f"specification {name}={value!r} is not one of {' | '.join(allowed)}"
                )
        cohorts = tuple(str(c).strip().upper() for c in (self.cohorts or PULJER))
        bad = [c for c in cohorts if c not in PULJER]
        if bad or not cohorts:
            raise ReportError(f"specification cohorts={list(self.cohorts)!r}: use I, II, III, IV")
        object.__setattr__(self, "cohorts", cohorts)
        if int(self.anticipation) < 0:
            raise ReportError(f"specification anticipation={self.anticipation!r} must be >= 0")
        if self.balance_e is not None and int(self.balance_e) < 0:
            raise ReportError(f"specification balance_e={self.balance_e!r} must be >= 0")
        if not 0 < float(self.alpha) < 1:
            raise ReportError(f"specification alpha={self.alpha!r} must be between 0 and 1")

    @property
    def bootstrap(self) -> bool:
        """Whether the multiplier bootstrap is used."""
        return self.inference == "bootstrap"

    @property
    def weightsname(self) -> str | None:
        """The ``att_gt`` weights column of the headline weighting (``None``: equal)."""
        return "weight" if self.weighting == "days" else None

    @property
    def other_weighting(self) -> str:
        """The weighting shown beside the headline."""
        return "days" if self.weighting == "units" else "units"

    def att_gt_kwargs(self, **changes: Any) -> dict[str, Any]:
        """Keyword arguments of :func:`kvk_analysis.did.att_gt` for this specification
        (``changes`` override single entries, e.g. ``control_group``)."""
        kwargs: dict[str, Any] = {
            "control_group": self.control_group,
            "base_period": self.base_period,
            "est_method": self.est_method,
            "anticipation": int(self.anticipation),
            "weightsname": self.weightsname,
            "alp": float(self.alpha),
            "bstrap": self.bootstrap,
            "cband": self.bootstrap,
            "biters": int(self.biters),
            "seed": self.seed,
        }
        kwargs.update(changes)
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        """The specification as a JSON-serialisable dict."""
        out = dataclasses.asdict(self)
        out["cohorts"] = list(self.cohorts)
        out["headline_aggregation"] = HEADLINE_AGGREGATION
        return out


@dataclass(eq=False)
class EvaluationResults:
    """Every estimate of one report specification (made by :func:`evaluate`).

    Attributes
    ----------
    spec
        The :class:`Specification`.
    sample
        The estimation sample (one sector, the window, never-treated units and the chosen
        puljer).
    gt
        ``att_gt`` result of the headline specification.
    aggregations
        ``{"group", "simple", "dynamic", "calendar"}`` -> ``aggte`` results of ``gt`` (same
        inference; ``dynamic`` with ``balance_e`` of the specification).
    other_weighting
        ``aggte(type="group")`` of the other weighting (``spec.other_weighting``).
    pretest
        Event-study pre-trend test (:func:`kvk_analysis.did.pretrend_test`), or ``None``.
    robustness
        One row per alternative specification: ``key, kind, aggregation, estimate,
        std_error, conf_low, conf_high, p_value, n_units, n_treated, note`` (percentage
        points; pointwise intervals).  ``key`` names the row (see
        :func:`kvk_analysis.report.text.estimate_label`).
    subgroups
        The same columns for ``sector:<s>`` and ``size:<group>`` rows (headline aggregation).
    twfe, bacon
        Static TWFE and its Goodman-Bacon decomposition (``None`` when not estimable).
    matching, matched
        :class:`~kvk_analysis.evaluation.matching.MatchResult` and the matched estimate row.
    identification
        Event time -> cohorts contributing (``event_time, cohorts, n_cohorts``).
    cohort_names
        First treated quarter (``gname``) -> pulje.
    pre_level
        Participants' mean sick leave (percent) in the four quarters before their start.
    leavers
        Participants that left the programme (``kommunenummer, kommune, left``).
    notes
        Estimation problems that did not stop the report.
    comparison
        :class:`~kvk_analysis.evaluation.estimators.EstimatorComparison` of the
        heterogeneity-robust estimators, TWFE and Callaway-Sant'Anna on :attr:`sample`
        (window :data:`COMPARISON_MIN_E`..:data:`COMPARISON_MAX_E`; Callaway-Sant'Anna is
        ``aggte(gt, type="dynamic")`` of :attr:`gt` over that window, not re-estimated), or
        ``None`` when it could not be computed (see :attr:`notes`).
    power
        Power of the pre-test against linear trends (Roth 2022,
        :class:`~kvk_analysis.did.power.PretrendPower`; slopes in pp per quarter), or
        ``None``.
    honest
        Rambachan-Roth relative-magnitudes sensitivity (:class:`~kvk_analysis.evaluation.
        honest.HonestResult`, ``Mbar``) of the average effect over the post-start quarters
        in which every cohort contributes (or the balanced window), or ``None``.
    honest_smoothness
        The same parameter under the smoothness restriction (``M``, pp per quarter), or
        ``None``.
    power_headline_bias
        Bias (pp) of the headline estimate under a linear pre-trend of slope
        ``power.slope_80`` continued after the start (NaN without ``power``).
    """

    spec: Specification
    sample: pd.DataFrame
    gt: Any
    aggregations: dict[str, Any]
    other_weighting: Any
    pretest: Any
    robustness: pd.DataFrame
    subgroups: pd.DataFrame
    twfe: Any
    bacon: Any
    matching: Any
    identification: pd.DataFrame
    cohort_names: dict[int, str]
    pre_level: float
    comparison_pre_level: float
    leavers: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    comparison: Any = None
    # -- sensitivity (filled by _sensitivity) -------------------------------------------
    power: Any = None
    honest: Any = None
    honest_smoothness: Any = None
    power_headline_bias: float = math.nan

    # -- convenient views --------------------------------------------------------------
    @property
    def headline(self) -> dict[str, Any]:
        """The headline estimate (a row of :meth:`estimates`, key ``"headline"``)."""
        return self.row("headline")

    @property
    def dynamic(self) -> Any:
        """The event-study aggregation (``aggte(type="dynamic")``)."""
        return self.aggregations["dynamic"]

    @property
    def group(self) -> Any:
        """The cohort aggregation (``aggte(type="group")``), the headline's aggregation."""
        return self.aggregations["group"]

    @property
    def calendar(self) -> Any:
        """The calendar-quarter aggregation."""
        return self.aggregations["calendar"]

    def estimates(self) -> pd.DataFrame:
        """Every overall estimate of the report, one row per key (``headline`` first):
        the headline, the other weighting, the other aggregations' overall effects, the
        robustness rows and the subgroups.  Columns as :attr:`robustness`.  (A copy of a
        table made once per results object: a report reads it a few dozen times.)"""
        return self._estimates().copy()

    def _estimates(self) -> pd.DataFrame:
        """:meth:`estimates`, made on first use and kept (not pickled) while the fields it
        is made from are the same objects."""
        made_from = (
            self.spec,
            self.sample,
            self.aggregations,
            self.other_weighting,
            self.robustness,
            self.subgroups,
        )
        memo = self.__dict__.get("_estimates_memo")
        if memo is not None and all(a is b for a, b in zip(memo[0], made_from, strict=True)):
            return memo[1]
        table = self._make_estimates()
        self.__dict__["_estimates_memo"] = (made_from, table)
        return table

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_estimates_memo", None)
        state.pop("_cache_entry", None)
        return state

    def shared(self, name: str, **params: Any) -> Any:
        """Where something made from these results alone (``name`` and ``params`` saying
        what, e.g. a figure and its language) is shared with every other caller of
        :func:`evaluate` with the same key: a :class:`~kvk_analysis.report.cache.
        SharedEntry` when these results came through the results cache, else ``None``
        (then each caller makes its own).  ``report.figure(..., shared=...)`` uses it, so
        notebooks 03 and 05 of a run draw their common figures once."""
        entry = self.__dict__.get("_cache_entry")
        if entry is None:
            return None
        from .cache import SharedEntry

        return SharedEntry(entry[0], entry[1], name, **params)

    def _make_estimates(self) -> pd.DataFrame:
        rows = []
        for key, agg in (
            ("headline", self.aggregations[HEADLINE_AGGREGATION]),
            (f"weighting:{self.spec.other_weighting}", self.other_weighting),
        ):
            rows.append(_overall_row(key, "main", HEADLINE_AGGREGATION, agg, self.sample))
        for agg_type in ("simple", "dynamic", "calendar"):
            rows.append(
                _overall_row(
                    f"aggregation:{agg_type}", "main", agg_type, self.aggregations[agg_type], None
                )
            )
        frame = pd.DataFrame(rows, columns=_ROBUST_COLUMNS)
        rest = [f for f in (self.robustness, self.subgroups) if not f.empty]
        out = pd.concat([frame, *rest], ignore_index=True) if rest else frame
        return out.drop_duplicates("key", keep="first").reset_index(drop=True)

    def row(self, key: str) -> dict[str, Any]:
        """One estimate by key (``headline``, ``aggregation:dynamic``, ``sector:care`` ...)."""
        est = self._estimates()
        hit = est.loc[est["key"] == key]
        if hit.empty:
            raise ReportError(f"no estimate {key!r}; have {list(est['key'])}")
        return hit.iloc[0].to_dict()

    def effects(self, aggregation: str) -> pd.DataFrame:
        """Disaggregated effects of ``aggregation`` (``dynamic``: by event time, ``group``:
        by cohort, ``calendar``: by quarter) with pointwise and, under the bootstrap, uniform
        intervals: ``index, estimate, std_error, conf_low, conf_high, p_value, band_low,
        band_high`` (pp).  ``index`` is the event time, the cohort's first quarter
        (``gname``) or the quarter index.  ``p_value`` is pointwise and goes with
        ``conf_low``/``conf_high``; ``band_*`` is the uniform band (NaN when analytic)."""
        from scipy.special import ndtr, ndtri  # = scipy.stats.norm.ppf / .sf, bit for bit

        agg = self.aggregations[aggregation]
        est = np.asarray(agg.att_egt, dtype=float)
        se = np.asarray(agg.se_egt, dtype=float)
        z = float(ndtri(1 - self.spec.alpha / 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            p = 2 * ndtr(-np.abs(est / se))
        uniform = bool(getattr(agg, "uniform", False))
        crit = float(agg.critical_value)
        return pd.DataFrame(
            {
                "index": np.asarray(agg.egt).astype(int),
                "estimate": est,
                "std_error": se,
                "conf_low": est - z * se,
                "conf_high": est + z * se,
                "p_value": p,
                "band_low": est - crit * se if uniform else np.nan,
                "band_high": est + crit * se if uniform else np.nan,
            }
        )

    def comparison_estimates(self) -> pd.DataFrame:
        """The overall effects of the estimator comparison, one row per estimator:
        ``key`` (``estimator:<name>``), ``estimator``, ``quantity`` (``"post_mean"``: mean of
        the event-time effects ``0..max_e``; ``"own"``: the estimator's own single number,
        static TWFE and synthetic DiD), ``event_study`` (whether it has an event study),
        ``estimate, std_error, conf_low, conf_high, p_value`` (pp; pointwise, level
        ``1 - alpha``).  Empty when there is no comparison."""
        cols = [
            "key",
            "estimator",
            "quantity",
            "event_study",
            "estimate",
            "std_error",
            "conf_low",
            "conf_high",
            "p_value",
        ]
        if self.comparison is None:
            return pd.DataFrame(columns=cols)
        ov = self.comparison.overall.copy()
        with_events = set(self.comparison.event_study["estimator"])
        ov["key"] = "estimator:" + ov["estimator"].astype(str)
        ov["event_study"] = ov["estimator"].isin(with_events)
        ov["quantity"] = np.where(ov["event_study"], "post_mean", "own")
        return ov[cols].reset_index(drop=True)

    def comparison_keys(self, *, event_study: bool = False) -> list[str]:
        """Keys (``estimator:<name>``) of the comparison's estimates, with ``event_study``
        only those with an event study (the ones the comparison figure shows)."""
        rows = self.comparison_estimates()
        if event_study:
            rows = rows.loc[rows["event_study"].astype(bool)]
        return list(rows["key"])

    def subgroup_keys(self, kind: str) -> list[str]:
        """Keys of the ``sector`` or ``size`` subgroup estimates, in table order."""
        return list(self.subgroups.loc[self.subgroups["kind"] == kind, "key"])

    def to_dict(self) -> dict[str, Any]:
        """Specification and every estimate as a JSON-serialisable dict.

        ``estimates``: one record per overall estimate with ``key``, ``label`` (nb and en),
        ``aggregation``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``
        (pointwise, level ``1 - alpha``), ``p_value``, ``inference``; ``effects``: the
        disaggregated effects per aggregation; ``pretest``, ``twfe``, ``bacon``,
        ``identification`` and ``thresholds`` (the constants of generated wording);
        ``comparison``: the estimator comparison (``estimates`` with keys
        ``estimator:<name>``, ``event_study``, ``window``, ``notes``), or ``None``.
        """
        from . import text

        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, pd.Period):
                return str(v)
            return v

        records = []
        for rec in self._estimates().to_dict("records"):
            rec["label"] = {
                lang: text.estimate_label(rec["key"], lang, self) for lang in ("nb", "en")
            }
            rec["inference"] = self.spec.inference
            rec["level"] = 1 - self.spec.alpha
            rec["interval"] = "pointwise"
            records.append(rec)
        effects = {}
        for agg in ("dynamic", "group", "calendar"):
            eff = self.effects(agg)
            eff["band"] = "uniform" if self.spec.bootstrap else "none"
            effects[agg] = eff.to_dict("records")
        pre = self.pretest
        out = {
            "specification": self.spec.to_dict(),
            "headline": {"key": "headline", "aggregation": HEADLINE_AGGREGATION},
            "estimates": records,
            "effects": effects,
            "pretest": None
            if pre is None
            else {
                "method": pre.method,
                "statistic": pre.statistic,
                "p_value": pre.p_value,
                "event_times": list(pre.event_times),
            },
            "twfe": None if self.twfe is None else {"estimate": self.twfe.overall},
            "bacon": None
            if self.bacon is None
            else {
                "forbidden_share": self.bacon.forbidden_share,
                "negative_weight_share": self.bacon.negative_weight_share,
            },
            "identification": [
                {"event_time": int(r.event_time), "cohorts": list(r.cohorts)}
                for r in self.identification.itertuples()
            ],
            "pre_level": self.pre_level,
            "n_leavers": len(self.leavers),
            "thresholds": text.thresholds(),
            "notes": list(self.notes),
            "comparison": self._comparison_dict(),
        }
        out.update(_sensitivity_dict(self))  # power, honest (see _sensitivity)
        return clean(out)

    def _comparison_dict(self) -> dict[str, Any] | None:
        from ..evaluation.estimators import ESTIMATORS

        if self.comparison is None:
            return None
        records = []
        for rec in self.comparison_estimates().to_dict("records"):
            name = rec["estimator"]
            rec["label"] = {lang: ESTIMATORS[name][lang] for lang in ("nb", "en")}
            rec["level"] = 1 - self.spec.alpha
            rec["interval"] = "pointwise"
            rec["note"] = self.comparison.notes.get(name, "")
            records.append(rec)
        return {
            "estimates": records,
            "event_study": self.comparison.event_study.to_dict("records"),
            "window": {"min_e": COMPARISON_MIN_E, "max_e": COMPARISON_MAX_E},
            "sdid_replications": SDID_REPLICATIONS,
            "control_group": self.spec.control_group,
        }


def _honest_dict(h: Any) -> dict[str, Any] | None:
    if h is None:
        return None
    col = "mbar" if h.type == "relative_magnitude" else "m"
    return {
        "type": h.type,
        "parameter": h.parameter,
        "event_times": list(h.event_times),
        "alpha": h.alpha,
        "breakdown": h.breakdown,
        "original": {"lb": float(h.original["lb"].iloc[0]), "ub": float(h.original["ub"].iloc[0])},
        "robust": [
            {col: float(r[col]), "lb": float(r["lb"]), "ub": float(r["ub"]), "method": r["method"]}
            for r in h.robust.to_dict("records")
        ],
    }


def _sensitivity_dict(res: EvaluationResults) -> dict[str, Any]:
    """``power`` (key ``"power"``: slopes in pp per quarter, bias table) and ``honest`` (key
    ``"honest"``: relative magnitudes, with ``smoothness`` inside) of :meth:`to_dict`."""
    p = res.power
    power = (
        None
        if p is None
        else {
            "key": "power",
            "method": p.method,
            "event_times": list(p.event_times),
            "slope_50": p.slope_50,
            "slope_80": p.slope_80,
            "unit": "percentage points per quarter",
            "headline_bias": res.power_headline_bias,
            "bias": p.bias.to_dict("records"),
        }
    )
    honest = _honest_dict(res.honest)
    if honest is not None:
        honest["key"] = "honest"
        honest["smoothness"] = _honest_dict(res.honest_smoothness)
    return {"power": power, "honest": honest}


def _overall_row(
    key: str, kind: str, aggregation: str, agg: Any, data: pd.DataFrame | None, note: str = ""
) -> dict[str, Any]:
    if agg is None:  # not estimable on these data (e.g. weighting by days without days)
        return _failed_row(key, kind, aggregation, data, ValueError(note or NO_DAYS_NOTE))
    ov = agg.overall
    row = {
        "key": key,
        "kind": kind,
        "aggregation": aggregation,
        "estimate": float(ov.estimate),
        "std_error": float(ov.std_error),
        "conf_low": float(ov.conf_low),
        "conf_high": float(ov.conf_high),
        "p_value": float(ov.p_value),
        "n_units": np.nan,
        "n_treated": np.nan,
        "note": note,
    }
    if data is not None:
        row["n_units"] = int(data["kommunenummer"].nunique())
        row["n_treated"] = int(data.loc[data["gname"] > 0, "kommunenummer"].nunique())
    return row


#: Note of the days-weighted estimate when the sample lacks contracted working days.
NO_DAYS_NOTE = "no contracted working days in some municipality-quarters of the sample"


def _failed_row(key: str, kind: str, aggregation: str, data: pd.DataFrame | None, exc: Exception):
    row = {c: np.nan for c in _ROBUST_COLUMNS}
    row.update(key=key, kind=kind, aggregation=aggregation, note=str(exc)[:160])
    if data is not None and not data.empty:
        row["n_units"] = int(data["kommunenummer"].nunique())
        row["n_treated"] = int(data.loc[data["gname"] > 0, "kommunenummer"].nunique())
    return row


def _estimate(
    key: str,
    kind: str,
    data: pd.DataFrame,
    spec: Specification,
    *,
    aggregation: str = HEADLINE_AGGREGATION,
    balance_e: int | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """One overall estimate of ``data`` under ``spec`` with ``changes`` (a robustness row)."""
    from ..did import aggte, att_gt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(
                data,
                "rate",
                "tname",
                "kommunenummer",
                "gname",
                **spec.att_gt_kwargs(**changes),
            )
            extra = {"balance_e": balance_e} if balance_e is not None else {}
            agg = aggte(gt, type=aggregation, na_rm=True, **extra)
        return _overall_row(key, kind, aggregation, agg, data)
    except (KvkError, ValueError, np.linalg.LinAlgError) as exc:
        return _failed_row(key, kind, aggregation, data, exc)


def cohort_names(sample: pd.DataFrame) -> dict[int, str]:
    """First treated quarter (``gname``) -> pulje of the participants in ``sample``."""
    units = sample.loc[sample["gname"] > 0].drop_duplicates("kommunenummer")
    out: dict[int, str] = {}
    for g, pulje in zip(units["gname"], units["pulje"].astype("string"), strict=True):
        if pd.notna(pulje):
            out.setdefault(int(g), str(pulje))
    return dict(sorted(out.items()))


def identification_table(gt: Any, names: dict[int, str], balance_e: int | None = None):
    """Which cohorts identify each event time ``e = t - g`` of the event study: the cohorts
    with an estimated ATT(g, g + e) (and, with ``balance_e``, observed at least ``balance_e``
    quarters after the start, as R ``aggte`` keeps them)."""
    tidy = gt.tidy()
    tidy = tidy.loc[tidy["estimate"].notna()]
    if balance_e is not None:
        last = tidy.groupby("group")["event_time"].max()
        keep = last.index[last >= int(balance_e)]
        tidy = tidy.loc[tidy["group"].isin(keep) & (tidy["event_time"] <= int(balance_e))]
    rows = []
    for e, part in tidy.groupby("event_time"):
        gs = sorted(int(g) for g in part["group"].unique())
        rows.append(
            {
                "event_time": int(e),
                "cohorts": tuple(names.get(g, str(g)) for g in gs),
                "n_cohorts": len(gs),
            }
        )
    return pd.DataFrame(rows, columns=["event_time", "cohorts", "n_cohorts"])


def _unique_strings(column: pd.Series) -> set[str]:
    """The distinct values of ``column`` as strings (``set(column.astype(str))`` without
    iterating every row)."""
    return {str(v) for v in pd.unique(column.astype(str))}


def _pre_levels(sample: pd.DataFrame, anticipation: int) -> tuple[float, float]:
    """Mean sick leave (percent, each municipality equally) of the participants in the four
    quarters before their start (less anticipation), and of the comparison municipalities
    over the same calendar quarters."""
    part = sample.loc[sample["gname"] > 0]
    rel = part["tname"] - part["gname"] + int(anticipation)
    window = part.loc[(rel >= -4) & (rel <= -1)]
    level = float(window.groupby("kommunenummer")["rate"].mean().mean())
    quarters = set(window["tname"])
    comp = sample.loc[(sample["gname"] == 0) & sample["tname"].isin(quarters)]
    comp_level = float(comp.groupby("kommunenummer")["rate"].mean().mean()) if len(comp) else np.nan
    return level, comp_level


#: Environment variable that switches the automatic results cache off (``0``, ``off``, ``no``).
CACHE_ENV = "KVK_EVALUATION_CACHE"


def _cache_folder(panel: pd.DataFrame, spec: Specification, cache_dir: Any):
    """``(folder, fingerprint)`` of the results cache for this call, or ``(None, None)``."""
    import os

    from . import cache

    if cache_dir is None or cache_dir is False or cache_dir == "" or spec.seed is None:
        return None, None  # no cache asked, or random draws: not a function of the key
    if isinstance(cache_dir, str) and cache_dir == "auto":
        if os.environ.get(CACHE_ENV, "").strip().lower() in {"0", "off", "no", "false"}:
            return None, None
        fingerprint = cache.panel_fingerprint(panel)
        if not cache.build_panel_matches(panel, fingerprint=fingerprint):
            return None, None
        return cache.default_cache_dir(), fingerprint
    return Path(cache_dir), None


def evaluate(
    panel: pd.DataFrame,
    spec: Specification | None = None,
    *,
    cache_dir: str | Path | None = "auto",
) -> EvaluationResults:
    """Compute every estimate of a report once, for one :class:`Specification`.

    Results cache (:mod:`kvk_analysis.report.cache`): with ``cache_dir="auto"`` (the
    default) the results are read from, or stored in, ``data/processed/.evaluation-cache``
    when ``panel`` is the built panel (equal in content to ``data/processed/panel.parquet``),
    so the notebooks of a run evaluating the same specification compute it once; a folder
    caches there whatever the panel; ``None`` computes without a cache, and so does the
    environment variable ``KVK_EVALUATION_CACHE=0`` for ``"auto"``.  The key is the panel's
    content, the specification and the kvk code and package versions (never a stale entry);
    a specification without a ``seed`` (fresh bootstrap draws) is never cached.

    The estimation sample (:func:`kvk_analysis.report.tables.analysis_sample`); ``att_gt``
    of the rate (percent; effects in percentage points); its group, simple, dynamic and
    calendar aggregations with the specification's inference; the headline (group
    aggregation, the specification's weighting) and the same estimate with the other
    weighting; the event-study pre-trend test; TWFE and the Goodman-Bacon decomposition;
    the robustness rows (the other control group, covariates, the other weighting, a balanced
    event window, each pulje left out, placebo starts :data:`PLACEBO_SHIFT` quarters early,
    matched comparison group), all with the run's specification except the one choice they
    vary (the base period changes only pre-start estimates and, without covariates, dr, ipw
    and reg coincide, so neither is a row); sector and size-group effects with the
    run's specification; the matching and its balance; the estimator comparison
    (:func:`kvk_analysis.evaluation.estimators.compare_estimators` on the sample, with this
    ``att_gt`` aggregated over :data:`COMPARISON_MIN_E`..:data:`COMPARISON_MAX_E` as
    Callaway-Sant'Anna, synthetic DiD with :data:`SDID_REPLICATIONS` bootstrap draws).

    ``panel`` is the analysis panel (all sectors); ``spec`` defaults to
    ``Specification()``.

    Sensitivity (one block, :func:`_sensitivity`): the pre-test's power against linear trends
    (Roth 2022) with the headline's bias under the trend detected with 80 % power, and
    Rambachan-Roth bounds (relative magnitudes and smoothness) of the average post-start
    effect (fields ``power``, ``power_headline_bias``, ``honest``, ``honest_smoothness``).
    """
    spec = spec or Specification()
    folder, fingerprint = _cache_folder(panel, spec, cache_dir)
    if folder is None:
        return _evaluate(panel, spec)
    from .cache import cache_key, cached_parts, panel_fingerprint

    try:
        from ..fileio import ensure_dir

        ensure_dir(folder)
    except (KvkError, OSError):  # a cache folder that cannot be made costs time, not results
        return _evaluate(panel, spec)
    fingerprint = fingerprint or panel_fingerprint(panel)
    # Parts that two notebooks evaluating the same specification at the same time share
    # (each takes the next part nobody computes, then reads the others'); in this order
    # the two finish close together: power (scipy's MVN integration) and the main part
    # (with pyfixest) first, then the relative-magnitude bounds and the smoothness bounds.
    results = cached_parts(
        panel,
        spec,
        {name: functools.partial(_part, name, panel, spec) for name in EVALUATION_PARTS},
        lambda parts: _combine(parts["main"], *(parts[n] for n in _SENSITIVITY_PARTS)),
        folder,
        fingerprint=fingerprint,
    )
    # what figures drawn from these results are shared under (EvaluationResults.shared)
    results.__dict__["_cache_entry"] = (folder, cache_key(panel, spec, fingerprint=fingerprint))
    return results


#: The sensitivity block in cached parts (:func:`_sensitivity` with ``which=(name,)``).
_SENSITIVITY_PARTS = ("power", "honest", "smoothness")
#: The parts of :func:`evaluate` in the order callers take them.
EVALUATION_PARTS = ("power", "main", "honest", "smoothness")


def _part(name: str, panel: pd.DataFrame, spec: Specification) -> Any:
    """One cached part of :func:`evaluate`: ``"main"`` (:func:`_main_part`) or a piece of
    the sensitivity block (:func:`_sensitivity_part`)."""
    if name == "main":
        return _main_part(panel, spec)
    return _sensitivity_part(panel, spec, which=(name,))


def _one_blas_thread(fn):
    """Run ``fn`` with BLAS limited to one thread (:func:`kvk_analysis.did.inference.
    single_threaded_blas`): the regressions and linear algebra here are small, and a second
    OpenBLAS thread on a busy 2-core machine made pyfixest's fits and HonestDiD's solves
    several times slower (multi-threaded reductions also made the last digits differ from
    run to run)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..did.inference import single_threaded_blas

        return single_threaded_blas(fn)(*args, **kwargs)

    return wrapper


@dataclass
class _Prepared:
    """What both parts of :func:`evaluate` start from (:func:`_prepare_run`)."""

    sample: pd.DataFrame
    gt: Any
    aggregations: dict[str, Any]
    other_weighting: Any
    pretest: Any
    notes: list[str]


def _evaluate(panel: pd.DataFrame, spec: Specification) -> EvaluationResults:
    """:func:`evaluate` without the cache: the sensitivity part and the main part on one
    preparation, combined."""
    prep = _prepare_run(panel, spec)
    sensitivity = _sensitivity_part(panel, spec, prep)
    return _combine(_main_part(panel, spec, prep), sensitivity)


def _combine(main: tuple[EvaluationResults, int], *sensitivity: tuple[dict, list[str]]):
    """The results of :func:`_main_part` with the fields and notes of the
    :func:`_sensitivity_part` pieces (their notes, in order, where the sensitivity block
    stood: after the pre-trend test's).  As in one :func:`_sensitivity` call, the
    smoothness bounds are left out (``None``, no note of theirs) when the relative-magnitude
    piece failed: computed together, the failure stopped both."""
    results, at = main
    fields: dict[str, Any] = {}
    notes: list[str] = []
    honest_failed = False
    for piece_fields, piece_notes in sensitivity:
        if honest_failed and "honest_smoothness" in piece_fields and "honest" not in piece_fields:
            piece_fields, piece_notes = {"honest_smoothness": None}, []
        if "honest" in piece_fields and "honest_smoothness" not in piece_fields:
            honest_failed = bool(piece_notes)
        fields.update(piece_fields)
        notes.extend(piece_notes)
    return dataclasses.replace(
        results, notes=[*results.notes[:at], *notes, *results.notes[at:]], **fields
    )


@_one_blas_thread
def _sensitivity_part(
    panel: pd.DataFrame,
    spec: Specification,
    prep: _Prepared | None = None,
    which: tuple[str, ...] = _SENSITIVITY_PARTS,
) -> tuple[dict[str, Any], list[str]]:
    """``(fields, notes)`` of :func:`_sensitivity` (``power``, ``honest``, ...) for the
    pieces ``which``."""
    prep = prep if prep is not None else _prepare_run(panel, spec)
    notes: list[str] = []
    fields = _sensitivity(spec, prep.sample, prep.gt, prep.pretest, notes, which=which)
    return fields, notes


@_one_blas_thread
def _prepare_run(panel: pd.DataFrame, spec: Specification) -> _Prepared:
    """Sample, main ``att_gt``, its aggregations, the other weighting and the pre-test: the
    start of both parts of :func:`evaluate` (each part computes it when the parts run in
    different processes; seeded, so identically)."""
    from ..did import aggte, att_gt, pretrend_test
    from .tables import analysis_sample

    notes: list[str] = []
    # sets of unique values, not of every row: iterating an Arrow-backed string column in
    # Python costs about a microsecond per row
    if "measure" in panel and spec.measure not in _unique_strings(panel["measure"]):
        raise ReportError(
            f"the panel has measure {sorted(panel['measure'].astype(str).unique())}, "
            f"not {spec.measure!r}: rebuild the data with this measure"
        )
    sample = analysis_sample(
        panel, sector=spec.sector, cohorts=spec.cohorts, start=spec.start, end=spec.end
    )
    # Published tables without days leave ``weight`` missing: weighting by days is then not
    # possible (never filled in); the headline cannot use it, the second estimate is dropped.
    n_no_days = int(sample["weight"].isna().sum()) if "weight" in sample else 0
    if n_no_days and spec.weighting == "days":
        raise ReportError(
            f"weighting 'days' needs contracted working days (column 'weight') in every "
            f"municipality-quarter of the sample; {n_no_days} have none: use weighting 'units'"
        )
    with warnings.catch_warnings():  # first-period weights: stated in the methods appendix
        warnings.simplefilter("ignore", UserWarning)
        gt = att_gt(sample, "rate", "tname", "kommunenummer", "gname", **spec.att_gt_kwargs())
    dyn_extra = {"balance_e": int(spec.balance_e)} if spec.balance_e is not None else {}
    aggregations = {
        "group": aggte(gt, type="group"),
        "simple": aggte(gt, type="simple"),
        "dynamic": aggte(gt, type="dynamic", **dyn_extra),
        "calendar": aggte(gt, type="calendar"),
    }
    if n_no_days and spec.other_weighting == "days":
        other_weighting = None
        notes.append(f"weighting by days: {NO_DAYS_NOTE} ({n_no_days})")
    else:
        with warnings.catch_warnings():  # first-period weights: stated in the methods appendix
            warnings.simplefilter("ignore", UserWarning)
            other = att_gt(
                sample,
                "rate",
                "tname",
                "kommunenummer",
                "gname",
                **spec.att_gt_kwargs(
                    weightsname="weight" if spec.other_weighting == "days" else None
                ),
            )
        other_weighting = aggte(other, type=HEADLINE_AGGREGATION)
    try:
        pretest = pretrend_test(gt, seed=spec.seed)
    except KvkError as exc:
        pretest = None
        notes.append(f"pre-trend test: {exc}")
    return _Prepared(sample, gt, aggregations, other_weighting, pretest, notes)


@_one_blas_thread
def _main_part(
    panel: pd.DataFrame, spec: Specification, prep: _Prepared | None = None
) -> tuple[EvaluationResults, int]:
    """Every estimate but the sensitivity block, and the position in ``notes`` where the
    sensitivity notes belong."""
    from ..evaluation.matching import match_controls
    from ..evaluation.sensitivity import sensitivity_table
    from ..evaluation.twfe import bacon_decomposition, twfe
    from .tables import SIZE_GROUPS, analysis_sample

    prep = prep if prep is not None else _prepare_run(panel, spec)
    sample, gt, aggregations = prep.sample, prep.gt, prep.aggregations
    other_weighting, pretest = prep.other_weighting, prep.pretest
    notes = list(prep.notes)
    sensitivity_at = len(notes)

    # TWFE with the headline's weighting; the decomposition exists for the unweighted TWFE only
    try:
        static = twfe(
            sample,
            weightsname=spec.weightsname,
            anticipation=int(spec.anticipation),
            alpha=spec.alpha,
        )
    except (KvkError, ValueError) as exc:
        static = None
        notes.append(f"TWFE: {exc}")
    try:
        bacon = bacon_decomposition(sample)
    except (KvkError, ValueError) as exc:
        bacon = None
        notes.append(f"Goodman-Bacon: {exc}")
    # the comparison's static TWFE is this one when it is unweighted without anticipation
    same_twfe = spec.weightsname is None and int(spec.anticipation) == 0
    comparison = _compare(sample, gt, spec, notes, twfe_static=static if same_twfe else None)

    # robustness: one choice varied at a time, everything else the run's specification
    rows: list[dict[str, Any]] = []
    head = _overall_row("headline", "main", HEADLINE_AGGREGATION, aggregations["group"], sample)
    rows.append(head)
    other_cg = "notyettreated" if spec.control_group == "nevertreated" else "nevertreated"
    rows.append(
        _estimate(f"control_group:{other_cg}", "robustness", sample, spec, control_group=other_cg)
    )
    # The base period changes only the pre-period estimates and, without covariates, dr, ipw
    # and reg coincide: neither is a robustness row (the methods appendix says so).
    rows.append(_estimate("covariates", "robustness", sample, spec, xformla=ROBUSTNESS_COVARIATES))
    rows.append(
        _overall_row(
            f"weighting:{spec.other_weighting}",
            "robustness",
            HEADLINE_AGGREGATION,
            other_weighting,
            sample,
        )
    )
    balance = int(spec.balance_e) if spec.balance_e is not None else ROBUSTNESS_BALANCE_E
    rows.append(
        _estimate(
            f"balanced:{balance}",
            "robustness",
            sample,
            spec,
            aggregation="dynamic",
            balance_e=balance,
        )
    )
    names = cohort_names(sample)
    for pulje in sorted(set(names.values()), key=PULJER.index):
        keep = sample["pulje"].astype("string").ne(pulje).fillna(True).astype(bool)
        if (sample.loc[keep, "gname"] > 0).any():
            rows.append(_estimate(f"leave_out:{pulje}", "robustness", sample[keep], spec))
    # placebo starts (one cohort and the never-treated units, data before the real start)
    try:
        plac_kwargs = spec.att_gt_kwargs(cband=False)
        plac_kwargs.pop("control_group")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plac = sensitivity_table(
                sample,
                specs=("placebo",),
                placebo_shifts=(PLACEBO_SHIFT,),
                agg=HEADLINE_AGGREGATION,
                alp=spec.alpha,
                **{k: v for k, v in plac_kwargs.items() if k != "alp"},
            )
        for r in plac.itertuples():
            parts = str(r.spec).split("_")  # placebo_<k>q_<cohort>
            rows.append(
                {
                    "key": f"placebo:{parts[1].removesuffix('q')}:{parts[2]}",
                    "kind": "placebo",
                    "aggregation": HEADLINE_AGGREGATION,
                    "estimate": r.estimate,
                    "std_error": r.std_error,
                    "conf_low": r.conf_low,
                    "conf_high": r.conf_high,
                    "p_value": r.p_value,
                    "n_units": r.n_units,
                    "n_treated": r.n_treated,
                    "note": r.note,
                }
            )
    except (KvkError, ValueError) as exc:
        notes.append(f"placebo: {exc}")
    # matched comparison group (never-treated controls by construction)
    matching = None
    try:
        matching = match_controls(sample)
        matched = matching.subset(sample)
        if spec.weighting == "days":
            matched["match_weight"] = matched["match_weight"] * matched["weight"]
        rows.append(
            _estimate(
                "matched",
                "robustness",
                matched,
                spec,
                weightsname="match_weight",
                control_group="nevertreated",
            )
        )
    except (KvkError, ValueError) as exc:
        notes.append(f"matching: {exc}")
    robustness = pd.DataFrame(rows, columns=_ROBUST_COLUMNS)

    # subgroups with the run's specification
    sub_rows = []
    panel_sectors = _unique_strings(panel["sector"])
    for sector in SECTORS:
        if sector not in panel_sectors:
            continue
        if sector == spec.sector:  # the headline itself, not re-estimated
            sub_rows.append({**head, "key": f"sector:{sector}", "kind": "sector"})
            continue
        try:
            data = analysis_sample(
                panel, sector=sector, cohorts=spec.cohorts, start=spec.start, end=spec.end
            )
        except KvkError as exc:
            sub_rows.append(_failed_row(f"sector:{sector}", "sector", "group", None, exc))
            continue
        sub_rows.append(_estimate(f"sector:{sector}", "sector", data, spec))
    values = _unique_strings(sample["size_group"].dropna())
    for size in [g for g in SIZE_GROUPS if g in values] + sorted(values - set(SIZE_GROUPS)):
        data = sample.loc[sample["size_group"].astype(str) == size]
        sub_rows.append(_estimate(f"size:{size}", "size", data, spec))
    subgroups = pd.DataFrame(sub_rows, columns=_ROBUST_COLUMNS)

    pre_level, comp_level = _pre_levels(sample, spec.anticipation)
    part = sample.loc[sample["gname"] > 0].drop_duplicates("kommunenummer")
    leavers = (
        part.loc[part["left"].notna(), ["kommunenummer", "kommune", "left"]].reset_index(drop=True)
        if "left" in part
        else pd.DataFrame(columns=["kommunenummer", "kommune", "left"])
    )
    results = EvaluationResults(
        spec=spec,
        sample=sample,
        gt=gt,
        aggregations=aggregations,
        other_weighting=other_weighting,
        pretest=pretest,
        robustness=robustness,
        subgroups=subgroups,
        twfe=static,
        bacon=bacon,
        matching=matching,
        identification=identification_table(gt, names, spec.balance_e),
        cohort_names=names,
        pre_level=pre_level,
        comparison_pre_level=comp_level,
        leavers=leavers,
        notes=notes,
        comparison=comparison,
    )
    return results, sensitivity_at


def _compare(
    sample: pd.DataFrame,
    gt: Any,
    spec: Specification,
    notes: list[str],
    twfe_static: Any = None,
) -> Any:
    """The estimator comparison of :func:`evaluate` (``None`` and a note when it fails).

    Callaway-Sant'Anna enters as ``aggte(gt, type="dynamic")`` over the comparison window
    (the report's ``att_gt``, not re-estimated; the same inference): its overall is then the
    mean of event times ``0..COMPARISON_MAX_E``, the estimand of the other event-study
    estimators' overall numbers.  The report's own dynamic aggregation averages every event
    time after the start and is a different number under a different name."""
    from ..did import aggte
    from ..evaluation.estimators import compare_estimators

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cs = aggte(gt, type="dynamic", min_e=COMPARISON_MIN_E, max_e=COMPARISON_MAX_E)
            return compare_estimators(
                sample,
                control_group=spec.control_group,
                min_e=COMPARISON_MIN_E,
                max_e=COMPARISON_MAX_E,
                cs=cs,
                twfe_static=twfe_static,
                sdid_replications=SDID_REPLICATIONS,
                seed=1 if spec.seed is None else int(spec.seed),
                alpha=spec.alpha,
            )
    except (KvkError, ValueError, np.linalg.LinAlgError) as exc:
        notes.append(f"estimator comparison: {exc}")
        return None


# ---------------------------------------------------------------------------------------
# sensitivity: pre-test power (Roth 2022) and Rambachan-Roth (2023) bounds
# ---------------------------------------------------------------------------------------


def honest_window(gt: Any, spec: Specification) -> int | None:
    """Last event time of the sensitivity analysis's post-start window: the specification's
    ``balance_e`` if set, else the last quarter after the start in which every cohort
    contributes (so the averaged effects keep one composition of cohorts); ``None`` when
    no cohort has a post-start estimate."""
    if spec.balance_e is not None:
        return int(spec.balance_e)
    ident = identification_table(gt, {})
    post = ident.loc[ident["event_time"] >= 0].sort_values("event_time")
    if post.empty:
        return None
    most = int(post["n_cohorts"].max())
    last, expected = None, int(post["event_time"].iloc[0])
    for e, n in zip(post["event_time"], post["n_cohorts"], strict=True):
        if int(e) != expected or int(n) < most:
            break
        last, expected = int(e), expected + 1
    return last


def _trend_bias(gt: Any, slope: float, aggregation: str) -> float:
    """Bias (pp) of ``aggte(gt, type=aggregation)``'s overall effect under a linear
    differential trend of ``slope`` pp per quarter that continues after the start: every
    post-start ATT(g, t) is then biased by ``slope * (t - (g - 1 - anticipation))`` (the
    distance to its base quarter), and the aggregation is linear in the ATT(g, t)."""
    from ..did import aggte

    ant = int(gt.params.anticipation)
    dist = np.asarray(gt.time, dtype=float) - (np.asarray(gt.group, dtype=float) - 1 - ant)
    trend = np.where(dist > 0, slope * dist, 0.0)
    biased = dataclasses.replace(gt, att=trend)
    agg = aggte(biased, type=aggregation, bstrap=False, cband=False, na_rm=True)
    return float(agg.overall.estimate)


def _sensitivity(
    spec: Specification,
    sample: pd.DataFrame,
    gt: Any,
    pretest: Any,
    notes: list[str],
    which: tuple[str, ...] = ("power", "honest", "smoothness"),
) -> dict[str, Any]:
    """What the pre-test could detect and how robust the effect is to violations of parallel
    trends, computed once per report (fields ``power``, ``honest``, ``honest_smoothness``,
    ``power_headline_bias`` of :class:`EvaluationResults`).

    * Power (Roth 2022, :func:`kvk_analysis.did.pretrend_power`) of the report's own
      pre-test ``pretest`` (its event times, standard errors and critical value) against
      linear trends, from the analytic covariance of the event study of ``gt``; and the bias
      of the headline under the trend detected with 80 % power.
    * Rambachan-Roth bounds (:func:`kvk_analysis.evaluation.honest_sensitivity`) need a
      universal base period: ``att_gt`` is refitted with the run's specification and
      ``base_period="universal"`` (analytic; the main fit is reused when it already has a
      universal base period).  The parameter is the average effect over the post-start
      quarters ``0 .. honest_window`` (event times ``HONEST_MIN_E`` to -2 are the
      pre-periods).  Relative magnitudes (``Mbar``, C-LF) on :data:`HONEST_MBAR_GRID`,
      with the breakdown value refined by :data:`HONEST_REFINE_STEPS` bisection steps;
      smoothness (``M``, FLCI) on R's default grid.

    A failure is a note and leaves the field ``None`` (the report says it could not be
    computed).  ``which`` (``"power"``, ``"honest"``, ``"smoothness"``): the pieces to
    compute, and the fields returned (the results cache computes them apart, see
    :func:`evaluate`)."""
    from ..did import aggte, att_gt, pretrend_power
    from ..evaluation import honest_sensitivity

    out: dict[str, Any] = {}
    if "power" in which:
        out.update(power=None, power_headline_bias=math.nan)
    if "honest" in which:
        out["honest"] = None
    if "smoothness" in which:
        out["honest_smoothness"] = None
    if pretest is not None and "power" in which:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                dyn = aggte(gt, type="dynamic", bstrap=False, cband=False)
                power = pretrend_power(
                    dyn, min_e=HONEST_MIN_E, alpha=spec.alpha, pretest=pretest, seed=spec.seed
                )
            out["power"] = power
            out["power_headline_bias"] = _trend_bias(gt, power.slope_80, HEADLINE_AGGREGATION)
        except (KvkError, ValueError, np.linalg.LinAlgError) as exc:
            notes.append(f"pre-test power: {exc}")
    if "honest" not in which and "smoothness" not in which:
        return out
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if spec.base_period == "universal":
                ugt = gt
            else:
                ugt = att_gt(
                    sample,
                    "rate",
                    "tname",
                    "kommunenummer",
                    "gname",
                    **spec.att_gt_kwargs(base_period="universal", bstrap=False, cband=False),
                )
            extra = {"balance_e": int(spec.balance_e)} if spec.balance_e is not None else {}
            udyn = aggte(ugt, type="dynamic", bstrap=False, cband=False, **extra)
            window = honest_window(gt, spec)
            common = {
                "l_vec": "average",
                "alpha": spec.alpha,
                "min_e": HONEST_MIN_E,
                "max_e": window,
            }
            if "honest" in which:
                out["honest"] = _relative_magnitudes(udyn, common)
            if "smoothness" in which:
                out["honest_smoothness"] = honest_sensitivity(udyn, type="smoothness", **common)
    except (KvkError, ValueError, np.linalg.LinAlgError) as exc:
        notes.append(f"sensitivity (HonestDiD): {exc}")
    return out


def _relative_magnitudes(udyn: Any, common: dict[str, Any]) -> Any:
    """Relative-magnitude bounds (C-LF) on :data:`HONEST_MBAR_GRID`, the breakdown value
    refined by :data:`HONEST_REFINE_STEPS` bisection steps (see :func:`_sensitivity`)."""
    from ..evaluation import honest_sensitivity
    from ..evaluation.honest import _breakdown

    rm = honest_sensitivity(
        udyn, type="relative_magnitude", mbar_vec=list(HONEST_MBAR_GRID), **common
    )
    grid = sorted(float(x) for x in rm.robust["mbar"])
    b = rm.breakdown
    if not math.isnan(b) and b < grid[-1]:
        lo, hi = b, grid[grid.index(b) + 1]
        extra_rows = []
        for _ in range(int(HONEST_REFINE_STEPS)):
            mid = (lo + hi) / 2
            one = honest_sensitivity(
                udyn, type="relative_magnitude", mbar_vec=[mid], **common
            ).robust
            extra_rows.append(one)
            lb, ub = float(one["lb"].iloc[0]), float(one["ub"].iloc[0])
            if np.isnan(lb) or lb <= 0 <= ub:
                hi = mid
            else:
                lo = mid
        robust = (
            pd.concat([rm.robust, *extra_rows], ignore_index=True)
            .sort_values("mbar")
            .reset_index(drop=True)
        )
        rm = dataclasses.replace(
            rm,
            robust=robust,
            breakdown=_breakdown(robust, rm.original, "mbar"),
            grid_step=math.nan,
        )
    return rm


def specification_from_parameters(params: dict[str, Any]) -> Specification:
    """A :class:`Specification` from a notebook's parameters (``bootstrap_draws`` ->
    ``biters``; unknown names are ignored)."""
    names = {f.name for f in dataclasses.fields(Specification)}
    mapped = dict(params)
    if "bootstrap_draws" in mapped:
        mapped.setdefault("biters", mapped.pop("bootstrap_draws"))
    if mapped.get("balance_e") in ("", -1):
        mapped["balance_e"] = None
    kwargs = {k: v for k, v in mapped.items() if k in names}
    if "cohorts" in kwargs:
        kwargs["cohorts"] = tuple(kwargs["cohorts"])
    return Specification(**kwargs)


__all__: Sequence[str] = [
    "EvaluationResults",
    "COMPARISON_MAX_E",
    "COMPARISON_MIN_E",
    "HEADLINE_AGGREGATION",
    "SDID_REPLICATIONS",
    "Specification",
    "cohort_names",
    "evaluate",
    "identification_table",
    "specification_from_parameters",
]
