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


def test_an_opaque_figure_is_an_rgb_png_and_a_transparent_one_keeps_its_alpha():
    png, _ = figure_files(_constrained())
    assert Image.open(io.BytesIO(png)).mode == "RGB"
    with matplotlib.rc_context({"savefig.transparent": True}):
        want = io.BytesIO()
        _plain().savefig(want, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        png, _ = figure_files(_plain())
    a, b = Image.open(want), Image.open(io.BytesIO(png))
    assert b.mode == "RGBA" and a.size == b.size
    assert ImageChops.difference(a.convert("RGBA"), b).getbbox() is None
    plt.close("all")


def _png(mode: str, **save) -> bytes:
    rng = np.random.default_rng(3)
    bands = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = rng.integers(0, 256, size=(23, 31, bands), dtype=np.uint8)
    img = Image.fromarray(arr[:, :, 0] if bands == 1 else arr, mode)
    out = io.BytesIO()
    img.save(out, format="png", **save)
    return out.getvalue()


def test_png_image_data_only_for_pngs_a_pdf_holds_as_they_are():
    from kvk_analysis.report.render import png_image_data

    assert png_image_data(_png("RGB", compress_level=1))
    assert png_image_data(_png("L"))
    assert png_image_data(_png("RGBA")) is None  # alpha: a soft mask in the PDF
    assert png_image_data(_png("RGB", transparency=(0, 0, 0))) is None
    assert png_image_data(b"GIF89a") is None
    broken = bytearray(_png("RGB"))
    broken[40] ^= 0xFF  # a changed byte: the chunk's CRC no longer checks
    assert png_image_data(bytes(broken)) is None


def _pdf_images(pdf: bytes) -> list[Image.Image]:
    """The RGB images of a WeasyPrint PDF, decoded from their /FlateDecode PNG-predictor
    streams (a PNG made of the stream as its one IDAT chunk)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    found = []
    for m in re.finditer(rb"/Subtype\s*/Image(.*?)>>\s*stream\r?\n", pdf, re.S):
        head = pdf[max(0, m.start() - 600) : m.end()]
        w = int(re.findall(rb"/Width (\d+)", head)[-1])
        h = int(re.findall(rb"/Height (\d+)", head)[-1])
        n = int(re.findall(rb"/Length (\d+)", head)[-1])
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
        png += chunk(b"IDAT", pdf[m.end() : m.end() + n]) + chunk(b"IEND", b"")
        found.append(Image.open(io.BytesIO(png)).convert("RGB"))
    return found


def test_the_pdf_holds_a_figures_png_data_as_it_is_with_the_same_pixels(tmp_path):
    import base64

    from kvk_analysis.report.render import png_image_data, render_pdf

    png, _ = figure_files(_constrained())
    data = base64.b64encode(png).decode("ascii")
    html = tmp_path / "r.html"
    html.write_text(
        f'<!DOCTYPE html><html><body><p>Figur</p><img src="data:image/png;base64,{data}" '
        'style="width:72%"/></body></html>',
        encoding="utf-8",
    )
    pdf = render_pdf(html, tmp_path / "r.pdf").read_bytes()
    assert png_image_data(png) in pdf  # not decoded and compressed again
    (image,) = _pdf_images(pdf)
    assert (
        ImageChops.difference(image, Image.open(io.BytesIO(png)).convert("RGB")).getbbox() is None
    )
    # WeasyPrint's own way gives the same pixels
    from weasyprint import HTML

    (theirs,) = _pdf_images(HTML(filename=str(html)).write_pdf())
    assert ImageChops.difference(image, theirs).getbbox() is None
    plt.close("all")


@pytest.mark.parametrize("layout", ["tight", "none"])
def test_figure_files_equal_savefig_tight_with_other_layouts(layout):
    def make():
        fig = Figure(figsize=(6, 3), layout=layout)
        ax = fig.subplots()
        ax.plot([1, 2, 3], [6.1, 5.8, 5.5], label="Bærum")
        ax.set_ylabel("Sykefravær (%)")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1))
        fig.suptitle("Tittel")
        return fig

    want = io.BytesIO()
    make().savefig(want, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    png, _ = figure_files(make())
    a, b = Image.open(want), Image.open(io.BytesIO(png))
    assert a.size == b.size
    assert ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None


def test_a_shared_figure_is_drawn_once_and_shown_the_same(tmp_path, monkeypatch):
    """``figure(make, ..., shared=entry)``: the first call draws, a later one (another notebook
    of the run, with the same results) reads the same PNG and SVG, and both show exactly what
    ``figure(fig)`` shows; another language is another figure; without an entry it draws."""
    from kvk_analysis.report import display
    from kvk_analysis.report.cache import SharedEntry, code_fingerprint

    shown = []
    monkeypatch.setattr(display, "_display", lambda bundle, metadata=None: shown.append(bundle))
    made = []

    def make():
        made.append(1)
        return _constrained()

    # (entries are written only under the code that runs)
    key = {"format": 1, "panel": "p", "specification": {}, "code": code_fingerprint()}
    display.start("Test", lang="nb")
    display.figure(_constrained(), "Høy", key="honest")
    display.figure(make, "Høy", key="honest", shared=SharedEntry(tmp_path, key, "høy", lang="nb"))
    display.start("Test", lang="nb")  # the next notebook
    display.figure(make, "Høy", key="honest", shared=SharedEntry(tmp_path, key, "høy", lang="nb"))
    assert len(made) == 1  # drawn once
    plain, first, read = (b for b in shown if display.FIGURE_MIME in b)
    numbered = (
        plain["text/html"].replace("figure-1", "figure-2").replace("Figur&nbsp;1", "Figur&nbsp;2")
    )
    assert numbered == first["text/html"]
    assert read["text/html"] == plain["text/html"]
    assert read[display.FIGURE_MIME] == plain[display.FIGURE_MIME]
    assert read[display.FIGURE_MIME]["width"] == "72%"
    display.figure(make, "Høy", shared=SharedEntry(tmp_path, key, "høy", lang="en"))
    display.figure(make, "Høy", shared=SharedEntry(tmp_path, key, "høy", lang="nb"), width="50%")
    display.figure(make, "Høy")
    assert len(made) == 4
    plt.close("all")


def test_a_shared_figure_is_shared_only_by_the_same_call(tmp_path, monkeypatch):
    """Two notebooks share a figure only when their figure-making functions agree: another
    argument in the call, or another value of a plain variable it reads, is another figure."""
    from kvk_analysis.report import display
    from kvk_analysis.report.cache import SharedEntry, code_fingerprint

    monkeypatch.setattr(display, "_display", lambda bundle, metadata=None: None)
    made = []

    def draw(title="T"):
        made.append(title)
        fig, ax = plt.subplots()
        ax.set_title(title)
        return fig

    key = {"format": 1, "panel": "p", "specification": {}, "code": code_fingerprint()}
    entry = lambda: SharedEntry(tmp_path, key, "plot", lang="nb")  # noqa: E731
    display.start("Test", lang="nb")
    display.figure(lambda: draw(), "A", shared=entry())
    display.figure(lambda: draw(), "A", shared=entry())  # the same call: read
    assert made == ["T"]
    display.figure(lambda: draw("other"), "A", shared=entry())  # another argument
    assert made == ["T", "other"]
    ns = {"draw": draw, "title": "x"}
    make = eval("lambda: draw(title)", ns)  # a variable it reads, as in a notebook cell
    display.figure(make, "A", shared=entry())
    ns["title"] = "y"
    display.figure(make, "A", shared=entry())
    display.figure(make, "A", shared=entry())
    assert made == ["T", "other", "x", "y"]
    assert display.maker_digest(lambda: draw()) == display.maker_digest(lambda: draw())
    plt.close("all")
