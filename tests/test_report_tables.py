"""Report tables and display helpers on a small simulated panel with a planted effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.errors import ReportError
from kvk_analysis.evaluation.testing import simulate_panel
from kvk_analysis.report import display, tables, text


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = simulate_panel(n_units=60, sectors=("all", "care"), effect=-1.0, noise=0.1, seed=3)
    # one participant with an unknown cohort, one missing cell
    unknown = data["kommunenummer"] == data.loc[data["participant"], "kommunenummer"].iloc[0]
    data["gname"] = data["gname"].astype("Int64")
    data.loc[unknown, ["gname"]] = pd.NA
    data.loc[unknown, "pulje"] = pd.NA
    data.loc[data.index[5], "rate"] = np.nan
    data["status"] = np.where(data["rate"].isna(), "missing", "ok")
    return data


def test_analysis_sample_filters_and_types(panel):
    sample = tables.analysis_sample(panel, sector="care", cohorts=["I", "II"], end="2010Q4")
    assert set(sample["sector"]) == {"care"}
    assert sample["period"].max() == pd.Period("2010Q4", freq="Q")
    assert sample["gname"].dtype == "int64"
    assert set(sample.loc[sample["gname"] > 0, "pulje"]) <= {"I", "II"}
    unknown = panel.loc[panel["participant"] & panel["gname"].isna(), "kommunenummer"]
    assert unknown.nunique() == 1  # the fixture's participant with an unknown cohort ...
    assert not sample["kommunenummer"].isin(unknown).any()  # ... is dropped, not guessed
    every = tables.analysis_sample(panel, sector="care", cohorts=None)
    assert not every["kommunenummer"].isin(unknown).any()  # not even as a control
    controls = every.loc[every["gname"] == 0, "kommunenummer"].unique()
    never = panel.loc[panel["never_treated"].astype(bool), "kommunenummer"].unique()
    assert set(controls) == set(never)
    with pytest.raises(ReportError, match="sector"):
        tables.analysis_sample(panel, sector="education")
    with pytest.raises(ReportError, match="pulje"):
        tables.analysis_sample(panel, cohorts=["V"])


def test_coverage_and_missing(panel):
    cov = tables.coverage_table(panel, "en")
    assert list(cov.columns[:3]) == ["Sector", "Units", "Quarters"]
    assert cov["Missing"].sum() == 1
    assert (cov["Cells"] == cov["Valid"] + cov["Missing"]).all()
    miss = tables.missing_by_year(panel, "nb")
    assert miss.columns[0] == "År"
    assert math.isclose(miss.drop(columns="År").to_numpy().max(), 100 / (60 * 4), rel_tol=1e-9)


def test_describe_panel_counts_units_quarters_sectors_and_gaps(panel):
    en = text.describe_panel(panel, "en").replace("\u00a0", " ")
    assert en == (
        "The analysis panel has 60 municipalities, 28 quarters from 2005 Q1 to 2011 Q4 and "
        "2 sectors (all sectors included). 1 cell lacks a sick-leave rate."
    )
    assert text.describe_panel(panel, "nb").startswith("Analysepanelet har 60 kommuner")


def test_cohort_and_group_tables(panel):
    cohorts = tables.cohort_table(panel, "nb")
    assert cohorts["Kommuner"].sum() == 60
    assert "Sammenligning" in set(cohorts["Pulje"]) and "Ukjent pulje" in set(cohorts["Pulje"])
    first = cohorts.set_index("Pulje")["Første kvartal"]
    assert first["Sammenligning"] == text.MISSING and first[
        text.cohort_label("I", "2007Q1", "nb")
    ] == text.fmt_quarter("2007Q1", "nb")
    sizes = tables.units_by(panel, "size_group", "en")
    assert sizes.drop(columns="Cohort").to_numpy().sum() == 60
    trends = tables.group_trends(panel, "all", "en")
    sub = panel[(panel["sector"] == "all") & panel["never_treated"]]
    first = sub[sub["period"] == sub["period"].min()]
    expected = first["lost_days"].sum() / first["contracted_days"].sum() * 100
    got = trends[(trends["group"] == "Comparison") & (trends["period"] == first["period"].iloc[0])]
    assert math.isclose(got["rate"].iloc[0], expected)  # summed days, never averaged rates


def test_effects_and_subgroups_recover_planted_effect(panel):
    from kvk_analysis.did import aggte, att_gt

    sample = tables.analysis_sample(panel)
    gt = att_gt(sample, "rate", "tname", "kommunenummer", "gname", bstrap=False, cband=False)
    grp = aggte(gt, type="group")
    table = tables.effects_table(grp, "en")
    assert table.iloc[0, 0] == "Overall"
    assert abs(table["estimate"].iloc[0] + 1.0) < 0.2
    dyn = tables.effects_table(aggte(gt, type="dynamic"), "nb")
    assert dyn.columns[0] == "event_time" and dyn.iloc[0, 0] == "Samlet"
    sub = tables.subgroup_effects(panel, "sector", lang="en", bstrap=False)
    assert list(sub["Sector"]) == ["All sectors", "Health and care"]
    assert (sub["estimate"].sub(-1.0).abs() < 0.3).all()
    spec = tables.specification_table(gt, "en")
    assert "never treated" in set(spec["Value"])
    assert "reduced sick leave" in text.summarise_overall(grp, "en")


def test_main_estimates_match_the_separate_calls(panel):
    from kvk_analysis.did import aggte, att_gt, pretrend_test

    kwargs = {"cohorts": ["I", "II"], "end": "2010Q4", "seed": 7, "biters": 49}
    main = tables.main_estimates(panel, **kwargs)
    sample, gt, overall, dynamic, calendar, pretest = main  # unpacks in this order
    pd.testing.assert_frame_equal(
        sample, tables.analysis_sample(panel, cohorts=["I", "II"], end="2010Q4")
    )
    ref = att_gt(sample, "rate", "tname", "kommunenummer", "gname", seed=7, biters=49)
    np.testing.assert_allclose(gt.att, ref.att)
    for kind, got in (("group", overall), ("dynamic", dynamic), ("calendar", calendar)):
        pd.testing.assert_frame_equal(got.tidy(), aggte(ref, type=kind).tidy())
    assert pretest.p_value == pretrend_test(ref, seed=7).p_value
    assert abs(overall.overall.estimate + 1.0) < 0.2  # the planted effect
    assert gt.params.control_group == "nevertreated"
    other = tables.main_estimates(panel, control_group="notyettreated", bstrap=False, cband=False)
    assert other.gt.params.control_group == "notyettreated"


def test_sensitivity_report_labels():
    raw = pd.DataFrame(
        {
            "spec": ["baseline", "leave_out_II", "placebo_4q_III"],
            "estimate": [-0.3, -0.2, 0.01],
            "conf_low": [-0.5, -0.4, -0.2],
            "conf_high": [-0.1, 0.0, 0.2],
            "p_value": [0.01, 0.05, 0.9],
            "n_treated": [100, 80, 30],
        }
    )
    out = tables.sensitivity_report_table(raw, "nb")
    assert list(out["Spesifikasjon"]) == [
        "Hovedanalyse (aldri deltatt som kontroll)",
        "Uten pulje II",
        "Placebo: oppstart 4 kvartaler før, pulje III",
    ]
    sentence = text.robustness_sentence(raw, -0.3, "en")
    assert "In 1 of 1 alternative" in sentence and "0 of 1 placebo" in sentence
    # the main estimate may be given as a result (its overall row is read)
    main = pd.DataFrame({"term": ["overall"], "estimate": [-0.3]})
    assert text.robustness_sentence(raw, main, "en") == sentence
    assert text.robustness_sentence(raw, np.float32(-0.3), "en") == sentence
    positive = text.robustness_sentence(raw, main.assign(estimate=0.3), "en")
    assert "In 0 of 1 alternative" in positive


def test_table_html_formats_numbers_and_years():
    df = pd.DataFrame({"År": [2005, 2006], "estimate": [-1234.5, 0.25], "kommune": ["Bærum", "Å"]})
    html = display.table_html(df, lang="nb", decimals=1)
    assert '<td class="num">2005</td>' in html  # years without thousands separator
    assert "\u22121\u00a0234,5" in html
    assert '<th class="num">Estimat</th>' in html  # column label translated
    wide = display.table_html(pd.DataFrame({f"c{i}": [1] for i in range(9)}), lang="en")
    assert 'class="kvk-table kvk-wide"' in wide


def test_registry_quality_and_codes_are_labelled():
    registry = pd.DataFrame(
        {
            "kommunenummer": ["0219", "1149", "0301"],
            "kommune": ["Bærum", "Karmøy", "Oslo"],
            "pulje": pd.array(["IV", "III", pd.NA], dtype="string"),
            "membership_source": ["documented", "documented", "simulated"],
            "is_borough": [False, False, True],
        }
    )
    reg = tables.registry_report(registry, "nb")
    assert list(reg.columns) == ["Pulje", "Dokumentert", "Simulert", "I alt", "Bydeler"]
    assert reg.set_index("Pulje").loc["I alt", "I alt"] == 3
    assert reg.set_index("Pulje").loc["ukjent", "Simulert"] == 1
    quality = pd.DataFrame({"check": ["jump", "jump", "gap"], "sector": ["care", "all", "care"]})
    q = tables.quality_summary(quality, "en")
    assert set(q["Check"]) == {"Jump between quarters", "Gap in the series"}
    mapping = pd.DataFrame(
        {
            "from_code": ["1503", "0101"],
            "from_name": ["Kristiansund", "Halden"],
            "to_code": ["1505", "0101"],
            "to_name": ["Kristiansund", "Halden"],
            "rule": ["merged_2008", "identity"],
            "n_rows": [36, 84],
        }
    )
    codes = tables.changed_codes(mapping, "nb")
    assert list(codes["Fra kode"]) == ["1503"] and "Til kode" in codes
    assert list(codes["Regel"]) == ["sammenslått 2008"]
    assert list(tables.changed_codes(mapping, "en")["Rule"]) == ["merged 2008"]


def test_matching_balance_and_synth_helpers(panel):
    from kvk_analysis.evaluation.matching import match_controls
    from kvk_analysis.evaluation.synth import synth_municipality

    sample = tables.analysis_sample(panel)
    bal = tables.matching_balance(match_controls(sample), "en")
    assert list(bal.columns) == [
        "Covariate",
        "Participants",
        "All controls",
        "Matched controls",
        "SMD before",
        "SMD after",
    ]
    assert "Sick leave 2005–06 (%)" in set(bal["Covariate"])
    treated = sample.loc[sample["gname"] > 0, "kommunenummer"].iloc[0]
    sc = synth_municipality(sample, treated, placebo=False)
    weights = tables.synth_weights(sc, panel, 3, "nb")
    assert list(weights.columns) == ["kommunenummer", "kommune", "Vekt"] and len(weights) <= 3
    info = tables.unit_info(panel, treated)
    figures = text.profile_key_figures(info, sc, "nb")
    assert figures["Pulje"] == info["pulje"] and figures["Placebo-rang"] == "–"
    prof = tables.profile_table(panel, treated, "all", "en")
    assert list(prof.columns)[0] == "Year" and prof.shape[1] == 4
    assert any(c.startswith("Cohort ") and c.endswith(")") for c in prof.columns)  # with quarter
    with pytest.raises(ReportError, match="not in the panel"):
        tables.unit_info(panel, "9999")
