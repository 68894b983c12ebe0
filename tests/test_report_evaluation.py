"""One results object per report specification (kvk_analysis.report.evaluation) and the
texts and tables that read it."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.did import aggte, att_gt
from kvk_analysis.errors import ReportError
from kvk_analysis.evaluation.testing import simulate_panel
from kvk_analysis.report import tables, text
from kvk_analysis.report.evaluation import (
    HEADLINE_AGGREGATION,
    Specification,
    evaluate,
    specification_from_parameters,
)

MINUS = "\u2212"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = simulate_panel(n_units=80, sectors=("all", "care"), effect=-1.0, noise=0.2, seed=11)
    units = data.loc[data["participant"], "kommunenummer"].unique()[:3]
    data["left"] = pd.NaT
    data.loc[data["kommunenummer"].isin(units), "left"] = pd.Timestamp("2009-01-01")
    return data


@pytest.fixture(scope="module")
def results(panel):
    spec = Specification(control_group="notyettreated", inference="analytic", seed=3)
    return evaluate(panel, spec)


@pytest.fixture(scope="module")
def boot(panel):
    spec = Specification(sector="care", weighting="days", biters=99, seed=5, balance_e=3)
    return evaluate(panel, spec)


def test_specification_validates_every_choice():
    with pytest.raises(ReportError, match="control_group"):
        Specification(control_group="notyet")
    with pytest.raises(ReportError, match="weighting"):
        Specification(weighting="people")
    with pytest.raises(ReportError, match="cohorts"):
        Specification(cohorts=("V",))
    spec = specification_from_parameters(
        {"sector": "care", "bootstrap_draws": 49, "cohorts": ["i", "II"], "lang": "nb"}
    )
    assert spec.biters == 49 and spec.cohorts == ("I", "II") and spec.sector == "care"
    assert json.loads(json.dumps(spec.to_dict()))["headline_aggregation"] == "group"


def test_headline_is_the_group_aggregation_of_the_run_specification(panel, results):
    sample = tables.analysis_sample(panel, sector="all")
    ref = aggte(
        att_gt(
            sample,
            "rate",
            "tname",
            "kommunenummer",
            "gname",
            control_group="notyettreated",
            bstrap=False,
            cband=False,
        ),
        type="group",
    ).overall
    head = results.headline
    assert HEADLINE_AGGREGATION == "group"
    assert head["estimate"] == pytest.approx(ref.estimate, abs=1e-12)
    assert head["conf_low"] == pytest.approx(ref.conf_low, abs=1e-12)
    # every aggregation computed once, with the same (analytic) inference
    for agg in results.aggregations.values():
        assert agg.params.did.control_group == "notyettreated"
        assert not agg.uniform
    # the robustness rows vary one choice: the other control group is the alternative
    keys = list(results.robustness["key"])
    assert "control_group:nevertreated" in keys and "control_group:notyettreated" not in keys
    assert results.row("sector:all")["estimate"] == head["estimate"]  # not re-estimated
    est = results.estimates()
    assert est["key"].is_unique
    # estimates are inside their intervals and p-values agree with the pointwise intervals
    ok = est["estimate"].notna()
    assert (est.loc[ok, "conf_low"] <= est.loc[ok, "estimate"]).all()
    excl = (est.loc[ok, "conf_high"] < 0) | (est.loc[ok, "conf_low"] > 0)
    assert ((est.loc[ok, "p_value"] < 0.05) == excl).all()


def test_weightings_both_computed_and_named(panel, boot):
    assert boot.spec.weighting == "days"
    head, other = boot.headline, boot.row("weighting:units")
    sample = tables.analysis_sample(panel, sector="care")
    ref = aggte(
        att_gt(sample, "rate", "tname", "kommunenummer", "gname", bstrap=False), type="group"
    ).overall
    assert other["estimate"] == pytest.approx(ref.estimate, abs=1e-10)
    assert head["estimate"] != pytest.approx(other["estimate"])
    nb = text.headline_sentences(boot, "nb")
    assert "vektet med avtalte dagsverk" in nb and "Med kommunene likt vektet blir anslaget" in nb
    assert "i pleie og omsorg" in nb


def test_effects_pointwise_p_and_uniform_band(boot):
    eff = boot.effects("dynamic")
    assert boot.dynamic.uniform
    assert (eff["band_high"] - eff["band_low"] >= eff["conf_high"] - eff["conf_low"] - 1e-12).all()
    excl = (eff["conf_high"] < 0) | (eff["conf_low"] > 0)
    assert ((eff["p_value"] < 0.05) == excl).all()
    # balanced window: only cohorts observed 3 quarters after the start, event times <= 3
    assert eff["index"].max() == 3
    assert boot.identification["event_time"].max() == 3
    table = tables.effects_report(boot, "dynamic", "en")
    assert table.iloc[0, 0] == text.AGGREGATION_LABELS["dynamic"]["en"]
    assert "Uniform band low" in table.columns and "p-value (pointwise)" in table.columns


def test_analytic_report_has_no_band_columns(results):
    table = tables.effects_report(results, "group", "nb")
    assert "Uniformt bånd nedre" not in table.columns
    assert table.iloc[0, 0] == text.AGGREGATION_LABELS["group"]["nb"]
    assert table.iloc[1, 0].startswith("Pulje I (")


def test_labels_are_unique_per_estimate(results):
    for lang in ("nb", "en"):
        labels = [text.estimate_label(k, lang, results) for k in results.estimates()["key"]]
        assert len(labels) == len(set(labels)), labels
        aggs = [
            text.AGGREGATION_LABELS[a][lang] for a in ("group", "simple", "dynamic", "calendar")
        ]
        assert len(set(aggs)) == 4


def test_to_dict_is_json_with_labels_and_inference(results):
    data = json.loads(json.dumps(results.to_dict(), allow_nan=False))
    assert data["specification"]["control_group"] == "notyettreated"
    first = data["estimates"][0]
    assert first["key"] == "headline" and first["inference"] == "analytic"
    assert first["label"]["nb"] == text.AGGREGATION_LABELS["group"]["nb"]
    assert {"estimate", "conf_low", "conf_high", "p_value", "aggregation"} <= set(first)
    assert data["n_leavers"] == 3
    assert set(data["thresholds"]) == set(text.thresholds())


def test_comparison_group_wording_follows_the_specification(results, boot):
    for lang, phrase in (("nb", "ennå ikke hadde startet"), ("en", "had not yet started")):
        for sentence in (
            text.evaluation_sample_sentence(results, lang),
            text.headline_sentences(results, lang),
            text.method_summary(results, lang),
            text.methods_appendix(results, lang),
        ):
            assert phrase in sentence
        assert phrase not in text.method_summary(boot, lang)
    assert "ennå ikke deltatt" in text.spec_subtitle(results.spec, "nb")


def test_conclusions_interpret_the_results(results):
    nb = text.conclusions(results, "nb")
    en = text.conclusions(results, "en")
    assert len(nb) == len(en) >= 5
    joined = " ".join(en)
    assert "of that level" in joined  # relative size
    assert "quarters after the start" in joined  # dynamics
    assert "intention to treat" in joined and "3 municipalities left" in joined
    assert "standardised difference" in joined  # balance after matching
    assert "not that the trends were parallel" in joined
    assert not any(p[0].isdigit() for p in nb + en)  # no sentence starts with a digit
    assert "-0" not in joined and MINUS in joined  # true minus sign in English


def test_placebo_is_described_relative_to_the_effect(results):
    rob = results.robustness.copy()
    head = results.headline["estimate"]
    plac = rob["kind"] == "placebo"
    rob.loc[plac, ["estimate", "conf_low", "conf_high"]] = [head * 0.1, head * 0.1 - 1, 1.0]
    small = SimpleNamespace(**{**results.__dict__, "robustness": rob})
    small.row = results.row
    assert "small relative to the effect" in text.placebo_sentence(small, "en")
    rob.loc[plac, ["estimate", "conf_low", "conf_high"]] = [head, head - 1, 1.0]
    large = SimpleNamespace(**{**results.__dict__, "robustness": rob})
    large.row = results.row
    en = text.placebo_sentence(large, "en")
    assert "100\u00a0% of the main effect" in en and "weakens" in en


def test_twfe_wording_uses_the_thresholds(results):
    cs = results.headline["estimate"]
    for twfe_value, word in ((cs * 1.05, "close"), (cs * 1.5, "at least 20")):
        fake = SimpleNamespace(
            twfe=SimpleNamespace(overall=twfe_value),
            bacon=SimpleNamespace(forbidden_share=0.0, negative_weight_share=0.0),
            row=results.row,
        )
        assert word in text.twfe_bacon_sentences(fake, "en")
    fake.bacon = SimpleNamespace(forbidden_share=text.BACON_FORBIDDEN, negative_weight_share=0)
    assert "may explain the difference" in text.twfe_bacon_sentences(fake, "en")


def test_pretrend_sentences_never_read_non_rejection_as_proof():
    test = SimpleNamespace(
        p_value=0.4,
        event_times=(-3, -2, -1),
        estimates=(0.1, -0.2, 0.05),
        std_errors=(0.1, 0.15, 0.1),
        alp=0.05,
    )
    nb = text.honest_pretrend_sentence(test, "nb", effect=-0.3)
    assert "forkaster ikke hypotesen" in nb and "ikke at trendene var parallelle" in nb
    assert "holdepunkter" not in nb
    power = SimpleNamespace(
        slope_50=0.02,
        slope_80=0.035,
        bias=pd.DataFrame({"event_time": [-1, 0, 1], "bias": [0.0, -0.035, -0.07]}),
        min_e=-8,
        method="sup-t",
        power=lambda s: 0.8,
    )
    en = text.pretrend_power_sentence(power, test, "en")
    assert "0.035" in en and "80 %" in en and "Roth 2022" in en and "undetected" in en
    assert f"{MINUS}0.05" in en  # average bias after the start
    rejected = SimpleNamespace(**{**test.__dict__, "p_value": 0.01})
    assert "undetected" not in text.pretrend_power_sentence(power, rejected, "en")


def test_honest_sentence_cites_the_breakdown_value():
    honest = SimpleNamespace(
        type="relative_magnitude",
        breakdown=0.75,
        robust=pd.DataFrame({"lb": [-1.0], "ub": [-0.1], "method": ["C-LF"], "delta": ["rm"]}),
        original=pd.DataFrame({"lb": [-0.8], "ub": [-0.2], "method": ["Original"]}),
        l_vec="first post period",
    )
    assert "0,75" in text.honest_sentence(honest, "nb")
    assert "breakdown value" in text.honest_sentence(honest, "en")
    none = SimpleNamespace(type="smoothness", breakdown=math.nan)
    assert "not even the smallest" in text.honest_sentence(none, "en")


def test_methods_appendix_lists_thresholds_and_references(results):
    for lang in ("nb", "en"):
        appendix = text.methods_appendix(results, lang)
        assert appendix.count("### ") >= 6
        table = tables.thresholds_table(lang)
        assert set(table.iloc[:, 0]) == set(text.thresholds())
        refs = text.references(lang)
        for cited in ("Callaway", "Goodman-Bacon", "Abadie", "Roth, J. (2022)", "Rambachan"):
            assert cited in refs
    ident = tables.identification_report(results, "en")
    assert ident.iloc[:, 0].str.contains(MINUS).any()


def test_cohort_gap_plot_cancels_the_common_seasonal_swing(panel):
    from kvk_analysis import plots

    sample = tables.analysis_sample(panel, sector="all")
    season = np.array([1.5, 0.0, -1.5, 0.0])
    shifted = sample.assign(
        lost_days=sample["lost_days"]
        + season[(sample["quarter"] - 1).to_numpy()] / 100 * sample["contracted_days"]
    )
    a = plots.cohort_gap_plot(sample, lang="nb")
    b = plots.cohort_gap_plot(shifted, lang="nb")
    for la, lb in zip(a.axes[0].get_lines()[2:], b.axes[0].get_lines()[2:], strict=True):
        np.testing.assert_allclose(la.get_ydata(), lb.get_ydata(), atol=1e-9)
    labels = [t.get_text() for t in a.legends[0].get_texts()]
    assert labels[0].startswith("Pulje I (") and "kv." in labels[0]


def _with_dynamics(results, estimates):
    fake = SimpleNamespace(**results.__dict__)
    fake.row = results.row
    fake.dynamic = results.dynamic
    e = np.arange(len(estimates))
    eff = pd.DataFrame({"index": e, "estimate": estimates})
    fake.effects = lambda aggregation: eff
    fake.identification = pd.DataFrame(
        {"event_time": e, "cohorts": [("I", "II")] * len(e), "n_cohorts": 2}
    )
    return fake


def test_dynamics_wording_follows_fade_threshold(results):
    sign = -1.0 if results.headline["estimate"] < 0 else 1.0
    build_up = sign * np.array([0.1, 0.3, 0.6, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7])
    fading = sign * np.array([0.1, 0.3, 0.6, 0.8, 0.5, 0.3, 0.2, 0.2, 0.2])
    reversing = sign * np.array([0.1, 0.3, 0.6, 0.8, 0.5, -0.1, -0.2, -0.2, -0.2])
    texts = {
        name: " ".join(text.conclusions(_with_dynamics(results, values), "en"))
        for name, values in (("up", build_up), ("fade", fading), ("rev", reversing))
    }
    assert "3 quarters after the start" in texts["up"] and "does not clearly fade" in texts["up"]
    assert "the effect fades" in texts["fade"]
    assert "gone or reverses" in texts["rev"]
    assert "changing mix of cohorts" not in texts["up"]  # every cohort behind every quarter


# -- the estimator comparison ---------------------------------------------------------------


def test_comparison_reuses_the_report_att_gt_over_its_window(results, boot):
    from kvk_analysis.evaluation.estimators import ESTIMATORS
    from kvk_analysis.report.evaluation import COMPARISON_MAX_E, COMPARISON_MIN_E

    for res in (results, boot):
        comp = res.comparison
        assert comp is not None, res.notes
        assert list(comp.overall["estimator"]) == list(ESTIMATORS)
        assert comp.params["cs_given"] and comp.params["control_group"] == res.spec.control_group
        # Callaway-Sant'Anna is the report's own att_gt, aggregated over the window
        window = aggte(res.gt, type="dynamic", min_e=COMPARISON_MIN_E, max_e=COMPARISON_MAX_E)
        rows = res.comparison_estimates().set_index("estimator")
        assert rows.loc["callaway_santanna", "estimate"] == pytest.approx(window.overall.estimate)
        # ... whose overall is the mean of event times 0..max_e, like the other estimators'
        eff = res.effects("dynamic")
        post = eff.loc[(eff["index"] >= 0) & (eff["index"] <= COMPARISON_MAX_E), "estimate"]
        if res.spec.balance_e is None:
            assert rows.loc["callaway_santanna", "estimate"] == pytest.approx(post.mean())
        cs_events = comp.event_study.loc[comp.event_study["estimator"] == "callaway_santanna"]
        merged = cs_events.merge(eff, left_on="event_time", right_on="index")
        assert len(merged) and np.allclose(merged["estimate_x"], merged["estimate_y"])
        assert set(rows.index[rows["quantity"] == "own"]) == {"twfe_static", "sdid"}
        assert res.comparison_keys(event_study=True) == [
            f"estimator:{e}" for e in ESTIMATORS if e not in ("twfe_static", "sdid")
        ]


def test_comparison_in_the_results_file_and_table(results):
    d = json.loads(json.dumps(results.to_dict(), allow_nan=False))
    block = d["comparison"]
    assert block["window"] == {"min_e": -8, "max_e": 8}
    keys = [r["key"] for r in block["estimates"]]
    assert keys == results.comparison_keys()
    assert all(r["interval"] == "pointwise" and r["label"]["nb"] for r in block["estimates"])
    table = tables.comparison_report(results, "en")
    assert list(table.columns[:2]) == ["Estimator", "Quantity shown"]
    assert np.allclose(table["Estimate"], [r["estimate"] for r in block["estimates"]])
    own = table.loc[table["Quantity shown"] == text.comparison_quantity("own", "en")]
    assert set(own["Estimator"]) == {"Synthetic DiD", "TWFE static"}
    caption = text.comparison_caption(results, "en")
    assert "not the same quantity" in caption and "20 draws" in caption
    assert "not-yet-treated" in caption or "not yet started" in caption


def _with_comparison(results, estimates: dict[str, float]):
    fake = SimpleNamespace(**results.__dict__)
    rows = results.comparison_estimates().copy()
    for name, value in estimates.items():
        rows.loc[rows["estimator"] == name, ["estimate", "conf_low", "conf_high"]] = (
            value,
            value - 0.1,
            value + 0.1,
        )
    fake.comparison_estimates = lambda: rows
    return fake


def test_comparison_sentence_follows_its_threshold(results):
    cs = -1.0
    near = {"callaway_santanna": cs, "sun_abraham": cs * (1 - text.ESTIMATORS_AGREE / 2)}
    far = {"callaway_santanna": cs, "sun_abraham": cs * (1 + text.ESTIMATORS_AGREE)}
    others = {e: cs for e in ("gardner_bjs", "dcdh", "stacked", "twfe_dynamic")}
    share = text.fmt_pct(text.ESTIMATORS_AGREE * 100, "en", 0)
    agree = text.comparison_sentences(_with_comparison(results, {**others, **near}), "en")
    assert f"All lie within {share}" in agree and "does not show that the assumptions" in agree
    apart = text.comparison_sentences(_with_comparison(results, {**others, **far}), "en")
    assert f"At least {share}" in apart and "Sun–Abraham" in apart and "All lie" not in apart
    for sentence in (agree, apart, text.comparison_sentences(results, "nb")):
        assert "not the same quantity" in sentence or "ikke samme størrelse" in sentence
        assert not sentence[0].isdigit()
    assert "ESTIMATORS_AGREE" in text.thresholds() and "ESTIMATORS_AGREE" in set(
        tables.thresholds_table("en")["Constant"]
    )
    # no comparison: one honest sentence, no table rows
    none = SimpleNamespace(**results.__dict__)
    none.comparison = None
    none.comparison_estimates = lambda: results.comparison_estimates().iloc[0:0]
    assert "could not be computed" in text.comparison_sentences(none, "en")
