"""Smoke run of every report notebook with papermill on a freshly simulated demo panel.

All notebooks run (two at a time) on simulated data in a temporary folder, with few bootstrap
draws; the rendered HTML must have the expected sections, the simulated-data notice, numbered
figures and tables, the provenance, and no error, warning or code output.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import pytest

from kvk_analysis import config
from kvk_analysis.report.batch import Job, run_jobs

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))

#: Headings/texts every rendered notebook must contain (nb unless the job says en).
EXPECTED = {
    "01-data-quality": [
        "Datakvalitet",
        "Dekning og manglende verdier",
        "Omkoding av kommunenummer",
        "Uteliggere",
        "Pulje-registeret",
        "Tabell\xa01:",
    ],
    "02-cohorts-and-trends": ["Puljer og utvikling", "Utvikling i sykefraværet", "Tabell\xa01:"],
    "03-programme-effect": [
        "Effekten av programmet",
        "Hovedresultat",
        "Robusthet",
        "Toveis faste effekter",
        "prosentpoeng",
        "Tabell\xa01:",
    ],
    "04-municipality-profile": [
        "Kommuneprofil: Bærum (0219)",
        "syntetiske kontrollen",
        "kommuner som aldri deltok, alle med minst 20\xa0000 innbyggere",  # the donor pool
        "Tabell\xa01:",
    ],
    "05-evaluation-report": [
        "Evaluering av Kvalitetskommuneprogrammet",
        "Sammendrag",
        "Summary",
        "1 Bakgrunn",
        "2 Data",
        "3 Metode",
        "4 Resultater",
        "5 Robusthet",
        "6 Konklusjoner",
        "Vedlegg A",
        "Vedlegg B",
        "Sporbarhet",
        # the title page with its table of contents (Sammendrag and Summary come first)
        '<section class="kvk-titlepage">',
        "Kvalitetskommuneprogrammet – evaluering",
        "Innhold",
        '<a href="#kvk-sec-3">1 Bakgrunn</a>',
        '<h2 id="kvk-sec-3">1 Bakgrunn</h2>',
    ],
    "04-municipality-profile-en": [
        "Municipality profile: Karmøy (1149)",
        "synthetic control",
        "municipalities that never took part",
        "Table\xa01:",
        "SIMULATED DATA",
    ],
}


def test_every_notebook_is_listed():
    names = {p.stem for p in NOTEBOOKS}
    assert {k for k in EXPECTED if not k.endswith("-en")} <= names


def test_parameters_are_typed_and_commented():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert len(cells) == 1, path.name
        lines = [
            ln
            for ln in "".join(cells[0]["source"]).splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
        assert "lang" in "".join(lines)
        for ln in lines:
            assert re.match(r"^\w+: \w+ = .+  # .+", ln), f"{path.name}: {ln}"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not re.search(r"^\s*def ", "".join(cell["source"]), re.M), path.name


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from kvk_analysis.simulate import generate_demo

    root = tmp_path_factory.mktemp("nbdemo")
    generate_demo(out_dir=root / "demo")
    return root


#: Extra specifications rendered once and read by several tests (name -> notebook, params).
EXTRA_JOBS = {
    "05-care": (
        "05-evaluation-report",
        {
            "sector": "care",
            "authors": "Kari Nordmann, Ola Nordmann",
            "institution": "Eksempelinstituttet",
            "report_number": "Rapport 2026:7",
            "preface": "Et forord.",
        },
    ),
    "05-en": ("05-evaluation-report", {"lang": "en"}),
    "05-alt": (
        "05-evaluation-report",
        {"base_period": "universal", "inference": "analytic", "weighting": "days", "balance_e": 4},
    ),
    "03-notyet": ("03-programme-effect", {"control_group": "notyettreated"}),
    "02-care": ("02-cohorts-and-trends", {"sector": "care"}),
}


#: name -> every file a rendered job wrote (html, json, xlsx, docx, exports), set by ``rendered``.
RENDERED_FILES: dict[str, dict[str, Path]] = {}


@pytest.fixture(scope="module")
def rendered(demo) -> dict[str, Path]:
    """Every notebook with its defaults plus :data:`EXTRA_JOBS`, run once (two at a time);
    name -> rendered HTML."""
    common = {
        "sickleave_paths": [str(demo / "demo" / "ks_sickleave_demo.csv")],
        "registry_path": str(demo / "demo" / "cohort_registry_demo.csv"),
        "processed_dir": str(demo / "processed"),
    }
    out = demo / "reports"
    jobs = []
    for path in NOTEBOOKS:
        params = dict(common)
        if path.stem[:2] in ("03", "05"):
            params["bootstrap_draws"] = 49
        formats = ("html", "pdf") if path.stem[:2] in ("04", "05") else ("html",)
        jobs.append(Job(path.stem, path, params, out, formats=formats, cwd=config.ROOT))
    profile = config.NOTEBOOKS_DIR / "04-municipality-profile.ipynb"
    jobs.append(
        Job(
            "04-municipality-profile-en",
            profile,
            {**common, "kommunenummer": "1149", "lang": "en"},
            out,
            formats=("html",),
            cwd=config.ROOT,
        )
    )
    for name, (stem, extra) in EXTRA_JOBS.items():
        draws = {"bootstrap_draws": 49} if stem[:2] in ("03", "05") else {}
        params = {**common, **draws, **extra}
        nb_path = config.NOTEBOOKS_DIR / f"{stem}.ipynb"
        jobs.append(Job(name, nb_path, params, out, formats=("html",), cwd=config.ROOT))
    # the data are built once before the parallel runs (as `kvk run` does)
    from kvk_analysis.build import build_data

    build_data(
        common["sickleave_paths"],
        common["registry_path"],
        processed_dir=common["processed_dir"],
        progress=False,
    )
    results = run_jobs(jobs, workers=2, resume=False, progress=False)
    failed = {r.job.name: r.error for r in results if r.status == "failed"}
    assert not failed
    RENDERED_FILES.update({r.job.name: {k: Path(v) for k, v in r.files.items()} for r in results})
    return {r.job.name: Path(r.files["html"]) for r in results}


def test_notebooks_run_and_render(rendered, demo):
    out = demo / "reports"
    for name, path in rendered.items():
        html = path.read_text(encoding="utf-8")
        for expected in EXPECTED.get(name, []):
            assert expected in html, (name, expected)
        if not name.endswith("-en"):
            assert "SIMULERTE DATA" in html, name
        for bad in (
            "Traceback",
            "Warning:",
            "UserWarning",
            "FutureWarning",
            "Error:",
            "jp-InputArea-editor",
            "<Figure size",
            "import pandas",
            "{'authors'",
        ):
            assert bad not in html, (name, bad)
        # compact provenance: input files with their full SHA-256 (16 digits shown large)
        hashed = re.findall(
            r'ks_sickleave_demo\.csv<br/>SHA-256 <span class="kvk-hash" title="SHA-256 '
            r'([0-9a-f]{64})">([0-9a-f]{16})<span class="kvk-hash-rest">([0-9a-f]{48})</span>',
            html,
        )
        assert len(hashed) == 1, name
        assert hashed[0][0] == hashed[0][1] + hashed[0][2], name
        plain = re.sub(r"<[^>]+>", "", html)
        assert re.search(r"numpy \d+\.\d+\S* · pandas \d", plain), name
    pdf = out / "05-evaluation-report.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 10_000
    pypdf = pytest.importorskip("pypdf")
    pages = pypdf.PdfReader(str(pdf)).pages
    title, second = pages[0].extract_text(), pages[1].extract_text()
    assert "Innhold" in title and "1 Bakgrunn" in title and "Estimeringsutvalget" not in title
    assert "Sammendrag" in second and "Estimeringsutvalget" in second
    # the profile fits on one or two pages, provenance included (issue 5)
    profile = pypdf.PdfReader(str(out / "04-municipality-profile.pdf")).pages
    assert len(profile) <= 2 and "Sporbarhet" in profile[-1].extract_text()


# -- reading the rendered reports -----------------------------------------------------------


def _text(fragment: str) -> str:
    plain = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", fragment, flags=re.S)
    plain = re.sub(r"<img[^>]*>", " ", plain)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", plain))
    return re.sub(r"\s+", " ", plain.replace("\u00a0", " ")).strip()


def _sections(page: str) -> dict[str, str]:
    """Visible text by ``<h2>`` heading (``"_title"``: the title page or title block)."""
    body = page.split('<section class="kvk-provenance">')[0]
    parts = re.split(r"<h2[^>]*>(.*?)</h2>", body, flags=re.S)
    out = {"_title": _text(parts[0])}
    for heading, content in zip(parts[1::2], parts[2::2], strict=True):
        out[_text(heading)] = _text(content)
    return out


def _tables(page: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, rows) of every numbered table."""
    found = []
    for fig in re.findall(r'<figure class="kvk-tablefig.*?</figure>', page, flags=re.S):
        caption = _text(re.search(r"<figcaption>(.*?)</figcaption>", fig, re.S).group(1))
        header = [_text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", fig, re.S)]
        rows = [
            [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", fig.split("<tbody>")[-1], re.S)
        ]
        found.append((caption, header, rows))
    return found


def _number(cell: str) -> float:
    return float(cell.replace("\u2212", "-").replace(" ", "").replace(",", "."))


#: Columns compared across tables (nb and en headers).
_COMPARED = (
    "Estimat",
    "Std.feil",
    "KI nedre (punktvis)",
    "KI øvre (punktvis)",
    "p-verdi (punktvis)",
)
_COMPARED_EN = (
    "Estimate",
    "Std. error",
    "CI low (pointwise)",
    "CI high (pointwise)",
    "p-value (pointwise)",
)


@pytest.mark.parametrize("name", ["05-evaluation-report", "05-en", "05-alt", "03-notyet"])
def test_same_label_same_numbers_in_every_table(rendered, name):
    from kvk_analysis.report.text import AGGREGATION_LABELS

    page = rendered[name].read_text(encoding="utf-8")
    cols = _COMPARED_EN if name.endswith("-en") else _COMPARED
    lang = "en" if name.endswith("-en") else "nb"
    seen: dict[str, tuple[str, ...]] = {}
    n_effect_tables = 0
    for caption, header, rows in _tables(page):
        if cols[0] not in header:
            continue
        n_effect_tables += 1
        idx = [header.index(c) for c in cols if c in header]
        for row in rows:
            values = tuple(row[i] for i in idx)
            label = row[0]
            assert label not in ("Samlet", "Overall"), (caption, label)  # named aggregations
            if label in seen:
                assert seen[label] == values, (name, caption, label, seen[label], values)
            seen[label] = values
            # the p-value printed beside a pointwise interval agrees with it
            cells = [row[header.index(c)] for c in cols[2:]]
            if "–" in cells:  # e.g. the reference quarter of a universal base period
                continue
            lo, hi, p = (_number(c) for c in cells)
            if min(abs(lo), abs(hi)) > 0.005 and abs(p - 0.05) > 0.002:
                assert (p < 0.05) == (lo > 0 or hi < 0), (name, caption, row)
        if any("band" in h.lower() or "bånd" in h.lower() for h in header):
            assert any("Uniform" in h for h in header), (caption, header)
    assert n_effect_tables >= 4
    overall = {AGGREGATION_LABELS[a][lang] for a in ("group", "dynamic")}
    assert overall <= set(seen)  # the aggregations are named, and never under one label
    assert seen[AGGREGATION_LABELS["group"][lang]] != seen[AGGREGATION_LABELS["dynamic"][lang]]
    if name.startswith("05"):
        robustness = [t for t in _tables(page) if t[1][0] in ("Spesifikasjon", "Specification")]
        assert robustness and robustness[0][2][0][0] == AGGREGATION_LABELS["group"][lang]


def test_sector_run_is_about_its_sector(rendered, demo):
    import pandas as pd

    page = rendered["05-care"].read_text(encoding="utf-8")
    sections = _sections(page)
    title = sections["_title"]
    assert "Pleie og omsorg" in title and "Sykefravær i pleie og omsorg" in title
    for field in ("Kari Nordmann, Ola Nordmann", "Eksempelinstituttet", "Rapport 2026:7"):
        assert field in title
    assert "pleie og omsorg" in sections["Sammendrag"]
    assert "health and care" in sections["Summary"]
    assert "pleie og omsorg" in sections["6 Konklusjoner"]
    # the descriptive tables are about care: the comparison group's 2005-06 rate is the
    # care sector's (summed days), and the coverage table has only the care row
    panel = pd.read_parquet(demo / "processed" / "panel.parquet")
    care = panel[(panel["sector"] == "care") & panel["never_treated"] & panel["year"].le(2006)]
    expected = care["lost_days"].sum() / care["contracted_days"].sum() * 100
    every = panel[(panel["sector"] == "all") & panel["never_treated"] & panel["year"].le(2006)]
    other = every["lost_days"].sum() / every["contracted_days"].sum() * 100
    cohort = next(t for t in _tables(page) if t[0].startswith("Tabell 1:"))
    assert "pleie og omsorg" in cohort[0]
    comparison = next(r for r in cohort[2] if r[0] == "Sammenligning")
    assert _number(comparison[-1]) == pytest.approx(expected, abs=0.051)
    assert abs(other - expected) > 0.1  # the check can tell the sectors apart
    coverage = next(t for t in _tables(page) if "etter status" in t[0])
    assert [r[0] for r in coverage[2]] == ["Pleie og omsorg"]
    figures = re.findall(r"<figcaption>(Figur.*?)</figcaption>", page, re.S)
    assert all("pleie og omsorg" in _text(f) for f in figures[:3])


def test_not_yet_treated_run_names_its_comparison_group(rendered):
    page = rendered["03-notyet"].read_text(encoding="utf-8")
    plain = _text(page.split('<section class="kvk-provenance">')[0])
    assert "kontrollgruppe: ennå ikke deltatt" in plain  # subtitle
    assert plain.count("ennå ikke hadde startet") >= 3  # method, sample, headline
    for wrong in (
        "sammenlignes med kommuner som ikke deltok",
        "Sammenligningsgruppen er kommunene som aldri deltok.",
        "Hovedanalyse (aldri deltatt som kontroll)",
        "hver pulje sammenlignes med kommuner som ikke deltok",
    ):
        assert wrong not in plain
    robustness = next(t for t in _tables(page) if t[1][0] == "Spesifikasjon")
    labels = [r[0] for r in robustness[2]]
    assert "Kontrollgruppe: kommuner som aldri deltok" in labels  # the alternative


@pytest.mark.parametrize(
    ("name", "appendix", "parts", "references"),
    [
        (
            "05-evaluation-report",
            "Vedlegg B: Metoder",
            (
                "Forutsetninger",
                "Identifikasjon etter tid siden oppstart",
                "Basisperiode",
                "Andre estimatorer",
                "ESTIMATORS_AGREE",
                "Terskler",
            ),
            "Referanser",
        ),
        (
            "05-en",
            "Appendix B: Methods",
            (
                "Assumptions",
                "Identification by time since the start",
                "Base period",
                "Other estimators",
                "ESTIMATORS_AGREE",
                "Thresholds",
            ),
            "References",
        ),
    ],
)
def test_methods_appendix_and_references(rendered, name, appendix, parts, references):
    from kvk_analysis.report.text import REFERENCES

    sections = _sections(rendered[name].read_text(encoding="utf-8"))
    assert appendix in sections and references in sections
    for part in parts:
        assert part in sections[appendix], part
    refs = sections[references]
    assert len(re.findall(r"\(\d{4}\)\.", refs)) == len(REFERENCES)
    # every author-year citation in the text has its entry in the reference list
    body = " ".join(v for k, v in sections.items() if k != references)
    for author, year in re.findall(r"([A-Z][\w'-]+)(?: (?:og|and) [A-Z][\w'-]+)? (\d{4})\)", body):
        assert re.search(rf"{re.escape(author)}.*\({year}\)", refs), (author, year)


@pytest.mark.parametrize("name", ["05-evaluation-report", "05-en", "05-care", "03-notyet"])
def test_no_cross_reference_points_to_a_missing_section(rendered, name):
    sections = _sections(rendered[name].read_text(encoding="utf-8"))
    headings = list(sections)
    body = " ".join(sections.values())
    for word, letter in re.findall(r"\b(vedlegg|appendix|Vedlegg|Appendix) ([A-Z])\b", body):
        prefix = "Vedlegg" if word.lower() == "vedlegg" else "Appendix"
        assert any(h.startswith(f"{prefix} {letter}:") for h in headings), (name, word, letter)
    for number in re.findall(r"\b(?:avsnitt|section|sections) (\d+)", body):
        assert any(h.startswith(f"{number} ") for h in headings), (name, number)
    assert "vedlegg C" not in body and "appendix C" not in body


def test_english_report_uses_the_true_minus_sign(rendered):
    sections = _sections(rendered["05-en"].read_text(encoding="utf-8"))
    body = " ".join(sections.values())
    assert "\u2212" in body
    assert not re.search(r"(?<![\w\-–])-\d", body), re.search(r".{30}(?<![\w\-–])-\d.{10}", body)


def _rows_with(table: dict, value: float) -> list[list]:
    return [
        row
        for row in table["rows"]
        if any(isinstance(v, float) and math.isclose(v, value, rel_tol=1e-12) for v in row)
    ]


@pytest.mark.parametrize("name", ["05-evaluation-report", "03-notyet", "05-care"])
def test_results_file_links_each_estimate_to_the_tables_that_show_it(rendered, name):
    """The results JSON names, for each estimate of the report, the tables and figures it
    appears in; each such table holds a row with the estimate and its interval; the workbook,
    the DOCX and the CSVs hold the JSON's numbers (check_exports_consistent)."""
    from test_report_exports import check_exports_consistent

    files = RENDERED_FILES[name]
    doc = check_exports_consistent(files)
    main = doc["results"]["main"]
    tables_by_number = {t["number"]: t for t in doc["tables"]}
    captions = {t["number"]: t["caption"] for t in doc["tables"]}
    records = list(main["estimates"]) + list(main["comparison"]["estimates"])
    linked = 0
    for rec in records:
        for ref in rec.get("appears_in", []):
            if ref["kind"] != "table" or rec["estimate"] is None:
                continue
            linked += 1
            rows = _rows_with(tables_by_number[ref["number"]], rec["estimate"])
            assert rows, (name, rec["key"], captions[ref["number"]])
            assert any(
                any(isinstance(v, float) and math.isclose(v, rec["conf_low"]) for v in row)
                and any(isinstance(v, float) and math.isclose(v, rec["conf_high"]) for v in row)
                for row in rows
            ), (name, rec["key"])
    assert linked >= 10
    est = {r["key"]: r for r in records}
    # the headline is in the cohort table and the robustness table, every robustness row in the
    # robustness table, every estimator in the comparison table; event studies in its figure
    headline_tables = [captions[a["number"]] for a in est["headline"]["appears_in"]]
    assert any("per pulje" in c for c in headline_tables), headline_tables
    assert any("alternative spesifikasjoner" in c for c in headline_tables), headline_tables
    comparison = main["comparison"]["estimates"]
    assert len(comparison) == 8
    for rec in comparison:
        kinds = {(a["kind"], a["number"]) for a in rec["appears_in"]}
        assert any(k == "table" for k, _ in kinds), rec["key"]
        assert any(k == "figure" for k, _ in kinds) == rec["event_study"], rec["key"]
    assert {a["number"] for r in comparison for a in r["appears_in"] if a["kind"] == "table"} == {
        next(a["number"] for a in comparison[0]["appears_in"] if a["kind"] == "table")
    }
    assert all(r.get("appears_in") for r in main["estimates"] if r["kind"] == "robustness")
    assert doc["specification"]["control_group"] == main["specification"]["control_group"]


def test_descriptive_notebook_is_about_its_sector(rendered):
    """Notebook 02 with ``sector=care``: the subtitle and every caption name the sector, and
    the tables are computed from the care rows (pre-programme rates differ from all sectors)."""
    care = rendered["02-care"].read_text(encoding="utf-8")
    default = rendered["02-cohorts-and-trends"].read_text(encoding="utf-8")
    assert "Pleie og omsorg" in _sections(care)["_title"]
    assert "Alle sektorer" in _sections(default)["_title"]
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", care, flags=re.S)
    assert len(captions) >= 5
    assert all("i pleie og omsorg" in _text(c) for c in captions), captions
    first_care, first_all = _tables(care)[0], _tables(default)[0]
    col = first_care[1].index("Sykefravær 2005–06 (%)")
    assert [r[col] for r in first_care[2]] != [r[col] for r in first_all[2]]


def _results_json(rendered, name: str) -> dict:
    path = rendered[name]
    return json.loads((path.parent / name / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "lang", "sections"),
    [
        ("05-evaluation-report", "nb", ("Sammendrag", "4 Resultater", "6 Konklusjoner")),
        ("05-en", "en", ("Summary", "4 Results", "6 Conclusions")),
        ("05-alt", "nb", ("Sammendrag", "4 Resultater", "6 Konklusjoner")),
        ("03-notyet", "nb", ("1 Hovedresultat", "6 Konklusjoner")),
    ],
)
def test_power_beside_the_pretest_and_breakdown_in_the_conclusions(rendered, name, lang, sections):
    from kvk_analysis.report.text import fmt_num

    page = rendered[name].read_text(encoding="utf-8")
    parts = _sections(page)
    doc = _results_json(rendered, name)
    main = doc["results"]["main"]
    power, honest = main["power"], main["honest"]
    assert power is not None and honest is not None
    detect = (
        "per kvartal med 80 % sannsynlighet"
        if lang == "nb"
        else "per quarter with 80 % probability"
    )
    pretest = "En felles test" if lang == "nb" else "A joint test"
    s80 = fmt_num(abs(power["slope_80"]), lang, 3)
    for section in sections:
        body = parts[section]
        assert pretest in body and detect in body and f"{s80} pp" in body, (name, section)
        # the power sentence follows the pre-test sentence
        assert body.index(pretest) < body.index(detect), (name, section)
    # the conclusions cite the breakdown value, or say why there is none
    concl = parts[sections[-1]]
    b = honest["breakdown"]
    if b is None:
        assert any(
            w in concl
            for w in ("ingen bruddverdi", "no breakdown value", "tåler ingen", "withstands none")
        )
        assert "så lenge avviket" not in concl and "as long as the departure" not in concl
    else:
        digits = next(d for d in (2, 3, 4) if abs(round(b, d) - b) < 1e-9)
        assert f"M̄ = {fmt_num(b, lang, digits)}" in concl, (name, b)
        if b > 0:
            word = "bruddverdi" if lang == "nb" else "breakdown value"
            assert f"{word} M̄ = {fmt_num(b, lang, digits)}" in concl, (name, b)
    # the sensitivity figure, linked in the results file with the bias table
    captions = [_text(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)]
    robust = "Robuste 95 %-konfidensintervaller" if lang == "nb" else "Robust 95 % confidence"
    figs = [c for c in captions if robust in c]
    assert len(figs) == 1 and "M̄ = 0" in figs[0]
    assert honest["appears_in"][0]["kind"] == "figure"
    assert power["appears_in"][0]["kind"] == "table"
    lo, hi = min(honest["event_times"]), max(honest["event_times"])
    assert f"{lo}–{hi}" in figs[0]
    if name == "05-alt":  # balance_e 4: the sensitivity parameter is the balanced window
        assert (lo, hi) == (0, 4)
