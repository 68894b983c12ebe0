"""Figures from result objects (matplotlib).

Every function takes result objects (or the panel), returns a
:class:`matplotlib.figure.Figure` and never saves or shows it.  Figures are made with the
object-oriented API (no pyplot state), sized for A4 width (7 inches wide, fonts >= 9 pt), and
every label exists in English (``lang="en"``) and Norwegian bokmål (``lang="nb"``; decimal
comma on the value axes).

Functions read only ``tidy()`` and ``params`` of the results, so they work for the
Callaway-Sant'Anna results of :mod:`kvk_analysis.did` and the TWFE results of
:mod:`kvk_analysis.evaluation.twfe` alike.
"""

from __future__ import annotations

from typing import Any, Literal

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from scipy.special import ndtri

from kvk_analysis.errors import InputError
from kvk_analysis.periods import index_to_quarter

Lang = Literal["en", "nb"]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "event_time": "Quarters since joining",
        "effect": "Effect on sick leave (percentage points)",
        "rate": "Sick leave (percent)",
        "quarter": "Quarter",
        "pointwise": "Pointwise {level} % CI",
        "uniform": "Uniform {level} % band",
        "pre": "Before joining",
        "post": "After joining",
        "event_title": "Effect of the programme by quarters since joining",
        "gt_title": "Effects by cohort and quarter",
        "cohort": "Cohort {name}",
        "cohort_joins": "Cohort {name} (joins {quarter})",
        "cohort_unnamed": "Cohort joining {quarter}",
        "bars": "Bars: {band}",
        "this_unit": "This municipality",
        "comparison": "Never participants",
        "trend_title": "Sick leave by cohort and comparison group",
        "actual": "Actual",
        "synthetic": "Synthetic control",
        "gap": "Gap (percentage points)",
        "placebo": "Placebos (donor municipalities)",
        "synth_title": "{unit}: actual vs synthetic control",
        "synth_p": "placebo p {p}",
        "twfe": "Two-way fixed effects",
        "cs": "Callaway-Sant'Anna",
        "twfe_cs_title": "Event study: TWFE and Callaway-Sant'Anna",
        "effect_short": "Effect (pp)",
        "bacon_x": "Weight in the TWFE estimate",
        "bacon_y": "2x2 DiD estimate (percentage points)",
        "bacon_title": "Goodman-Bacon decomposition of the TWFE estimate",
        "bacon_twfe": "TWFE estimate",
        "treated_vs_never": "Participants vs never participants",
        "earlier_vs_later": "Earlier vs later participants",
        "later_vs_earlier": "Later vs earlier participants (already treated as controls)",
        "gap_comparison": "Gap to the comparison group (pp)",
        "gap_title": "Gap to the comparison group, relative to the year before the start",
    },
    "nb": {
        "event_time": "Kvartaler siden oppstart",
        "effect": "Effekt på sykefravær (prosentpoeng)",
        "rate": "Sykefravær (prosent)",
        "quarter": "Kvartal",
        "pointwise": "Punktvis {level} % KI",
        "uniform": "Simultant {level} % konfidensbånd",
        "pre": "Før oppstart",
        "post": "Etter oppstart",
        "event_title": "Effekt av programmet etter kvartaler siden oppstart",
        "gt_title": "Effekter etter pulje og kvartal",
        "cohort": "Pulje {name}",
        "cohort_joins": "Pulje {name} (oppstart {quarter})",
        "cohort_unnamed": "Pulje med oppstart {quarter}",
        "bars": "Stolper: {band}",
        "this_unit": "Denne kommunen",
        "comparison": "Ikke-deltakere",
        "trend_title": "Sykefravær etter pulje og sammenligningsgruppe",
        "actual": "Faktisk",
        "synthetic": "Syntetisk kontroll",
        "gap": "Avvik (prosentpoeng)",
        "placebo": "Placebo (giverkommuner)",
        "synth_title": "{unit}: faktisk mot syntetisk kontroll",
        "synth_p": "placebo-p {p}",
        "twfe": "Toveis faste effekter (TWFE)",
        "cs": "Callaway–Sant'Anna",
        "twfe_cs_title": "Hendelsesstudie: TWFE og Callaway–Sant'Anna",
        "effect_short": "Effekt (pp)",
        "bacon_x": "Vekt i TWFE-estimatet",
        "bacon_y": "2x2-DiD-estimat (prosentpoeng)",
        "bacon_title": "Goodman-Bacon-dekomponering av TWFE-estimatet",
        "bacon_twfe": "TWFE-estimat",
        "treated_vs_never": "Deltakere mot aldri deltakere",
        "earlier_vs_later": "Tidlige mot senere deltakere",
        "later_vs_earlier": "Senere mot tidligere deltakere (allerede med som kontroll)",
        "gap_comparison": "Avvik fra sammenligningsgruppen (pp)",
        "gap_title": "Avvik fra sammenligningsgruppen, målt mot året før oppstart",
    },
}

_RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _labels(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        raise InputError("unknown language", expected="'en' or 'nb'", found=lang)
    return LABELS[lang]


def _number_format(ax: Any, lang: str, axis: str = "y") -> None:
    """Decimal comma on a value axis for Norwegian."""
    if lang != "nb":
        return

    def fmt(v: float, _pos: int) -> str:
        text = f"{v:.10g}"
        return text.replace("-", "\u2212").replace(".", ",")

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(fmt))


def _fmt_number(v: float, lang: str, digits: int = 2) -> str:
    text = f"{v:.{digits}f}"
    return (
        text.replace("-", "\u2212").replace(".", ",")
        if lang == "nb"
        else text.replace("-", "\u2212")
    )


def _alpha(result: Any) -> float:
    params = getattr(result, "params", None)
    if isinstance(params, dict):
        return float(params.get("alpha", params.get("alp", 0.05)))
    return float(getattr(params, "alp", getattr(params, "alpha", 0.05)))


def _tidy(result: Any, what: str) -> pd.DataFrame:
    if not hasattr(result, "tidy"):
        raise InputError(f"{what} needs a result object with .tidy()", found=type(result).__name__)
    return result.tidy()


def _dynamic_rows(result: Any, what: str) -> pd.DataFrame:
    tidy = _tidy(result, what)
    rows = tidy[(tidy["term"] == "dynamic") & tidy["event_time"].notna()].copy()
    if rows.empty:
        raise InputError(
            f"{what} needs event-study estimates (aggte(..., type='dynamic') or event_study_twfe)",
            found=sorted(tidy["term"].unique()),
        )
    rows["event_time"] = rows["event_time"].astype(int)
    return rows.sort_values("event_time")


def _quarter_label(index: int, lang: str = "en") -> str:
    p = index_to_quarter(int(index))
    return f"{p.year}{'K' if lang == 'nb' else 'Q'}{p.quarter}"


def _cohort_name(name: Any, join: Any, lang: str) -> str:
    """ "Pulje I (2. kv. 2007)" / "Cohort I (2007 Q2)", as in the report tables."""
    from .report.text import cohort_label

    if join is None or pd.isna(join):
        return _labels(lang)["cohort"].format(name=name)
    return cohort_label(name, int(join), lang)


#: seaborn's "colorblind" palette (``seaborn.palettes.SEABORN_PALETTES["colorblind"]``), the
#: figures' colours since the first version.  Kept here as data so that making a figure does
#: not import seaborn and, through it, scipy.stats (about 1 s per notebook kernel).
COLORBLIND = (
    "#0173B2",
    "#DE8F05",
    "#029E73",
    "#D55E00",
    "#CC78BC",
    "#CA9161",
    "#FBAFE4",
    "#949494",
    "#ECE133",
    "#56B4E9",
)


def _palette(n: int) -> list[Any]:
    """``n`` (at least 3) colours of :data:`COLORBLIND`, cycled as ``seaborn.color_palette``
    cycles them, as RGB tuples."""
    k = max(n, 3)
    return [mpl.colors.to_rgb(COLORBLIND[i % len(COLORBLIND)]) for i in range(k)]


def event_study_plot(
    dynamic_result: Any,
    *,
    lang: Lang = "en",
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Event-study plot: effect by quarters since joining with pointwise and uniform bands.

    Parameters
    ----------
    dynamic_result
        ``aggte(..., type="dynamic")`` or :func:`~kvk_analysis.evaluation.twfe.event_study_twfe`
        result.  The uniform band is drawn when ``tidy()`` reports ``band == "uniform"``.
    lang
        ``"en"`` or ``"nb"`` for labels.
    title
        Title (default a standard one; ``""`` for none).
    figsize
        Size in inches (A4 text width is about 7).

    Returns
    -------
    Figure
        One axes: x ``event time`` (quarters), y effect in percentage points.
    """
    lab = _labels(lang)
    rows = _dynamic_rows(dynamic_result, "event_study_plot")
    alpha = _alpha(dynamic_result)
    level = f"{100 * (1 - alpha):.0f}"
    z = ndtri(1 - alpha / 2)
    e = rows["event_time"].to_numpy()
    est = rows["estimate"].to_numpy(float)
    se = rows["std_error"].to_numpy(float)
    colors = _palette(2)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        uniform = (rows["band"] == "uniform").to_numpy()
        if uniform.any():
            ax.fill_between(
                e,
                rows["conf_low"].to_numpy(float),
                rows["conf_high"].to_numpy(float),
                color="0.85",
                step=None,
                label=lab["uniform"].format(level=level),
                zorder=1,
            )
        pre = e < 0
        for mask, color, name in ((pre, "0.45", "pre"), (~pre, colors[0], "post")):
            if not mask.any():
                continue
            ax.errorbar(
                e[mask],
                est[mask],
                yerr=z * se[mask],
                fmt="o",
                color=color,
                ecolor=color,
                elinewidth=1.2,
                capsize=2.5,
                markersize=4.5,
                label=lab[name],
                zorder=3,
            )
        ax.axhline(0, color="0.2", linewidth=0.8, zorder=2)
        ax.axvline(-1, color="0.4", linewidth=0.8, linestyle="--", zorder=2)
        ax.set_xlabel(lab["event_time"])
        ax.set_ylabel(lab["effect"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _number_format(ax, lang)
        handles, labels = ax.get_legend_handles_labels()
        pairs = [(h, lbl) for h, lbl in zip(handles, labels, strict=True) if lbl]
        pairs.append(
            (
                mpl.lines.Line2D([], [], color="0.3", marker="|", linestyle="none", markersize=10),
                lab["pointwise"].format(level=level),
            )
        )
        ax.legend(*zip(*pairs, strict=True), loc="best", frameon=False)
        ax.set_title(lab["event_title"] if title is None else title)
    return fig


def group_time_plot(
    attgt_result: Any,
    *,
    lang: Lang = "en",
    cohort_names: dict[int, str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """ATT(g,t) by calendar quarter, one panel per cohort, with the join quarter marked.

    Parameters
    ----------
    attgt_result
        ``att_gt`` result (``tidy()`` rows with ``group`` and ``time``).
    lang, title
        Labels language and title (``""`` for none).
    cohort_names
        Cohort (first treated quarter index) -> pulje name, e.g. ``{8028: "I"}``; default
        the panels are titled by join quarter.
    figsize
        Default ``(7, 1.9 * rows + 0.8)``; four or more cohorts (an even number) are laid out
        in two columns, so that the figure is not so tall that it must be printed narrow.

    Returns
    -------
    Figure
        One axes per cohort, shared axes; y in percentage points.
    """
    lab = _labels(lang)
    tidy = _tidy(attgt_result, "group_time_plot")
    tidy = tidy[tidy["group"].notna() & tidy["time"].notna()]
    if tidy.empty:
        raise InputError("group_time_plot needs ATT(g,t) estimates (att_gt result)")
    alpha = _alpha(attgt_result)
    level = f"{100 * (1 - alpha):.0f}"
    band = tidy["band"].iloc[0]
    groups = sorted(tidy["group"].astype(int).unique())
    names = cohort_names or {}
    colors = _palette(2)
    ncols = 2 if len(groups) >= 4 and len(groups) % 2 == 0 else 1
    nrows = len(groups) // ncols
    size = figsize or (7, (2.1 if ncols == 2 else 1.9) * nrows + 0.8)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=size, layout="constrained")
        grid = np.atleast_2d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
        axes = grid.ravel()
        for ax, g in zip(axes, groups, strict=True):
            d = tidy[tidy["group"] == g].sort_values("time")
            t = d["time"].astype(int).to_numpy()
            est = d["estimate"].to_numpy(float)
            lo = d["conf_low"].to_numpy(float)
            hi = d["conf_high"].to_numpy(float)
            post = t >= g
            for mask, color, name in ((~post, "0.45", "pre"), (post, colors[0], "post")):
                if mask.any():
                    ax.errorbar(
                        t[mask],
                        est[mask],
                        yerr=np.vstack([est[mask] - lo[mask], hi[mask] - est[mask]]),
                        fmt="o",
                        color=color,
                        elinewidth=1.0,
                        capsize=2,
                        markersize=3.5,
                        label=lab[name],
                    )
            ax.axhline(0, color="0.2", linewidth=0.8)
            ax.axvline(g - 0.5, color="0.4", linewidth=0.8, linestyle="--")
            q = _quarter_label(g, lang)
            head = (
                lab["cohort_joins"].format(name=names[g], quarter=q)
                if g in names
                else lab["cohort_unnamed"].format(quarter=q)
            )
            ax.set_title(head, loc="left", fontsize=10)
            _number_format(ax, lang)
        ticks = np.unique(tidy["time"].astype(int))
        step = max(1, len(ticks) // 7)
        years = [v for v in ticks if v % 4 == 0]
        # at most ~4 labels under a half-width panel (they collide otherwise)
        every = max(1, step // 4) if ncols == 1 else max(1, -(-len(years) // 4))
        tick_sel = years[::every] or list(ticks[::step])
        for ax in grid[-1]:
            ax.set_xticks(tick_sel, [_quarter_label(v, lang) for v in tick_sel])
            ax.set_xlabel(lab["quarter"])
        fig.supylabel(lab["effect"], fontsize=10)
        handles, labels = axes[0].get_legend_handles_labels()
        key = "uniform" if band == "uniform" else "pointwise"
        handles.append(mpl.lines.Line2D([], [], linestyle="none"))
        band_text = lab[key].format(level=level)
        labels.append(lab["bars"].format(band=band_text[0].lower() + band_text[1:]))
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle(lab["gt_title"] if title is None else title, fontsize=11)
    return fig


def cohort_trend_plot(
    panel: pd.DataFrame,
    *,
    lost: str = "lost_days",
    contracted: str = "contracted_days",
    cohort: str = "pulje",
    tname: str = "tname",
    gname: str = "gname",
    idname: str = "kommunenummer",
    lang: Lang = "en",
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Sick leave per cohort and for never participants over calendar time, joins marked.

    Each line is the ratio of summed lost days to summed contracted days (x 100) over the
    cohort's municipalities in a quarter, never an average of percentages.

    Parameters
    ----------
    panel
        Analysis panel for one sector and measure (one row per unit and quarter).
    lost, contracted
        Lost and contracted days columns.
    cohort
        Cohort label column (``pulje``); the join quarter of each cohort is its ``gname``.
    tname, gname, idname
        Quarter index, first treated quarter (0 = never), unit id.
    lang, title, figsize
        Labels language, title (``""`` for none) and size.

    Returns
    -------
    Figure
        One axes, y in percent.
    """
    lab = _labels(lang)
    for col in (lost, contracted, cohort, tname, gname, idname):
        if col not in panel.columns:
            raise InputError(f"cohort_trend_plot: the panel has no column '{col}'", column=col)
    if panel.duplicated([idname, tname]).any():
        raise InputError(
            "cohort_trend_plot: more than one row per unit and quarter (filter the panel to "
            "one sector and measure first)",
            column=idname,
        )
    d = panel[[lost, contracted, cohort, tname, gname]].copy()
    d = d[d[lost].notna() & d[contracted].notna()]
    never = d[gname] == 0
    d["_line"] = d[cohort].astype("string").where(~never, "__never__")
    d = d[d["_line"].notna()]
    sums = d.groupby(["_line", tname])[[lost, contracted]].sum()
    rate = (sums[lost] / sums[contracted] * 100).rename("rate").reset_index()
    joins = d[~never & (d[gname] > 0)].groupby("_line")[gname].min()
    lines = sorted(k for k in rate["_line"].unique() if k != "__never__")
    colors = _palette(len(lines) + 1)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        if (rate["_line"] == "__never__").any():
            r = rate[rate["_line"] == "__never__"]
            ax.plot(r[tname], r["rate"], color="0.25", linewidth=2.0, label=lab["comparison"])
        for k, name in enumerate(lines):
            r = rate[rate["_line"] == name]
            ax.plot(
                r[tname],
                r["rate"],
                color=colors[k],
                linewidth=1.4,
                label=_cohort_name(name, joins.get(name), lang),
            )
            if name in joins.index:
                ax.axvline(joins[name] - 0.5, color=colors[k], linewidth=1.0, linestyle=":")
        ticks = sorted(v for v in rate[tname].unique() if v % 4 == 0)
        ax.set_xticks(ticks, [str(v // 4) for v in ticks])
        ax.set_xlabel(lab["quarter"])
        ax.set_ylabel(lab["rate"])
        _number_format(ax, lang)
        fig.legend(loc="outside lower center", frameon=False, ncols=len(lines) + 1)
        ax.set_title(lab["trend_title"] if title is None else title)
    return fig


def synth_plot(
    synth_result: Any,
    *,
    lang: Lang = "en",
    unit_name: str | None = None,
    placebo_pre_rmspe_cutoff: float | None = 5.0,
    title: str | None = None,
    figsize: tuple[float, float] = (7, 6),
) -> Figure:
    """Synthetic control: actual vs synthetic path, and the gap beside the placebo gaps.

    Parameters
    ----------
    synth_result
        :class:`~kvk_analysis.evaluation.synth.SynthResult`.
    lang
        ``"en"`` or ``"nb"``.
    unit_name
        Name shown in the title (default the unit id).
    placebo_pre_rmspe_cutoff
        Hide placebos whose pre-period RMSPE exceeds this multiple of the treated unit's (as
        in Abadie et al. 2010); ``None`` shows all.
    title, figsize
        Title (``""`` for none) and size.

    Returns
    -------
    Figure
        Two axes: levels in percent, gaps in percentage points.
    """
    lab = _labels(lang)
    for attr in ("path", "placebo_gaps", "placebo_stats", "treatment_period"):
        if not hasattr(synth_result, attr):
            raise InputError("synth_plot needs a SynthResult", found=type(synth_result).__name__)
    path = synth_result.path
    g = synth_result.treatment_period
    colors = _palette(2)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1.2, 1])
        ax1.plot(path["tname"], path["actual"], color=colors[0], linewidth=2, label=lab["actual"])
        ax1.plot(
            path["tname"],
            path["synthetic"],
            color="0.3",
            linewidth=1.6,
            linestyle="--",
            label=lab["synthetic"],
        )
        ax1.set_ylabel(lab["rate"])
        # legends above the axes: inside they cover the paths
        ax1.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False)
        stats_ = synth_result.placebo_stats
        keep = stats_["unit"]
        if placebo_pre_rmspe_cutoff is not None and synth_result.pre_rmspe > 0:
            keep = stats_.loc[
                stats_["pre_rmspe"] <= placebo_pre_rmspe_cutoff * synth_result.pre_rmspe, "unit"
            ]
        pg = synth_result.placebo_gaps
        pg = pg[pg["unit"].isin(set(keep))]
        # the placebo paths as one collection (one artist instead of one line per donor: a
        # tenth of the drawing time of the figure), in the order of the donors
        codes, units = pd.factorize(pg["unit"], sort=False)
        x, y = pg["tname"].to_numpy(float), pg["gap"].to_numpy(float)
        paths = [np.column_stack((x[codes == c], y[codes == c])) for c in range(len(units))]
        if paths:
            ax2.add_collection(
                LineCollection(
                    paths,
                    colors="0.75",
                    linewidths=0.6,
                    label=lab["placebo"],
                    zorder=1,
                    # as a line drawn by plot()
                    capstyle=mpl.rcParams["lines.solid_capstyle"],
                    joinstyle=mpl.rcParams["lines.solid_joinstyle"],
                )
            )
        ax2.plot(
            path["tname"],
            path["gap"],
            color=colors[0],
            linewidth=2,
            label=unit_name or lab["this_unit"],
            zorder=3,
        )
        ax2.axhline(0, color="0.2", linewidth=0.8)
        ax2.set_ylabel(lab["gap"])
        ax2.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False)
        for ax in (ax1, ax2):
            ax.axvline(g - 0.5, color="0.4", linewidth=0.8, linestyle="--")
            _number_format(ax, lang)
        ticks = sorted(v for v in path["tname"] if v % 4 == 0)
        ax2.set_xticks(ticks, [str(v // 4) for v in ticks])
        ax2.set_xlabel(lab["quarter"])
        name = unit_name or str(synth_result.unit)
        default = lab["synth_title"].format(unit=name)
        if np.isfinite(synth_result.p_value):
            from .report.text import fmt_p  # the profile text's own rounding of the p-value

            p_text = fmt_p(synth_result.p_value, lang).removeprefix("p ")
            default += f" ({lab['synth_p'].format(p=p_text)})"
        fig.suptitle(default if title is None else title, fontsize=11)
    return fig


def twfe_vs_cs_plot(
    twfe_result: Any,
    cs_result: Any,
    *,
    lang: Lang = "en",
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Dynamic TWFE and Callaway-Sant'Anna event-study estimates side by side.

    Parameters
    ----------
    twfe_result
        :func:`~kvk_analysis.evaluation.twfe.event_study_twfe` result.
    cs_result
        ``aggte(..., type="dynamic")`` result.
    lang, title, figsize
        Labels language, title (``""`` for none) and size.

    Returns
    -------
    Figure
        One axes with two series of pointwise intervals (x dodged by 0.15 quarters).
    """
    lab = _labels(lang)
    colors = _palette(2)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        for result, name, color, shift, marker in (
            (twfe_result, lab["twfe"], "0.35", -0.15, "s"),
            (cs_result, lab["cs"], colors[0], 0.15, "o"),
        ):
            rows = _dynamic_rows(result, "twfe_vs_cs_plot")
            z = ndtri(1 - _alpha(result) / 2)
            se = rows["std_error"].to_numpy(float)
            ax.errorbar(
                rows["event_time"].to_numpy() + shift,
                rows["estimate"].to_numpy(float),
                yerr=z * np.nan_to_num(se),
                fmt=marker,
                color=color,
                elinewidth=1.1,
                capsize=2,
                markersize=4,
                label=name,
            )
        ax.axhline(0, color="0.2", linewidth=0.8)
        ax.axvline(-1, color="0.4", linewidth=0.8, linestyle="--")
        ax.set_xlabel(lab["event_time"])
        ax.set_ylabel(lab["effect"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _number_format(ax, lang)
        level = f"{100 * (1 - _alpha(cs_result)):.0f}"
        handles, labels = ax.get_legend_handles_labels()
        labels = [f"{lbl} ({lab['pointwise'].format(level=level)})" for lbl in labels]
        ax.legend(handles, labels, loc="best", frameon=False)
        ax.set_title(lab["twfe_cs_title"] if title is None else title)
    return fig


def bacon_plot(
    bacon_result: Any,
    *,
    lang: Lang = "en",
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Goodman-Bacon decomposition: each 2x2 estimate against its weight, by comparison type.

    The same figure as :func:`kvk_analysis.plots_estimators.bacon_scatter_plot` (which also
    shows the ``later_vs_always`` comparisons of always-treated units); kept under this name,
    with English labels by default.

    Returns
    -------
    Figure
        One axes: x weight (share of the TWFE estimate), y 2x2 estimate in percentage points,
        with the TWFE estimate as a horizontal line.
    """
    from .plots_estimators import bacon_scatter_plot

    if not hasattr(bacon_result, "components"):
        raise InputError("bacon_plot needs a BaconResult", found=type(bacon_result).__name__)
    return bacon_scatter_plot(bacon_result, lang=lang, title=title, figsize=figsize)


def cohort_gap_plot(
    panel: pd.DataFrame,
    *,
    control_group: str = "nevertreated",
    lost: str = "lost_days",
    contracted: str = "contracted_days",
    cohort: str = "pulje",
    tname: str = "tname",
    gname: str = "gname",
    idname: str = "kommunenummer",
    lang: Lang = "en",
    title: str | None = None,
    figsize: tuple[float, float] = (7, 4),
) -> Figure:
    """Gap between each cohort's sick leave and the comparison group's, by quarters since the
    cohort's start (percentage points).

    The companion of :func:`cohort_trend_plot`: the seasonal swing common to all
    municipalities (about 1.5 pp within a year) cancels in the gap, so a change at the start
    is visible.  Rates are summed lost days over summed contracted days; the comparison
    group is the never-treated units (``control_group="nevertreated"``) or, with
    ``"notyettreated"``, the never-treated units plus the participants that have not yet
    started in that quarter.  The gap is drawn relative to its mean over the four quarters
    before the start, so a line at zero before the start means the cohort followed the
    comparison group.
    """
    lab = _labels(lang)
    for col in (lost, contracted, cohort, tname, gname, idname):
        if col not in panel.columns:
            raise InputError(f"cohort_gap_plot: the panel has no column '{col}'", column=col)
    if control_group not in ("nevertreated", "notyettreated"):
        raise InputError(
            "cohort_gap_plot: unknown control_group",
            expected="nevertreated | notyettreated",
            found=control_group,
        )
    d = panel[[lost, contracted, cohort, tname, gname]].copy()
    d = d[d[lost].notna() & d[contracted].notna()]
    treated = d[d[gname] > 0]
    joins = treated.groupby(treated[cohort].astype("string"))[gname].min().dropna()
    lines = sorted(joins.index, key=lambda c: joins[c])
    colors = _palette(len(lines))
    with mpl.rc_context(_RC):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
        ax.axhline(0, color="0.5", linewidth=0.8)
        ax.axvline(-0.5, color="0.5", linewidth=0.8, linestyle=":")
        for k, name in enumerate(lines):
            g = int(joins[name])
            own = treated[treated[cohort].astype("string") == name]
            own_sum = own.groupby(tname)[[lost, contracted]].sum()
            comp = d[d[gname] == 0]
            if control_group == "notyettreated":
                comp = d[(d[gname] == 0) | (d[gname] > d[tname])]
                comp = comp[comp[gname] != g]
            comp_sum = comp.groupby(tname)[[lost, contracted]].sum()
            gap = (
                own_sum[lost] / own_sum[contracted] - comp_sum[lost] / comp_sum[contracted]
            ) * 100
            gap = gap.dropna()
            e = gap.index.to_numpy() - g
            pre = gap[(e >= -4) & (e <= -1)]
            level = float(pre.mean()) if len(pre) else 0.0
            ax.plot(
                e,
                gap.to_numpy() - level,
                color=colors[k],
                linewidth=1.4,
                label=_cohort_name(name, g, lang),
            )
        ax.set_xlabel(lab["event_time"])
        ax.set_ylabel(lab["gap_comparison"])
        _number_format(ax, lang)
        fig.legend(loc="outside lower center", frameon=False, ncols=min(len(lines), 4))
        ax.set_title(lab["gap_title"] if title is None else title)
    return fig
