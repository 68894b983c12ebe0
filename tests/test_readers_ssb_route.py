"""The real-data route: downloaded SSB archive tables 2005-2010 -> one command -> panel, and the
report's data-definition section and provenance on it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kvk_analysis import config
from kvk_analysis.build import build_data
from kvk_analysis.cohorts import read_registry
from kvk_analysis.errors import InputError
from kvk_analysis.panel import build_panel
from kvk_analysis.readers import read_sickleave
from kvk_analysis.report import definitions
from kvk_analysis.report.display import is_simulated
from kvk_analysis.report.provenance import input_status, inputs_status_table, provenance_table
from kvk_analysis.report.tables import analysis_sample

ARCHIVE = Path(__file__).parent / "data" / "ssb_archive"
TABLES = sorted(ARCHIVE.glob("tab-*"))
REGISTRY = config.COHORTS_DIR / "kvk_participants_documented.csv"
GENUINE_COUNTY = (
    Path(__file__).parent
    / "data"
    / "ssb_genuine"
    / "tab-2009-06-30-09_bostedsfylke_q1-2008_q1-2009_legemeldt.txt"
)


def _truth():
    spec = importlib.util.spec_from_file_location("make_archive", ARCHIVE / "make_archive.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    result = build_data(
        sickleave_paths=TABLES,
        registry_path=REGISTRY,
        processed_dir=out,
        params={"measure": "doctor_certified", "source": "ssb-table"},
        progress=False,
    )
    panel = pd.read_parquet(out / "panel.parquet")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return result, panel, manifest, out


def test_route_builds_a_residence_panel_of_doctor_certified_leave(built):
    result, panel, manifest, out = built
    assert not result.up_to_date
    d = manifest["definition"]
    assert d["unit_basis"] == "residence" and d["measure"] == "doctor_certified"
    assert d["participants_listed"] == 33 and d["participants_cohort_known"] == 18
    assert not d["registry_complete"] and d["known_non_participants"] == ["1866"]
    assert set(panel["unit_basis"]) == {"residence"} and set(panel["measure"]) == {
        "doctor_certified"
    }
    assert set(panel["kommunenummer"]) == {c for c, _, _ in _truth().MUNICIPALITIES}
    # quarters 2005Q1-2010Q3 (2010Q4 was not published); published numbers, not invented ones
    assert str(panel["period"].min()) == "2005Q1" and str(panel["period"].max()) == "2010Q3"
    truth = _truth()
    for code, q in [("0219", "2008Q3"), ("1149", "2006Q1"), ("0101", "2010Q2"), ("1866", "2005Q4")]:
        row = panel[(panel["kommunenummer"] == code) & (panel["period"] == pd.Period(q, "Q"))].iloc[
            0
        ]
        p = pd.Period(q, "Q")
        assert row["rate"] == pytest.approx(truth._r1(truth._rate(code, p.year, p.quarter)))
        assert row["lost_days"] == truth.DAYS[(code, p.year, p.quarter)]
    # the gaps are reported, not filled
    missing = pd.read_csv(out / "panel_missing.csv", dtype=str)
    assert set(zip(missing["kommunenummer"], missing["period"], strict=True)) == {
        ("0220", "2009Q1"), ("0220", "2009Q2"), ("0220", "2010Q1"), ("0220", "2010Q2")
    }  # fmt: skip
    asker = panel[panel["kommunenummer"] == "0220"]
    assert asker["rate"].isna().sum() == 0 and len(asker) == 19  # rows absent, not NaN-filled
    assert "4 cells lack a rate" in manifest["balance"]
    notes = "\n".join(manifest["notes"])
    assert "published tables overlap" in notes and "preliminary" in notes
    assert panel.loc[panel["period"] == pd.Period("2010Q3", "Q"), "preliminary"].all()


def test_unlisted_municipalities_are_in_neither_group(built):
    _, panel, _, _ = built
    units = panel.groupby("kommunenummer").first()
    for code in ("0104", "0105", "0106", "0220", "0403"):  # not in the documented registry
        assert not units.loc[code, "never_treated"] and pd.isna(units.loc[code, "gname"])
        assert units.loc[code, "membership_source"] == "not_listed"
    assert units.loc["1866", "never_treated"] and units.loc["1866", "gname"] == 0
    assert units.loc["1866", "membership_source"] == "known_non_participant"
    sample = analysis_sample(panel, cohorts=None)
    assert set(sample["kommunenummer"]) == {"0219", "0415", "0602", "1149", "1866"}


def test_one_command_with_auto_detection(tmp_path, capsys):
    from kvk_analysis.cli import main

    args = ["data", "build", "--sickleave", *map(str, TABLES), "--registry", str(REGISTRY),
            "--measure", "doctor_certified", "--processed-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "13 units x 23 quarters" in out and "unbalanced" in out
    assert (
        json.loads((tmp_path / "manifest.json").read_text())["definition"]["unit_basis"]
        == "residence"
    )


def test_definition_section_states_definition_registry_power_and_inputs(built):
    _, panel, manifest, _ = built
    inputs = [*TABLES, REGISTRY]
    en, table = definitions.data_definition_section(panel, inputs, "en", manifest=manifest)
    text = " ".join(en)
    assert "doctor-certified sick leave" in text and "municipality where they live" in text
    assert "self-certified" in text and "employing municipality" in text
    assert "documents 33 of the about 138-140 participants, 18 of them with a known pulje" in text
    assert "never used as a control" in text and "(5 such municipalities in this panel)" in text
    assert "at most 4 treated municipalities" in text and "5.9 times" in text
    assert "1 municipality is documented as non-participant" in text
    assert "13 municipalities and 23 quarters (2005Q1-2010Q3); 4 municipality-quarters" in text
    assert (
        "Real inputs: kvk_participants_documented.csv; simulated inputs: tab-2005-09-01.txt" in text
    )
    assert list(table.columns) == ["", "This analysis", "KVK's target (KS register)"]
    assert (
        table.iloc[1, 1] == "Municipality of residence"
        and table.iloc[2, 1] == "Doctor-certified only"
    )
    nb, table_nb = definitions.data_definition_section(panel, inputs, "nb", manifest=manifest)
    text_nb = " ".join(nb)
    assert "legemeldt sykefravær" in text_nb and "kommunen de bor i" in text_nb
    assert "5,9 ganger" in text_nb and "brukes aldri som kontroll" in text_nb
    assert table_nb.iloc[1, 1] == "Bostedskommune"


def test_definition_of_ks_panel_is_the_programme_definition():
    demo = pd.DataFrame(
        {
            "kommunenummer": ["0101", "0101"],
            "period": pd.PeriodIndex(["2007Q1", "2007Q2"], freq="Q"),
            "sector": "all",
            "measure": "total",
            "unit_basis": "employer",
            "rate": [5.0, 5.1],
            "participant": True,
            "never_treated": False,
            "cohort_known": True,
            "membership_source": "simulated",
            "preliminary": False,
        }  # fmt: skip
    )
    text = " ".join(definitions.definition_sentences(demo, "en"))
    assert "definition the programme itself targeted" in text
    assert "diluted" not in text
    reg = " ".join(definitions.registry_sentences(demo, "en"))
    assert "taken as the complete list" in reg


def test_simulated_notice_only_when_an_input_is_simulated(built, tmp_path):
    _, panel, _, _ = built
    assert is_simulated(panel, [*TABLES, REGISTRY])  # the fixture's README says synthetic
    real = tmp_path / "ssb_download"
    real.mkdir()
    copies = [Path(shutil.copy(t, real / t.name)) for t in TABLES[:2]]
    assert input_status(copies[0])[0] == "real"
    assert not is_simulated(panel, [*copies, REGISTRY])
    assert input_status(config.DEMO_DIR / "ks_sickleave_demo.csv")[0] == "simulated"
    prov = provenance_table([*TABLES[:1], REGISTRY], {})
    status = prov[prov["section"] == "input_status"].set_index("item")["value"]
    assert status.iloc[0].startswith("simulated") and status.iloc[1].startswith("real")
    nb = inputs_status_table([copies[0], config.DEMO_DIR / "cohort_registry_demo.csv"], "nb")
    assert list(nb["status"]) == ["ekte", "simulert"]


def test_definitions_are_never_mixed():
    ks = read_sickleave(Path(__file__).parent / "data" / "readers" / "ks_aggregate.csv")
    ssb = read_sickleave(TABLES[0])
    reg = read_registry(REGISTRY)
    with pytest.raises(InputError, match="different unit bases") as info:
        build_panel(pd.concat([ks, ssb], ignore_index=True), reg, measure="doctor_certified")
    assert info.value.column == "unit_basis"
    if GENUINE_COUNTY.is_file():
        county = read_sickleave(GENUINE_COUNTY)
        with pytest.raises(InputError, match="county table cannot enter"):
            build_panel(county, reg, measure="doctor_certified")


def test_section_from_the_build_result_and_derived_files(built):
    result, panel, _, out = built
    sentences, table = definitions.data_definition_section(panel, result, "en")
    text = " ".join(sentences)
    assert "panel.parquet" not in text and "tab-2010-12-01.txt" in text
    assert "documents 33 of the about 138-140 participants" in text and len(table) == 4
    status, why = input_status(out / "panel.parquet")
    assert status == "simulated" and "built from simulated inputs" in why
    assert input_status(out / "manifest.json")[0] == "simulated"


def test_a_complete_registry_drops_in_and_unlisted_units_become_controls(tmp_path):
    from kvk_analysis.municipalities import load_frame

    frame = load_frame(2008)
    fixture = {c for c, _, _ in _truth().MUNICIPALITIES}
    listed = ["0219", "0602"] + [c for c in frame["kommunenummer"] if c not in fixture][:136]
    lines = ["kommunenr,kommune,pulje,admitted,programme_start,source,membership_source"]
    names = dict(zip(frame["kommunenummer"], frame["kommune"], strict=True))
    lines += [f"{c},{names[c]},II,2007-10-17,2007-11-01,KS,documented" for c in listed]
    reg_path = tmp_path / "ks_registry.csv"
    reg_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tidy = pd.concat([read_sickleave(t) for t in TABLES], ignore_index=True)
    panel = build_panel(tidy, read_registry(reg_path), measure="doctor_certified")
    assert panel.definition["registry_complete"] and panel.definition["units_unknown_status"] == 0
    units = panel.data.groupby("kommunenummer").first()
    assert units.loc["0104", "never_treated"] and units.loc["0104", "gname"] == 0
    assert units.loc["0219", "gname"] > 0
    text = " ".join(definitions.registry_sentences(panel, "en"))
    assert "taken as the complete list" in text and "138 participants" in text


def test_unknown_unit_basis_is_not_claimed_either_way():
    panel = pd.DataFrame(
        {
            "kommunenummer": ["0101"],
            "period": pd.PeriodIndex(["2007Q1"], freq="Q"),
            "sector": "all",
            "measure": "doctor_certified",
            "unit_basis": "unknown",
            "rate": [5.0],
            "participant": False,
            "never_treated": True,
            "cohort_known": False,
            "membership_source": "not_listed",
            "preliminary": False,
        }  # fmt: skip
    )
    text = " ".join(definitions.definition_sentences(panel, "en"))
    assert "does not say whether by residence or workplace" in text
    assert "may also differ in population and unit" in text and "diluted" not in text
    assert "1 municipality and 1 quarter" in text


def test_genuine_inputs_are_listed_as_real():
    assert input_status(GENUINE_COUNTY) == (
        "real",
        "PROVENANCE.md of its folder says 'status: real'",
    )
    assert not is_simulated(None, [GENUINE_COUNTY, REGISTRY])
