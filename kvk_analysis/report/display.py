"""Helpers that notebooks call to show results in a report (they run inside the kernel).

A report notebook calls :func:`start` once (title, language, simulated-data flag), then shows
its figures and tables with :func:`figure` and :func:`table`, which number them ("Figur 1: ...",
"Tabell 2: ..."), and writes generated sentences with :func:`say`.  :func:`start` emits the
report's metadata as an output of MIME type :data:`META_MIME`, which the renderer
(:mod:`kvk_analysis.report.render`) reads and removes.

Each numbered table and figure also carries its raw data beside its HTML, under
:data:`TABLE_MIME` / :data:`FIGURE_MIME` (table values unrounded, the figure as PNG and SVG);
:func:`record_results` emits an estimates block under :data:`RESULTS_MIME`.  The renderer
strips these from the HTML and :mod:`kvk_analysis.report.exports` writes them out as CSV,
xlsx, PNG/SVG, JSON and DOCX beside the report.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .text import MISSING, check_lang, fmt_int, fmt_num, label

#: MIME type of the output that carries the report metadata from the kernel to the renderer.
META_MIME = "application/vnd.kvk.report+json"
#: MIME type beside a table's HTML: number, caption, columns, raw and shown values.
TABLE_MIME = "application/vnd.kvk.table+json"
#: MIME type beside a figure's HTML: number, caption, PNG (base64) and SVG.
FIGURE_MIME = "application/vnd.kvk.figure+json"
#: MIME type beside the key-figures box: its labels and formatted values.
KEYS_MIME = "application/vnd.kvk.keys+json"
#: MIME type of an estimates block recorded with :func:`record_results`.
RESULTS_MIME = "application/vnd.kvk.results+json"
#: Every kvk MIME type that carries data for the exports and never reaches the HTML.
EXPORT_MIMES = frozenset({TABLE_MIME, FIGURE_MIME, KEYS_MIME, RESULTS_MIME})

#: Column names that :func:`table_html` translates (tidy results and panel identifiers).
COLUMN_KEYS = frozenset(
    {
        "kommunenummer",
        "kommune",
        "pulje",
        "sector",
        "period",
        "estimate",
        "std_error",
        "p_value",
        "conf_low",
        "conf_high",
        "event_time",
        "group",
        "time",
        "term",
        "rate",
    }
)

#: Tables with at most this many rows are kept on one page.
SHORT_TABLE_ROWS = 25

#: Resolution of embedded figures (PNG) shown at the full text width; a narrower figure gets
#: proportionally fewer dots per inch of its drawing (the same resolution in print).
FIGURE_DPI = 170

#: Integer columns shown without a thousands separator (years).
_PLAIN_INT_COLUMNS = frozenset({"year", "år", "aar"})

_STATE: dict[str, Any] = {"lang": "nb", "figure": 0, "table": 0, "inputs": []}


def _display(bundle: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
    from IPython.display import display

    display(dict(bundle), raw=True, metadata=dict(metadata or {}))


def start(
    title: str,
    *,
    lang: str = "nb",
    subtitle: str = "",
    simulated: bool = False,
    inputs: Iterable[str | Path] = (),
    title_page: bool = False,
) -> None:
    """Begin a report: set the language, reset figure/table numbering, record the title block.

    Parameters
    ----------
    title, subtitle
        Shown in the title block of the rendered report.
    lang
        ``"nb"`` or ``"en"``: language of captions ("Figur"/"Figure") and of markdown cells
        tagged ``lang-nb``/``lang-en`` (the others are dropped when rendering).
    simulated
        Show the "SIMULATED DATA" notice (see :func:`is_simulated`).
    inputs
        Input files to list, with their SHA-256, in the provenance section.
    title_page
        Give the report a title page of its own (series line, title, subtitle, date, the
        simulated-data notice, a table of contents made from the ``##`` headings, with page
        numbers in the PDF) instead of the compact title block; for the evaluation report.
    """
    lang = check_lang(lang)
    _STATE.update(lang=lang, figure=0, table=0, inputs=[str(p) for p in inputs])
    meta = {
        "title": title,
        "subtitle": subtitle,
        "lang": lang,
        "simulated": bool(simulated),
        "inputs": _STATE["inputs"],
        "title_page": bool(title_page),
    }
    _display({META_MIME: meta, "text/plain": ""})


def uses(*paths: str | Path) -> None:
    """Record more input files for the provenance section (after :func:`start`)."""
    new = [str(p) for p in paths]
    _STATE["inputs"].extend(new)
    _display({META_MIME: {"inputs_add": new}, "text/plain": ""})


def is_simulated(panel: Any = None, paths: Iterable[str | Path] = ()) -> bool:
    """True when the data are (partly) simulated.

    Simulated when the panel's ``membership_source`` contains ``"simulated"``, when an input
    lies in the demo folder (``data/raw/demo``), or when a ``manifest.json`` beside an input
    names the demo folder or a simulated source.
    """
    from .. import config

    if panel is not None and "membership_source" in getattr(panel, "columns", ()):
        if (panel["membership_source"].astype(str) == "simulated").any():
            return True
    from .provenance import input_status

    demo = config.DEMO_DIR.resolve()
    for p in paths:
        if input_status(p)[0] == "simulated":  # also a folder's "status: synthetic" note
            return True
        path = Path(p).resolve()
        if path == demo or demo in path.parents or "demo" in path.name.lower():
            return True
        manifest = path.parent / "manifest.json"
        if manifest.is_file():
            text = manifest.read_text(encoding="utf-8", errors="replace").lower()
            if "/demo/" in text or "simulated" in text or "_demo" in text:
                return True
    return False


def _caption(kind: str, caption: str) -> tuple[int, str]:
    _STATE[kind] += 1
    n = _STATE[kind]
    word = label(kind, _STATE["lang"])
    return n, f"{word}&nbsp;{n}: {html.escape(caption)}"


def _keys(key: str | Iterable[str] | None) -> list[str]:
    """``key`` of :func:`table`/:func:`figure` as a list of names."""
    if key is None:
        return []
    if isinstance(key, str):
        return [key]
    return [str(k) for k in key]


def jsonable(value: Any) -> Any:
    """``value`` made JSON-safe: numpy scalars and arrays to Python, NaN and infinities to
    ``None``, periods/dates/paths and other objects to text, DataFrames to
    ``{"columns": [...], "rows": [[...]]}``, objects with ``to_dict()`` through it."""
    import math
    import numbers

    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    try:
        import numpy as np
        import pandas as pd
    except ImportError:  # pragma: no cover - both are dependencies
        return str(value)
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return {
            "columns": [str(c) for c in value.columns],
            "rows": [[jsonable(v) for v in row] for row in value.itertuples(index=False)],
        }
    if isinstance(value, pd.Series):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is pd.NA or value is pd.NaT:
        return None
    if callable(getattr(value, "to_dict", None)):
        return jsonable(value.to_dict())
    return str(value)


#: Tallest height/width ratio shown at full text width; taller figures are narrowed so that
#: a figure never fills more than about half an A4 page.
MAX_ASPECT = 0.62

#: Salt of the ids in exported SVG files (fixed so that the same figure gives the same file).
SVG_HASHSALT = "kvk"


#: zlib level of the report's PNG figures: level 1 makes these line charts smaller than
#: matplotlib's default (6), in about half the time (antialiased lines compress poorly).
PNG_COMPRESS_LEVEL = 1


class _RawFrame:
    """A file-like object that keeps the RGBA buffer ``savefig(format="rgba")`` writes (with
    its shape: rows x columns x 4)."""

    data: Any = None

    def write(self, data: Any) -> int:
        import numpy as np

        self.data = np.array(data, dtype=np.uint8)  # a copy: the buffer is reused
        return self.data.nbytes

    def seek(self, offset: int, whence: int = 0) -> int:  # matplotlib asks for a file
        return 0


def _png_bytes(fig: Any, dpi: float, bbox: Any) -> bytes:
    """``fig`` drawn once with Agg and encoded as PNG: RGB when every pixel is opaque (the
    alpha channel, all 255, is dropped: the same pixels; WeasyPrint would otherwise split it
    off into a soft mask for every PDF), zlib level :data:`PNG_COMPRESS_LEVEL`, the
    resolution and software noted as ``savefig`` does."""
    import matplotlib as mpl
    from PIL import Image, PngImagePlugin

    frame = _RawFrame()
    fig.savefig(frame, format="rgba", dpi=dpi, bbox_inches=bbox)
    rgba = frame.data
    if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4:  # another backend: as savefig
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=dpi, bbox_inches=bbox)
        return out.getvalue()
    opaque = bool((rgba[:, :, 3] == 255).all())
    image = Image.fromarray(rgba[:, :, :3].copy() if opaque else rgba, "RGB" if opaque else "RGBA")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"Matplotlib version{mpl.__version__}, https://matplotlib.org/")
    out = io.BytesIO()
    image.save(out, format="png", dpi=(dpi, dpi), pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def figure_files(fig: Any, dpi: float = FIGURE_DPI) -> tuple[bytes, bytes]:
    """``fig`` as PNG (``dpi``, default :data:`FIGURE_DPI`) and SVG, both cut to the figure's
    tight bounding box (as ``savefig(bbox_inches="tight")``: the same pixels).

    The layout (the figure's layout engine, e.g. constrained) is computed once, at the PNG's
    resolution, without drawing the artists, then the bounding box; both files are drawn
    with them (``savefig`` would draw the whole figure once more before each file).  The PNG
    is RGB when the figure is opaque (see :func:`_png_bytes`).  Falls back to two plain
    ``savefig`` calls when the padding is ``"layout"`` or the figure cannot be measured.
    """
    import matplotlib as mpl
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    pad = mpl.rcParams["savefig.pad_inches"]
    engine = fig.get_layout_engine()
    bbox = None
    if not isinstance(pad, str):
        own_dpi = fig.dpi
        try:
            fig.dpi = dpi
            if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
                # what Figure.draw does first: the engine places the axes (it measures the
                # text it needs); nothing else is drawn
                engine.execute(fig)
            else:
                fig.draw_without_rendering()
            bbox = fig.get_tightbbox().padded(pad)
        except Exception:  # an artist that cannot be measured: let savefig do it
            bbox = None
        finally:
            fig.dpi = own_dpi
    svg = io.BytesIO()
    try:
        if bbox is not None and engine is not None:
            # laid out above: no engine at all (with any engine, even "none", savefig makes
            # its own draw without output first)
            with mpl.rc_context(
                {"figure.autolayout": False, "figure.constrained_layout.use": False}
            ):
                fig.set_layout_engine(None)
        png = _png_bytes(fig, dpi, bbox or "tight")
        with mpl.rc_context({"svg.hashsalt": SVG_HASHSALT}):
            fig.savefig(svg, format="svg", bbox_inches=bbox or "tight", metadata={"Date": None})
    finally:
        if bbox is not None and engine is not None:
            fig.set_layout_engine(engine)
    return png, svg.getvalue()


def _figure_dpi(width: str) -> int:
    """Resolution of a figure printed at CSS ``width``: a narrowed figure is printed smaller,
    so fewer pixels give it the print resolution of a full-width one (the synthetic-control
    figure at 72 %: half the pixels and PNG bytes)."""
    frac = float(width[:-1]) / 100 if re.fullmatch(r"\d+(\.\d+)?%", width) else 1.0
    return round(FIGURE_DPI * min(1.0, max(frac, 0.2)))


_PLAIN = (str, int, float, bool, type(None))


def maker_digest(make: Any) -> str:
    """SHA-256 (hex) of what a figure-making function does, for the key of a shared figure
    (:func:`figure`): its bytecode, names and constants (nested functions included), and the
    values of the plain variables (str, numbers, booleans, None, tuples of them) it reads from
    its globals or closure.  Two notebooks whose calls differ (another argument, another
    title in a variable) then draw their own figures instead of reading each other's; the
    objects a call reads (the results) are covered by the shared entry's key."""
    import hashlib

    h = hashlib.sha256()

    def plain(v: Any) -> bool:
        return isinstance(v, _PLAIN) or (isinstance(v, tuple) and all(plain(x) for x in v))

    def add(code: Any) -> None:
        h.update(code.co_code)
        h.update(repr(code.co_names).encode())
        h.update(repr(code.co_varnames).encode())
        h.update(repr(code.co_freevars).encode())
        for c in code.co_consts:
            if hasattr(c, "co_code"):
                add(c)
            else:
                h.update(repr(c).encode())

    code = getattr(make, "__code__", None)
    if code is None:  # not a Python function (a partial, a callable object): its repr
        h.update(repr(make).encode())
        return h.hexdigest()
    add(code)
    env = getattr(make, "__globals__", {})
    for name in code.co_names:
        if name in env and plain(env[name]):
            h.update(f"{name}={env[name]!r}".encode())
    for name, cell in zip(code.co_freevars, make.__closure__ or (), strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if plain(value):
            h.update(f"{name}={value!r}".encode())
    return h.hexdigest()


def _drawn(fig: Any, width: str | None) -> tuple[bytes, bytes, str]:
    """``(png, svg, width)`` of a figure for :func:`figure` (``width`` as given, or from the
    figure's aspect ratio, see :data:`MAX_ASPECT`); the figure is closed."""
    import matplotlib.pyplot as plt

    if width is None:
        w_in, h_in = fig.get_size_inches()
        ratio = h_in / w_in if w_in else 1.0
        width = f"{min(100, round(100 * MAX_ASPECT / ratio))}%" if ratio > MAX_ASPECT else "100%"
    png_bytes, svg_bytes = figure_files(fig, _figure_dpi(width))
    plt.close(fig)
    return png_bytes, svg_bytes, width


def figure(
    fig: Any,
    caption: str,
    *,
    source: str | None = None,
    width: str | None = None,
    key: str | Iterable[str] | None = None,
    shared: Any = None,
) -> None:
    """Show a matplotlib figure as a numbered figure with a caption below it.

    The figure is embedded as PNG (base64, :data:`FIGURE_DPI` dpi at full text width, fewer
    for a narrower figure, so that every figure prints at the same resolution) and closed, so the notebook
    does not show it twice.  ``width`` (CSS, e.g. ``"80%"``) defaults to the full text width,
    narrowed for tall figures (see :data:`MAX_ASPECT`).  ``key`` names the estimate(s) the
    figure shows (see :func:`record_results`).  An SVG copy and the figure's record travel with
    the output (:data:`FIGURE_MIME`) for the exports, which take the PNG from the HTML.

    ``fig`` may be a function of no arguments that makes the figure; with ``shared``
    (``results.shared(name, **params)`` of :func:`~kvk_analysis.report.evaluation.evaluate`'s
    results: the figure drawn from those results alone, ``name`` and ``params`` saying which)
    the drawn files are kept with the cached results, so every notebook evaluating the same
    specification draws that figure once and the others read it (the same PNG and SVG
    bytes), as long as the function is the same (:func:`maker_digest`: its code and the
    plain values it reads); ``shared=None`` draws it here.
    """
    if callable(fig):
        make = fig
        if shared is not None:
            png_bytes, svg_bytes, width = shared.get(
                lambda: _drawn(make(), width), width=width, make=maker_digest(make)
            )
        else:
            png_bytes, svg_bytes, width = _drawn(make(), width)
    else:
        png_bytes, svg_bytes, width = _drawn(fig, width)
    dpi = _figure_dpi(width)
    buf = io.BytesIO(png_bytes)
    svg = io.BytesIO(svg_bytes)
    w_px, h_px = struct.unpack(">II", buf.getvalue()[16:24])  # the PNG's IHDR: width, height
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    n, cap = _caption("figure", caption)
    src = (
        f'<div class="kvk-source">{label("source", _STATE["lang"])}: {html.escape(source)}</div>'
        if source
        else ""
    )
    body = (
        f'<figure class="kvk-figure" id="figure-{n}">'
        f'<img src="data:image/png;base64,{data}" style="width:{width}" alt="{html.escape(caption)}"/>'
        f"<figcaption>{cap}</figcaption>{src}</figure>"
    )
    raw = {
        "number": n,
        "label": f"{label('figure', _STATE['lang'])} {n}",
        "caption": caption,
        "source": source,
        "keys": _keys(key),
        "width": width,
        "dpi": dpi,
        "size_px": [w_px, h_px],
        # the PNG is not repeated here: the exporter takes it from the <img> of text/html
        "svg": svg.getvalue().decode("utf-8"),
    }
    _display(
        {
            "text/html": body,
            "text/plain": f"[{label('figure', _STATE['lang'])} {n}]",
            FIGURE_MIME: raw,
        }
    )


def _format_cell(value: Any, decimals: int, lang: str) -> str:
    import numbers

    if value is None:
        return MISSING
    if isinstance(value, bool):
        return ("ja" if value else "nei") if lang == "nb" else ("yes" if value else "no")
    if isinstance(value, numbers.Integral):
        return fmt_int(value, lang)
    if isinstance(value, numbers.Real):
        return fmt_num(value, lang, decimals)
    text = str(value)
    return MISSING if text in ("nan", "NaN", "<NA>", "NaT", "None") else text


def table_cells(
    df: Any,
    *,
    lang: str = "nb",
    decimals: int | Mapping[str, int] = 1,
    index: bool = False,
    translate: bool = True,
) -> dict[str, Any]:
    """What :func:`table_html` shows, as data: ``columns`` (one dict per column: ``name`` as in
    the DataFrame, ``label`` as shown, ``kind`` ``integer``/``number``/``bool``/``text``,
    ``decimals`` as shown, ``plain`` for year columns shown without a thousands separator),
    ``rows`` (the raw values, JSON-safe, unrounded) and ``shown`` (the cells as formatted)."""
    import pandas as pd

    lang = check_lang(lang)
    frame = df.reset_index() if index else df
    cols = list(frame.columns)
    numeric = {
        c: pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in cols
    }
    plain = {c for c in cols if str(c).strip().lower() in _PLAIN_INT_COLUMNS}
    columns = []
    for c in cols:
        if pd.api.types.is_bool_dtype(frame[c]):
            kind = "bool"
        elif numeric[c] and pd.api.types.is_integer_dtype(frame[c]):
            kind = "integer"
        elif numeric[c]:
            kind = "number"
        else:
            kind = "text"
        d = decimals.get(str(c), 1) if isinstance(decimals, Mapping) else decimals
        columns.append(
            {
                "name": str(c),
                "label": label(str(c), lang) if translate and c in COLUMN_KEYS else str(c),
                "kind": kind,
                "numeric": numeric[c],
                "decimals": 0 if kind == "integer" else int(d),
                "plain": c in plain,
            }
        )
    rows, shown = [], []
    for values in frame.itertuples(index=False, name=None):
        raw_row, shown_row = [], []
        for c, v in zip(cols, values, strict=True):
            d = decimals.get(str(c), 1) if isinstance(decimals, Mapping) else decimals
            if (
                isinstance(v, float)
                and float(v).is_integer()
                and pd.api.types.is_integer_dtype(frame[c])
            ):
                v = int(v)
            shown_row.append(
                str(v) if c in plain and isinstance(v, int) else _format_cell(v, d, lang)
            )
            raw_row.append(jsonable(v))
        rows.append(raw_row)
        shown.append(shown_row)
    return {"columns": columns, "rows": rows, "shown": shown}


def _table_html_from_cells(cells: Mapping[str, Any]) -> str:
    cols = cells["columns"]
    cls = ["num" if c["numeric"] else "txt" for c in cols]
    head = "".join(
        f'<th class="{k}">{html.escape(c["label"])}</th>' for c, k in zip(cols, cls, strict=True)
    )
    rows = [
        "<tr>"
        + "".join(f'<td class="{k}">{html.escape(v)}</td>' for v, k in zip(shown, cls, strict=True))
        + "</tr>"
        for shown in cells["shown"]
    ]
    wide = " kvk-wide" if len(cols) > 7 else ""
    return (
        f'<table class="kvk-table{wide}"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def table_html(
    df: Any,
    *,
    lang: str = "nb",
    decimals: int | Mapping[str, int] = 1,
    index: bool = False,
    translate: bool = True,
) -> str:
    """A DataFrame as an HTML ``<table>`` with numbers formatted for ``lang``.

    Numeric columns are right-aligned; the standard column names in :data:`COLUMN_KEYS`
    (tidy-result and panel columns) are translated (``translate=False`` keeps them).
    """
    return _table_html_from_cells(
        table_cells(df, lang=lang, decimals=decimals, index=index, translate=translate)
    )


def table(
    df: Any,
    caption: str,
    *,
    decimals: int | Mapping[str, int] = 1,
    index: bool = False,
    note: str | None = None,
    translate: bool = True,
    key: str | Iterable[str] | None = None,
) -> None:
    """Show a DataFrame as a numbered table with the caption above and an optional note below.

    ``key`` names the estimate(s) the table shows (see :func:`record_results`).  The raw,
    unrounded values travel with the output (:data:`TABLE_MIME`) for the exports.
    """
    n, cap = _caption("table", caption)
    cells = table_cells(
        df, lang=_STATE["lang"], decimals=decimals, index=index, translate=translate
    )
    body = _table_html_from_cells(cells)
    note_html = (
        f'<div class="kvk-note">{label("note", _STATE["lang"])}: {html.escape(note)}</div>'
        if note
        else ""
    )
    short = " kvk-short" if len(df) <= SHORT_TABLE_ROWS else ""
    out = (
        f'<figure class="kvk-tablefig{short}" id="table-{n}"><figcaption>{cap}</figcaption>'
        f"{body}{note_html}</figure>"
    )
    raw = {
        "number": n,
        "label": f"{label('table', _STATE['lang'])} {n}",
        "caption": caption,
        "note": note,
        "keys": _keys(key),
        **cells,
    }
    _display(
        {
            "text/html": out,
            "text/plain": f"[{label('table', _STATE['lang'])} {n}]",
            TABLE_MIME: raw,
        }
    )


def record_results(results: Any, *, name: str = "main") -> None:
    """Record an estimates block for the report's results file (``<stem>.json``).

    ``results`` is a mapping or an object with ``to_dict()`` (e.g. the report's results
    object).  It is stored JSON-safe under ``results[name]`` of the results file; nothing is
    shown in the report.  Estimates are linked to the tables and figures that show them by
    name: give ``report.table(..., key="overall")`` / ``report.figure(..., key=[...])`` and
    name the estimate ``"overall"`` in ``results`` (as ``{"estimates": {"overall": {...}}}``,
    or ``{"estimates": [{"key": "overall", ...}]}``, or any nested mapping with a ``"key"``
    entry); the exporter adds ``"appears_in": [{"kind": "table", "number": 2, ...}]`` to it.
    A ``"specification"`` entry of the block is also copied to the file's top level.
    Recording the same ``name`` twice keeps the later block.
    """
    d = results.to_dict() if callable(getattr(results, "to_dict", None)) else results
    if not isinstance(d, Mapping):
        raise TypeError(
            f"record_results expects a mapping or an object with to_dict(); got {type(d).__name__}"
        )
    _display({RESULTS_MIME: {"name": str(name), "results": jsonable(d)}, "text/plain": ""})


def say(text: str) -> None:
    """Show generated running text (markdown) as a paragraph of the report."""
    _display({"text/markdown": text, "text/plain": text})


def key_figures(items: Mapping[str, str]) -> None:
    """Show a small box of key figures (label -> already formatted value)."""
    cells = "".join(
        f'<div class="kvk-key"><div class="kvk-key-value">{html.escape(v)}</div>'
        f'<div class="kvk-key-label">{html.escape(k)}</div></div>'
        for k, v in items.items()
    )
    _display(
        {
            "text/html": f'<div class="kvk-keys">{cells}</div>',
            "text/plain": json.dumps(dict(items), ensure_ascii=False),
            KEYS_MIME: [[str(k), str(v)] for k, v in items.items()],
        }
    )
