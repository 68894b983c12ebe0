"""Figures come back as Figure objects with the expected axes, labels and lines."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from kvk_analysis import plots
from kvk_analysis.errors import InputError
from kvk_analysis.evaluation.synth import synth
from kvk_analysis.evaluation.testing import fit_att_gt, simulate_panel
from kvk_analysis.evaluation.twfe import bacon_decomposition, event_study_twfe

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_panel(n_units=120, effect=-0.3, dynamic_slope=-0.03, seed=41)


@pytest.fixture(scope="module")
def results(panel: pd.DataFrame):
    from kvk_analysis.did import aggte

    gt = fit_att_gt(panel, bstrap=True, cband=True, biters=199, seed=3)
    dyn = aggte(gt, type="dynamic", min_e=-6, max_e=8)
    tw = event_study_twfe(panel, min_e=-6, max_e=8)
    unit = panel.loc[panel["participant"], "kommunenummer"].iloc[0]
    return gt, dyn, tw, synth(panel, unit)


def _texts(fig: Figure) -> str:
    parts = []
    for ax in fig.axes:
        parts += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_title("left")]
        leg = ax.get_legend()
        if leg is not None:
            parts += [t.get_text() for t in leg.get_texts()]
    for leg in fig.legends:
        parts += [t.get_text() for t in leg.get_texts()]
    for attr in ("_suptitle", "_supylabel"):
        if getattr(fig, attr, None) is not None:
            parts.append(getattr(fig, attr).get_text())
    return " | ".join(parts)


def test_event_study_plot(results) -> None:
    _, dyn, _, _ = results
    fig = plots.event_study_plot(dyn)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Quarters since joining"
    assert ax.get_ylabel() == "Effect on sick leave (percentage points)"
    # uniform band drawn as a filled area; reference lines at 0 and at -1
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    lines = [(tuple(ln.get_xdata()), tuple(ln.get_ydata())) for ln in ax.lines]
    assert ((0, 1), (0, 0)) in lines and ((-1, -1), (0, 1)) in lines
    assert "Uniform 95 % band" in _texts(fig) and "Pointwise 95 % CI" in _texts(fig)
    assert fig.get_size_inches().tolist() == [7, 4]
    nb = plots.event_study_plot(dyn, lang="nb")
    assert nb.axes[0].get_xlabel() == "Kvartaler siden oppstart"
    assert nb.axes[0].get_ylabel() == "Effekt på sykefravær (prosentpoeng)"
    assert "Simultant 95 % konfidensbånd" in _texts(nb)


def test_event_study_plot_of_twfe_has_pointwise_only(results) -> None:
    _, _, tw, _ = results
    fig = plots.event_study_plot(tw)
    assert not any(isinstance(c, PolyCollection) for c in fig.axes[0].collections)


def test_group_time_plot(results) -> None:
    gt, _, _, _ = results
    fig = plots.group_time_plot(gt, cohort_names={8028: "I"})
    assert len(fig.axes) == 4  # one panel per cohort
    # four cohorts in a 2 x 2 grid: wide enough to print at full width (legible labels)
    assert len({round(ax.get_position().x0, 2) for ax in fig.axes}) == 2
    w, h = fig.get_size_inches()
    assert h / w < 0.8
    assert len([t for t in fig.axes[-1].get_xticklabels() if t.get_text()]) <= 4
    text = _texts(fig)
    assert "Cohort I (joins 2007Q1)" in text and "Cohort joining 2008Q3" in text
    assert "Pulje" not in text  # English labels throughout
    assert "Effect on sick leave (percentage points)" in text
    nb = plots.group_time_plot(gt, lang="nb")
    assert "Pulje med oppstart 2007K1" in _texts(nb)
    assert nb.axes[-1].get_xlabel() == "Kvartal"


def test_cohort_trend_plot(panel: pd.DataFrame) -> None:
    fig = plots.cohort_trend_plot(panel)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "Sick leave (percent)"
    # comparison + 4 cohorts as lines; 4 dotted join markers
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    dotted = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    assert len(solid) == 5 and len(dotted) == 4
    assert "Never participants" in _texts(fig)
    assert "Cohort I" in _texts(fig) and "Pulje" not in _texts(fig)
    nb = plots.cohort_trend_plot(panel, lang="nb")
    assert nb.axes[0].get_ylabel() == "Sykefravær (prosent)"
    assert "Ikke-deltakere" in _texts(nb) and "Pulje I" in _texts(nb)
    with pytest.raises(InputError, match="one sector"):
        plots.cohort_trend_plot(pd.concat([panel, panel]))


def test_synth_plot(results) -> None:
    _, _, _, sc = results
    fig = plots.synth_plot(sc, unit_name="Kommune 1")
    top, bottom = fig.axes
    assert top.get_ylabel() == "Sick leave (percent)"
    assert bottom.get_ylabel() == "Gap (percentage points)"
    assert "placebo p =" in _texts(fig)
    # placebo gaps (those within 5 x the unit's pre-period RMSPE, one collection) + the unit
    # + two reference lines
    n_kept = int((sc.placebo_stats["pre_rmspe"] <= 5.0 * sc.pre_rmspe).sum())
    (placebos,) = bottom.collections
    assert len(placebos.get_paths()) == n_kept and n_kept > 10 and len(bottom.lines) == 3
    # each path is one donor's gaps in time order
    stats = sc.placebo_stats
    kept = sc.placebo_gaps[
        sc.placebo_gaps["unit"].isin(set(stats.loc[stats["pre_rmspe"] <= 5 * sc.pre_rmspe, "unit"]))
    ]
    first = kept[kept["unit"] == kept["unit"].iloc[0]]
    assert np.array_equal(placebos.get_paths()[0].vertices, first[["tname", "gap"]].to_numpy(float))
    nb = plots.synth_plot(sc, lang="nb", placebo_pre_rmspe_cutoff=None)
    assert "Syntetisk kontroll" in _texts(nb) and "Avvik (prosentpoeng)" in _texts(nb)
    # no cutoff: every placebo
    assert len(nb.axes[1].collections[0].get_paths()) == len(sc.placebo_stats)


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_profile_prints_the_synthetic_control_numbers_alike(results, lang) -> None:
    # the profile's key-figure card, its sentence and its figure title print the same gap and
    # the same placebo p (before: 0,2 pp in the sentence beside -0,16 pp on the card, and
    # p = 0,55 in the sentence beside placebo-p = 0,545 in the title)
    from kvk_analysis.report import text

    _, _, _, sc = results
    card = text.profile_key_figures({"pulje": "I"}, sc, lang)
    gap = card["Avvik fra syntetisk kontroll" if lang == "nb" else "Gap to synthetic control"]
    sentence = text.synth_sentence("Kommune 1", sc.effect, sc.rank, 10, sc.p_value, lang)
    magnitude = text.fmt_pp(abs(sc.effect), lang, 2)
    assert gap.lstrip("\u2212-") == magnitude and magnitude.split("\u00a0")[0] in sentence
    p = text.fmt_p(sc.p_value, lang)
    assert p in sentence
    title = _texts(plots.synth_plot(sc, lang=lang, unit_name="Kommune 1"))
    assert p.removeprefix("p ") in title and "= =" not in title


def test_twfe_vs_cs_plot(results) -> None:
    _, dyn, tw, _ = results
    fig = plots.twfe_vs_cs_plot(tw, dyn)
    text = _texts(fig)
    assert "Two-way fixed effects" in text and "Callaway-Sant'Anna" in text
    assert fig.axes[0].get_xlabel() == "Quarters since joining"
    assert len(fig.axes[0].containers) == 2  # two error-bar series
    nb = plots.twfe_vs_cs_plot(tw, dyn, lang="nb")
    assert "Toveis faste effekter (TWFE)" in _texts(nb)


def test_bacon_plot(panel: pd.DataFrame) -> None:
    bacon = bacon_decomposition(panel)
    fig = plots.bacon_plot(bacon)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Weight in the TWFE estimate"
    assert len(ax.collections) == 3  # one scatter per comparison type
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(bacon.components)
    nb = plots.bacon_plot(bacon, lang="nb")
    assert "TWFE-estimat (\u2212" in _texts(nb)
    assert "Senere mot tidligere deltakere" in _texts(nb)


def test_bad_input(results) -> None:
    gt, dyn, _, _ = results
    with pytest.raises(InputError, match="language"):
        plots.event_study_plot(dyn, lang="sv")
    with pytest.raises(InputError, match="event-study"):
        plots.event_study_plot(gt)
    with pytest.raises(InputError, match="tidy"):
        plots.event_study_plot(object())
    with pytest.raises(InputError, match="SynthResult"):
        plots.synth_plot(dyn)
    with pytest.raises(InputError, match="BaconResult"):
        plots.bacon_plot(dyn)


@pytest.mark.parametrize("n", [1, 3, 4, 10, 13])
def test_palette_is_seaborns_colorblind_palette(n):
    """The palette kept as data equals seaborn's "colorblind" palette, cycled the same way."""
    sns = pytest.importorskip("seaborn")
    from kvk_analysis.plots import _palette

    assert _palette(n) == list(sns.color_palette("colorblind", max(n, 3)))
