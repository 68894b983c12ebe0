"""Execute a small synthetic notebook and render it: HTML contents, PDF pages, atomicity."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from kvk_analysis.errors import ReportError
from kvk_analysis.report.execute import run_report
from kvk_analysis.report.render import notebook_parameters, prepare_notebook, render_html

PARAMS = 'lang: str = "nb"  # report language\nfail: bool = False  # fail on purpose\n'
SETUP = (
    "import sys, warnings\n"
    "import matplotlib.pyplot as plt\n"
    "import pandas as pd\n"
    "from kvk_analysis import report\n"
    'report.start("Testrapport for Bærum og Åmot", lang=lang, subtitle="Undertittel øæå",'
    " simulated=True)"
)
BODY = (
    'warnings.warn("a warning that must not reach the report")\n'
    'print("stderr noise", file=sys.stderr)\n'
    "fig, ax = plt.subplots(figsize=(5, 2.5))\n"
    "ax.plot([1, 2, 3], [6.1, 5.8, 5.5])\n"
    'ax.set_ylabel("Sykefravær (%)")\n'
    'report.figure(fig, "Sykefravær i Tønsberg")\n'
    'df = pd.DataFrame({"kommune": ["Bærum", "Åmot"], "estimate": [-0.4321, 1234.5]})\n'
    'report.table(df, "Resultat for to kommuner")\n'
    'report.table(df.head(1), "Ett resultat")\n'
    "tidy = pd.DataFrame({'term': ['overall'], 'estimate': [-0.4], 'conf_low': [-0.7],"
    " 'conf_high': [-0.1]})\n"
    "report.say(report.text.summarise_overall(tidy, lang))\n"
    "fig"
)


def make_notebook(path: Path, body: str = BODY, fail_cell: bool = True) -> Path:
    """A tiny report notebook: parameters, setup, bilingual markdown, outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    md_nb = nbformat.v4.new_markdown_cell("## Resultater\n\nNorsk tekst om sykefravær.")
    md_nb.metadata["tags"] = ["lang-nb"]
    md_en = nbformat.v4.new_markdown_cell("## Results\n\nEnglish text about sick leave.")
    md_en.metadata["tags"] = ["lang-en"]
    cells = [
        params,
        nbformat.v4.new_code_cell(SETUP),
        md_nb,
        md_en,
        nbformat.v4.new_code_cell(body),
    ]
    if fail_cell:
        cells.append(nbformat.v4.new_code_cell('assert not fail, "failing on purpose"'))
    nb.cells = cells
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The synthetic notebook rendered in nb (HTML + PDF) and en (HTML only)."""
    tmp = tmp_path_factory.mktemp("render")
    nb_path = make_notebook(tmp / "synthetic.ipynb")
    nb_files = run_report(nb_path, {}, tmp / "out", name="rapport-nb")
    en_files = run_report(nb_path, {"lang": "en"}, tmp / "out", ("html",), name="report-en")
    return nb_files, en_files


def test_html_has_title_notice_sections_and_numbering(rendered):
    nb_files, en_files = rendered
    html = nb_files["html"].read_text(encoding="utf-8")
    assert '<h1 class="kvk-title">Testrapport for Bærum og Åmot</h1>' in html
    assert "Undertittel øæå" in html
    assert "SIMULERTE DATA" in html and 'class="kvk-notice"' in html
    assert "Resultater" in html and "Norsk tekst" in html
    assert "English text" not in html  # the other language's cells are dropped
    assert "Figur\xa01: Sykefravær i Tønsberg" in html
    assert "Tabell\xa01: Resultat for to kommuner" in html
    assert "Tabell\xa02: Ett resultat" in html
    assert '<td class="num">\u22120,4</td>' in html  # Norwegian number formatting in the table
    assert "redusert sykefraværet med 0,4 prosentpoeng" in html
    # the provenance (with the hashes) comes at the end, after its heading
    before, heading, prov = html.partition("Sporbarhet (proveniens)")
    assert heading and "SHA-256" not in before and "SHA-256" in prov
    # compact provenance: one row per kind, nothing left out
    rows = re.findall(r'<th class="txt" scope="row">([^<]+)</th>', prov)
    assert rows == ["Notatbok", "Parametere", "Programvareversjoner", "Git-commit", "Laget"]
    assert "lang = nb" in prov and "fail = False" in prov
    from kvk_analysis.report.provenance import PACKAGES

    for _, name in PACKAGES:  # every package with its version in the one row
        assert re.search(rf"{name} (\d|not installed)", prov), name
    assert re.search(r"python 3\.\d+", prov)
    full = re.search(r'title="SHA-256 ([0-9a-f]{64})"', prov)  # the notebook hash, complete
    assert full is not None
    assert f'{full[1][:16]}<span class="kvk-hash-rest">{full[1][16:]}</span>' in prov
    en = en_files["html"].read_text(encoding="utf-8")
    assert "SIMULATED DATA" in en and "Figure\xa01:" in en and "Table\xa02:" in en
    assert "English text" in en and "Norsk tekst" not in en
    assert "reduced sick leave by 0.4 percentage points" in en


def test_html_has_no_code_errors_warnings_or_remote_links(rendered):
    html = rendered[0]["html"].read_text(encoding="utf-8")
    for bad in (
        "Traceback",
        "warnings.warn",
        "must not reach",
        "stderr noise",
        "UserWarning",
        "import matplotlib",
        "jp-InputArea-editor",
        "<Figure size",
        'anchor-link"',
    ):
        assert bad not in html, bad
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"(href|src)=\"https?://", html)
    without_images = re.sub(r"base64,[A-Za-z0-9+/=]+", "", html)
    assert "cdn" not in without_images.lower()
    assert '<html lang="nb">' in html
    assert "@page" in html and "A4" in html and "pre-wrap" in html


def test_pdf_is_a4_with_pages(rendered):
    pypdf = pytest.importorskip("pypdf")
    pdf = rendered[0]["pdf"]
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) >= 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595.28) < 1 and abs(float(box.height) - 841.89) < 1
    first = reader.pages[0].extract_text()
    assert "Testrapport" in first and "SIMULERTE DATA" in first
    assert f"1 / {len(reader.pages)}" in first  # page numbers in the footer
    assert "pdf" not in rendered[1]  # --no-pdf style run wrote no PDF


def test_executed_notebook_parameters_and_prepare(rendered):
    nb = nbformat.read(str(rendered[1]["ipynb"]), as_version=4)
    assert notebook_parameters(nb) == {"lang": "en", "fail": False}

    def streams(notebook):
        return [
            o.name
            for c in notebook.cells
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "stream"
        ]

    assert "stderr" in streams(nb)  # the executed notebook has the noise ...
    ready = prepare_notebook(nb, "en")
    assert not streams(ready)  # ... which the report drops
    assert not [c for c in ready.cells if "lang-nb" in c.metadata.get("tags", [])]


def test_failing_notebook_names_cell_and_leaves_no_report(tmp_path):
    nb_path = make_notebook(tmp_path / "broken.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    # a report from an earlier successful run must not survive a failed run
    (out / "broken.html").write_text("old report")
    with pytest.raises(ReportError) as info:
        run_report(nb_path, {"fail": True}, out)
    msg = str(info.value)
    assert "broken.ipynb" in msg and "cell 6" in msg and "failing on purpose" in msg
    assert "AssertionError" in msg
    leftovers = [p.name for p in out.rglob("*") if p.is_file()]
    assert leftovers == []


def test_render_html_overrides_and_missing_input(tmp_path, rendered):
    out = render_html(
        rendered[0]["ipynb"], tmp_path / "x.html", title="Annen tittel", provenance=False
    )
    html = out.read_text(encoding="utf-8")
    assert "Annen tittel" in html and "Sporbarhet" not in html
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(ReportError):
        render_html(tmp_path / "missing.ipynb", tmp_path / "y.html")
    assert not (tmp_path / "y.html").exists()


def test_add_contents_numbers_headings_after_the_title_page():
    from kvk_analysis.report.render import CONTENTS_MARK, add_contents

    body = (
        "<h2>Not in the contents</h2>"
        f"<nav>{CONTENTS_MARK}</nav>"
        "<h2>Sammendrag</h2><p>x</p><h2 class='a'>1 Bakgrunn &amp; mål</h2>"
        '<h2 id="own">Vedlegg</h2>'
    )
    out = add_contents(body)
    assert out.startswith("<h2>Not in the contents</h2>")
    toc = re.search(r'<ol class="kvk-toc">(.*?)</ol>', out)[1]
    assert re.findall(r'href="#([^"]+)">([^<]+)<', toc) == [
        ("kvk-sec-1", "Sammendrag"),
        ("kvk-sec-2", "1 Bakgrunn &amp; mål"),
        ("own", "Vedlegg"),
    ]
    assert '<h2 id="kvk-sec-1">Sammendrag</h2>' in out
    assert "<h2 class='a' id=\"kvk-sec-2\">1 Bakgrunn &amp; mål</h2>" in out
    assert '<h2 id="own">Vedlegg</h2>' in out
    assert add_contents("<h2>x</h2>") == "<h2>x</h2>"  # no title page: unchanged


WIDE_BODY = (
    "import pandas as pd\n"
    "cols = ['Deltakere før', 'Deltakere etter', 'Endring deltakere', 'Sammenl. før',\n"
    "        'Sammenl. etter', 'Endring sammenl.', 'Forskjell (DiD)', 'KI nedre', 'KI øvre',\n"
    "        'Standardfeil', 'p-verdi']\n"
    "df = pd.DataFrame([[10.11 - i, 9.78, -0.33, 9.05, 9.09, 0.04, -0.36, -0.58, -0.15,\n"
    "                    0.11, 0.004] for i in range(5)], columns=cols)\n"
    "df.insert(0, 'Pulje', ['I', 'II', 'III', 'IV', 'Alle'])\n"
    "report.table(df, 'En bred tabell som må passe på A4')"
)


def test_wide_table_fits_the_a4_text_width(tmp_path):
    """Lay the PDF out with WeasyPrint and check that no table cell runs past the right
    margin (a clipped column is invisible in the PDF)."""
    from weasyprint import HTML

    nb_path = make_notebook(tmp_path / "wide.ipynb", body=WIDE_BODY, fail_cell=False)
    files = run_report(nb_path, {}, tmp_path / "out", ("html",), name="wide")
    doc = HTML(filename=str(files["html"])).render()
    page = doc.pages[0]
    right_edge = page._page_box.margin_width() - page._page_box.margin_right

    def boxes(box):
        yield box
        for child in getattr(box, "children", []) or []:
            yield from boxes(child)

    cells = [b for b in boxes(page._page_box) if getattr(b, "element_tag", "") == "td"]
    assert len(cells) >= 5 * 12
    overflow = max(b.position_x + b.margin_width() for b in cells) - right_edge
    assert overflow <= 0.5, f"table runs {overflow:.1f} px past the right margin"


def _embedded_glyphs(doc) -> dict[str, dict[int, tuple[bytes, tuple[int, int]]]]:
    """Per font of a written WeasyPrint document: glyph id -> (outline, advance) of every
    glyph the document uses, read from the font file WeasyPrint embedded."""
    import io

    from fontTools.ttLib import TTFont

    out = {}
    for font in doc.fonts.values():
        tt = TTFont(io.BytesIO(font.file_content), fontNumber=font.index)
        order = tt.getGlyphOrder()
        glyf, hmtx = tt["glyf"], tt["hmtx"]
        out[font.family + str(font.weight) + str(font.style)] = {
            gid: (glyf[order[gid]].compile(glyf), hmtx[order[gid]]) for gid in font.to_unicode
        }
    return out


def test_cached_font_subsets_embed_the_same_glyphs(tmp_path):
    """PDFs printed with the font subsets kept from earlier PDFs embed, for every glyph they
    use, the same outline and advance as WeasyPrint's own subset; a report with new letters
    gets a subset that holds them."""
    from weasyprint import HTML

    from kvk_analysis.report import render

    css = "body{font-family:'DejaVu Serif'} h1{font-family:'DejaVu Sans'}"
    first = f"<style>{css}</style><h1>Bærum 0219</h1><p>Sykefravær −0,16 pp – 12 / 22</p>"
    other = f"<style>{css}</style><h1>Kárášjohka 2021 ŋ</h1><p>Avvik 3,5 % · «Ø»</p>"
    render._FONT_SUBSETS.clear()
    for html_text in (first, other, first):
        plain = HTML(string=html_text).render()
        plain.write_pdf(tmp_path / "plain.pdf")
        cached = HTML(string=html_text).render()
        with render.cached_font_subsets():
            cached.write_pdf(tmp_path / "cached.pdf")
        want, got = _embedded_glyphs(plain), _embedded_glyphs(cached)
        assert want.keys() == got.keys() and want
        for face in want:
            assert got[face] == want[face], face
    assert render._FONT_SUBSETS  # the subsets were kept
    # outside the context WeasyPrint's own method is back
    from weasyprint.pdf import fonts as wfonts

    assert wfonts.Font.clean.__module__ == "weasyprint.pdf.fonts"


def test_provenance_table_has_a_fixed_layout_and_a_label_column_that_fits(tmp_path):
    """The provenance table is laid out with fixed columns (the automatic layout measured
    every hash character by character); its label column holds the longest label."""
    import pandas as pd
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes as wboxes

    from kvk_analysis.report.render import CSS_PATH, compact_provenance_html

    table = pd.DataFrame(
        {
            "section": ["notebook", "package", "input"],
            "item": ["notebooks/04-municipality-profile.ipynb", "kvk", "data/raw/x.csv"],
            "value": ["a" * 64, "0.1.0", "b" * 64],
        }
    )
    for lang, longest in (("nb", "Programvareversjoner"), ("en", "Software versions")):
        body = compact_provenance_html(table, lang)
        assert "<colgroup><col style=" in body
        page = (
            f"<style>{CSS_PATH.read_text(encoding='utf-8')}</style>"
            f'<main><section class="kvk-provenance">{body}</section></main>'
        )
        doc = HTML(string=page).render()
        boxes = list(doc.pages[0]._page_box.descendants())
        (table_box,) = [b for b in boxes if isinstance(b, wboxes.TableBox)]
        assert table_box.style["table_layout"] == "fixed"
        (label,) = [b for b in boxes if getattr(b, "text", None) == longest]
        (cell,) = [
            b
            for b in boxes
            if isinstance(b, wboxes.TableCellBox) and longest in str(b.element.text)
        ]
        # the label's text ends inside its cell's content box
        assert label.position_x + label.width <= cell.content_box_x() + cell.width + 0.01


def test_pdf_with_kept_stylesheets_is_byte_identical_to_weasyprints_own(rendered, tmp_path):
    """render_pdf gives WeasyPrint the report's <style> sheets parsed once per process; the
    PDF is the one WeasyPrint makes from the HTML file as it is (same fonts and images)."""
    from weasyprint import HTML

    from kvk_analysis.report import render

    html = rendered[0]["html"]
    text = html.read_text(encoding="utf-8")
    lean, sheets = render._kept_stylesheets(text, str(html.parent))
    assert len(sheets) == text.count("<style") >= 1 and "<style" not in lean
    first = render.render_pdf(html, tmp_path / "a.pdf").read_bytes()
    again = render.render_pdf(html, tmp_path / "b.pdf").read_bytes()  # kept sheets reused
    with render.cached_font_subsets(), render.png_passthrough():
        own = HTML(filename=str(html), base_url=str(html.parent)).write_pdf()
    assert first == again == own


def test_stylesheets_that_could_cascade_otherwise_stay_in_the_document():
    from kvk_analysis.report import render

    page = '<html><head><style type="text/css">{}</style></head><body><p>x</p></body></html>'
    assert render._kept_stylesheets(page.format("p { color: red }"), "/") is not None
    for css in ("p { color: red !important }", "@layer a { p { color: red } }"):
        assert render._kept_stylesheets(page.format(css), "/") is None
    linked = page.format("p{}").replace("</head>", '<link rel="stylesheet" href="x.css"/></head>')
    assert render._kept_stylesheets(linked, "/") is None
    other = page.format("p{}").replace("</head>", "<style media='print'>p{}</style></head>")
    assert render._kept_stylesheets(other, "/") is None


@pytest.mark.parametrize("face", ["DejaVuSans.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf"])
def test_fonts_subset_without_the_dropped_layout_tables_are_the_same_bytes(face, monkeypatch):
    """WeasyPrint's fontTools subset of a font without GSUB/GPOS (which it drops, but fontTools
    decodes first) is byte for byte its subset of the whole font, with and without hinting,
    for the glyphs of a report and for many more."""
    import io

    import fontTools.ttLib.tables._h_e_a_d as head
    import matplotlib
    from fontTools.ttLib import TTFont
    from weasyprint.pdf import fonts as wfonts

    from kvk_analysis.report import render

    monkeypatch.setattr(head, "timestampNow", lambda: 3_000_000_000)  # the subset's date
    content = (Path(matplotlib.get_data_path()) / "fonts" / "ttf" / face).read_bytes()
    stripped = render.without_dropped_layout(content)
    tables = set(TTFont(io.BytesIO(content)).keys())
    if {"GSUB", "GPOS"} & tables:
        assert len(stripped) < len(content)
        assert not {"GSUB", "GPOS"} & set(TTFont(io.BytesIO(stripped)).keys())
    else:
        assert stripped == content

    class Font:  # what WeasyPrint's fontTools subsetting reads of its Font
        def __init__(self, data: bytes) -> None:
            self.file_content, self.index, self.missing, self.family = data, 0, {}, b"f"

    base = render._base_glyphs(content, 0)
    for glyphs in (base, base | set(range(0, 3000, 7))):
        for hinting in (False, True):
            want, got = Font(content), Font(stripped)
            wfonts.Font._fonttools_subset(want, dict.fromkeys(glyphs, ""), hinting)
            wfonts.Font._fonttools_subset(got, dict.fromkeys(glyphs, ""), hinting)
            assert got.file_content == want.file_content


def test_fonts_that_are_not_one_plain_font_are_left_as_they_are():
    from kvk_analysis.report import render

    assert render.without_dropped_layout(b"ttcf" + b"\0" * 40) == b"ttcf" + b"\0" * 40
    assert render.without_dropped_layout(b"not a font") == b"not a font"
    assert (
        render.without_dropped_layout(b"\0\1\0\0" + b"\0" * 8, index=1) == b"\0\1\0\0" + b"\0" * 8
    )


def test_stylesheets_are_kept_across_report_folders_unless_they_hold_urls(rendered, tmp_path):
    """Every report is printed from its own temporary folder: a sheet without ``url(...)`` is
    parsed once for all of them (the PDF still WeasyPrint's own), one with URLs per folder."""
    import shutil

    from weasyprint import HTML

    from kvk_analysis.report import render

    html = rendered[0]["html"]
    copies = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        copies.append(Path(shutil.copy(html, tmp_path / folder / html.name)))
    render._STYLES.clear()
    render.render_pdf(copies[0], tmp_path / "a.pdf")
    kept = dict(render._STYLES)
    got = render.render_pdf(copies[1], tmp_path / "b.pdf").read_bytes()
    assert render._STYLES.keys() == kept.keys() and all(
        render._STYLES[k] is kept[k] for k in kept
    )  # not parsed again
    with render.cached_font_subsets(), render.png_passthrough():
        own = HTML(filename=str(copies[1]), base_url=str(copies[1].parent)).write_pdf()
    assert got == own
    page = '<style type="text/css">p { background: url(dot.png) }</style><p>x</p>'
    render._STYLES.clear()
    for folder in ("a", "b", "a"):
        render._kept_stylesheets(page, str(tmp_path / folder))
    assert len(render._STYLES) == 2
