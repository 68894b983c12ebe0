"""Sensitivity figure for Rambachan-Roth (HonestDiD) results.

:func:`sensitivity_plot` draws what R's ``createSensitivityPlot_relativeMagnitudes`` /
``createSensitivityPlot`` draw: the robust confidence interval at each ``Mbar`` (or ``M``)
and, to its left, the original interval.  Style as :mod:`kvk_analysis.plots` (A4 width,
object-oriented matplotlib, English and Norwegian labels, decimal comma in Norwegian).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from kvk_analysis.errors import InputError
from kvk_analysis.plots import _RC, _number_format, _palette

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "mbar": "Mbar (relative magnitude)",
        "m": "M (change in slope, percentage points per quarter)",
        "effect": "Effect on sick leave (percentage points)",
        "original": "Original {level} % CI",
        "robust": "Robust {level} % CI ({method})",
        "breakdown": "Breakdown value: {value}",
        "no_breakdown": "Original interval includes zero",
        "title_rm": "Sensitivity to violations of parallel trends (relative magnitudes)",
        "title_sd": "Sensitivity to violations of parallel trends (smoothness)",
        "parameter_average": "average of quarters {lo} to {hi} after joining",
        "parameter_e": "quarter {e} after joining",
        "parameter_custom": "weighted combination of post-period effects",
    },
    "nb": {
        "mbar": "Mbar (relativ størrelse)",
        "m": "M (endring i helning, prosentpoeng per kvartal)",
        "effect": "Effekt på sykefravær (prosentpoeng)",
        "original": "Opprinnelig {level} % KI",
        "robust": "Robust {level} % KI ({method})",
        "breakdown": "Bruddverdi: {value}",
        "no_breakdown": "Opprinnelig intervall inneholder null",
        "title_rm": "Følsomhet for brudd på parallelle trender (relative størrelser)",
        "title_sd": "Følsomhet for brudd på parallelle trender (glatthet)",
        "parameter_average": "gjennomsnitt av kvartal {lo} til {hi} etter oppstart",
        "parameter_e": "kvartal {e} etter oppstart",
        "parameter_custom": "vektet kombinasjon av effektene etter oppstart",
    },
}


def _parameter_text(result: Any, lab: dict[str, str]) -> str:
    param = str(getattr(result, "parameter", ""))
    times = tuple(getattr(result, "event_times", ()))
    if param == "average" and times:
        return lab["parameter_average"].format(lo=min(times), hi=max(times))
    if param.startswith("e="):
        return lab["parameter_e"].format(e=param[2:])
    return lab["parameter_custom"]


def sensitivity_plot(
    honest_result: Any,
    lang: str = "nb",
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Robust intervals against ``Mbar`` (or ``M``) with the original interval on the left.

    Parameters
    ----------
    honest_result
        :class:`~kvk_analysis.evaluation.honest.HonestResult` from
        :func:`~kvk_analysis.evaluation.honest.honest_sensitivity`.
    lang
        ``"nb"`` (default) or ``"en"``.
    title
        Title (default names the restriction and the parameter; ``""`` for none).
    figsize
        Size in inches.

    Returns
    -------
    Figure
        x: ``Mbar`` (ratio) or ``M`` (pp per quarter); y: effect in percentage points.
        The breakdown value (if any) is marked with a dotted vertical line.
    """
    if lang not in LABELS:
        raise InputError("unknown language", expected="'en' or 'nb'", found=lang)
    lab = LABELS[lang]
    for attr in ("robust", "original", "type", "breakdown"):
        if not hasattr(honest_result, attr):
            raise InputError(
                "sensitivity_plot needs a HonestResult (honest_sensitivity(...))",
                found=type(honest_result).__name__,
            )
    robust = honest_result.robust
    col = "mbar" if honest_result.type == "relative_magnitude" else "m"
    x = robust[col].to_numpy(float)
    order = np.argsort(x)
    x = x[order]
    lb = robust["lb"].to_numpy(float)[order]
    ub = robust["ub"].to_numpy(float)[order]
    gap = float(np.min(np.diff(x))) if x.size > 1 else 1.0
    x_orig = x.min() - gap
    alpha = float(getattr(honest_result, "alpha", 0.05))
    level = f"{100 * (1 - alpha):.0f}"
    method = str(robust["method"].iloc[0])
    colors = _palette(2)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        o_lb = float(honest_result.original["lb"].iloc[0])
        o_ub = float(honest_result.original["ub"].iloc[0])
        ax.errorbar(
            [x_orig],
            [(o_lb + o_ub) / 2],
            yerr=[[(o_ub - o_lb) / 2], [(o_ub - o_lb) / 2]],
            fmt="none",
            ecolor=colors[1],
            elinewidth=2,
            capsize=4,
            label=lab["original"].format(level=level),
        )
        ok = np.isfinite(lb) & np.isfinite(ub)
        ax.errorbar(
            x[ok],
            (lb[ok] + ub[ok]) / 2,
            yerr=[(ub[ok] - lb[ok]) / 2, (ub[ok] - lb[ok]) / 2],
            fmt="none",
            ecolor=colors[0],
            elinewidth=2,
            capsize=4,
            label=lab["robust"].format(level=level, method=method),
        )
        ax.axhline(0, color="0.2", linewidth=0.8)
        bd = float(honest_result.breakdown)
        if not math.isnan(bd):
            from .report.text import format_sensitivity_value  # the text's own rounding

            kind = "relative_magnitude" if col == "mbar" else "smoothness"
            ax.axvline(
                bd,
                color="0.4",
                linewidth=0.9,
                linestyle=":",
                label=lab["breakdown"].format(value=format_sensitivity_value(bd, kind, lang)),
            )
        ax.set_xlabel(lab[col])
        ax.set_ylabel(lab["effect"])
        _number_format(ax, lang, "y")
        _number_format(ax, lang, "x")
        ax.legend(loc="best", frameon=False)
        if title is None:
            key = "title_rm" if col == "mbar" else "title_sd"
            title = f"{lab[key]}\n{_parameter_text(honest_result, lab)}"
        ax.set_title(title)
    return fig
