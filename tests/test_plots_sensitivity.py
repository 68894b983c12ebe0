"""Sensitivity figure (Rambachan-Roth)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from kvk_analysis.errors import InputError
from kvk_analysis.evaluation.honest import HonestResult
from kvk_analysis.plots_sensitivity import sensitivity_plot


def _result(kind: str = "relative_magnitude", breakdown: float = 1.0) -> HonestResult:
    col = "mbar" if kind == "relative_magnitude" else "m"
    robust = pd.DataFrame(
        {
            "lb": [-0.5, -0.55, -0.62],
            "ub": [-0.3, -0.2, 0.05],
            "method": "C-LF" if col == "mbar" else "FLCI",
            "delta": "DeltaRM" if col == "mbar" else "DeltaSD",
            col: [0.0, 0.5, 1.5] if col == "mbar" else [0.0, 0.025, 0.05],
        }
    )
    original = pd.DataFrame({"lb": [-0.48], "ub": [-0.32], "method": ["Original"]})
    return HonestResult(
        robust=robust,
        original=original,
        breakdown=breakdown,
        type=kind,
        l_vec=np.array([1.0, 0.0]),
        event_times=(0, 1),
        parameter="e=0",
        grid_step=math.nan,
        alpha=0.05,
    )


def test_sensitivity_plot_nb() -> None:
    fig = sensitivity_plot(_result(), lang="nb")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Mbar (relativ størrelse)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("Opprinnelig 95 % KI") for t in labels)
    assert any(t == "Robust 95 % KI (C-LF)" for t in labels)
    assert any("Bruddverdi: 1,00" in t for t in labels)
    assert ax.yaxis.get_major_formatter()(-0.25, 0) == "\u22120,25"
    assert ax.xaxis.get_major_formatter()(1.5, 0) == "1,5"
    # original interval drawn left of the smallest Mbar (R's convention)
    segments = [c for c in ax.collections]
    xs = [seg[0][0][0] for c in segments for seg in [c.get_segments()] if len(seg)]
    assert min(xs) == pytest.approx(-0.5)


def test_sensitivity_plot_en_smoothness_no_breakdown() -> None:
    fig = sensitivity_plot(_result("smoothness", math.nan), lang="en")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("M (change in slope")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("Breakdown" in t for t in labels)
    assert "smoothness" in ax.get_title()


def test_sensitivity_plot_bad_input() -> None:
    with pytest.raises(InputError, match="language"):
        sensitivity_plot(_result(), lang="sv")
    with pytest.raises(InputError, match="HonestResult"):
        sensitivity_plot(object())


def test_breakdown_in_the_legend_as_the_text_prints_it() -> None:
    """A breakdown of 0.0625 (grid step 1/16) shows as 0,0625 in the figure, as in the
    sentence beside it, not rounded to 0,06."""
    from kvk_analysis.report import text

    res = _result(breakdown=0.0625)
    labels = [
        t.get_text() for t in sensitivity_plot(res, lang="nb").axes[0].get_legend().get_texts()
    ]
    assert "Bruddverdi: 0,0625" in labels
    assert "0,0625" in text.honest_sentence(res, "nb")
