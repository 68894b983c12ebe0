"""Figures of the estimator comparison and the Goodman-Bacon decomposition.

Same conventions as :mod:`kvk_analysis.plots`: functions take result objects, return a
:class:`matplotlib.figure.Figure` (object-oriented API, A4 width), never save or show it,
and every label exists in Norwegian bokmål (``lang="nb"``, decimal comma) and English.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kvk_analysis.errors import InputError
from kvk_analysis.evaluation.estimators import ESTIMATORS
from kvk_analysis.plots import _RC, Lang, _fmt_number, _labels, _number_format, _palette

_TEXT = {
    "nb": {
        "cmp_title": "Hendelsesstudie: estimatorer side om side",
        "pointwise": "punktvise {level} %-intervaller",
        "bacon_title": "Goodman-Bacon-dekomponering av TWFE-estimatet",
        "treated_vs_never": "Deltakere mot aldri deltakere",
        "earlier_vs_later": "Tidlige mot senere deltakere (før de senere startet)",
        "later_vs_earlier": "Senere mot tidligere deltakere (allerede i gang)",
        "later_vs_always": "Senere deltakere mot alltid behandlede",
        "weight_share": "vekt {share} %",
    },
    "en": {
        "cmp_title": "Event study: estimators side by side",
        "pointwise": "pointwise {level}% intervals",
        "bacon_title": "Goodman-Bacon decomposition of the TWFE estimate",
        "treated_vs_never": "Treated vs never treated",
        "earlier_vs_later": "Earlier vs later treated (before the later start)",
        "later_vs_earlier": "Later vs earlier treated (already treated)",
        "later_vs_always": "Later treated vs always treated",
        "weight_share": "weight {share}%",
    },
}
_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]


def _text(lang: str) -> dict[str, str]:
    _labels(lang)  # raises InputError for an unknown language
    return _TEXT[lang]


def estimator_comparison_plot(
    comparison: Any,
    *,
    lang: Lang = "nb",
    estimators: list[str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4.5),
) -> Figure:
    """All estimators' event studies in one figure: one colour and marker each, x offset
    so the pointwise intervals do not overlap.

    Parameters
    ----------
    comparison
        :class:`~kvk_analysis.evaluation.estimators.EstimatorComparison`.
    lang
        ``"nb"`` or ``"en"``.
    estimators
        Subset to show (default every estimator with an event study, in the table's order).
    title, figsize
        Title (``""`` for none) and size.

    Returns
    -------
    Figure
        x: periods since treatment (the reference ``e = -1`` dashed), y: effect in outcome
        units (percentage points for ``rate``), pointwise intervals of
        ``comparison.params["alpha"]``.
    """
    if not hasattr(comparison, "event_study"):
        raise InputError(
            "estimator_comparison_plot needs an EstimatorComparison",
            found=type(comparison).__name__,
        )
    lab, txt = _labels(lang), _text(lang)
    ev = comparison.event_study
    present = [e for e in ESTIMATORS if e in set(ev["estimator"])]
    names = present if estimators is None else [e for e in estimators if e in present]
    if not names:
        raise InputError("estimator_comparison_plot: nothing to plot", found=estimators)
    colors = _palette(len(ESTIMATORS))
    width = 0.7
    offsets = np.linspace(-width / 2, width / 2, len(names)) if len(names) > 1 else [0.0]
    alpha = float(comparison.params.get("alpha", 0.05))
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        for k, (name, shift) in enumerate(zip(names, offsets, strict=True)):
            d = ev[ev["estimator"] == name].sort_values("event_time")
            est = d["estimate"].to_numpy(float)
            lo = est - d["conf_low"].to_numpy(float)
            hi = d["conf_high"].to_numpy(float) - est
            idx = list(ESTIMATORS).index(name)
            ax.errorbar(
                d["event_time"].to_numpy(float) + shift,
                est,
                yerr=np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)]),
                fmt=_MARKERS[idx % len(_MARKERS)],
                color=colors[idx],
                elinewidth=0.9,
                capsize=1.5,
                markersize=3.5,
                label=ESTIMATORS[name][lang],
                zorder=3 + k,
            )
        ax.axhline(0, color="0.2", linewidth=0.8)
        ax.axvline(-1, color="0.4", linewidth=0.8, linestyle="--")
        ax.set_xlabel(lab["event_time"])
        ax.set_ylabel(lab["effect"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _number_format(ax, lang)
        level = f"{100 * (1 - alpha):.0f}"
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            frameon=False,
            fontsize=8,
            title=txt["pointwise"].format(level=level),
            title_fontsize=8,
        )
        ax.set_title(txt["cmp_title"] if title is None else title)
    return fig


def bacon_scatter_plot(
    bacon: Any,
    *,
    lang: Lang = "nb",
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Goodman-Bacon decomposition as a scatter: each 2x2 DiD estimate against its weight in
    the TWFE estimate, one colour and marker per comparison type (the legend gives each
    type's total weight), the TWFE estimate as a dashed line.

    Parameters
    ----------
    bacon
        :class:`~kvk_analysis.evaluation.twfe.BaconResult` (all four comparison types,
        including ``later_vs_always``).
    lang, title, figsize
        ``"nb"`` or ``"en"``, title (``""`` for none) and size.

    Returns
    -------
    Figure
        x: weight (share of the TWFE estimate), y: 2x2 estimate in outcome units.
    """
    if not hasattr(bacon, "components"):
        raise InputError("bacon_scatter_plot needs a BaconResult", found=type(bacon).__name__)
    lab, txt = _labels(lang), _text(lang)
    comps = bacon.components
    kinds = ["treated_vs_never", "earlier_vs_later", "later_vs_earlier", "later_vs_always"]
    unknown = set(comps["type"]) - set(kinds)
    if unknown:
        raise InputError("bacon_scatter_plot: unknown comparison type", found=sorted(unknown))
    colors = _palette(len(kinds))
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        for k, kind in enumerate(kinds):
            d = comps[comps["type"] == kind]
            if d.empty:
                continue
            share = _fmt_number(100 * float(d["weight"].sum()), lang, 0)
            ax.scatter(
                d["weight"],
                d["estimate"],
                marker=_MARKERS[k],
                color=colors[k],
                s=36,
                label=f"{txt[kind]} ({txt['weight_share'].format(share=share)})",
            )
        ax.axhline(
            bacon.twfe_estimate,
            color="0.3",
            linewidth=1.0,
            linestyle="--",
            label=f"{lab['bacon_twfe']} ({_fmt_number(bacon.twfe_estimate, lang, 3)})",
        )
        ax.axhline(0, color="0.2", linewidth=0.8)
        ax.set_xlabel(lab["bacon_x"])
        ax.set_ylabel(lab["bacon_y"])
        _number_format(ax, lang)
        _number_format(ax, lang, axis="x")
        ax.legend(loc="best", frameon=False, fontsize=8)
        ax.set_title(txt["bacon_title"] if title is None else title)
    return fig
