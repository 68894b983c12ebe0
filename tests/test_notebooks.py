"""Smoke run of every report notebook with papermill on a freshly simulated demo panel.

All notebooks run (two at a time) on simulated data in a temporary folder, with few bootstrap
draws; the rendered HTML must have the expected sections, the simulated-data notice, numbered
figures and tables, the provenance, and no error, warning or code output.
"""

from __future__ import annotations

import json
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


def test_notebooks_run_and_render(demo):
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
    for r in results:
        html = Path(r.files["html"]).read_text(encoding="utf-8")
        for expected in EXPECTED.get(r.job.name, []):
            assert expected in html, (r.job.name, expected)
        if not r.job.name.endswith("-en"):
            assert "SIMULERTE DATA" in html, r.job.name
        for bad in (
            "Traceback",
            "Warning:",
            "UserWarning",
            "FutureWarning",
            "Error:",
            "jp-InputArea-editor",
            "<Figure size",
            "import pandas",
        ):
            assert bad not in html, (r.job.name, bad)
        # compact provenance: input files with their full SHA-256 (16 digits shown large)
        hashed = re.findall(
            r'ks_sickleave_demo\.csv<br/>SHA-256 <span class="kvk-hash" title="SHA-256 '
            r'([0-9a-f]{64})">([0-9a-f]{16})<span class="kvk-hash-rest">([0-9a-f]{48})</span>',
            html,
        )
        assert len(hashed) == 1, r.job.name
        assert hashed[0][0] == hashed[0][1] + hashed[0][2], r.job.name
        plain = re.sub(r"<[^>]+>", "", html)
        assert re.search(r"numpy \d+\.\d+\S* · pandas \d", plain), r.job.name
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
