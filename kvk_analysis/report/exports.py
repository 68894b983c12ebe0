"""Exports of a report: its tables, figures and results as files a user can take away.

:func:`write_exports` reads an executed report notebook and writes, into ``<out_dir>/<stem>/``
(the folder beside ``<stem>.html`` and ``<stem>.pdf``)::

    <stem>.json                 results file (schema :data:`SCHEMA`, see docs/architecture.md)
    <stem>.xlsx                 every numbered table, one sheet each, numbers as numbers
    <stem>.docx                 the report as a Word document: headings, text, Word tables, figures
    tables/table-01.csv         the report's column labels, raw unrounded values ('.' decimals)
    tables/table-01-formatted.csv   the cells exactly as the report prints them
    figures/figure-01.png       the figure as in the report (PNG, its "dpi" in the JSON)
    figures/figure-01.svg       the same figure as vector graphics

The data come from the kernel: :func:`kvk_analysis.report.display.table` and ``figure`` put the
raw values and the PNG/SVG beside their HTML under kvk MIME types, and
:func:`~kvk_analysis.report.display.record_results` adds an estimates block; the renderer
strips all of it from the HTML.  The folder is written atomically: it is built under a hidden
temporary name and renamed into place, so it appears complete or not at all.

The DOCX is built with python-docx (a small pure-Python package over lxml) from the same data
rather than by converting the HTML with pandoc: the Word tables then carry the report's
formatted cells and alignment, the figures the report's PNGs, and no 150 MB pandoc binary is
needed.  Markdown (the notebook's text and the generated sentences) is parsed with mistune,
which nbconvert already uses.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import ReportError
from .display import FIGURE_MIME, KEYS_MIME, RESULTS_MIME, TABLE_MIME, jsonable
from .text import check_lang, label

#: Identifier and version of the results-file layout (``"schema"`` in ``<stem>.json``).
SCHEMA = "kvk-report-results/1"
#: Sub-folders of the export folder.
TABLES_DIR = "tables"
FIGURES_DIR = "figures"
#: Longest sheet name Excel accepts.
SHEET_NAME_MAX = 31
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


# --------------------------------------------------------------------------------------------
# Collecting what the kernel recorded
# --------------------------------------------------------------------------------------------


#: The PNG that :func:`kvk_analysis.report.display.figure` embeds in the figure's HTML.
_PNG_IN_HTML = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _read_notebook(executed_notebook: str | Path | Any) -> Any:
    import nbformat

    if isinstance(executed_notebook, str | Path):
        try:
            return nbformat.read(str(executed_notebook), as_version=4)
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read executed notebook {executed_notebook}: {exc}") from exc
    return executed_notebook


def _shown_cells(nb: Any, lang: str) -> list[Any]:
    """The cells of ``nb`` that reach the report in ``lang`` (tags as in the renderer)."""
    from .render import LANG_TAG, REMOVE_TAGS

    other = {LANG_TAG.format(lang=x) for x in ("nb", "en") if x != lang}
    return [
        c
        for c in nb.cells
        if not (set(c.get("metadata", {}).get("tags", [])) & (other | REMOVE_TAGS))
    ]


def collect(nb: Any, lang: str | None = None) -> dict[str, Any]:
    """What a report shows, in order, from an executed notebook.

    Returns ``meta`` (from ``report.start``), ``parameters``, ``lang``, ``tables`` and
    ``figures`` (the kernel's records, in report order), ``results`` (``name -> block``
    from ``report.record_results``) and ``blocks``: the report's content in order as
    ``(kind, value)`` pairs (``markdown``, ``table``, ``figure``, ``keys``, ``image``,
    ``text``, ``html``, ``pagebreak``) for the DOCX.
    """
    from .render import notebook_parameters, prepare_notebook, report_metadata

    meta = report_metadata(nb)
    use_lang = check_lang(lang or meta.get("lang") or "nb")
    results: dict[str, Any] = {}
    for cell in _shown_cells(nb, use_lang):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            item = out.get("data", {}).get(RESULTS_MIME)
            if item is not None:
                results[str(item.get("name", "main"))] = item.get("results", {})
    ready = prepare_notebook(nb, use_lang, keep_data=True)
    tables: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    blocks: list[tuple[str, Any]] = []
    for cell in ready.cells:
        if "pagebreak" in cell.get("metadata", {}).get("tags", []) and blocks:
            blocks.append(("pagebreak", None))
        if cell.cell_type == "markdown":
            blocks.append(("markdown", cell.source))
            continue
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                blocks.append(("text", str(out.get("text", ""))))
                continue
            data = out.get("data", {})
            if TABLE_MIME in data:
                tables.append(dict(data[TABLE_MIME]))
                blocks.append(("table", tables[-1]))
            elif FIGURE_MIME in data:
                fig = dict(data[FIGURE_MIME])
                if not fig.get("png"):
                    found = _PNG_IN_HTML.search(str(data.get("text/html", "")))
                    if found is None:
                        raise ReportError(f"figure {fig.get('number')} has no PNG in its output")
                    fig["png"] = found.group(1)
                figures.append(fig)
                blocks.append(("figure", figures[-1]))
            elif KEYS_MIME in data:
                blocks.append(("keys", list(data[KEYS_MIME])))
            elif "text/markdown" in data:
                blocks.append(("markdown", str(data["text/markdown"])))
            elif "image/png" in data:
                blocks.append(("image", data["image/png"]))
            elif "text/html" in data:
                blocks.append(("html", str(data["text/html"])))
            elif "text/plain" in data:
                blocks.append(("text", str(data["text/plain"])))
    return {
        "meta": meta,
        "parameters": jsonable(notebook_parameters(nb)),
        "lang": use_lang,
        "tables": tables,
        "figures": figures,
        "results": results,
        "blocks": blocks,
    }


def _ref(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "number": item["number"],
        "label": item.get("label", ""),
        "caption": item.get("caption", ""),
    }


def appears_in(tables: Iterable[Mapping], figures: Iterable[Mapping]) -> dict[str, list[dict]]:
    """``key -> [table/figure references]`` from the ``keys`` given to ``report.table`` and
    ``report.figure``."""
    index: dict[str, list[dict]] = {}
    for kind, items in (("table", tables), ("figure", figures)):
        for item in items:
            for key in item.get("keys", []) or []:
                index.setdefault(str(key), []).append(_ref(kind, item))
    return index


def link_estimates(block: Any, index: Mapping[str, list[dict]]) -> Any:
    """A copy of a results block with ``"appears_in"`` added to each estimate that a table or
    figure names: the entries of an ``"estimates"`` mapping (by their name) and any nested
    mapping with a ``"key"`` text entry (by its value).  An ``"appears_in"`` already there is
    kept."""

    def walk(node: Any, name: str | None) -> Any:
        if isinstance(node, Mapping):
            out = {}
            for k, v in node.items():
                if k == "estimates" and isinstance(v, Mapping):
                    out[k] = {kk: walk(vv, str(kk)) for kk, vv in v.items()}
                else:
                    out[k] = walk(v, None)
            key = node["key"] if isinstance(node.get("key"), str) else name
            if key is not None and key in index and "appears_in" not in out:
                out["appears_in"] = index[key]
            return out
        if isinstance(node, list):
            return [walk(v, None) for v in node]
        return node

    return walk(block, None)


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def write_table_csv(tab: Mapping[str, Any], path: Path, *, formatted: bool = False) -> Path:
    """One table as CSV (UTF-8, comma-separated): a header row of the report's column labels,
    then the raw values (``formatted=False``: unrounded, ``.`` as decimal point, empty for
    missing) or the cells as printed (``formatted=True``)."""
    rows = tab["shown"] if formatted else tab["rows"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([c["label"] for c in tab["columns"]])
        for row in rows:
            writer.writerow([str(v) if formatted else _csv_value(v) for v in row])
    return path


def sheet_name(number: int, caption: str, used: set[str] | None = None) -> str:
    """An Excel sheet name for table ``number``: ``"<number> <caption>"`` cut at a word boundary
    to :data:`SHEET_NAME_MAX` characters, without the characters Excel forbids."""
    text = _SHEET_BAD.sub(" ", f"{number} {caption}")
    text = re.sub(r"\s+", " ", text).strip().strip("'")
    if len(text) > SHEET_NAME_MAX:
        cut = text[:SHEET_NAME_MAX]
        space = cut.rfind(" ")
        text = cut[:space] if space > len(str(number)) else cut
    text = text.rstrip(" ,;.-–(")
    name, i = text, 2
    while used is not None and name.lower() in used:
        suffix = f" ({i})"
        name, i = text[: SHEET_NAME_MAX - len(suffix)] + suffix, i + 1
    if used is not None:
        used.add(name.lower())
    return name


def number_format(column: Mapping[str, Any]) -> str:
    """Excel number format matching how the report shows a column (decimals, thousands)."""
    if column.get("plain"):
        return "0"
    d = int(column.get("decimals") or 0)
    return "#,##0" + ("." + "0" * d if d > 0 else "")


def write_workbook(tables: list[Mapping[str, Any]], path: Path, *, title: str = "") -> list[str]:
    """All tables in one ``.xlsx``: one sheet per table, the numbered caption in the first
    row, the column labels in the second, numbers as numbers with the report's decimals, the
    note under the table.  Returns the sheet names."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    if title:
        wb.properties.title = title
    used: set[str] = set()
    names = []
    rule = Border(bottom=Side(style="thin"))
    for tab in tables:
        ws = wb.create_sheet(sheet_name(tab["number"], tab.get("caption", ""), used))
        names.append(ws.title)
        cols = tab["columns"]
        ws.cell(row=1, column=1, value=f"{tab.get('label', '')}: {tab.get('caption', '')}")
        ws.cell(row=1, column=1).font = Font(bold=True)
        for j, col in enumerate(cols, start=1):
            cell = ws.cell(row=2, column=j, value=col["label"])
            cell.font = Font(bold=True)
            cell.border = rule
            cell.alignment = Alignment(horizontal="right" if col.get("numeric") else "left")
        for i, row in enumerate(tab["rows"], start=3):
            for j, (col, value) in enumerate(zip(cols, row, strict=True), start=1):
                cell = ws.cell(row=i, column=j, value=value)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    cell.number_format = number_format(col)
        if tab.get("note"):
            ws.cell(
                row=len(tab["rows"]) + 4,
                column=1,
                value=f"{label('note', _lang_of(tab))}: {tab['note']}",
            )
        for j, col in enumerate(cols, start=1):
            width = max([len(str(col["label"]))] + [len(str(r[j - 1])) for r in tab["shown"][:500]])
            ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, width + 2))
        ws.freeze_panes = "A3"
    if not tables:
        ws = wb.create_sheet("0 no tables")
        ws.cell(row=1, column=1, value="This report has no numbered tables.")
    wb.save(path)
    return names


def _lang_of(tab: Mapping[str, Any]) -> str:
    return "en" if str(tab.get("label", "")).startswith("Table") else "nb"


def write_figure_files(fig: Mapping[str, Any], folder: Path, stem: str) -> dict[str, Path]:
    """A figure's PNG and SVG as ``<folder>/<stem>.png`` / ``.svg``."""
    png = folder / f"{stem}.png"
    png.write_bytes(base64.b64decode(fig["png"]))
    out = {"png": png}
    if fig.get("svg"):
        svg = folder / f"{stem}.svg"
        svg.write_text(fig["svg"], encoding="utf-8")
        out["svg"] = svg
    return out


# --------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------


class _TextOfHTML(HTMLParser):
    """Plain text of an HTML fragment, one paragraph per block element."""

    BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "figcaption"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> list[str]:
        lines = "".join(self.parts).split("\n")
        return [re.sub(r"[ \t]+", " ", ln).strip() for ln in lines if ln.strip()]


def html_text(fragment: str) -> list[str]:
    """The lines of text of an HTML fragment (for outputs the DOCX cannot rebuild)."""
    parser = _TextOfHTML()
    parser.feed(fragment)
    parser.close()
    return parser.text()


def _grid(table: Any) -> list[list[Any]]:
    """The cells of a new python-docx table as rows of cells.  ``table.rows[i].cells`` and
    ``table.cell(i, j)`` rebuild the whole grid on every call (quadratic in the rows), so the
    grid is taken once from ``Table._cells`` (row-major)."""
    cells = table._cells
    ncol = len(table.columns)
    return [cells[i : i + ncol] for i in range(0, len(cells), ncol)]


class _Docx:
    """Builds the Word document block by block (python-docx)."""

    MONO = "Consolas"

    def __init__(self, lang: str) -> None:
        from docx import Document
        from docx.shared import Cm

        self.lang = lang
        self._md: Any = None
        self._styles: dict[str, Any] = {}
        self.doc = Document()
        section = self.doc.sections[0]
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        for side in ("left_margin", "right_margin"):
            setattr(section, side, Cm(2.5))
        section.top_margin = section.bottom_margin = Cm(2.2)
        self.text_width = section.page_width - section.left_margin - section.right_margin

    # -- inline -------------------------------------------------------------------------
    def _inline(self, par: Any, nodes: Iterable[Mapping[str, Any]], style: frozenset = frozenset()):
        for node in nodes:
            kind = node.get("type")
            if kind in ("text", "inline_math", "inline_html"):
                raw = node.get("raw", "")
                if kind == "inline_html":
                    raw = " ".join(html_text(raw))
                run = par.add_run(html.unescape(raw) if kind == "text" else raw)
                run.bold = "strong" in style or None
                run.italic = "emphasis" in style or kind == "inline_math" or None
                if "strike" in style:
                    run.font.strike = True
            elif kind == "codespan":
                run = par.add_run(node.get("raw", ""))
                run.font.name = self.MONO
            elif kind in ("strong", "emphasis", "strikethrough"):
                tag = "strike" if kind == "strikethrough" else kind
                self._inline(par, node.get("children", []), style | {tag})
            elif kind == "link":
                self._inline(par, node.get("children", []), style)
                url = node.get("attrs", {}).get("url", "")
                text = "".join(c.get("raw", "") for c in node.get("children", []))
                if url and url != text and not url.startswith("#"):
                    par.add_run(f" ({url})")
            elif kind == "image":
                alt = "".join(c.get("raw", "") for c in node.get("children", []))
                par.add_run(alt)
            elif kind == "softbreak":
                par.add_run(" ")
            elif kind == "linebreak":
                par.add_run().add_break()
            elif "children" in node:
                self._inline(par, node["children"], style)
            elif "raw" in node:
                par.add_run(node["raw"])

    # -- blocks -------------------------------------------------------------------------
    def markdown(self, source: str) -> None:
        if self._md is None:
            import mistune

            self._md = mistune.create_markdown(
                renderer=None, plugins=["table", "strikethrough", "math"]
            )
        self._blocks(self._md(source), depth=0)

    def _blocks(self, nodes: Iterable[Mapping[str, Any]], depth: int) -> None:
        for node in nodes:
            kind = node.get("type")
            if kind == "heading":
                level = int(node.get("attrs", {}).get("level", 2))
                par = self.heading("", min(9, max(1, level - 1)))
                self._inline(par, node.get("children", []))
            elif kind in ("paragraph", "block_text"):
                par = self.doc.add_paragraph()
                self._inline(par, node.get("children", []))
            elif kind == "list":
                ordered = node.get("attrs", {}).get("ordered", False)
                base = "List Number" if ordered else "List Bullet"
                style = base if depth == 0 else f"{base} {min(3, depth + 1)}"
                for item in node.get("children", []):
                    first = True
                    for child in item.get("children", []):
                        if child.get("type") in ("paragraph", "block_text") and first:
                            par = self.doc.add_paragraph(style=self.style(style))
                            self._inline(par, child.get("children", []))
                            first = False
                        else:
                            self._blocks([child], depth + 1)
            elif kind == "block_quote":
                for child in node.get("children", []):
                    if child.get("type") == "paragraph":
                        par = self.doc.add_paragraph(style=self.style("Quote"))
                        self._inline(par, child.get("children", []))
                    else:
                        self._blocks([child], depth)
            elif kind in ("block_code", "block_math"):
                par = self.doc.add_paragraph()
                run = par.add_run(node.get("raw", "").rstrip("\n"))
                run.font.name = self.MONO
            elif kind == "block_html":
                for line in html_text(node.get("raw", "")):
                    self.doc.add_paragraph(line)
            elif kind == "table":
                self._markdown_table(node)
            elif "children" in node and kind not in ("blank_line", "thematic_break"):
                self._blocks(node["children"], depth)

    def _markdown_table(self, node: Mapping[str, Any]) -> None:
        rows: list[list[Mapping]] = []
        for part in node.get("children", []):
            if part.get("type") == "table_head":
                rows.append(part.get("children", []))
            else:
                rows.extend(r.get("children", []) for r in part.get("children", []))
        if not rows:
            return
        ncol = max(len(r) for r in rows)
        table = self.doc.add_table(rows=len(rows), cols=ncol)
        table.style = self.style("Table Grid")
        grid = _grid(table)
        for i, row in enumerate(rows):
            for j, cell in enumerate(row):
                par = grid[i][j].paragraphs[0]
                self._inline(
                    par, cell.get("children", []), frozenset({"strong"}) if i == 0 else frozenset()
                )

    def style(self, name: str) -> Any:
        """The document's style ``name``, looked up once per document (python-docx searches
        the styles part by XPath each time a style is given by name; the same style object
        sets the same style id)."""
        found = self._styles.get(name)
        if found is None:
            found = self._styles[name] = self.doc.styles[name]
        return found

    def heading(self, text: str, level: int) -> Any:
        """``Document.add_heading`` with the style looked up once (:meth:`style`)."""
        return self.doc.add_paragraph(
            text, self.style("Title" if level == 0 else f"Heading {level}")
        )

    def caption(self, text: str) -> Any:
        par = self.doc.add_paragraph(style=self.style("Caption"))
        par.add_run(text)
        return par

    def table(self, tab: Mapping[str, Any]) -> None:
        """A numbered table as a real Word table: caption above, header row repeated on each
        page, numeric columns right-aligned, cells as the report prints them, note below."""
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Pt

        cap = self.caption(f"{tab.get('label', '')}: {tab.get('caption', '')}")
        cap.paragraph_format.keep_with_next = True
        cols = tab["columns"]
        shown = tab["shown"]
        table = self.doc.add_table(rows=1 + len(shown), cols=max(1, len(cols)))
        table.style = self.style("Table Grid")
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        size = Pt(8) if len(cols) > 7 else Pt(9)
        grid = _grid(table)
        trpr = table.rows[0]._tr.get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        trpr.append(repeat)
        for j, col in enumerate(cols):
            par = grid[0][j].paragraphs[0]
            run = par.add_run(str(col["label"]))
            run.bold = True
            run.font.size = size
            if col.get("numeric"):
                par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        for i, row in enumerate(shown, start=1):
            cells = grid[i]
            for j, (col, value) in enumerate(zip(cols, row, strict=True)):
                par = cells[j].paragraphs[0]
                run = par.add_run(str(value))
                run.font.size = size
                if col.get("numeric"):
                    par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        self._column_widths(table, [[c["label"] for c in cols], *shown], size.pt, grid)
        if tab.get("note"):
            par = self.doc.add_paragraph()
            run = par.add_run(f"{label('note', self.lang)}: {tab['note']}")
            run.font.size = Pt(9)
        else:
            self.doc.add_paragraph()

    def _column_widths(
        self, table: Any, rows: list[list[Any]], font_pt: float, grid: list[list[Any]]
    ) -> None:
        """Column widths from the content (Word and LibreOffice keep python-docx's equal
        widths otherwise): each column as wide as its longest cell or header word; when the
        table is wider than the text, only the widest columns are narrowed (to a common cap),
        so numbers never wrap."""
        from docx.shared import Pt

        ncol = len(table.columns)
        if not ncol or not rows:
            return
        natural = []
        for j in range(ncol):
            header = max((len(w) for w in str(rows[0][j]).split()), default=1)
            body = max((len(str(r[j])) for r in rows[1:]), default=1)
            natural.append(max(header, body, 2) * font_pt * 0.62 + 16)  # points, with margins
        limit = self.text_width / 12700  # EMU per point
        cap = max(natural)
        if sum(natural) > limit:
            remaining = limit
            for i, w in enumerate(sorted(natural)):
                share = remaining / (ncol - i)
                if w > share:
                    cap = share
                    break
                remaining -= w
        for j, width in enumerate(natural):
            w = Pt(min(width, cap))
            table.columns[j].width = w
            for cells in grid:
                cells[j].width = w

    def picture(self, png_b64: str, width_frac: float = 1.0, size_px: Any = None) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        data = base64.b64decode(png_b64)
        width = int(self.text_width * max(0.2, min(1.0, width_frac)))
        self.doc.add_picture(io.BytesIO(data), width=width)
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        self.doc.paragraphs[-1].paragraph_format.keep_with_next = True

    def figure(self, fig: Mapping[str, Any]) -> None:
        """A numbered figure: the report's PNG at the report's width, caption below."""
        from docx.shared import Pt

        width = str(fig.get("width") or "100%")
        frac = float(width[:-1]) / 100 if width.endswith("%") else 1.0
        self.picture(fig["png"], frac)
        self.caption(f"{fig.get('label', '')}: {fig.get('caption', '')}")
        if fig.get("source"):
            par = self.doc.add_paragraph()
            run = par.add_run(f"{label('source', self.lang)}: {fig['source']}")
            run.font.size = Pt(9)

    def key_figures(self, items: list[list[str]]) -> None:
        if not items:
            return
        table = self.doc.add_table(rows=2, cols=len(items))
        table.style = self.style("Table Grid")
        for j, (name, value) in enumerate(items):
            run = table.cell(0, j).paragraphs[0].add_run(value)
            run.bold = True
            table.cell(1, j).paragraphs[0].add_run(name)
        self.doc.add_paragraph()

    def text(self, content: str) -> None:
        for line in content.rstrip("\n").split("\n"):
            run = self.doc.add_paragraph().add_run(line)
            run.font.name = self.MONO

    def title_block(self, meta: Mapping[str, Any], headings: list[str]) -> None:
        from docx.enum.text import WD_BREAK
        from docx.shared import RGBColor

        from .render import _format_date

        lang = self.lang
        series = label("series_evaluation" if meta.get("title_page") else "series_analysis", lang)
        self.doc.add_paragraph(series)
        self.heading(str(meta.get("title") or ""), 0)
        if meta.get("subtitle"):
            self.doc.add_paragraph(str(meta["subtitle"]), style=self.style("Subtitle"))
        self.doc.add_paragraph(_format_date(lang))
        if meta.get("simulated"):
            run = self.doc.add_paragraph().add_run(label("simulated_banner", lang))
            run.bold = True
            run.font.color.rgb = RGBColor(0x9C, 0x00, 0x06)
        if meta.get("title_page") and headings:
            self.heading(label("h_contents", lang), 1)
            for h in headings:
                self.doc.add_paragraph(h)
            self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    def provenance(self, rows: list[list[str]]) -> None:
        from docx.shared import Pt

        if not rows:
            return
        self.heading(label("h_provenance", self.lang), 1)
        table = self.doc.add_table(rows=len(rows), cols=3)
        table.style = self.style("Table Grid")
        grid = _grid(table)
        for i, row in enumerate(rows):
            shown = [label(_PROVENANCE_LABELS.get(row[0], ""), self.lang) or row[0], *row[1:]]
            for j, value in enumerate(shown):
                run = grid[i][j].paragraphs[0].add_run(str(value))
                run.font.size = Pt(8)
        self._column_widths(table, [[" ", " ", " "], *rows], 8, grid)

    def page_furniture(self, meta: Mapping[str, Any]) -> None:
        """Page numbers in the footer (a Word ``PAGE`` field) and, for simulated data, the
        running notice in the header, as the PDF has them."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Pt, RGBColor

        section = self.doc.sections[0]
        par = section.footer.paragraphs[0]
        par.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1")):
            run = par.add_run()
            if kind:
                char = OxmlElement("w:fldChar")
                char.set(qn("w:fldCharType"), kind)
                run._r.append(char)
            elif text == " PAGE ":
                instr = OxmlElement("w:instrText")
                instr.set(qn("xml:space"), "preserve")
                instr.text = text
                run._r.append(instr)
            else:
                run.text = text
        end = OxmlElement("w:fldChar")
        end.set(qn("w:fldCharType"), "end")
        par.add_run()._r.append(end)
        if meta.get("simulated"):
            head = section.header.paragraphs[0]
            head.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = head.add_run(label("simulated_short", self.lang))
            run.bold = True
            run.font.size = Pt(8)
            run.font.color.rgb = RGBColor(0x9C, 0x00, 0x06)

    def save(self, path: Path, meta: Mapping[str, Any]) -> None:
        self.page_furniture(meta)
        props = self.doc.core_properties
        # Word's core properties hold at most 255 characters (python-docx refuses more); a
        # subtitle that spells out the whole specification is longer, so it is shortened here
        # (the document's own subtitle paragraph keeps the full text)
        props.title = _core_property(meta.get("title"))
        props.subject = _core_property(meta.get("subtitle"))
        props.language = "nb-NO" if self.lang == "nb" else "en-GB"
        props.author = "kvk"
        self.doc.save(str(path))


#: Label keys (:mod:`.text`) of the provenance sections, as the HTML shows them.
_PROVENANCE_LABELS = {
    "notebook": "prov_notebook",
    "parameter": "prov_parameters",
    "input": "prov_inputs",
    "python": "prov_packages",
    "package": "prov_packages",
    "git": "prov_git",
    "date": "prov_date",
}


def _headings(blocks: Iterable[tuple[str, Any]]) -> list[str]:
    """The ``##`` headings of the markdown blocks (the report's table of contents)."""
    out = []
    for kind, value in blocks:
        if kind == "markdown":
            for line in str(value).splitlines():
                m = re.match(r"^##\s+(.+?)\s*#*\s*$", line)
                if m:
                    out.append(m.group(1))
    return out


def write_docx(
    content: Mapping[str, Any], path: Path, provenance: list[list[str]] | None = None
) -> Path:
    """The report as a Word document (python-docx): title block (a contents list for reports
    with a title page), the text and headings, every numbered table as a Word table, every
    figure with its caption, key figures, and the provenance table at the end."""
    from docx.enum.text import WD_BREAK

    doc = _Docx(content["lang"])
    doc.title_block(content["meta"], _headings(content["blocks"]))
    for kind, value in content["blocks"]:
        if kind == "markdown":
            doc.markdown(str(value))
        elif kind == "table":
            doc.table(value)
        elif kind == "figure":
            doc.figure(value)
        elif kind == "keys":
            doc.key_figures(value)
        elif kind == "image":
            doc.picture(value)
        elif kind == "text":
            doc.text(value)
        elif kind == "html":
            for line in html_text(value):
                doc.doc.add_paragraph(line)
        elif kind == "pagebreak":
            doc.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.provenance(provenance or [])
    doc.save(path, content["meta"])
    return path


# --------------------------------------------------------------------------------------------
# The export folder
# --------------------------------------------------------------------------------------------


def is_export_folder(folder: Path, stem: str) -> bool:
    """True when ``folder`` is an export folder written by :func:`write_exports` for ``stem``
    (its results file names :data:`SCHEMA`), or an empty folder."""
    if not folder.is_dir():
        return False
    if not any(folder.iterdir()):
        return True
    marker = folder / f"{stem}.json"
    try:
        with open(marker, encoding="utf-8") as fh:
            return str(json.load(fh).get("schema", "")).startswith("kvk-report-results/")
    except (OSError, ValueError, AttributeError):
        return False


def check_export_folder(folder: Path, stem: str) -> None:
    """Raise :class:`ReportError` when ``folder`` exists and is not an export folder of
    ``stem`` (so that a batch folder or a user's folder of that name is never replaced)."""
    if (folder.exists() or folder.is_symlink()) and not is_export_folder(folder, stem):
        raise ReportError(
            f"{folder} exists and is not the export folder of report {stem!r}; "
            "choose another report name or move that folder"
        )


def remove_exports(out_dir: str | Path, stem: str) -> None:
    """Remove the export folder ``<out_dir>/<stem>/`` of an earlier report (only if it is
    one; a different folder of that name is an error)."""
    folder = Path(out_dir) / stem
    if not folder.exists() and not folder.is_symlink():
        return
    check_export_folder(folder, stem)
    shutil.rmtree(folder)


def _core_property(value: Any, limit: int = 255) -> str:
    """``value`` as text of at most ``limit`` characters (an ellipsis marks a cut)."""
    text = str(value or "")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def publish_folder(staged: Path, final: Path) -> None:
    """Move a complete folder into place: an existing export folder is renamed away, the new
    one renamed in, the old one deleted (each rename is atomic; no moment shows a mixture)."""
    old = None
    if final.exists() or final.is_symlink():
        check_export_folder(final, final.name)
        old = final.with_name(f".{final.name}.kvk-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def file_hashes(folder: Path, files: Iterable[str]) -> list[dict[str, Any]]:
    """``[{"path": ..., "bytes": ..., "sha256": ...}]`` for files relative to ``folder``."""
    from ..fileio import sha256

    return [
        {"path": f, "bytes": (folder / f).stat().st_size, "sha256": sha256(folder / f)}
        for f in files
    ]


def _provenance_rows(
    nb: Any, source_notebook: str | Path | None, cwd: str | Path | None, table: Any = None
) -> list[list[str]]:
    from .render import provenance_frame

    if table is None:
        table = provenance_frame(nb, source_notebook=source_notebook, cwd=cwd)
    return [
        [str(a), str(b), str(c)]
        for a, b, c in table[["section", "item", "value"]].itertuples(index=False, name=None)
    ]


def write_exports(
    executed_notebook: str | Path | Any,
    out_dir: str | Path,
    stem: str,
    *,
    lang: str | None = None,
    source_notebook: str | Path | None = None,
    cwd: str | Path | None = None,
    docx: bool = True,
    provenance_table: Any = None,
) -> list[Path]:
    """Write the exports of a report into ``<out_dir>/<stem>/`` (atomically) and return the
    files written (the results file first).

    Parameters
    ----------
    executed_notebook
        Path of the executed ``.ipynb`` or a notebook node.
    out_dir, stem
        The folder of the report and its file name without suffix (the caller's naming).
    lang
        Report language (default: what ``report.start`` recorded).
    source_notebook, cwd
        As for :func:`kvk_analysis.report.render.render_html` (the provenance table).
    docx
        Also write the Word document.
    provenance_table
        The table of :func:`kvk_analysis.report.render.provenance_frame` for this notebook,
        when the caller has it (the same as the HTML's); computed otherwise.

    Raises
    ------
    ReportError
        The notebook cannot be read, an export cannot be written, or ``<out_dir>/<stem>``
        exists and is not an export folder.  Nothing is left behind in that case.
    """
    from .. import __version__

    nb = _read_notebook(executed_notebook)
    out_dir = Path(out_dir)
    if not stem or "/" in stem or stem.startswith("."):
        raise ReportError(f"invalid report name {stem!r} for the exports")
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / stem
    check_export_folder(final, stem)
    content = collect(nb, lang)
    if not content["meta"].get(
        "title"
    ):  # as the HTML: the report's name when start() was not called
        content["meta"]["title"] = stem
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}.kvk-{os.getpid()}-", dir=out_dir))
    try:
        folder = staging / stem
        (folder / TABLES_DIR).mkdir(parents=True)
        (folder / FIGURES_DIR).mkdir()
        written: list[str] = []
        tables_out = []
        for tab in content["tables"]:
            base = f"table-{int(tab['number']):02d}"
            raw = write_table_csv(tab, folder / TABLES_DIR / f"{base}.csv")
            shown = write_table_csv(
                tab, folder / TABLES_DIR / f"{base}-formatted.csv", formatted=True
            )
            written += [str(p.relative_to(folder)) for p in (raw, shown)]
            tables_out.append(
                {
                    **{k: v for k, v in tab.items()},
                    "files": {
                        "csv": str(raw.relative_to(folder)),
                        "csv_formatted": str(shown.relative_to(folder)),
                    },
                }
            )
        sheets = write_workbook(
            content["tables"], folder / f"{stem}.xlsx", title=str(content["meta"].get("title", ""))
        )
        for tab, sheet in zip(tables_out, sheets, strict=True):
            tab["files"]["xlsx_sheet"] = sheet
        written.append(f"{stem}.xlsx")
        figures_out = []
        for fig in content["figures"]:
            files = write_figure_files(
                fig, folder / FIGURES_DIR, f"figure-{int(fig['number']):02d}"
            )
            rel = {k: str(p.relative_to(folder)) for k, p in files.items()}
            written += list(rel.values())
            figures_out.append(
                {k: v for k, v in fig.items() if k not in ("png", "svg")} | {"files": rel}
            )
        provenance = _provenance_rows(nb, source_notebook, cwd, provenance_table)
        if docx:
            write_docx(content, folder / f"{stem}.docx", provenance)
            written.append(f"{stem}.docx")
        index = appears_in(content["tables"], content["figures"])
        results = {k: link_estimates(v, index) for k, v in content["results"].items()}
        specification: dict[str, Any] = {}
        for block in results.values():
            if isinstance(block, Mapping) and isinstance(block.get("specification"), Mapping):
                specification = dict(block["specification"])
                break
        meta = content["meta"]
        doc = {
            "schema": SCHEMA,
            "report": {
                "stem": stem,
                "title": meta.get("title"),
                "subtitle": meta.get("subtitle", ""),
                "lang": content["lang"],
                "simulated": bool(meta.get("simulated")),
                "title_page": bool(meta.get("title_page")),
                "notebook": nb.metadata.get("papermill", {}).get("input_path")
                or (str(source_notebook) if source_notebook else None),
                "kvk_version": __version__,
            },
            "parameters": content["parameters"],
            "specification": specification,
            "inputs": list(meta.get("inputs", [])),
            "tables": tables_out,
            "figures": figures_out,
            "results": results,
            "appears_in": index,
            "provenance": provenance,
            "files": file_hashes(folder, written),
        }
        with open(folder / f"{stem}.json", "w", encoding="utf-8") as fh:
            json.dump(jsonable(doc), fh, ensure_ascii=False, indent=1, allow_nan=False)
            fh.write("\n")
        for path in folder.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(folder, 0o755)
        publish_folder(folder, final)
    except ReportError:
        raise
    except Exception as exc:
        raise ReportError(f"writing the exports of {stem} failed: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return [final / f"{stem}.json", *(final / p for p in written)]
