"""Sensitivity of the Callaway-Sant'Anna estimate, and Rambachan-Roth (HonestDiD) bounds.

:func:`sensitivity_table` re-estimates the overall ATT under alternative specifications and
returns one tidy row per specification:

* ``baseline``: never-treated comparison group, no covariates;
* ``not_yet_treated``: not-yet-treated units also serve as controls;
* ``covariates``: conditional parallel trends given ``xformla``;
* ``leave_out_<cohort>``: each cohort (pulje) left out in turn;
* ``placebo_<k>q_<cohort>``: fake join dates ``k`` quarters early, estimated on data from
  before the real join date only (one cohort and the never-treated units at a time, so the
  panel stays balanced); the estimate should be near zero.

:func:`honest_did` wraps the PyPI package ``honestdid`` (a Python port of R ``HonestDiD``,
Rambachan & Roth 2023) to bound the event-study effect when parallel trends may fail by up to
``Mbar`` times the largest pre-period violation (relative magnitudes) or when the trend's slope
may change by up to ``M`` per period (smoothness).  ``honestdid`` depends on torch and cvxpy,
so it is an optional dependency (``pip install kvk-analysis[honest]``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation._common import equals, require_columns

SPECS = ("baseline", "not_yet_treated", "covariates", "leave_one_out", "placebo")

_TABLE_COLUMNS = [
    "spec",
    "description",
    "estimate",
    "std_error",
    "p_value",
    "conf_low",
    "conf_high",
    "n_units",
    "n_treated",
    "note",
]


def sensitivity_table(
    panel: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    cohort: str | None = "pulje",
    xformla: str | Sequence[str] | None = "~ pre_level + log_pop",
    placebo_shifts: Sequence[int] = (4,),
    specs: Sequence[str] = SPECS,
    agg: Literal["simple", "dynamic", "group", "calendar"] = "simple",
    alp: float = 0.05,
    **att_gt_kwargs: Any,
) -> pd.DataFrame:
    """Overall ATT under alternative specifications, as one tidy comparison table.

    Parameters
    ----------
    panel
        Analysis panel for one sector and measure.
    yname, tname, idname, gname
        As in :func:`kvk_analysis.att_gt` (``gname == 0`` never treated).  Units with a
        missing ``gname`` (participants of unknown cohort) are left out with a warning.
    cohort
        Column naming the cohorts for leave-one-out and placebo rows (default ``pulje``;
        ``None`` uses the first treated quarter).
    xformla
        Covariates of the ``covariates`` specification.
    placebo_shifts
        Fake join dates this many quarters before the real ones.
    specs
        Which of ``baseline``, ``not_yet_treated``, ``covariates``, ``leave_one_out``,
        ``placebo`` to run.
    agg
        Aggregation whose ``overall`` is reported (:func:`kvk_analysis.aggte` ``type``).
    alp
        1 - confidence level.
    **att_gt_kwargs
        Passed to every ``att_gt`` call (e.g. ``est_method``, ``weightsname``,
        ``anticipation``); by default analytic standard errors (``bstrap=False``).

    Returns
    -------
    DataFrame
        ``spec, description, estimate, std_error, p_value, conf_low, conf_high, n_units,
        n_treated, note``; estimates in outcome units (percentage points for ``rate``).  A
        specification that cannot be estimated (e.g. no pre-period before a placebo date)
        keeps its row with NaN estimate and the reason in ``note``.
    """
    from kvk_analysis.did import aggte, att_gt

    unknown_specs = set(specs) - set(SPECS)
    if unknown_specs:
        raise InputError(
            "unknown sensitivity spec", expected=", ".join(SPECS), found=sorted(unknown_specs)
        )
    require_columns(panel, [yname, tname, idname, gname, cohort], "sensitivity_table")
    data = panel
    if data[gname].isna().any():
        n = data.loc[data[gname].isna(), idname].nunique()
        warnings.warn(
            f"sensitivity_table: {n} unit(s) with unknown cohort are left out", stacklevel=2
        )
        data = data[data[gname].notna()]
    kwargs = {"bstrap": False, "cband": False, **att_gt_kwargs, "alp": alp}
    anticipation = int(kwargs.get("anticipation", 0))
    base = {"yname": yname, "tname": tname, "idname": idname, "gname": gname}

    rows: list[dict[str, Any]] = []

    not_estimable = dict.fromkeys(
        ("estimate", "std_error", "p_value", "conf_low", "conf_high"), np.nan
    )

    def head(spec: str, description: str, df: pd.DataFrame) -> dict[str, Any]:
        n_treated = df.loc[df[gname] > 0, idname].nunique()
        return {
            "spec": spec,
            "description": description,
            "n_units": df[idname].nunique(),
            "n_treated": n_treated,
            "note": "",
        }

    def run(spec: str, description: str, df: pd.DataFrame, **extra: Any) -> None:
        row = head(spec, description, df)
        try:
            res = att_gt(df, **base, **{**kwargs, **extra})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                ov = aggte(res, type=agg, na_rm=True).overall
            row.update(
                estimate=ov.estimate,
                std_error=ov.std_error,
                p_value=ov.p_value,
                conf_low=ov.conf_low,
                conf_high=ov.conf_high,
            )
        except EstimationError as exc:
            row.update(not_estimable, note=f"not estimable: {exc}")
        rows.append(row)

    g_all = data[gname]
    labels = data[cohort] if cohort is not None else g_all
    cohorts = (
        pd.DataFrame({"label": labels, "g": g_all})[g_all > 0]
        .drop_duplicates()
        .sort_values(["g", "label"])
    )
    if "baseline" in specs:
        run(
            "baseline",
            "Never-treated comparison group, no covariates",
            data,
            control_group="nevertreated",
        )
    if "not_yet_treated" in specs:
        run(
            "not_yet_treated",
            "Not-yet-treated and never-treated comparison group",
            data,
            control_group="notyettreated",
        )
    if "covariates" in specs:
        if xformla is None:
            raise InputError("the 'covariates' spec needs xformla", found=None)
        run(
            "covariates",
            f"Never-treated comparison group, covariates {xformla}",
            data,
            control_group="nevertreated",
            xformla=xformla,
        )
    if "leave_one_out" in specs:
        for label in pd.unique(cohorts["label"]):
            keep = ~equals(labels, label)
            run(
                f"leave_out_{label}",
                f"Cohort {label} left out",
                data[keep],
                control_group="nevertreated",
            )
    if "placebo" in specs:
        t = data[tname]
        for k in placebo_shifts:
            if int(k) < 1:
                raise InputError("placebo shifts must be positive quarters", found=k)
            for label, g in cohorts.itertuples(index=False):
                keep = (equals(labels, label) & (g_all == g)) | (g_all == 0)
                df = data[keep & (t < g - anticipation)].copy()
                df[gname] = np.where(df[gname] > 0, g - k, 0)
                spec = f"placebo_{k}q_{label}"
                desc = f"Fake join date {k} quarters early, cohort {label}, pre-period data only"
                if df.loc[df[gname] > 0, tname].min() > g - k - 1 - anticipation:
                    rows.append(
                        head(spec, desc, df)
                        | not_estimable
                        | {"note": "not estimable: no period before the fake join date"}
                    )
                    continue
                run(spec, desc, df, control_group="nevertreated")
    out = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
    out.attrs.update({"aggregation": agg, "alp": alp, "yname": yname})
    return out


def event_study_vcov(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times, estimates and covariance of a dynamic :func:`aggte` result.

    The covariance is the result's own :meth:`AggteResult.vcov` (``S' S / n^2`` from the
    influence functions of the event-study effects summed within clusters), as in R
    ``HonestDiD``'s ``honest_did.AGGTEobj``; it clusters like the ``att_gt`` it came from.

    Returns
    -------
    tuple of ndarray
        ``(event_time, estimate, vcov)``.
    """
    if getattr(result, "type", None) != "dynamic":
        raise InputError(
            "needs a dynamic aggregation: aggte(result, type='dynamic')",
            expected="AggteResult with type 'dynamic'",
            found=getattr(result, "type", type(result).__name__),
        )
    return np.asarray(result.egt), np.asarray(result.att_egt, dtype=float), result.vcov()


def honest_did(
    result: Any,
    *,
    e: int = 0,
    type: Literal["relative_magnitude", "smoothness"] = "relative_magnitude",  # noqa: A002
    m_grid: Sequence[float] | None = None,
    method: str | None = None,
    alpha: float | None = None,
    grid_points: int = 100,
) -> pd.DataFrame:
    """Rambachan-Roth robust confidence intervals for the event-study effect at ``e``.

    Parameters
    ----------
    result
        ``aggte(..., type="dynamic")`` result; a universal base period
        (``att_gt(base_period="universal")``) is recommended, as in R.
    e
        Event time (quarters since joining) of the effect to bound.
    type
        ``"relative_magnitude"`` (post-period violations at most ``Mbar`` times the largest
        pre-period violation; method ``C-LF``) or ``"smoothness"`` (the slope of the
        differential trend changes by at most ``M`` pp per quarter; method ``FLCI``).
    m_grid
        ``Mbar`` values (default 0, 0.5, 1, 1.5, 2) or ``M`` values in percentage points
        (default: chosen by ``honestdid``).
    method
        ``honestdid`` method (``"C-LF"``, ``"Conditional"``, ``"FLCI"``, ...); default as above.
    alpha
        1 - confidence level (default: inherited from ``result``).
    grid_points
        Grid of the test inversion for relative magnitudes (R's default is 1000; 100 is ~10x
        faster and accurate to the grid step).

    Returns
    -------
    DataFrame
        ``type, method, M, conf_low, conf_high, event_time`` with a first row ``type ==
        "original"`` (the usual interval); limits in outcome units (pp for ``rate``).

    Raises
    ------
    EstimationError
        ``honestdid`` not installed, no pre-periods, or ``e`` not estimated.
    """
    if type not in ("relative_magnitude", "smoothness"):
        raise InputError(
            "unknown restriction type", expected="'relative_magnitude' or 'smoothness'", found=type
        )
    egt, beta, vcov = event_study_vcov(result)
    did_params = result.params.did
    if did_params.base_period != "universal":
        warnings.warn(
            "honest_did: a universal base period (att_gt(base_period='universal')) is recommended",
            stacklevel=2,
        )
    if np.isnan(beta).any():
        raise EstimationError("honest_did: the event-study estimates contain NaN")
    alpha = result.params.alp if alpha is None else float(alpha)
    keep = egt != -1  # the reference period (zero by construction with a universal base)
    egt, beta, vcov = egt[keep], beta[keep], vcov[np.ix_(keep, keep)]
    n_pre = int(np.sum(egt < -1))
    n_post = int(np.sum(egt >= 0))
    if n_pre < 1:
        raise EstimationError("honest_did: needs at least one pre-period besides e = -1")
    post_times = egt[egt >= 0]
    if e not in post_times:
        raise EstimationError(f"honest_did: event time {e} is not among {post_times.tolist()}")
    try:
        import honestdid as hd
    except ImportError as exc:  # optional dependency (pulls in torch and cvxpy)
        raise EstimationError(
            "honest_did needs the optional package 'honestdid' (pip install kvk-analysis[honest])"
        ) from exc
    l_vec = np.zeros(n_post)
    l_vec[int(np.flatnonzero(post_times == e)[0])] = 1.0
    orig = hd.constructOriginalCS(beta, vcov, n_pre, n_post, l_vec=l_vec, alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if type == "relative_magnitude":
            grid = np.asarray([0.0, 0.5, 1.0, 1.5, 2.0] if m_grid is None else m_grid, float)
            res = hd.createSensitivityResults_relativeMagnitudes(
                beta,
                vcov,
                n_pre,
                n_post,
                method=method or "C-LF",
                Mbarvec=grid,
                l_vec=l_vec,
                alpha=alpha,
                gridPoints=grid_points,
            )
            m_col = "Mbar"
        else:
            res = hd.createSensitivityResults(
                beta,
                vcov,
                n_pre,
                n_post,
                method=method,
                Mvec=None if m_grid is None else np.asarray(m_grid, float),
                l_vec=l_vec,
                alpha=alpha,
            )
            m_col = "M"
    first = pd.DataFrame(
        {
            "type": ["original"],
            "method": ["original"],
            "M": [math.nan],
            "conf_low": [float(orig["lb"].iloc[0])],
            "conf_high": [float(orig["ub"].iloc[0])],
        }
    )
    rest = pd.DataFrame(
        {
            "type": type,
            "method": res["method"].astype(str).to_numpy(),
            "M": res[m_col].to_numpy(float),
            "conf_low": res["lb"].to_numpy(float),
            "conf_high": res["ub"].to_numpy(float),
        }
    )
    out = pd.concat([first, rest], ignore_index=True)
    out["event_time"] = e
    out.attrs.update({"n_pre": n_pre, "n_post": n_post, "alpha": alpha})
    return out
