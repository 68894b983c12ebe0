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
    ],
    "04-municipality-profile-en": [
        "Municipality profile: Karmøy (1149)",
        "synthetic control",
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
        formats = ("html", "pdf") if path.stem.startswith("05") else ("html",)
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
        assert re.search(r"[0-9a-f]{64}", html), r.job.name  # input hashes in the provenance
    pdf = out / "05-evaluation-report.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 10_000
