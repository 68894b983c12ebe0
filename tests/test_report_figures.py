"""Figures of a report: the PNG and SVG that :func:`kvk_analysis.report.display.figure_files`
draws with one layout are the files ``savefig(bbox_inches="tight")`` makes."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageChops  # noqa: E402

from kvk_analysis.report.display import FIGURE_DPI, figure_files  # noqa: E402


def _plain() -> Figure:
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.plot([1, 2, 3], [6.1, 5.8, 5.5], label="Bærum")
    ax.set_ylabel("Sykefravær (%)")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1))
    return fig


def _constrained() -> Figure:
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1.2, 1])
    rng = np.random.default_rng(1)
    for _ in range(20):
        ax2.plot(np.arange(28), rng.normal(size=28), color="0.75", linewidth=0.6)
    ax1.plot(np.arange(28), 9 + rng.normal(size=28), linewidth=2)
    ax1.set_ylabel("Sykefravær (prosent)")
    ax2.set_xlabel("Kvartal")
    fig.suptitle("Bærum: faktisk mot syntetisk kontroll (placebo-p = 0,545)")
    return fig


def _svg_size(svg: bytes) -> tuple[float, float]:
    m = re.search(rb'width="([0-9.]+)pt" height="([0-9.]+)pt"', svg)
    assert m
    return float(m.group(1)), float(m.group(2))


@pytest.mark.parametrize("make", [_plain, _constrained])
def test_figure_files_equal_savefig_tight(make):
    want_png, want_svg = io.BytesIO(), io.BytesIO()
    fig = make()
    fig.savefig(want_png, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    fig.savefig(want_svg, format="svg", bbox_inches="tight")
    fig = make()
    engine = fig.get_layout_engine()
    png, svg = figure_files(fig)
    a, b = Image.open(want_png), Image.open(io.BytesIO(png))
    assert a.size == b.size
    assert ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None
    # the SVG's box is measured at the PNG's resolution: the same within half a point
    assert np.allclose(_svg_size(want_svg.getvalue()), _svg_size(svg), atol=0.5)
    assert b"<svg" in svg and svg.count(b"<path") == want_svg.getvalue().count(b"<path")
    assert fig.get_layout_engine() is engine  # the figure's layout engine is given back
    plt.close("all")


def test_a_narrowed_figure_has_the_print_resolution_of_a_full_width_one(monkeypatch):
    from kvk_analysis.report import display

    shown = []
    monkeypatch.setattr(display, "_display", lambda bundle, metadata=None: shown.append(bundle))
    display.start("Test", lang="nb")
    display.figure(plt.figure(figsize=(7, 3.5)), "Bred")  # full width
    display.figure(_constrained(), "Høy")  # 7 x 6 in: narrowed to 72 %
    wide, tall = (b[display.FIGURE_MIME] for b in shown[1:])
    assert (wide["width"], wide["dpi"]) == ("100%", FIGURE_DPI)
    assert tall["width"] == "72%" and tall["dpi"] == round(FIGURE_DPI * 0.72)
    # pixels per inch of the printed figure: the same for both (to a pixel)
    px_per_width = [f["size_px"][0] / float(f["width"][:-1]) for f in (wide, tall)]
    assert abs(px_per_width[0] - px_per_width[1]) < 0.05 * px_per_width[0]
