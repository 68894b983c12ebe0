"""The real-data route end to end: the multi-table SSB archive fixture (synthetic numbers in the
genuine layouts) and the documented registry -> build -> notebook 05, read as a reader would.

Two renders, run together: the fixture as it is (its README says ``status: synthetic``, so the
report must carry the simulated-data banner and list the tables as simulated) and a copy in a
temporary folder whose provenance note says ``status: real`` (no banner, every input real).
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from kvk_analysis import config
from kvk_analysis.report.batch import Job, run_jobs

ARCHIVE = Path(__file__).parent / "data" / "ssb_archive"
TABLES = sorted(ARCHIVE.glob("tab-*"))
REGISTRY = config.COHORTS_DIR / "kvk_participants_documented.csv"
NOTEBOOK = config.NOTEBOOKS_DIR / "05-evaluation-report.ipynb"


def _text(page: str) -> str:
    plain = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", " ", plain)))
    return re.sub(r"\s+", " ", plain.replace("\u00a0", " ")).strip()


def _section(page: str, heading: str, next_heading: str = "") -> str:
    """Visible text of the section under the ``<h2>`` ``heading`` (the title page's table of
    contents is not a section)."""
    body = page.split('<section class="kvk-provenance">')[0]
    parts = re.split(r"<h2[^>]*>(.*?)</h2>", body, flags=re.S)
    found = {_text(h): _text(c) for h, c in zip(parts[1::2], parts[2::2], strict=True)}
    return found[heading]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, str]:
    """name -> rendered HTML: ``synthetic`` (the fixture, English) and ``real`` (a copy marked
    real, Norwegian)."""
    root = tmp_path_factory.mktemp("realdata")
    real = root / "ssb_download"
    real.mkdir()
    for t in TABLES:
        shutil.copy(t, real / t.name)
    (real / "PROVENANCE.md").write_text(
        "# SSB archive tables downloaded from ssb.no\n\nstatus: real\n", encoding="utf-8"
    )
    common = {
        "source": "ssb-table",
        "registry_path": str(REGISTRY),
        "measure": "doctor_certified",
        "bootstrap_draws": 49,
    }
    jobs = [
        Job(
            "synthetic",
            NOTEBOOK,
            {
                **common,
                "sickleave_paths": [str(t) for t in TABLES],
                "processed_dir": str(root / "processed-synthetic"),
                "lang": "en",
            },
            root / "reports",
            formats=("html",),
            cwd=config.ROOT,
        ),
        Job(
            "real",
            NOTEBOOK,
            {
                **common,
                "sickleave_paths": [str(real / t.name) for t in TABLES],
                "processed_dir": str(root / "processed-real"),
            },
            root / "reports",
            formats=("html",),
            cwd=config.ROOT,
        ),
    ]
    results = run_jobs(jobs, workers=2, resume=False, progress=False)
    failed = {r.job.name: r.error for r in results if r.status == "failed"}
    assert not failed
    # the exports too (a Norwegian subtitle of this route is longer than Word's 255-character
    # document properties, which once made the export fail)
    assert all(Path(r.files["docx"]).is_file() for r in results)
    return {r.job.name: Path(r.files["html"]).read_text(encoding="utf-8") for r in results}


def test_route_renders_whole_report_without_errors(reports):
    for name, page in reports.items():
        for bad in ("Traceback", "Error:", "UserWarning", "Warning:", " nan ", "NaN", "<Figure"):
            assert bad not in _text(page), (name, bad)
    text = _text(reports["synthetic"])
    for heading in ("2 Data", "5 Robustness", "6 Conclusions", "Appendix A: Data", "Provenance"):
        assert heading in text


def test_data_section_states_the_definition_beside_ks(reports):
    data = _section(reports["synthetic"], "2 Data", "3 Method")
    assert "doctor-certified sick leave of all lengths" in data
    assert "municipality where they live" in data  # residence-based
    assert "of all employees" in data
    assert "self-certified" in data and "employing municipality" in data  # KS's definition
    assert "diluted" in data  # what the difference means for the evaluation
    assert "What the outcome measures" in data and "Municipality of residence" in data
    assert "Doctor-certified only" in data and "Self- and doctor-certified" in data
    # the panel's gaps are counted, not hidden (Asker lacks four quarters)
    assert "4 cells lack a sick-leave rate" in data and "Every cell has" not in data
    nb = _section(reports["real"], "2 Data", "3 Metode")
    assert "legemeldt sykefravær av alle lengder" in nb and "kommunen de bor i" in nb


def test_registry_sentence_counts_documented_participants(reports):
    data = _section(reports["synthetic"], "2 Data", "3 Method")
    assert "documents 33 of the about 138-140 participants, 18 of them with a known pulje" in data
    assert "never used as a control" in data
    assert "at most 4 treated municipalities" in data  # what it does to power
    nb = _section(reports["real"], "2 Data", "3 Metode")
    assert "33" in nb and "brukes aldri som kontroll" in nb


def test_synthetic_fixture_is_listed_as_simulated_with_the_banner(reports):
    page = reports["synthetic"]
    text = _text(page)
    assert "SIMULATED DATA" in text
    data = _section(page, "2 Data", "3 Method")
    assert (
        "Real inputs: kvk_participants_documented.csv; simulated inputs: tab-2005-09-01.txt" in data
    )
    prov = _text(page.split('<section class="kvk-provenance">')[1])
    assert (
        "tab-2010-12-01.txt: simulated (README.md of its folder says 'status: synthetic')" in prov
    )
    assert "kvk_participants_documented.csv: real" in prov and "Real or simulated" in prov


def test_inputs_marked_real_have_no_banner(reports):
    page = reports["real"]
    text = _text(page)
    assert "SIMULERTE DATA" not in text and "SIMULATED DATA" not in text
    assert "simulerte data" not in text.lower()
    data = _section(page, "2 Data", "3 Metode")
    assert "Ekte inndata: tab-2005-09-01.txt" in data and "imulerte inndata" not in data
    prov = _text(page.split('<section class="kvk-provenance">')[1])
    assert "Ekte eller simulert" in prov
    assert "tab-2010-12-01.txt: ekte (PROVENANCE.md of its folder says 'status: real')" in prov
    assert ": simulert" not in prov and "input_status" not in prov


def _table(page: str, caption: str) -> list[list[str]]:
    """Body rows (cell texts) of the numbered table whose caption contains ``caption``."""
    for fig in re.findall(r'<figure class="kvk-tablefig.*?</figure>', page, flags=re.S):
        if caption in _text(re.search(r"<figcaption>(.*?)</figcaption>", fig, re.S).group(1)):
            return [
                [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
                for row in re.findall(r"<tr>(.*?)</tr>", fig.split("<tbody>")[-1], re.S)
            ]
    raise AssertionError(f"no table {caption!r}")


def test_analyses_the_data_cannot_support_are_explained(reports):
    page = reports["synthetic"]
    text = _text(page.split('<section class="kvk-provenance">')[0])
    # no contracted days in published tables: no pre-programme level, no covariate run
    assert "which these data do not have" in text
    cohorts = _table(page, "Cohorts and comparison municipalities")
    assert all(row[-1] == "–" for row in cohorts)  # the pre-programme level the sentence names
    assert "No estimate (a dash in the tables): with covariates" in text
    # every row of the robustness table without a standard error is named as such, and the
    # placebo sentence counts significance only among placebos that have one
    rows = _table(page, "Overall effect under alternative specifications")
    no_se = [r[0] for r in rows if r[1] != "–" and r[2] == "–" and not r[0].startswith("Placebo")]
    for label in no_se:
        assert label[:1].lower() + label[1:] in text.split("Without a standard error")[1], label
    placebo = [r for r in rows if r[0].startswith("Placebo")]
    with_se = [r for r in placebo if r[2] != "–"]
    if not with_se:
        assert "none of them has a standard error" in text
    elif len(with_se) < len(placebo):
        assert f"of the {len(with_se)} with a standard error are statistically" in text
    else:
        assert f"of {len(placebo)} are statistically significant" in text
    # subgroups of fewer than 10 participants are not compared
    assert "No sector or municipality size has an estimate with at least 10 participants" in text
    assert "differs by more than a factor" not in text


# -- the library on such data, without a render ----------------------------------------------


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    import pandas as pd

    from kvk_analysis.build import build_data

    out = tmp_path_factory.mktemp("processed")
    build_data(
        TABLES,
        REGISTRY,
        processed_dir=out,
        params={"measure": "doctor_certified", "source": "ssb-table"},
        progress=False,
    )
    return pd.read_parquet(out / "panel.parquet")


def _spec(weighting: str = "units"):
    from kvk_analysis.report.evaluation import specification_from_parameters

    return specification_from_parameters(
        {"measure": "doctor_certified", "weighting": weighting, "inference": "analytic"}
    )


def test_describe_panel_counts_absent_rows_as_missing_cells(panel):
    from kvk_analysis.report import text

    assert panel["rate"].notna().all()  # the gaps are absent rows, not NaN rates
    assert "4 cells lack a sick-leave rate" in text.describe_panel(panel, "en")
    assert "4 celler mangler" in text.describe_panel(panel, "nb")


def test_days_weighting_without_days_is_stated_not_invented(panel):
    import numpy as np

    from kvk_analysis.errors import ReportError
    from kvk_analysis.report import text
    from kvk_analysis.report.evaluation import evaluate

    no_days = panel.copy()
    no_days.loc[no_days["period"].astype(str) == "2006Q3", "weight"] = np.nan
    results = evaluate(no_days, _spec("units"))
    row = results.row("weighting:days")
    assert np.isnan(row["estimate"]) and "contracted working days" in row["note"]
    assert not np.isnan(results.row("headline")["estimate"])
    en = text.headline_sentences(results, "en")
    assert "No estimate weighted by contracted working days can be made" in en
    assert "the data lack contracted working days" in text.methods_appendix(results, "en")
    assert "overall effect, weighted by contracted working days: the data lack" in (
        text.robustness_summary(results, "en")
    )
    assert "kan ikke lages" in text.headline_sentences(results, "nb")
    with pytest.raises(ReportError, match="weighting 'days' needs contracted working days"):
        evaluate(no_days, _spec("days"))


def test_significance_is_counted_only_where_there_is_a_standard_error():
    from types import SimpleNamespace

    import pandas as pd

    from kvk_analysis.report import text

    def results(se):
        rob = pd.DataFrame(
            {
                "key": ["headline", "placebo:4:III", "placebo:4:IV"],
                "kind": ["main", "placebo", "placebo"],
                "estimate": [0.5, 0.1, -0.4],
                "std_error": [0.1, se[0], se[1]],
                "conf_low": [0.3, 0.1 - 2 * se[0], -0.4 - 2 * se[1]],
                "conf_high": [0.7, 0.1 + 2 * se[0], -0.4 + 2 * se[1]],
            }
        )
        return SimpleNamespace(
            robustness=rob, row=lambda key: rob.set_index("key").loc[key].to_dict()
        )

    nan = float("nan")
    assert "0 of 2 are statistically significant" in text.placebo_sentence(
        results([1.0, 1.0]), "en"
    )
    both = text.placebo_sentence(results([nan, nan]), "en")
    assert "none of them has a standard error" in both and "0 of 2" not in both
    one = text.placebo_sentence(results([nan, 0.1]), "en")
    assert "1 of the 1 with a standard error are statistically significant (1 has none)" in one
    assert "ingen av dem har standardfeil" in text.placebo_sentence(results([nan, nan]), "nb")


@pytest.mark.slow
def test_route_pdf_carries_banner_definition_and_registry(tmp_path):
    """The PDF of the route (WeasyPrint, slower): the banner on the title page, the
    definition and the registry in the data section, the statuses in the provenance."""
    pypdf = pytest.importorskip("pypdf")
    job = Job(
        "route-pdf",
        NOTEBOOK,
        {
            "sickleave_paths": [str(t) for t in TABLES],
            "source": "ssb-table",
            "registry_path": str(REGISTRY),
            "measure": "doctor_certified",
            "processed_dir": str(tmp_path / "processed"),
            "bootstrap_draws": 49,
        },
        tmp_path / "reports",
        formats=("html", "pdf"),
        cwd=config.ROOT,
    )
    (result,) = run_jobs([job], workers=1, resume=False, progress=False)
    assert result.status != "failed", result.error
    pages = [p.extract_text() for p in pypdf.PdfReader(result.files["pdf"]).pages]
    assert "SIMULERTE DATA" in pages[0]
    text = re.sub(r"\s+", " ", " ".join(pages))
    assert "kommunen de bor i" in text and "Bare legemeldt" in text
    assert "Kohortregisteret dokumenterer 33" in text
    assert "Ekte eller simulert" in text
