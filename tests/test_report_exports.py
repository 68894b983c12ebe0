"""Exports of a rendered report: CSV, xlsx, PNG/SVG, results JSON and DOCX, written atomically.

A small synthetic report notebook is executed and rendered once (module fixture); the tests
open the workbook with openpyxl and the DOCX with python-docx and compare their numbers with
the results JSON, read the CSVs back, and interrupt the export half-way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kvk_analysis.errors import ReportError
from kvk_analysis.report import display, exports
from kvk_analysis.report.execute import run_report
from kvk_analysis.report.render import prepare_notebook, render_report

PARAMS = 'lang: str = "nb"  # report language\n'
SETUP = (
    "import matplotlib.pyplot as plt\n"
    "import numpy as np\n"
    "import pandas as pd\n"
    "from kvk_analysis import report\n"
    'report.start("Eksporttest for Bærum", lang=lang, subtitle="Undertittel", simulated=True)'
)
BODY = (
    "fig, ax = plt.subplots(figsize=(5, 2.5))\n"
    "ax.plot([1, 2, 3], [6.1, 5.8, 5.5])\n"
    'report.figure(fig, "Sykefravær i Bærum", key="trend", source="KS")\n'
    "effects = pd.DataFrame({'term': ['I', 'II', 'Samlet'],\n"
    "                        'estimate': [-0.43219876, 1234.56789, np.nan],\n"
    "                        'conf_low': [-0.7, 1000.0, -0.9], 'n': [12, 3456, 7],\n"
    "                        'year': [2007, 2008, 2009], 'ok': [True, False, True]})\n"
    'report.table(effects, "Effekt per pulje", decimals={"estimate": 3, "conf_low": 2},'
    ' key=["overall", "by_cohort"], note="Prosentpoeng.")\n'
    "report.table(effects.head(1), 'Ett resultat: med kolon og / skråstrek "
    "og en veldig lang tekst', decimals=1)\n"
    "report.key_figures({'Effekt': '−0,4 pp', 'Kommuner': '12'})\n"
    "report.say('Effekten er **−0,4** prosentpoeng.\\n\\n- første punkt\\n- andre punkt')\n"
    "report.record_results({'specification': {'control_group': 'nevertreated'},\n"
    "    'estimates': {'overall': {'estimate': -0.43219876, 'conf_low': -0.7,\n"
    "                              'conf_high': float('nan')},\n"
    "                  'unused': {'estimate': 1.0}},\n"
    "    'extra': [{'key': 'trend', 'value': np.float64(2.5)}]})"
)


def make_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    md_nb = nbformat.v4.new_markdown_cell("## Resultater\n\nNorsk *tekst* om `sykefravær`.")
    md_nb.metadata["tags"] = ["lang-nb"]
    md_en = nbformat.v4.new_markdown_cell("## Results\n\nEnglish text.")
    md_en.metadata["tags"] = ["lang-en"]
    nb.cells = [params, nbformat.v4.new_code_cell(SETUP), md_nb, md_en]
    nb.cells.append(nbformat.v4.new_code_cell(BODY))
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exports")
    nb_path = make_notebook(tmp / "synthetic.ipynb")
    files = run_report(nb_path, {}, tmp / "out", name="eksport-nb")
    return files


@pytest.fixture(scope="module")
def results(rendered):
    return json.loads(rendered["json"].read_text(encoding="utf-8"))


def test_every_export_is_written_and_listed(rendered, results):
    folder = rendered["exports"]
    assert folder == rendered["html"].parent / "eksport-nb" and folder.is_dir()
    for kind in ("json", "xlsx", "docx"):
        assert rendered[kind] == folder / f"eksport-nb.{kind}" and rendered[kind].is_file()
    listed = {f["path"] for f in results["files"]}
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert on_disk == listed | {"eksport-nb.json"}
    from kvk_analysis.fileio import sha256

    for f in results["files"]:
        assert sha256(folder / f["path"]) == f["sha256"], f["path"]
    # nothing hidden left in the report folder (staging folders are gone)
    assert not [p for p in rendered["html"].parent.iterdir() if p.name.startswith(".")]


def test_figures_exist_as_png_and_svg(rendered, results):
    folder = rendered["exports"]
    (fig,) = results["figures"]
    assert fig["number"] == 1 and fig["caption"] == "Sykefravær i Bærum"
    assert fig["label"] == "Figur 1" and fig["source"] == "KS" and fig["keys"] == ["trend"]
    png = (folder / fig["files"]["png"]).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    assert list(Image.open(folder / fig["files"]["png"]).size) == fig["size_px"]
    svg = (folder / fig["files"]["svg"]).read_text(encoding="utf-8")
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "<path" in svg
    # the PNG is the one embedded in the report
    html = rendered["html"].read_text(encoding="utf-8")
    import base64

    assert base64.b64encode(png).decode("ascii") in html


def test_results_json_schema_and_links(results):
    assert results["schema"] == exports.SCHEMA
    rep = results["report"]
    assert rep["title"] == "Eksporttest for Bærum" and rep["lang"] == "nb"
    assert rep["simulated"] is True and rep["stem"] == "eksport-nb"
    assert results["parameters"] == {"lang": "nb"}
    assert results["specification"] == {"control_group": "nevertreated"}
    t1, t2 = results["tables"]
    assert (t1["number"], t1["caption"], t1["note"]) == (1, "Effekt per pulje", "Prosentpoeng.")
    assert [c["label"] for c in t1["columns"]] == [
        "Størrelse",
        "Estimat",
        "KI nedre",
        "n",
        "year",
        "ok",
    ]
    assert [c["name"] for c in t1["columns"]][:3] == ["term", "estimate", "conf_low"]
    assert [c["kind"] for c in t1["columns"]] == [
        "text",
        "number",
        "number",
        "integer",
        "integer",
        "bool",
    ]
    assert [c["decimals"] for c in t1["columns"]][1:4] == [3, 2, 0]
    # raw values are unrounded; missing is null; shown cells are as printed
    assert t1["rows"][0] == ["I", -0.43219876, -0.7, 12, 2007, True]
    assert t1["rows"][2][1] is None and t1["shown"][2][1] == "–"
    assert t1["shown"][1][:4] == ["II", "1\xa0234,568", "1\xa0000,00", "3\xa0456"]
    assert t2["shown"][0][1] == "−0,4"
    # estimates name the table / figure they appear in
    main = results["results"]["main"]
    overall = main["estimates"]["overall"]
    assert overall["estimate"] == -0.43219876 and overall["conf_high"] is None
    assert overall["appears_in"] == [
        {"kind": "table", "number": 1, "label": "Tabell 1", "caption": "Effekt per pulje"}
    ]
    assert "appears_in" not in main["estimates"]["unused"]
    assert main["extra"][0]["appears_in"][0]["kind"] == "figure"
    assert set(results["appears_in"]) == {"overall", "by_cohort", "trend"}
    assert results["provenance"][0][0] == "notebook"


def _cell_equal(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        # a workbook keeps 15 significant digits (as Excel does); JSON and CSV keep all
        return math.isclose(float(a), float(b), rel_tol=1e-14, abs_tol=0.0)
    return str(a) == str(b)


def test_workbook_numbers_equal_json(rendered, results):
    from openpyxl import load_workbook

    wb = load_workbook(rendered["xlsx"])
    assert len(wb.worksheets) == len(results["tables"])
    for ws, tab in zip(wb.worksheets, results["tables"], strict=True):
        assert ws.title == tab["files"]["xlsx_sheet"] and len(ws.title) <= 31
        assert ws.title.startswith(f"{tab['number']} ")
        assert ws["A1"].value == f"{tab['label']}: {tab['caption']}"
        header = [c.value for c in ws[2]][: len(tab["columns"])]
        assert header == [c["label"] for c in tab["columns"]]
        for i, row in enumerate(tab["rows"]):
            cells = ws[3 + i][: len(row)]
            for cell, value, col in zip(cells, row, tab["columns"], strict=True):
                assert _cell_equal(cell.value, value), (tab["number"], i, col["name"])
                if col["kind"] == "number" and value is not None:
                    assert cell.data_type == "n"  # a number, not text
                    decimals = cell.number_format.partition(".")[2]
                    assert len(decimals) == col["decimals"], cell.number_format
    assert wb.worksheets[0]["A7"].value == "Merknad: Prosentpoeng."
    assert wb.worksheets[0]["E3"].number_format == "0"  # a year: no thousands separator


def _number(text):
    t = text.replace("\u2212", "-").replace("\xa0", "").replace(" ", "").replace(",", ".")
    return float(t)


def test_docx_has_word_tables_with_the_json_numbers(rendered, results):
    import docx

    doc = docx.Document(str(rendered["docx"]))
    captions = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert captions == [
        "Figur 1: Sykefravær i Bærum",
        "Tabell 1: Effekt per pulje",
        "Tabell 2: Ett resultat: med kolon og / skråstrek og en veldig lang tekst",
    ]
    numbered = doc.tables[: len(results["tables"])]
    for table, tab in zip(numbered, results["tables"], strict=True):
        cells = [[c.text for c in r.cells] for r in table.rows]
        assert cells[0] == [c["label"] for c in tab["columns"]]
        assert cells[1:] == tab["shown"]
        for (
            shown_row,
            raw_row,
        ) in zip(cells[1:], tab["rows"], strict=True):
            for text, raw, col in zip(shown_row, raw_row, tab["columns"], strict=True):
                if col["kind"] == "number" and raw is not None:
                    assert abs(_number(text) - raw) <= 0.5 * 10 ** -col["decimals"] + 1e-9
    # the figure is embedded as a picture; headings, generated text and lists are there
    assert len(doc.inline_shapes) == len(results["figures"])
    styles = [(p.style.name, p.text) for p in doc.paragraphs]
    assert ("Title", "Eksporttest for Bærum") in styles
    assert ("Heading 1", "Resultater") in styles
    assert ("List Bullet", "første punkt") in styles
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Effekten er −0,4 prosentpoeng." in text and "SIMULERTE DATA" in text
    assert "English text" not in text
    bold = [r.text for p in doc.paragraphs for r in p.runs if r.bold]
    assert "−0,4" in bold
    assert doc.tables[-1].cell(0, 0).text == "Notatbok"  # provenance at the end
    # page numbers and the running simulated-data notice, as in the PDF
    section = doc.sections[0]
    assert section.header.paragraphs[0].text == "SIMULERTE DATA"
    assert "PAGE" in section.footer._element.xml and "fldChar" in section.footer._element.xml
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7


def test_csv_round_trips(rendered, results):
    folder = rendered["exports"]
    for tab in results["tables"]:
        raw = pd.read_csv(folder / tab["files"]["csv"], encoding="utf-8", keep_default_na=False)
        assert list(raw.columns) == [c["label"] for c in tab["columns"]]
        for row_csv, row_json in zip(raw.itertuples(index=False), tab["rows"], strict=True):
            for a, b in zip(row_csv, row_json, strict=True):
                if b is None:
                    assert a == ""
                elif isinstance(b, bool):
                    assert str(a) == str(b)
                elif isinstance(b, int | float):
                    assert float(a) == b  # exactly: the raw value, unrounded
                else:
                    assert a == b
        shown = pd.read_csv(
            folder / tab["files"]["csv_formatted"], dtype=str, keep_default_na=False
        )
        assert shown.values.tolist() == tab["shown"]


def test_html_is_unchanged_by_the_export_data(rendered, tmp_path):
    from kvk_analysis.report.display import EXPORT_MIMES
    from kvk_analysis.report.render import render_html

    nb = nbformat.read(str(rendered["ipynb"]), as_version=4)
    bare = nbformat.read(str(rendered["ipynb"]), as_version=4)
    for cell in bare.cells:
        for out in cell.get("outputs", []):
            for mime in EXPORT_MIMES & set(out.get("data", {})):
                del out["data"][mime]
    with_data = render_html(nb, tmp_path / "a.html", provenance=False, title="t")
    without = render_html(bare, tmp_path / "b.html", provenance=False, title="t")
    assert with_data.read_bytes() == without.read_bytes()
    text = with_data.read_text(encoding="utf-8")
    assert "vnd.kvk" not in text and "<svg" not in text and "0.43219876" not in text


def test_sheet_names():
    used: set[str] = set()
    a = exports.sheet_name(3, "Effekt per pulje [pp]: a/b*c? og mye mer tekst", used)
    assert len(a) <= 31 and not set("[]:*?/\\") & set(a) and a.startswith("3 Effekt")
    assert not a.endswith(" ")
    b = exports.sheet_name(3, "Effekt per pulje [pp]: a/b*c? og mye mer tekst", used)
    assert b != a and len(b) <= 31
    assert exports.sheet_name(12, "x" * 80) == "12 " + "x" * 28


def test_link_estimates_list_form_and_explicit_appears_in():
    index = {"a": [{"kind": "table", "number": 2}]}
    block = {
        "estimates": [{"key": "a", "estimate": 1.0}, {"key": "b"}],
        "other": {"key": "a", "appears_in": ["kept"]},
    }
    out = exports.link_estimates(block, index)
    assert out["estimates"][0]["appears_in"] == index["a"]
    assert "appears_in" not in out["estimates"][1]
    assert out["other"]["appears_in"] == ["kept"]
    assert block["estimates"][0] == {"key": "a", "estimate": 1.0}  # input untouched


def test_jsonable_and_record_results_input():
    import numpy as np

    value = {
        "x": np.float64("nan"),
        "y": np.int64(3),
        "p": pd.Period("2007Q2", freq="Q"),
        "a": np.array([1.5, np.inf]),
        "f": pd.DataFrame({"k": [1]}),
        "b": np.bool_(True),
    }
    assert display.jsonable(value) == {
        "x": None,
        "y": 3,
        "p": "2007Q2",
        "a": [1.5, None],
        "f": {"columns": ["k"], "rows": [[1]]},
        "b": True,
    }
    with pytest.raises(TypeError, match="mapping"):
        display.record_results([1, 2])


def _make_old_report(out: Path, stem: str) -> dict[str, bytes]:
    """An earlier complete report of the same name (from the fixture's executed notebook)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and stem in str(p)
    }


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failure_mid_export_leaves_nothing_half_written(rendered, tmp_path, monkeypatch, error):
    out = tmp_path / "out"
    render_report(rendered["ipynb"], out, "rapport", ("html",))
    before = _make_old_report(out, "rapport")
    assert "rapport.html" in before and "rapport/rapport.docx" in before

    def broken(content, path, provenance=None):
        path.write_bytes(b"PK half a document")
        raise error

    monkeypatch.setattr(exports, "write_docx", broken)
    expected = ReportError if isinstance(error, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        render_report(rendered["ipynb"], out, "rapport", ("html",))
    # the earlier complete report is untouched, no staging folder or partial file is left
    assert _make_old_report(out, "rapport") == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    # a failed run (execute + render) leaves no report of that name at all
    with pytest.raises(expected):
        run_report(rendered["ipynb"], {}, out, ("html",), name="rapport")
    assert not [p for p in out.rglob("*") if "rapport" in p.name]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_folder_that_is_not_an_export_folder_is_never_replaced(rendered, tmp_path):
    out = tmp_path / "out"
    keep = out / "rapport" / "index.html"
    keep.parent.mkdir(parents=True)
    keep.write_text("a batch index", encoding="utf-8")
    (out / "rapport.html").write_text("an earlier report", encoding="utf-8")
    with pytest.raises(ReportError, match="not the export folder"):
        exports.write_exports(rendered["ipynb"], out, "rapport")
    with pytest.raises(ReportError, match="not the export folder"):
        render_report(rendered["ipynb"], out, "rapport", ("html",))
    with pytest.raises(ReportError, match="not the export folder"):
        run_report(rendered["ipynb"], {}, out, ("html",), name="rapport")
    # nothing was removed or replaced, and no staging folder is left
    assert keep.read_text(encoding="utf-8") == "a batch index"
    assert (out / "rapport.html").read_text(encoding="utf-8") == "an earlier report"
    assert sorted(p.name for p in out.iterdir()) == ["rapport", "rapport.html"]


def test_prepare_notebook_strips_export_data_unless_asked(rendered):
    from kvk_analysis.report.display import EXPORT_MIMES

    nb = nbformat.read(str(rendered["ipynb"]), as_version=4)
    mimes = {
        m
        for c in prepare_notebook(nb, "nb").cells
        for o in c.get("outputs", [])
        for m in o.get("data", {})
    }
    assert not mimes & EXPORT_MIMES
    kept = {
        m
        for c in prepare_notebook(nb, "nb", keep_data=True).cells
        for o in c.get("outputs", [])
        for m in o.get("data", {})
    }
    assert display.TABLE_MIME in kept and display.FIGURE_MIME in kept


def _captured_notebook(monkeypatch, calls) -> nbformat.NotebookNode:
    """A notebook whose outputs are what the display helpers emit (no kernel needed)."""
    outputs = []
    monkeypatch.setattr(
        display,
        "_display",
        lambda bundle, metadata=None: outputs.append(
            nbformat.v4.new_output("display_data", data=dict(bundle))
        ),
    )
    calls()
    nb = nbformat.v4.new_notebook()
    md = nbformat.v4.new_markdown_cell(
        "## Results\n\n1. first\n2. second\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    code = nbformat.v4.new_code_cell("")
    code.outputs = outputs
    nb.cells = [md, code]
    return nb


def test_english_report_and_edge_cases_without_a_kernel(monkeypatch, tmp_path):
    import docx
    from openpyxl import load_workbook

    def calls():
        display.start("An English report", lang="en")
        display.table(pd.DataFrame({"term": [], "estimate": []}), "An empty table")
        display.table(
            pd.DataFrame({"estimate": [0.123456, -2.5]}, index=pd.Index(["a", "b"], name="region")),
            "With an index",
            index=True,
            decimals=2,
            key="by_group",
        )
        display.record_results(
            type("R", (), {"to_dict": lambda self: {"estimates": {"by_group": {"x": 1}}}})(),
            name="alt",
        )

    nb = _captured_notebook(monkeypatch, calls)
    files = exports.write_exports(nb, tmp_path, "english")
    doc = json.loads(files[0].read_text(encoding="utf-8"))
    assert files[0] == tmp_path / "english" / "english.json"
    empty, indexed = doc["tables"]
    assert empty["rows"] == [] and empty["label"] == "Table 1"
    assert [c["label"] for c in indexed["columns"]] == ["region", "Estimate"]
    assert indexed["rows"] == [["a", 0.123456], ["b", -2.5]]
    # the true minus sign in English too (issue 8)
    assert indexed["shown"] == [["a", "0.12"], ["b", "\u22122.50"]]
    assert doc["results"]["alt"]["estimates"]["by_group"]["appears_in"][0]["number"] == 2
    assert doc["figures"] == [] and doc["specification"] == {}
    wb = load_workbook(tmp_path / "english" / "english.xlsx")
    assert [ws.title for ws in wb.worksheets] == ["1 An empty table", "2 With an index"]
    assert (
        wb.worksheets[1]["B4"].value == -2.5 and wb.worksheets[1]["B4"].number_format == "#,##0.00"
    )
    word = docx.Document(str(tmp_path / "english" / "english.docx"))
    styles = [(p.style.name, p.text) for p in word.paragraphs]
    assert ("Caption", "Table 2: With an index") in styles
    assert ("List Number", "second") in styles
    assert [[c.text for c in r.cells] for r in word.tables[0].rows] == [["a", "b"], ["1", "2"]]
    # a notebook that never called report.start: titled by its name, still exported
    bare = exports.write_exports(nbformat.v4.new_notebook(), tmp_path, "bare")
    assert json.loads(bare[0].read_text(encoding="utf-8"))["report"]["title"] == "bare"
    assert load_workbook(tmp_path / "bare" / "bare.xlsx").sheetnames == ["0 no tables"]


def numbered_word_tables(document) -> dict[str, list[list[str]]]:
    """``caption -> cells`` of the Word tables that follow a caption paragraph."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    found, caption = {}, None
    for child in document.element.body.iterchildren():
        if child.tag.endswith("}p"):
            par = Paragraph(child, document)
            caption = par.text if par.style.name == "Caption" else caption if not par.text else None
        elif child.tag.endswith("}tbl") and caption:
            found[caption] = [[c.text for c in r.cells] for r in Table(child, document).rows]
            caption = None
    return found


def check_exports_consistent(files: dict[str, Path]) -> dict:
    """Every table of the results JSON equals its sheet in the workbook, its Word table in the
    DOCX and its CSVs; every figure has its PNG and SVG.  Returns the JSON."""
    import docx
    from openpyxl import load_workbook

    results = json.loads(files["json"].read_text(encoding="utf-8"))
    folder = files["exports"]
    wb = load_workbook(files["xlsx"])
    word = numbered_word_tables(docx.Document(str(files["docx"])))
    for tab in results["tables"]:
        ws = wb[tab["files"]["xlsx_sheet"]]
        assert ws["A1"].value == f"{tab['label']}: {tab['caption']}"
        for i, row in enumerate(tab["rows"]):
            for cell, value in zip(ws[3 + i], row, strict=False):
                assert _cell_equal(cell.value, value), (tab["label"], i)
        cells = word[f"{tab['label']}: {tab['caption']}"]
        assert cells == [[c["label"] for c in tab["columns"]], *tab["shown"]], tab["label"]
        raw = pd.read_csv(folder / tab["files"]["csv"], keep_default_na=False, dtype=str)
        assert len(raw) == len(tab["rows"])
        for row_csv, row_json in zip(raw.values.tolist(), tab["rows"], strict=True):
            for a, b in zip(row_csv, row_json, strict=True):
                if isinstance(b, float) and not isinstance(b, bool):
                    assert float(a) == b
                else:
                    assert a == ("" if b is None else str(b))
    for fig in results["figures"]:
        assert (folder / fig["files"]["png"]).read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (folder / fig["files"]["svg"]).read_text(encoding="utf-8")[:2000]
    return results


def test_the_synthetic_report_is_consistent(rendered):
    results = check_exports_consistent(rendered)
    assert len(results["tables"]) == 2


@pytest.mark.slow
def test_main_reports_on_demo_data_have_consistent_exports(tmp_path):
    """Notebooks 03 and 05 on freshly simulated demo data: every export agrees with the JSON."""
    from kvk_analysis import config
    from kvk_analysis.build import build_data
    from kvk_analysis.simulate import generate_demo

    generate_demo(out_dir=tmp_path / "demo")
    params = {
        "sickleave_paths": [str(tmp_path / "demo" / "ks_sickleave_demo.csv")],
        "registry_path": str(tmp_path / "demo" / "cohort_registry_demo.csv"),
        "processed_dir": str(tmp_path / "processed"),
        "bootstrap_draws": 49,
    }
    build_data(
        params["sickleave_paths"],
        params["registry_path"],
        processed_dir=params["processed_dir"],
        progress=False,
    )
    for stem in ("03-programme-effect", "05-evaluation-report"):
        files = run_report(
            config.NOTEBOOKS_DIR / f"{stem}.ipynb",
            params,
            tmp_path / "reports",
            ("html",),
            cwd=config.ROOT,
        )
        results = check_exports_consistent(files)
        assert len(results["tables"]) >= 5 and len(results["figures"]) >= 2, stem
        assert results["parameters"]["bootstrap_draws"] == 49


def test_interrupt_while_publishing_takes_back_what_was_moved(rendered, tmp_path, monkeypatch):
    import os

    out = tmp_path / "out"
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".html"):
            raise KeyboardInterrupt  # after the export folder and the PDF were moved in
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        render_report(rendered["ipynb"], out, "rapport", ("html", "pdf"))
    monkeypatch.setattr(os, "replace", real_replace)
    assert list(out.iterdir()) == []
