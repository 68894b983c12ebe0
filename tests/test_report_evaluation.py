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
    # the peak is named by its direction (the headline's sign), never a bare "largest"
    word = "reduction" if results.headline["estimate"] < 0 else "increase"
    assert f"largest {word}" in joined
    assert "intention to treat" in joined and "3 municipalities left" in joined
    assert "standardised difference" in joined  # balance after matching
    # the pre-test paragraph follows the test's own verdict (a non-rejection is no proof)
    if results.pretest.p_value < results.pretest.alp:
        assert "A joint test rejects" in joined and "may be biased" in joined
    else:
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
    assert "0.035" in en and "80 %" in en and "Roth 2022" in en
    assert "does not rule out trends of this size" in en
    assert f"{MINUS}0.05" in en  # average bias after the start (no headline bias given)
    rejected = SimpleNamespace(**{**test.__dict__, "p_value": 0.01})
    assert "does not rule out" not in text.pretrend_power_sentence(power, rejected, "en")
    # with the headline's bias: compared with the headline estimate
    nb = text.pretrend_power_sentence(power, test, "nb", headline_bias=0.6, effect=-0.3)
    assert "0,60\u00a0pp" in nb and "2,0 ganger" in nb and f"({MINUS}0,30\u00a0pp)" in nb
    assert "utelukker derfor ikke trender" in nb
    assert "could not be computed" in text.pretrend_power_sentence(None, test, "en")


def _honest(kind, breakdown, original, grid, lbs, ubs, times=(0, 1, 2, 3)):
    col = "mbar" if kind == "relative_magnitude" else "m"
    # what honest_sensitivity searches under relative magnitudes: 20 SE around est and zero
    sd = (original[1] - original[0]) / (2 * 1.959963984540054)
    est = (original[0] + original[1]) / 2
    search = (min(-20 * sd, est - 20 * sd), max(20 * sd, est + 20 * sd))
    return SimpleNamespace(
        search_range=search if kind == "relative_magnitude" else None,
        type=kind,
        breakdown=breakdown,
        robust=pd.DataFrame({"lb": lbs, "ub": ubs, "method": "C-LF", "delta": "rm", col: grid}),
        original=pd.DataFrame({"lb": [original[0]], "ub": [original[1]], "method": ["Original"]}),
        parameter="average",
        event_times=times,
        alpha=0.05,
    )


def test_honest_sentence_cites_the_breakdown_value_and_its_resolution():
    grid = [0.0, 0.5, 1.0, 1.5, 2.0]
    found = _honest(
        "relative_magnitude",
        0.75,
        (-0.8, -0.2),
        [*grid, 0.75],
        [-0.8, -0.9, -1.2, -1.5, -2.0, -1.0],
        [-0.2, -0.1, 0.1, 0.3, 0.6, -0.01],
    )
    nb = text.honest_sentence(found, "nb")
    assert "bruddverdi M̄ = 0,75" in nb and "mellom 0,75 og 1,00" in nb
    assert "kvartal 0–3 etter oppstart" in nb
    en = text.honest_sentence(found, "en")
    assert "breakdown value M̄ = 0.75" in en and "between 0.75 and 1.00" in en
    assert "smaller than the largest" not in en  # the next value tested is 1
    low = _honest(
        "relative_magnitude",
        0.0625,
        (-0.8, -0.2),
        [0, 0.0625, 0.125],
        [-1, -1, -1],
        [-0.1, -0.01, 0.1],
    )
    assert "0.0625" in text.honest_sentence(low, "en")
    assert "smaller than the largest one" in text.honest_sentence(low, "en")
    top = _honest("relative_magnitude", 2.0, (-0.8, -0.2), grid, [-1] * 5, [-0.1] * 5)
    assert "at least this large" in text.honest_sentence(top, "en")


def test_honest_sentence_never_claims_robustness_without_it():
    grid = [0.0, 0.5, 1.0]
    # the usual interval includes zero: no breakdown value, and it says so
    orig = _honest("relative_magnitude", math.nan, (-0.5, 0.1), grid, [-0.5] * 3, [0.1] * 3)
    for lang, words in (("en", "Already the usual confidence interval"), ("nb", "Allerede")):
        sentence = text.honest_sentence(orig, lang)
        assert words in sentence and (
            "no breakdown value" in sentence or "ingen bruddverdi" in sentence
        )
        assert "as long as" not in sentence and "så lenge" not in sentence
    # the usual interval excludes zero, the robust one includes it at the smallest value
    none = _honest("smoothness", math.nan, (-0.5, -0.1), grid, [-0.5] * 3, [0.2] * 3)
    en = text.honest_sentence(none, "en")
    assert "withstands none" in en and "M = 0.000" in en and "as long as" not in en
    assert "could not be computed" in text.honest_sentence(None, "en")
    # significant only without any violation (breakdown at the smallest value, 0)
    zero = _honest("smoothness", 0.0, (-0.5, -0.1), [0.0, 0.05], [-0.5, -0.9], [-0.1, 0.6])
    en = text.honest_sentence(zero, "en")
    assert "only under the pre-start trend continuing exactly linearly" in en
    assert "0.050" in en and "as long as" not in en
    assert "bare under helt parallelle" in text.honest_sentence(
        _honest("relative_magnitude", 0.0, (-0.5, -0.1), [0.0, 0.5], [-0.5, -0.9], [-0.1, 0.6]),
        "nb",
    )
    # caption: what Mbar means, and the open intervals only when they reach the grid edge
    found = _honest(
        "relative_magnitude", 0.5, (-0.6, -0.2), grid, [-0.6, -0.8, -1.2], [-0.2, -0.05, 0.3]
    )
    cap = text.honest_caption(found, "en")
    assert "M̄ = 0 means parallel trends" in cap and "open" not in cap
    wide = _honest(
        "relative_magnitude", 0.5, (-0.6, -0.2), grid, [-0.6, -0.8, -4.0], [-0.2, -0.05, 3.7]
    )
    assert "open there" in text.honest_caption(wide, "en")


def test_evaluate_power_and_honest_as_the_functions_give_them(panel, results):
    from kvk_analysis.did import pretrend_power
    from kvk_analysis.evaluation import honest_sensitivity
    from kvk_analysis.report.evaluation import (
        HONEST_MBAR_GRID,
        HONEST_MIN_E,
        _trend_bias,
        honest_window,
    )

    assert not results.notes
    dyn = aggte(results.gt, type="dynamic", bstrap=False, cband=False)
    power = pretrend_power(dyn, min_e=HONEST_MIN_E, pretest=results.pretest, seed=3)
    assert results.power.slope_80 == pytest.approx(power.slope_80, rel=1e-9)
    assert results.power.slope_50 == pytest.approx(power.slope_50, rel=1e-9)
    assert results.power.event_times == results.pretest.event_times
    pd.testing.assert_frame_equal(results.power.bias, power.bias)
    # the headline's bias under a linear trend, by hand: cohort means of (t - g + 1) over the
    # post-start cells, weighted by cohort size (units weighting)
    gt = results.gt
    sizes = results.sample.drop_duplicates("kommunenummer").groupby("gname").size()
    num = den = 0.0
    for g in np.unique(gt.group):
        t = gt.time[(gt.group == g) & (gt.time >= g)]
        num += sizes[g] * np.mean(t - g + 1)
        den += sizes[g]
    assert results.power_headline_bias == pytest.approx(power.slope_80 * num / den, rel=1e-9)
    e = dyn.egt[dyn.egt >= 0]
    assert _trend_bias(gt, 1.0, "dynamic") == pytest.approx(np.mean(e + 1), rel=1e-12)
    # HonestDiD on the refitted universal-base event study
    ugt = att_gt(
        results.sample,
        "rate",
        "tname",
        "kommunenummer",
        "gname",
        control_group="notyettreated",
        base_period="universal",
        bstrap=False,
        cband=False,
    )
    udyn = aggte(ugt, type="dynamic", bstrap=False, cband=False)
    window = honest_window(gt, results.spec)
    ident = results.identification.set_index("event_time")["n_cohorts"]
    assert ident[window] == ident.max() and (
        window + 1 not in ident or ident[window + 1] < ident.max()
    )
    kw = {"l_vec": "average", "min_e": HONEST_MIN_E, "max_e": window}
    rm = honest_sensitivity(udyn, mbar_vec=list(HONEST_MBAR_GRID), **kw)
    h = results.honest
    assert h.event_times == tuple(range(0, window + 1)) and h.parameter == "average"
    pd.testing.assert_frame_equal(h.original, rm.original)
    on_grid = h.robust.loc[h.robust["mbar"].isin(HONEST_MBAR_GRID)].reset_index(drop=True)
    pd.testing.assert_frame_equal(on_grid, rm.robust)
    # the refined breakdown value: its interval (and every smaller one) excludes zero, the
    # next value's includes it; never below the grid's own breakdown value
    if not math.isnan(h.breakdown):
        rob = h.robust.sort_values("mbar")
        below = rob.loc[rob["mbar"] <= h.breakdown]
        assert ((below["ub"] < 0) | (below["lb"] > 0)).all()
        above = rob.loc[rob["mbar"] > h.breakdown]
        if len(above):
            first = above.iloc[0]
            assert first["lb"] <= 0 <= first["ub"]
        assert math.isnan(rm.breakdown) or h.breakdown >= rm.breakdown
    sd = honest_sensitivity(udyn, type="smoothness", **kw)
    pd.testing.assert_frame_equal(results.honest_smoothness.robust, sd.robust)
    # exported with their keys
    d = json.loads(json.dumps(results.to_dict()))
    assert d["power"]["key"] == "power" and d["honest"]["key"] == "honest"
    assert d["power"]["slope_80"] == pytest.approx(power.slope_80)
    assert d["honest"]["smoothness"]["type"] == "smoothness"
    assert len(d["honest"]["robust"]) == len(h.robust)
    # the bias table: the headline first, then every post-start event time
    bias = tables.pretrend_bias_report(results, "en")
    assert bias.iloc[0, 2] == pytest.approx(results.power_headline_bias)
    assert list(bias.iloc[1:, 0]) == list(
        power.bias.loc[power.bias["event_time"] >= 0, "event_time"]
    )


def test_universal_base_period_reuses_the_main_fit(panel):
    from kvk_analysis.evaluation import honest_sensitivity
    from kvk_analysis.report.evaluation import HONEST_MIN_E, honest_window

    spec = Specification(base_period="universal", inference="analytic", balance_e=3, seed=2)
    res = evaluate(panel, spec)
    assert honest_window(res.gt, spec) == 3
    udyn = aggte(res.gt, type="dynamic", bstrap=False, cband=False, balance_e=3)
    direct = honest_sensitivity(
        udyn, type="smoothness", l_vec="average", min_e=HONEST_MIN_E, max_e=3
    )
    pd.testing.assert_frame_equal(res.honest_smoothness.robust, direct.robust)
    assert res.honest.event_times == (0, 1, 2, 3)
    assert res.power is not None and res.power.base_period == "universal"
    for lang in ("nb", "en"):
        concl = " ".join(text.conclusions(res, lang, power=res.power, honest=res.honest))
        assert text.honest_sentence(res.honest, lang) in concl
        assert "Roth 2022" in concl
        assert "Rambachan" in text.sensitivity_methods(res, lang)


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


def test_estimates_table_is_made_once_and_handed_out_as_copies(results):
    import dataclasses
    import pickle

    first = results.estimates()
    first.loc[0, "estimate"] = 99.0  # a caller changing its copy changes nothing else
    again = results.estimates()
    assert again.loc[0, "estimate"] != 99.0
    assert results.row("headline")["estimate"] == again.loc[0, "estimate"]
    assert results._estimates() is results._estimates()  # made once
    # new robustness rows (a new object): the table is made again from them
    changed = dataclasses.replace(results, robustness=results.robustness.iloc[:0])
    assert len(changed.estimates()) < len(again)
    results.robustness = results.robustness.copy()
    pd.testing.assert_frame_equal(results.estimates(), again)
    # the memo is not part of what is pickled (the results cache stores these objects)
    state = pickle.loads(pickle.dumps(results)).__dict__
    assert "_estimates_memo" not in state
