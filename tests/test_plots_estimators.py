"""Figures of the estimator comparison and the Goodman-Bacon scatter."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from kvk_analysis.errors import InputError
from kvk_analysis.evaluation.estimators import ESTIMATORS, compare_estimators
from kvk_analysis.evaluation.testing import simulate_panel
from kvk_analysis.evaluation.twfe import bacon_decomposition
from kvk_analysis.plots_estimators import bacon_scatter_plot, estimator_comparison_plot


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(n_units=100, share_treated=0.6, dynamic_slope=-0.05, seed=2)


@pytest.fixture(scope="module")
def comparison(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare_estimators(
            panel,
            min_e=-4,
            max_e=4,
            estimators=["callaway_santanna", "sun_abraham", "dcdh", "stacked", "twfe_dynamic"],
        )


def test_comparison_plot_one_series_per_estimator(comparison) -> None:
    for lang in ("nb", "en"):
        fig = estimator_comparison_plot(comparison, lang=lang)
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        shown = [k for k in ESTIMATORS if k in set(comparison.event_study["estimator"])]
        assert labels == [ESTIMATORS[k][lang] for k in shown]
        # offset markers: the series' x positions differ at every event time
        xs = [c.lines[0].get_xdata() for c in ax.containers]
        assert len({round(float(x[0]), 6) for x in xs}) == len(shown)
        # one colour each
        colours = {tuple(np.round(c.lines[0].get_color(), 6)) for c in ax.containers}
        assert len(colours) == len(shown)
    nb = estimator_comparison_plot(comparison, lang="nb")
    ticks = [t.get_text() for t in nb.axes[0].get_yticklabels()]
    assert any("," in t for t in ticks) and not any("." in t for t in ticks)
    assert "punktvise 95 %" in nb.axes[0].get_legend().get_title().get_text()
    sub = estimator_comparison_plot(comparison, lang="en", estimators=["dcdh", "sun_abraham"])
    assert len(sub.axes[0].containers) == 2
    with pytest.raises(InputError):
        estimator_comparison_plot(object())
    with pytest.raises(InputError):
        estimator_comparison_plot(comparison, lang="de")


def test_bacon_scatter_plot_all_types(panel) -> None:
    p = panel.copy()
    ids = p.loc[p["gname"] > 0, "kommunenummer"].unique()[:8]
    p.loc[p["kommunenummer"].isin(ids), "gname"] = p["tname"].min()  # always treated
    bacon = bacon_decomposition(p)
    fig = bacon_scatter_plot(bacon, lang="nb")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("alltid behandlede" in lbl for lbl in labels)
    assert len(ax.collections) == bacon.components["type"].nunique()
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(bacon.components)
    assert any("TWFE-estimat" in lbl and "," in lbl for lbl in labels)
    en = bacon_scatter_plot(bacon, lang="en")
    assert "Goodman-Bacon" in en.axes[0].get_title()
    with pytest.raises(InputError):
        bacon_scatter_plot(object())
