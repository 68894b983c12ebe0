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

:func:`honest_did` bounds the event-study effect when parallel trends may fail by up to
``Mbar`` times the largest pre-period violation (relative magnitudes) or when the trend's slope
may change by up to ``M`` per period (smoothness), with :mod:`kvk_analysis.evaluation.honest`
(Rambachan & Roth 2023, a port of R ``HonestDiD`` in the core install); it is a long-format
view of :func:`~kvk_analysis.evaluation.honest.honest_sensitivity`.
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
    grid_points: int = 1000,
) -> pd.DataFrame:
    """Rambachan-Roth robust confidence intervals for the event-study effect at ``e``.

    A long-format view of :func:`kvk_analysis.evaluation.honest.honest_sensitivity` (the
    torch-free port of R ``HonestDiD``), kept for existing callers.

    Parameters
    ----------
    result
        ``aggte(att_gt(..., base_period="universal"), type="dynamic")`` result.
    e
        Event time (quarters since joining) of the effect to bound.
    type
        ``"relative_magnitude"`` (method ``C-LF``) or ``"smoothness"`` (method ``FLCI``).
    m_grid
        ``Mbar`` values (default 0, 0.5, ..., 2) or ``M`` values in percentage points per
        quarter (default R's).
    method
        ``"C-LF"``, ``"Conditional"``, ``"FLCI"``, ``"C-F"``; default as above.
    alpha
        1 - confidence level (default: inherited from ``result``).
    grid_points
        Grid of the test inversion (R's default 1000).

    Returns
    -------
    DataFrame
        ``type, method, M, conf_low, conf_high, event_time`` with a first row ``type ==
        "original"`` (the usual interval); limits in outcome units (pp for ``rate``).

    Raises
    ------
    EstimationError
        Not a universal base period, no pre-periods, or ``e`` not estimated.
    """
    from kvk_analysis.evaluation.honest import honest_sensitivity

    if type not in ("relative_magnitude", "smoothness"):
        raise InputError(
            "unknown restriction type", expected="'relative_magnitude' or 'smoothness'", found=type
        )
    egt, _beta, _vcov = event_study_vcov(result)
    alpha = result.params.alp if alpha is None else float(alpha)
    if e not in egt or e < 0:
        raise EstimationError(f"honest_did: event time {e} is not among {egt[egt >= 0].tolist()}")
    kwargs: dict[str, Any] = (
        {"mbar_vec": m_grid} if type == "relative_magnitude" else {"m_vec": m_grid}
    )
    res = honest_sensitivity(
        result,
        type=type,
        l_vec=int(e),
        method=method,
        alpha=alpha,
        min_e=int(egt.min()),
        grid_points=grid_points,
        **kwargs,
    )
    m_col = "mbar" if type == "relative_magnitude" else "m"
    first = pd.DataFrame(
        {
            "type": ["original"],
            "method": ["original"],
            "M": [math.nan],
            "conf_low": [float(res.original["lb"].iloc[0])],
            "conf_high": [float(res.original["ub"].iloc[0])],
        }
    )
    rest = pd.DataFrame(
        {
            "type": type,
            "method": res.robust["method"].astype(str).to_numpy(),
            "M": res.robust[m_col].to_numpy(float),
            "conf_low": res.robust["lb"].to_numpy(float),
            "conf_high": res.robust["ub"].to_numpy(float),
        }
    )
    out = pd.concat([first, rest], ignore_index=True)
    out["event_time"] = e
    out.attrs.update(
        {
            "n_pre": int(np.sum(egt < -1)),
            "n_post": len(res.event_times),
            "alpha": alpha,
            "breakdown": res.breakdown,
        }
    )
    return out
