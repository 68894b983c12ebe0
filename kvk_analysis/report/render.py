"""Render an executed notebook to a report: HTML (nbconvert) and PDF (WeasyPrint).

The HTML has the code hidden, no prompts and no anchor links, no remote scripts or styles (it
works offline), a title block, a "simulated data" notice when the data are simulated, numbered
figures and tables (made in the kernel by :mod:`kvk_analysis.report.display`), print CSS for
A4 with page numbers, and a provenance section at the end.  Standard-error streams (warnings,
progress bars) are dropped.  Both files are written atomically: a failed render leaves no
file that looks like a finished report.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import datetime as _dt
import html
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ReportError
from ..fileio import atomic_path, atomic_write
from .display import EXPORT_MIMES, META_MIME, RESULTS_MIME
from .text import check_lang, label

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
CSS_PATH = TEMPLATE_DIR / "kvk" / "kvk.css"
#: Permissions of report files (temporary files are created private).
REPORT_MODE = 0o644

#: Cell tag: markdown/code cell shown only in that report language.
LANG_TAG = "lang-{lang}"
#: Cell tags that remove a cell from the report.
REMOVE_TAGS = frozenset({"remove", "remove-cell", "remove_cell", "hide", "notebook-only"})


def parameters_cell(cells: Iterable[Mapping[str, Any]]) -> tuple[str, ast.Module] | None:
    """The source and syntax tree of the first code cell tagged ``parameters`` (cells as
    notebook nodes or as read from the ``.ipynb`` JSON); ``None`` when there is none or it
    does not parse."""
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = "".join(cell.get("source", ""))
            try:
                return source, ast.parse(source)
            except SyntaxError:
                return None
    return None


def notebook_parameters(nb: Any) -> dict[str, Any]:
    """The effective parameters of an executed notebook: the defaults of the cell tagged
    ``parameters`` overridden by the values papermill injected.

    Defaults that are not literals are given as their source text.
    """
    params: dict[str, Any] = {}
    found = parameters_cell(nb.cells)
    if found is not None:
        source, tree = found
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        params[target.id] = ast.literal_eval(value)
                    except (ValueError, SyntaxError):
                        params[target.id] = ast.get_source_segment(source, value)
    injected = nb.metadata.get("papermill", {}).get("parameters", {}) or {}
    params.update(injected)
    return params


def report_metadata(nb: Any) -> dict[str, Any]:
    """The metadata emitted by :func:`kvk_analysis.report.display.start` (and ``uses``)."""
    meta: dict[str, Any] = {}
    inputs: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if isinstance(out, Mapping) else {}
            item = data.get(META_MIME)
            if item is None:
                continue
            if "inputs_add" in item:
                inputs.extend(item["inputs_add"])
            else:
                meta.update({k: v for k, v in item.items() if k != "inputs"})
                inputs = list(item.get("inputs", [])) + inputs
    meta["inputs"] = inputs
    return meta


def _keep_output(out: Mapping[str, Any]) -> bool:
    kind = out.get("output_type")
    if kind == "stream":
        return out.get("name") == "stdout" and bool(str(out.get("text", "")).strip())
    if kind == "error":
        return False
    data = out.get("data", {})
    if META_MIME in data or RESULTS_MIME in data:
        return False
    if set(data) == {"text/plain"}:
        text = str(data["text/plain"]).strip()
        # reprs such as "<Figure size 640x480 with 1 Axes>" or "<Axes: ...>" are noise
        if not text or (text.startswith("<") and text.endswith(">")):
            return False
    return True


def prepare_notebook(nb: Any, lang: str, *, keep_data: bool = False) -> Any:
    """A copy of ``nb`` ready to render in ``lang``.

    Drops cells tagged for the other language or with a tag in :data:`REMOVE_TAGS`, code cells
    with no remaining output, standard-error streams, error outputs, the report metadata and
    results outputs and bare object reprs.  Unless ``keep_data``, the export data that tables
    and figures carry (:data:`~kvk_analysis.report.display.EXPORT_MIMES`) are removed from the
    outputs, so the HTML does not grow with them.
    """
    lang = check_lang(lang)
    other = {LANG_TAG.format(lang=x) for x in ("nb", "en") if x != lang}
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & other or tags & REMOVE_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if _keep_output(o)]
            if not cell.outputs:
                continue
            if not keep_data:
                for o in cell.outputs:
                    data = o.get("data")
                    if data:
                        for mime in EXPORT_MIMES & set(data):
                            del data[mime]
        if cell.cell_type == "markdown" and not cell.source.strip():
            continue
        cells.append(cell)
    out.cells = cells
    return out


def provenance_html(
    nb: Any,
    lang: str,
    *,
    source_notebook: str | Path | None = None,
    extra_inputs: Iterable[str | Path] = (),
    cwd: str | Path | None = None,
) -> str:
    """The provenance table of an executed notebook as HTML (see :mod:`.provenance`).

    Inputs are the files the notebook registered with ``report.start(inputs=...)`` /
    ``report.uses(...)``, ``extra_inputs``, and every string parameter that names an existing
    file (relative paths are taken from ``cwd``).
    """
    table = provenance_frame(
        nb, source_notebook=source_notebook, extra_inputs=extra_inputs, cwd=cwd
    )
    return compact_provenance_html(table, lang)


def provenance_frame(
    nb: Any,
    *,
    source_notebook: str | Path | None = None,
    extra_inputs: Iterable[str | Path] = (),
    cwd: str | Path | None = None,
) -> Any:
    """The provenance table (``section, item, value``) of an executed notebook, from the same
    inputs as :func:`provenance_html`."""
    from .provenance import provenance_table

    params = notebook_parameters(nb)
    meta = report_metadata(nb)
    base = Path(cwd) if cwd is not None else Path.cwd()
    inputs: list[Path] = []
    for p in [*meta.get("inputs", []), *extra_inputs]:
        path = Path(p)
        inputs.append(path if path.is_absolute() else base / path)
    for value in params.values():
        if isinstance(value, str) and value and len(value) < 500:
            path = Path(value)
            path = path if path.is_absolute() else base / path
            if path.is_file():
                inputs.append(path)
                manifest = path.parent / "manifest.json"
                if path.suffix == ".parquet" and manifest.is_file():
                    inputs.append(manifest)
    return provenance_table(inputs, params, notebook=source_notebook)


#: Width of the provenance table's label column per character of the longest label (em of
#: the table's font): DejaVu Sans Bold averages 0.52-0.68 em per character in these labels.
PROV_LABEL_EM = 0.7

#: Hex digits of a SHA-256 shown at normal size; the rest follows in a small font.
HASH_SHOWN = 16


def _hash_html(digest: str) -> str:
    """A SHA-256 as HTML: the first :data:`HASH_SHOWN` hex digits, then the rest in a small
    font (complete, but the part a reader compares stands out); the full hash is also the
    ``title`` (tooltip)."""
    d = html.escape(digest)
    if len(digest) != 64:
        return d  # "missing"
    return (
        f'<span class="kvk-hash" title="SHA-256 {d}">{d[:HASH_SHOWN]}'
        f'<span class="kvk-hash-rest">{d[HASH_SHOWN:]}</span></span>'
    )


def compact_provenance_html(table: Any, lang: str) -> str:
    """The provenance table (``section, item, value``, see
    :func:`kvk_analysis.report.provenance.provenance_table`) as a compact two-column HTML
    table: one row for the notebook, one for all parameters (``name = value`` pairs that wrap),
    one for the input files (path and SHA-256 per line), one for Python and the package
    versions (``kvk 0.1.0 · numpy 2.4.6 · ...``), and the git commit and date.  Nothing is left
    out; a profile's provenance takes about a third of a page instead of a full page.
    """
    esc = html.escape
    by: dict[str, list[tuple[str, str]]] = {}
    for section, item, value in table[["section", "item", "value"]].itertuples(
        index=False, name=None
    ):
        by.setdefault(str(section), []).append((str(item), str(value)))
    sha = "SHA-256"
    rows: list[tuple[str, str]] = []
    for item, value in by.get("notebook", []):
        rows.append((label("prov_notebook", lang), f"{esc(item)}<br/>{sha} {_hash_html(value)}"))
    if by.get("parameter"):
        empty = "&quot;&quot;"  # an empty string parameter, shown as ""
        pairs = [
            # short pairs never break inside; long values (lists, paths) may wrap
            f'<span class="kvk-prov-pair{" kvk-nowrap" if len(k) + len(v) < 40 else ""}">'
            f"{esc(k)} = {esc(v) if v else empty}</span>"
            for k, v in by["parameter"]
        ]
        rows.append((label("prov_parameters", lang), " · ".join(pairs)))
    if by.get("input"):
        files = "".join(
            f'<div class="kvk-prov-file">{esc(k)}<br/>{sha} {_hash_html(v)}</div>'
            for k, v in by["input"]
        )
        rows.append((label("prov_inputs", lang), files))
    software = [*by.get("python", []), *by.get("package", [])]
    if software:
        rows.append(
            (
                label("prov_packages", lang),
                " · ".join(
                    f'<span class="kvk-prov-pair kvk-nowrap">{esc(k)} {esc(v)}</span>'
                    for k, v in software
                ),
            )
        )
    if by.get("input_status"):  # each input real or simulated, with why (provenance.input_status)
        words = {
            "real": {"nb": "ekte", "en": "real"},
            "simulated": {"nb": "simulert", "en": "simulated"},
        }
        status_rows = []
        for k, v in by["input_status"]:
            status, _, why = v.partition(" ")
            shown = words.get(status, {}).get(lang, status)
            status_rows.append(
                f'<div class="kvk-prov-file">{esc(k)}: {esc(shown)} {esc(why)}</div>'
            )
        rows.append((label("prov_input_status", lang), "".join(status_rows)))
    for section, key in (("git", "prov_git"), ("date", "prov_date")):
        for _, value in by.get(section, []):
            rows.append((label(key, lang), esc(value)))
    for section, items in by.items():  # sections added to provenance_table later
        if section not in {
            "notebook",
            "parameter",
            "input",
            "input_status",
            "python",
            "package",
            "git",
            "date",
        }:
            for k, v in items:
                rows.append((esc(section), f"{esc(k)}: {esc(v)}"))
    body = "".join(
        f'<tr><th class="txt" scope="row">{esc(head)}</th><td class="txt">{cell}</td></tr>'
        for head, cell in rows
    )
    # A fixed table layout (kvk.css): the automatic one measures the narrowest width of every
    # cell, which for text that may break anywhere (paths, hashes) means laying it out once
    # per character (a third of a profile's PDF time).  The label column is as wide as the
    # longest label (PROV_LABEL_EM per character: wider than DejaVu Sans Bold text) and the
    # cell's padding.
    longest = max((len(head) for head, _ in rows), default=8)
    width = f"{PROV_LABEL_EM * longest + 1.6:.1f}em"
    return (
        f'<table class="kvk-table kvk-prov"><colgroup><col style="width:{width}"/><col/>'
        f"</colgroup><tbody>{body}</tbody></table>"
    )


def _format_date(lang: str) -> str:
    today = _dt.date.today()
    if lang == "nb":
        months = (
            "januar februar mars april mai juni juli august september oktober november desember"
        ).split()
        return f"{today.day}. {months[today.month - 1]} {today.year}"
    return today.strftime("%d %B %Y").lstrip("0")


def html_exporter() -> Any:
    """The configured nbconvert ``HTMLExporter`` (kvk template, code hidden)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="kvk",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
    )
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    exporter.embed_images = True
    return exporter


#: The exporter :func:`render_html` uses, made once per process: a new exporter loads and
#: compiles the templates again (most of the time of a profile's HTML).
_EXPORTER: list[Any] = []


def _kept_exporter() -> Any:
    if not _EXPORTER:
        _EXPORTER.append(html_exporter())
    return _EXPORTER[0]


def render_html(
    executed_nb: str | Path | Any,
    out_html: str | Path,
    *,
    title: str | None = None,
    subtitle: str | None = None,
    simulated: bool | None = None,
    lang: str | None = None,
    source_notebook: str | Path | None = None,
    cwd: str | Path | None = None,
    provenance: bool = True,
    name: str | None = None,
    provenance_table: Any = None,
) -> Path:
    """Render an executed notebook to a self-contained HTML report, written atomically.

    Parameters
    ----------
    executed_nb
        Path of the executed ``.ipynb`` or a notebook node.
    out_html
        Output path.
    title, subtitle, simulated, lang
        Override what the notebook recorded with ``report.start(...)``; when neither gives a
        title, the notebook's file name is used.  ``simulated`` is true if either says so (an
        override cannot hide the notice).
    source_notebook
        The notebook before execution, listed (with its hash) in the provenance.
    cwd
        Folder the notebook ran in (to resolve relative input paths for the provenance).
    provenance
        Append the provenance section (default).
    name
        The report's name when the notebook recorded no title (default: the file name of
        ``executed_nb``, or the notebook's ``title`` metadata for a notebook node).
    provenance_table
        The table of :func:`provenance_frame` for this notebook, when the caller has it
        (:func:`render_report` computes it once for the HTML and the exports).

    Returns
    -------
    The path written.
    """
    import nbformat

    if isinstance(executed_nb, str | Path):
        try:
            nb = nbformat.read(str(executed_nb), as_version=4)
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read executed notebook {executed_nb}: {exc}") from exc
        name = name or Path(executed_nb).stem
    else:
        nb = executed_nb
        name = name or str(nb.metadata.get("title", "report"))
    meta = report_metadata(nb)
    use_lang = check_lang(lang or meta.get("lang") or "nb")
    is_sim = bool(meta.get("simulated")) or bool(simulated)
    ready = prepare_notebook(nb, use_lang)
    shown_title = title or meta.get("title") or name
    ready.metadata["title"] = shown_title
    version = _kvk_version()
    kvk = {
        "css": CSS_PATH.read_text(encoding="utf-8")
        + "\n.celltag_pagebreak { break-before: page; page-break-before: always; }\n",
        "title": html.escape(shown_title),
        "subtitle": html.escape(subtitle if subtitle is not None else meta.get("subtitle", "")),
        "title_page": bool(meta.get("title_page")),
        "series": html.escape(
            label("series_evaluation" if meta.get("title_page") else "series_analysis", use_lang)
        ),
        "contents_heading": html.escape(label("h_contents", use_lang)),
        "imprint": html.escape(label("imprint", use_lang).format(version=version)),
        "date": html.escape(str((meta.get("title_fields") or {}).get("date") or ""))
        or _format_date(use_lang),
        "fields": {k: html.escape(str(v)) for k, v in (meta.get("title_fields") or {}).items()},
        "simulated": is_sim,
        "simulated_banner": html.escape(label("simulated_banner", use_lang)),
        "simulated_short": html.escape(label("simulated_short", use_lang)),
        "provenance_heading": html.escape(label("h_provenance", use_lang)),
        "provenance_html": (
            compact_provenance_html(provenance_table, use_lang)
            if provenance_table is not None
            else provenance_html(nb, use_lang, source_notebook=source_notebook, cwd=cwd)
        )
        if provenance
        else "",
        "version": version,
    }
    exporter = _kept_exporter()
    exporter.language_code = use_lang
    try:
        body, _ = exporter.from_notebook_node(
            ready, resources={"kvk": kvk, "language_code": use_lang}
        )
    except Exception as exc:  # nbconvert raises many types (jinja, mistune, ...)
        raise ReportError(f"rendering {name} to HTML failed: {exc}") from exc
    if kvk["title_page"]:
        body = add_contents(body)
    out = Path(out_html)
    with atomic_write(out, "w", encoding="utf-8") as fh:
        fh.write(body)
    out.chmod(REPORT_MODE)
    return out


#: Placeholder in the template where :func:`add_contents` puts the table of contents.
CONTENTS_MARK = "<!--kvk-contents-->"
_H2 = re.compile(r"<h2(?P<attrs>[^>]*)>(?P<text>.*?)</h2>", re.S)


def add_contents(body: str) -> str:
    """Give every ``<h2>`` after the title page an id (``kvk-sec-N``) and put a table of
    contents linking them at :data:`CONTENTS_MARK`; the print CSS adds page numbers
    (``target-counter``).  Headings that already have an id keep it."""
    head, mark, rest = body.partition(CONTENTS_MARK)
    if not mark:
        return body
    entries: list[tuple[str, str]] = []

    def number(m: re.Match[str]) -> str:
        attrs, text = m.group("attrs"), m.group("text")
        found = re.search(r'\bid="([^"]+)"', attrs)
        ident = found.group(1) if found else f"kvk-sec-{len(entries) + 1}"
        entries.append((ident, re.sub(r"<[^>]+>", "", text).strip()))
        return m.group(0) if found else f'<h2{attrs} id="{ident}">{text}</h2>'

    rest = _H2.sub(number, rest)
    items = "".join(
        f'<li><a href="#{html.escape(i)}">{html.escape(html.unescape(t))}</a></li>'
        for i, t in entries
        if t
    )
    return head + f'<ol class="kvk-toc">{items}</ol>' + rest


def _kvk_version() -> str:
    from .. import __version__

    return __version__


#: Code points every cached font subset holds (Basic Latin, Latin-1, Latin Extended-A with the
#: Sami letters of municipality names, general punctuation, the minus sign), so that the fonts
#: made for one report serve the next ones (other names, other numbers) unchanged.
FONT_BASE_CODEPOINTS: tuple[range, ...] = (
    range(0x20, 0x7F),
    range(0xA0, 0x180),
    range(0x2010, 0x2040),
    range(0x2212, 0x2213),
)
#: Font subsets kept between PDFs in this process: (font file hash, face index, hinting) ->
#: (glyph ids held, subset font file).  See :func:`cached_font_subsets`.
_FONT_SUBSETS: dict[tuple[str, int, bool], tuple[frozenset[int], bytes]] = {}


def _base_glyphs(content: bytes, index: int) -> set[int]:
    """Glyph ids of :data:`FONT_BASE_CODEPOINTS` in a font file."""
    import io

    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(content), fontNumber=index, lazy=True)
    cmap = font.getBestCmap() or {}
    return {font.getGlyphID(cmap[cp]) for r in FONT_BASE_CODEPOINTS for cp in r if cp in cmap}


#: Tables WeasyPrint's fontTools subsetting drops (``options.drop_tables``) that fontTools
#: decodes first; ``kern`` goes too where ``GPOS`` is present, as the subsetter does.
DROPPED_LAYOUT_TABLES = ("GSUB", "GPOS")


def without_dropped_layout(content: bytes, index: int = 0) -> bytes:
    """A font file without the layout tables WeasyPrint's fontTools subsetting drops
    (:data:`DROPPED_LAYOUT_TABLES`, and ``kern`` beside ``GPOS``), the other tables copied
    as they are (nothing decoded); ``content`` unchanged for a collection, an index other
    than 0, a font without those tables or a file fontTools cannot read.

    Why: fontTools (4.6x) decodes both tables in full before the subsetter drops them
    (``_compact_layout_tables``), about a third of the time of every subset (DejaVu Sans:
    large kerning and substitution tables).  The subset made from the result is byte for
    byte the one made from ``content`` (a test checks it), since those tables never reach it.
    """
    import io

    if index != 0 or content[:4] == b"ttcf":
        return content
    try:
        from fontTools.ttLib import TTFont

        font = TTFont(io.BytesIO(content), lazy=True)
        if not any(tag in font for tag in DROPPED_LAYOUT_TABLES):
            return content
        if "GPOS" in font and "kern" in font:  # the subsetter drops it beside GPOS
            del font["kern"]
        for tag in DROPPED_LAYOUT_TABLES:
            if tag in font:
                del font[tag]
        out = io.BytesIO()
        font.save(out, reorderTables=False)
        return out.getvalue()
    except Exception:  # noqa: BLE001 - a font fontTools cannot rewrite: WeasyPrint's way
        return content


@contextlib.contextmanager
def cached_font_subsets() -> Iterator[None]:
    """While active, WeasyPrint embeds font subsets kept from earlier PDFs of this process.

    WeasyPrint subsets every font of every PDF anew; without HarfBuzz's subsetter (a system
    library that is often missing) it uses fontTools, which first decodes the font's large
    layout tables, although they are dropped: about 0.35 s of a 1 s profile PDF for its five
    DejaVu faces.  Here a font is subset once, by WeasyPrint's own code, to the glyphs the
    report uses plus :data:`FONT_BASE_CODEPOINTS`, and later PDFs whose glyphs that subset
    holds embed it as it is (glyph ids are retained, so any such subset serves; the PDF's
    widths and text mapping are still those of the glyphs used).  A report that uses a glyph
    outside it makes a new, larger subset.  Fonts that WeasyPrint changes beyond subsetting
    (variable, colour or bitmap fonts, glyphs missing from the font) and WeasyPrint with
    HarfBuzz's subsetter are left to WeasyPrint.  WeasyPrint subsets the font without the
    layout tables it drops anyway (:func:`without_dropped_layout`: the same subset, a third
    faster).  (WeasyPrint has no option for this; the wrapper replaces
    ``weasyprint.pdf.fonts.Font.clean`` only inside this context.)
    """
    import hashlib

    try:
        from weasyprint.pdf import fonts as wfonts
        from weasyprint.text.ffi import harfbuzz

        fast = bool(wfonts.harfbuzz_subset) and harfbuzz.hb_version_atleast(4, 1, 0)
        original = wfonts.Font.clean
    except (ImportError, AttributeError):  # another WeasyPrint: leave it alone
        yield
        return
    if fast:
        yield
        return

    def clean(self: Any, to_unicode: Mapping[int, str], hinting: bool) -> None:
        try:
            plain = (
                to_unicode
                and not self.missing
                and "fvar" not in self.tables
                and not (self.png or self.svg or self.colr or self.bitmap)
            )
        except AttributeError:
            plain = False
        if not plain:
            original(self, to_unicode, hinting)
            return
        key = (hashlib.sha1(self.file_content).hexdigest(), int(self.index), bool(hinting))
        held, content = _FONT_SUBSETS.get(key, (frozenset(), b""))
        if not set(to_unicode) <= held:
            held = frozenset(set(to_unicode) | held | _base_glyphs(self.file_content, self.index))
            self.file_content = without_dropped_layout(self.file_content, self.index)
            original(self, dict.fromkeys(held, ""), hinting)
            content = self.file_content
            _FONT_SUBSETS[key] = (held, content)
        self.file_content = content

    wfonts.Font.clean = clean
    try:
        yield
    finally:
        wfonts.Font.clean = original


def png_image_data(png: bytes) -> bytes | None:
    """The compressed image data of a PNG that a PDF can hold as it is (``/FlateDecode`` with
    PNG predictors): the concatenated IDAT chunks of an 8-bit RGB or greyscale PNG that is not
    interlaced and has no transparency chunk; ``None`` for any other PNG (or not a PNG)."""
    import struct
    import zlib

    if png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat = 8, []
    header = None
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if len(data) != length or len(png) < pos + 12 + length:
            return None
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + data) != crc:
            return None
        if kind == b"IHDR":
            header = data
        elif kind in (b"tRNS", b"PLTE"):
            return None
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or len(header) != 13 or not idat:
        return None
    depth, colour, _, _, interlace = header[8:13]
    if depth != 8 or colour not in (0, 2) or interlace != 0:
        return None
    return b"".join(idat)


@contextlib.contextmanager
def png_passthrough() -> Iterator[None]:
    """While active, WeasyPrint puts an embedded PNG's own compressed data in the PDF when
    the PDF can hold it as it is (:func:`png_image_data`: 8-bit RGB or grey, not interlaced,
    no transparency; the report's figures are such PNGs, see
    :func:`kvk_analysis.report.display.figure_files`), instead of decoding the image and
    compressing it again (about 0.04 s per profile for its synthetic-control figure).  The
    PDF's image is the same pixels (PNG rows with their filters, which ``/Predictor 15``
    allows).  Other images go WeasyPrint's way.  (WeasyPrint has no option for this; the
    wrapper replaces ``weasyprint.images.RasterImage._get_png_data`` only inside this
    context.)"""
    try:
        from weasyprint import images as wimages

        original = wimages.RasterImage.__dict__["_get_png_data"]
    except (ImportError, AttributeError, KeyError):  # another WeasyPrint: leave it alone
        yield
        return
    if not isinstance(original, staticmethod):  # not the WeasyPrint this was made for
        yield
        return

    def get_png_data(pillow_image: Any) -> bytes:
        fp = getattr(pillow_image, "fp", None)
        if getattr(pillow_image, "format", None) == "PNG" and hasattr(fp, "getvalue"):
            data = png_image_data(fp.getvalue())
            if data is not None and pillow_image.mode in ("RGB", "L"):
                return data
        return original.__func__(pillow_image)

    wimages.RasterImage._get_png_data = staticmethod(get_png_data)
    try:
        yield
    finally:
        wimages.RasterImage._get_png_data = original


#: WeasyPrint's font configuration and the reports' parsed ``<style>`` sheets (by text and base
#: URL), kept in this process for the next PDFs (see :func:`_kept_stylesheets`).
_PDF_KEPT: dict[str, Any] = {}
_STYLES: dict[tuple[str, str], Any] = {}
#: At most this many parsed sheets are kept (a batch has two: the report CSS and pygments').
MAX_KEPT_STYLES = 16
_STYLE_ELEMENT = re.compile(r'<style type="text/css">(.*?)</style>', re.S)
#: CSS whose meaning could change when the sheet is given to WeasyPrint beside the document
#: instead of inside it: ``!important`` (user and author origins rank the other way round),
#: rules WeasyPrint keeps per document (counter styles, colour profiles, layers) and imports.
_DOCUMENT_BOUND_CSS = re.compile(
    r"!\s*important|@(?:counter-style|color-profile|layer|import)\b", re.I
)


#: A reference in CSS that the sheet's base URL resolves.
_CSS_URL = re.compile(r"url\s*\(", re.I)


def _font_config() -> Any:
    """One WeasyPrint ``FontConfiguration`` per process (made for every PDF otherwise)."""
    if "fonts" not in _PDF_KEPT:
        from weasyprint.text.fonts import FontConfiguration

        _PDF_KEPT["fonts"] = FontConfiguration()
    return _PDF_KEPT["fonts"]


def _kept_stylesheets(text: str, base_url: str) -> tuple[str, list[Any]] | None:
    """``text`` without its ``<style type="text/css">`` elements, and their sheets parsed by
    WeasyPrint, kept in this process (by text, and by ``base_url`` only for a sheet with
    ``url(...)`` references): a batch's reports all carry the same CSS, which WeasyPrint
    otherwise parses again for every PDF.  Given to ``write_pdf(stylesheets=...)``
    in the same order the sheets cascade as before (their origin is "user" instead of
    "author", which ranks the same against the user-agent sheet and the document's ``style``
    attributes as long as nothing is ``!important``); the PDF is byte-identical.  ``None``
    (leave the document as it is) when that does not hold: other ``<style>`` or ``<link>``
    elements, or CSS that WeasyPrint binds to the document (:data:`_DOCUMENT_BOUND_CSS`)."""
    from weasyprint import CSS

    blocks = list(_STYLE_ELEMENT.finditer(text))
    if (
        not blocks
        or text.count("<style") != len(blocks)
        or re.search(r"<link\b", text, re.I)
        or any(_DOCUMENT_BOUND_CSS.search(m.group(1)) for m in blocks)
    ):
        return None
    sheets = []
    for m in blocks:
        # the base URL only resolves url(...) references: a sheet without any is the same
        # sheet for every report (each is printed from its own temporary folder)
        key = (m.group(1), base_url if _CSS_URL.search(m.group(1)) else "")
        css = _STYLES.get(key)
        if css is None:
            css = CSS(string=m.group(1), base_url=base_url, font_config=_font_config())
            if len(_STYLES) >= MAX_KEPT_STYLES:
                _STYLES.clear()
            _STYLES[key] = css
        sheets.append(css)
    return _STYLE_ELEMENT.sub("", text), sheets


def render_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print an HTML report to PDF with WeasyPrint (A4 from the report's ``@page`` rule),
    written atomically.  Fonts are subset once per process (:func:`cached_font_subsets`), PNG
    figures go into the PDF as they are (:func:`png_passthrough`), and the font
    configuration and the report's stylesheets are made once per process
    (:func:`_kept_stylesheets`).  Returns the path written."""
    import logging

    try:
        from weasyprint import HTML
    except ImportError as exc:  # pragma: no cover - weasyprint is a dependency
        raise ReportError(f"WeasyPrint is not available: {exc}") from exc
    # WeasyPrint logs every unsupported CSS property of the base template as a warning.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    src = Path(html_path)
    if not src.is_file():
        raise ReportError(f"no HTML report to print: {src}")
    out = Path(pdf_path)
    try:
        base = str(src.parent)
        try:
            text = src.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # not the renderer's UTF-8: WeasyPrint finds the encoding
            text = None
        kept = _kept_stylesheets(text, base) if text is not None else None
        with atomic_path(out) as tmp, cached_font_subsets(), png_passthrough():
            if kept is None:
                HTML(filename=str(src), base_url=base).write_pdf(str(tmp))
            else:
                HTML(string=kept[0], base_url=base).write_pdf(
                    str(tmp), stylesheets=kept[1], font_config=_font_config()
                )
    except ReportError:
        raise
    except Exception as exc:
        raise ReportError(f"printing {src.name} to PDF failed: {exc}") from exc
    out.chmod(REPORT_MODE)
    return out


#: Report formats :func:`render_report` writes besides the exports.
REPORT_FORMATS = ("html", "pdf")


def report_outputs(out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Where :func:`render_report` puts the outputs of report ``stem``: ``html``, ``pdf`` and
    ``exports`` (the folder of :func:`kvk_analysis.report.exports.write_exports`)."""
    out_dir = Path(out_dir)
    return {
        "html": out_dir / f"{stem}.html",
        "pdf": out_dir / f"{stem}.pdf",
        "exports": out_dir / stem,
    }


def remove_report_outputs(out_dir: str | Path, stem: str) -> None:
    """Remove the outputs of an earlier report ``stem`` (HTML first: without it nothing looks
    finished), so that a failed run leaves none of them behind."""
    from .exports import check_export_folder, remove_exports

    paths = report_outputs(out_dir, stem)
    check_export_folder(paths["exports"], stem)  # before anything is removed
    paths["html"].unlink(missing_ok=True)
    paths["pdf"].unlink(missing_ok=True)
    remove_exports(out_dir, stem)


def render_report(
    executed_nb: str | Path | Any,
    out_dir: str | Path,
    stem: str,
    formats: Iterable[str] = REPORT_FORMATS,
    *,
    exports: bool = True,
    source_notebook: str | Path | None = None,
    cwd: str | Path | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Render an executed notebook to ``<out_dir>/<stem>.html``, ``.pdf`` and the exports
    folder ``<out_dir>/<stem>/`` (:func:`kvk_analysis.report.exports.write_exports`), all or
    nothing.

    Everything is written into a hidden staging folder first; only when every output
    succeeded are they moved into place, the exports folder first and the HTML last, after
    the outputs of an earlier report of the same name were removed.  An interruption or
    failure leaves no HTML, so nothing looks finished.  ``formats``: ``html`` and/or ``pdf``
    (the PDF is printed from the HTML, which is rendered in any case).  ``timings`` (if given)
    receives seconds per step (``html``, ``pdf``, ``exports``).

    Returns ``{"html", "pdf", "exports", "json", "xlsx", "docx"}`` for what was written.
    """
    import shutil
    import tempfile
    import time

    from .exports import _read_notebook, check_export_folder, publish_folder, write_exports

    fmts = tuple(formats)
    unknown = set(fmts) - set(REPORT_FORMATS)
    if unknown:
        raise ReportError(f"unknown report format(s) {sorted(unknown)}; use html and/or pdf")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = report_outputs(out_dir, stem)
    check_export_folder(final["exports"], stem)
    steps = timings if timings is not None else {}
    stage = Path(tempfile.mkdtemp(prefix=f".{stem}.kvk-{os.getpid()}-", dir=out_dir))
    written: dict[str, Path] = {}
    try:
        t0 = time.perf_counter()
        tmp_html = stage / f"{stem}.html"
        # read once, and one provenance table (one date) for the HTML and the exports
        nb = _read_notebook(executed_nb)
        name = Path(executed_nb).stem if isinstance(executed_nb, str | Path) else None
        prov = provenance_frame(nb, source_notebook=source_notebook, cwd=cwd)
        render_html(
            nb,
            tmp_html,
            source_notebook=source_notebook,
            cwd=cwd,
            name=name,
            provenance_table=prov,
        )
        steps["html"] = time.perf_counter() - t0
        if "pdf" in fmts:
            t0 = time.perf_counter()
            render_pdf(tmp_html, stage / f"{stem}.pdf")
            steps["pdf"] = time.perf_counter() - t0
        files: list[Path] = []
        if exports:
            t0 = time.perf_counter()
            files = write_exports(
                nb,
                stage,
                stem,
                source_notebook=source_notebook,
                cwd=cwd,
                provenance_table=prov,
            )
            steps["exports"] = time.perf_counter() - t0
        # publish: old outputs away (HTML first), then exports, PDF, and the HTML last; an
        # error or interrupt while publishing takes back what was already moved
        remove_report_outputs(out_dir, stem)
        try:
            if exports:
                publish_folder(stage / stem, final["exports"])
                written["exports"] = final["exports"]
            if "pdf" in fmts:
                os.replace(stage / f"{stem}.pdf", final["pdf"])
                written["pdf"] = final["pdf"]
            if "html" in fmts:
                os.replace(tmp_html, final["html"])
                written["html"] = final["html"]
        except BaseException:
            for kind in ("html", "pdf"):
                if kind in written:
                    written[kind].unlink(missing_ok=True)
            if "exports" in written:
                shutil.rmtree(written["exports"], ignore_errors=True)
            raise
        if exports:
            for path in files:
                if path.suffix in (".json", ".xlsx", ".docx") and path.parent == stage / stem:
                    written[path.suffix[1:]] = final["exports"] / path.name
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return written
