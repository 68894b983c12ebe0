"""att_gt/aggte: result API, tidy schema, options, inference machinery and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.did import (
    TIDY_COLUMNS,
    AggteResult,
    ATTgtResult,
    aggte,
    att_gt,
    inference,
    simulate_staggered,
)
from kvk_analysis.errors import EstimationError, InputError

REF = Path(__file__).parent / "reference"
ARGS = ("lemp", "year", "countyreal", "first.treat")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module")
def fit(mpdta) -> ATTgtResult:
    return att_gt(mpdta, *ARGS, est_method="reg", seed=3)


# ---------------------------------------------------------------------------------------
# result objects
# ---------------------------------------------------------------------------------------


def test_tidy_schema_att_gt(fit):
    tidy = fit.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    assert (tidy["term"] == "att_gt").all()
    assert str(tidy["group"].dtype) == "Int64"
    assert (tidy["event_time"] == tidy["time"] - tidy["group"]).all()
    assert tidy[["estimate", "std_error", "p_value", "conf_low", "conf_high"]].notna().all().all()
    assert set(tidy["band"]) == {"uniform"}
    assert (tidy["conf_low"] < tidy["estimate"]).all() and (
        tidy["estimate"] < tidy["conf_high"]
    ).all()


@pytest.mark.parametrize("typ", ["simple", "dynamic", "group", "calendar"])
def test_tidy_schema_aggte(fit, typ):
    agg = aggte(fit, typ)
    assert isinstance(agg, AggteResult)
    tidy = agg.tidy()
    assert list(tidy.columns) == TIDY_COLUMNS
    first = tidy.iloc[0]
    assert "Overall ATT" in agg.summary()
    assert first["term"] == "overall" and first["band"] == "pointwise"
    assert pd.isna(first["group"]) and pd.isna(first["time"]) and pd.isna(first["event_time"])
    assert first["estimate"] == agg.overall.estimate
    assert agg.overall.conf_low < agg.overall.estimate < agg.overall.conf_high
    rest = tidy.iloc[1:]
    if typ == "simple":
        assert rest.empty
        return
    assert (rest["term"] == typ).all()
    key = {"dynamic": "event_time", "group": "group", "calendar": "time"}[typ]
    assert rest[key].notna().all()
    others = [c for c in ("group", "time", "event_time") if c != key]
    assert rest[others].isna().all().all()
    assert (rest["band"] == "uniform").all()


def test_summary_states_specification(fit):
    text = fit.summary()
    for needle in (
        "Control group: never treated",
        "anticipation periods: 0",
        "base period: varying",
        "outcome regression",
        "uniform",
        "Units: 500",
        "2004: 20",
        "never treated: 309",
        "Pre-trend test",
    ):
        assert needle in text, needle
    agg_text = aggte(fit, "dynamic").summary()
    assert "Event-study" in agg_text and "never treated" in agg_text and "uniform" in agg_text


def test_params_and_influence(fit):
    p = fit.params
    assert p.control_group == "nevertreated" and p.est_method == "reg"
    assert p.n_units == 500 and p.tlist == (2003, 2004, 2005, 2006, 2007)
    assert p.glist == (2004, 2006, 2007)
    assert fit.influence.shape == (500, 12)
    # influence functions of R did have mean zero
    np.testing.assert_allclose(fit.influence.mean(axis=0), 0, atol=1e-12)
    agg = aggte(fit, "dynamic", alp=0.1)
    assert agg.params.alp == 0.1 and agg.params.did is p
    assert agg.params.biters == p.biters  # inherited


def test_bootstrap_reproducible_with_seed(mpdta):
    a = att_gt(mpdta, *ARGS, seed=11)
    b = att_gt(mpdta, *ARGS, seed=11)
    c = att_gt(mpdta, *ARGS, seed=12)
    np.testing.assert_array_equal(a.std_error, b.std_error)
    assert a.critical_value == b.critical_value
    assert not np.array_equal(a.std_error, c.std_error)
    np.testing.assert_array_equal(aggte(a, "dynamic").se_egt, aggte(b, "dynamic").se_egt)


def test_analytic_inference_pointwise(mpdta):
    res = att_gt(mpdta, *ARGS, bstrap=False, cband=False)
    assert not res.uniform
    assert res.critical_value == pytest.approx(1.959964, abs=1e-6)
    np.testing.assert_array_equal(res.std_error, res.analytic_se)
    assert (res.tidy()["band"] == "pointwise").all()
    with pytest.warns(UserWarning, match="needs the bootstrap"):
        att_gt(mpdta, *ARGS, bstrap=False, cband=True)


def test_rademacher_and_bootstrap_vs_analytic(mpdta):
    res = att_gt(mpdta, *ARGS, bootstrap_weights="rademacher", biters=4000, seed=5)
    ratio = res.std_error / res.analytic_se
    assert np.all(np.abs(ratio - 1) < 0.1)
    assert res.params.bootstrap_weights == "rademacher"


@pytest.mark.parametrize("kind", ["mammen", "rademacher"])
def test_multiplier_weights_moments(kind):
    v = inference.multiplier_weights(np.random.default_rng(0), 2000, 500, kind)
    assert abs(v.mean()) < 0.01 and abs(v.var() - 1) < 0.01
    if kind == "mammen":
        assert abs(np.mean(v**3) - 1) < 0.03  # Mammen: third moment 1


def test_vectorised_bootstrap_equals_explicit_weights():
    """The fast indicator trick gives exactly V @ S for the V it implies."""
    rng = np.random.default_rng(1)
    s = rng.normal(size=(40, 3))
    fast = inference._weighted_sums(np.random.default_rng(9), 50, s, "mammen")
    u = np.random.default_rng(9).random((50, 40), dtype=np.float32)
    sq5 = np.sqrt(5)
    v = np.where(u < np.float32((sq5 + 1) / (2 * sq5)), (1 - sq5) / 2, (1 + sq5) / 2)
    np.testing.assert_allclose(fast, v @ s, rtol=1e-12, atol=1e-12)


def test_cluster_sums_and_analytic_cluster_se():
    inf = np.array([[1.0], [2.0], [-3.0], [0.5]])
    codes = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(inference.cluster_sums(inf, codes, 2), [[3.0], [-2.5]])
    se = inference.analytic_se(inf, codes, 2)
    assert se[0] == pytest.approx(np.sqrt(9 + 6.25) / 4)


def test_clustervars(mpdta):
    df = mpdta.assign(state=mpdta["countyreal"] // 1000)
    res = att_gt(df, *ARGS, clustervars="state", seed=2)
    assert res.params.clustervars == ("state",)
    assert res.params.n_clusters == df["state"].nunique()
    unit = att_gt(df, *ARGS, clustervars=["countyreal"], seed=2)
    assert unit.params.n_clusters == 500 and unit.params.clustervars == ()
    bad = df.copy()
    bad.loc[bad.index[0], "state"] = -1
    with pytest.raises(InputError, match="varies over time"):
        att_gt(bad, *ARGS, clustervars="state")


def test_universal_base_period(mpdta):
    res = att_gt(mpdta, *ARGS, base_period="universal", bstrap=False, cband=False)
    ref = res.time == res.group - 1
    assert ref.sum() == 3
    np.testing.assert_array_equal(res.att[ref], 0.0)
    assert np.isnan(res.std_error[ref]).all()
    assert len(res.att) == 15  # universal: every period incl. the first, per cohort
    # post-treatment cells do not depend on the base-period choice
    var = att_gt(mpdta, *ARGS, bstrap=False, cband=False)
    u = dict(zip(zip(res.group, res.time, strict=True), res.att, strict=True))
    v = dict(zip(zip(var.group, var.time, strict=True), var.att, strict=True))
    for (g, t), est in v.items():
        if t >= g:
            assert u[g, t] == pytest.approx(est, abs=1e-12)
    # universal pre-period effects are long differences to g-1: minus sums of short ones
    assert u[2007, 2005] == pytest.approx(-v[2007, 2006], abs=1e-12)
    assert u[2007, 2004] == pytest.approx(-(v[2007, 2006] + v[2007, 2005]), abs=1e-12)
    assert u[2007, 2003] == pytest.approx(
        -(v[2007, 2006] + v[2007, 2005] + v[2007, 2004]), abs=1e-12
    )
    # pre-test uses the 5 non-reference pre-period cells (2006: 2003, 2004; 2007: 2003-2005)
    assert res.pretrend_test is not None and res.pretrend_test.df == 5


def test_anticipation_shifts_base_period(mpdta):
    with pytest.warns(UserWarning, match=r"cohort\(s\) \[2004\]"):
        res = att_gt(mpdta, *ARGS, anticipation=1, bstrap=False, cband=False)
    # cohort 2004 has no pre-period when anticipating one year: dropped with a warning
    assert 2004 not in res.params.glist
    base = att_gt(mpdta, *ARGS, bstrap=False, cband=False)
    cell = (res.group == 2007) & (res.time == 2007)
    d = mpdta
    wide = d.pivot(index="countyreal", columns="year", values="lemp")
    g = d.groupby("countyreal")["first.treat"].first()
    diff = wide[2007] - wide[2005]
    expected = diff[g == 2007].mean() - diff[g == 0].mean()
    assert res.att[cell][0] == pytest.approx(expected, abs=1e-12)
    assert not np.isclose(res.att[cell][0], base.att[(base.group == 2007) & (base.time == 2007)][0])


def test_sampling_weights(mpdta):
    df = mpdta.assign(w=1.0 + (mpdta["countyreal"] % 3))
    res = att_gt(df, *ARGS, weightsname="w", bstrap=False, cband=False)
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    unit = df.groupby("countyreal")[["first.treat", "w"]].first()
    dy = wide[2006] - wide[2005]
    tr, co = unit["first.treat"] == 2006, unit["first.treat"] == 0
    expected = np.average(dy[tr], weights=unit["w"][tr]) - np.average(dy[co], weights=unit["w"][co])
    cell = (res.group == 2006) & (res.time == 2006)
    assert res.att[cell][0] == pytest.approx(expected, abs=1e-12)
    # weights must be honoured by the aggregation's cohort shares as well
    unweighted = att_gt(mpdta, *ARGS, bstrap=False, cband=False)
    assert aggte(res, "simple").overall.estimate != pytest.approx(
        aggte(unweighted, "simple").overall.estimate, abs=1e-6
    )


def test_weighted_with_covariates_runs(mpdta):
    df = mpdta.assign(w=1.0 + (mpdta["countyreal"] % 3))
    res = att_gt(df, *ARGS, xformla="~ lpop", weightsname="w", bstrap=False, cband=False)
    assert np.isfinite(res.att).all() and np.isfinite(res.std_error).all()
    assert res.params.covariates == ("lpop",)


def test_aggte_options(fit):
    dyn = aggte(fit, "dynamic", min_e=-1, max_e=2)
    np.testing.assert_array_equal(dyn.egt, [-1, 0, 1, 2])
    full = aggte(fit, "dynamic")
    np.testing.assert_allclose(dyn.att_egt, full.att_egt[2:6])
    bal = aggte(fit, "dynamic", balance_e=1)
    # balance_e=1 keeps cohorts observed >= 1 period after treatment: 2004 and 2006
    np.testing.assert_array_equal(bal.egt, [-2, -1, 0, 1])
    e0 = (
        fit.att[(fit.group == 2004) & (fit.time == 2004)][0] * 20
        + fit.att[(fit.group == 2006) & (fit.time == 2006)][0] * 40
    )
    assert bal.att_egt[2] == pytest.approx(e0 / 60)
    simple_max = aggte(fit, "simple", max_e=0)
    post0 = fit.time == fit.group
    sizes = np.array([fit.params.cohort_sizes[g] for g in fit.group[post0]])
    assert simple_max.overall.estimate == pytest.approx(np.average(fit.att[post0], weights=sizes))
    with pytest.warns(UserWarning, match="needs the bootstrap"):
        no_boot = aggte(fit, "group", bstrap=False)
    assert not no_boot.uniform and (no_boot.tidy()["band"] == "pointwise").all()
    np.testing.assert_allclose(no_boot.se_egt, aggte(fit, "group").se_egt, rtol=0.15)
    with pytest.raises(EstimationError, match="type must be"):
        aggte(fit, "cohort")


def test_not_yet_treated_without_never_treated(mpdta):
    df = mpdta[mpdta["first.treat"] != 0]
    with pytest.raises(EstimationError, match="no never-treated"):
        att_gt(df, *ARGS)
    with pytest.warns(UserWarning, match="cohort 2007 serves as comparison"):
        res = att_gt(df, *ARGS, control_group="notyettreated", bstrap=False, cband=False)
    assert res.params.glist == (2004, 2006)
    assert max(res.params.tlist) == 2006


def test_unbalanced_panel(mpdta):
    rng = np.random.default_rng(0)
    drop = rng.choice(len(mpdta), 150, replace=False)
    df = mpdta.drop(mpdta.index[drop])
    with pytest.warns(UserWarning, match="balanced"):
        bal = att_gt(df, *ARGS, bstrap=False, cband=False)
    assert bal.params.n_units < 500 and bal.params.balanced
    unb = att_gt(df, *ARGS, allow_unbalanced_panel=True, bstrap=False, cband=False)
    assert unb.params.n_units == df["countyreal"].nunique() and not unb.params.balanced
    # on a balanced panel the unbalanced estimator is the panel estimator
    full_u = att_gt(mpdta, *ARGS, allow_unbalanced_panel=True, bstrap=False, cband=False)
    full = att_gt(mpdta, *ARGS, bstrap=False, cband=False)
    np.testing.assert_allclose(full_u.att, full.att, atol=1e-12)
    np.testing.assert_allclose(full_u.std_error, full.std_error, rtol=1e-10)
    # four-means estimator by hand for one cell
    cell = (unb.group == 2007) & (unb.time == 2007)
    g = df["first.treat"]
    m = {
        (grp, t): df.loc[(g == grp) & (df["year"] == t), "lemp"].mean()
        for grp in (0, 2007)
        for t in (2006, 2007)
    }
    expected = (m[2007, 2007] - m[2007, 2006]) - (m[0, 2007] - m[0, 2006])
    assert unb.att[cell][0] == pytest.approx(expected, abs=1e-12)
    assert np.isfinite(unb.std_error).all()


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_missing_columns_named(mpdta):
    with pytest.raises(InputError, match=r"\['lemp2', 'nope'\]"):
        att_gt(mpdta, "lemp2", "year", "countyreal", "first.treat", weightsname="nope")
    with pytest.raises(InputError, match="lpop2"):
        att_gt(mpdta, *ARGS, xformla="~ lpop2")


def test_cohort_changes_within_unit(mpdta):
    df = mpdta.copy()
    df.loc[(df["countyreal"] == df["countyreal"].iloc[0]) & (df["year"] == 2007), "first.treat"] = (
        2006
    )
    with pytest.raises(InputError, match="changes over time"):
        att_gt(df, *ARGS)


def test_duplicate_rows(mpdta):
    df = pd.concat([mpdta, mpdta.iloc[[3]]])
    with pytest.raises(InputError, match="one row per unit and period"):
        att_gt(df, *ARGS)


def test_cohort_without_pre_period_dropped_with_warning(mpdta):
    df = mpdta.copy()
    first_units = df["countyreal"].unique()[:5]
    df.loc[df["countyreal"].isin(first_units), "first.treat"] = 2003
    with pytest.warns(UserWarning, match=r"cohort\(s\) \[2003\]"):
        res = att_gt(df, *ARGS, bstrap=False, cband=False)
    assert 2003 not in res.params.glist
    assert res.params.n_units == 495


def test_nan_outcome_dropped_with_count(mpdta):
    df = mpdta.copy()
    df.loc[df.index[:3], "lemp"] = np.nan
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = att_gt(df, *ARGS, bstrap=False, cband=False)
    msgs = " ".join(str(w.message) for w in rec)
    assert "dropped 3 row(s) with missing" in msgs
    assert "balanced" in msgs
    assert np.isfinite(res.att).all()


def test_missing_cohort_and_non_integer_periods(mpdta):
    df = mpdta.astype({"first.treat": float})
    unit = df.loc[df.index[0], "countyreal"]
    df.loc[df["countyreal"] == unit, "first.treat"] = np.nan
    with pytest.warns(UserWarning, match=r"dropped 1 unit\(s\) with missing first.treat"):
        res = att_gt(df, *ARGS, bstrap=False, cband=False)
    assert res.params.n_units == 499 and unit not in res.unit_ids
    df = mpdta.astype({"first.treat": object})
    df.loc[df.index[0], "first.treat"] = "2007Q1"
    with pytest.raises(InputError, match="first.treat"):
        att_gt(df, *ARGS)
    df2 = mpdta.astype({"year": float})
    df2.loc[df2.index[0], "year"] = 2003.5
    with pytest.raises(InputError, match="integer"):
        att_gt(df2, *ARGS)


def test_too_few_clusters(mpdta):
    df = mpdta.assign(one=1)
    with pytest.raises(EstimationError, match="at least 2 clusters"):
        att_gt(df, *ARGS, clustervars="one")
    df = mpdta.assign(few=mpdta["countyreal"] % 5)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = att_gt(df, *ARGS, clustervars="few", seed=1)
    msgs = [str(w.message) for w in rec]
    assert any("only 5 clusters" in m for m in msgs)
    # 5 pre-period cells but only 5 clusters (rank <= 4 after centring): no Wald test
    assert any("pre-trend Wald test not computed" in m for m in msgs)
    assert res.pretrend_test is None
    assert all(w.filename == __file__ for w in rec)


def test_bad_arguments(mpdta):
    with pytest.raises(EstimationError, match="control_group"):
        att_gt(mpdta, *ARGS, control_group="never")
    with pytest.raises(EstimationError, match="est_method"):
        att_gt(mpdta, *ARGS, est_method="ols")
    with pytest.raises(EstimationError, match="anticipation"):
        att_gt(mpdta, *ARGS, anticipation=-1)
    with pytest.raises(EstimationError, match="alp"):
        att_gt(mpdta, *ARGS, alp=1.5)
    with pytest.raises(EstimationError, match="ATTgtResult"):
        aggte(mpdta)  # type: ignore[arg-type]


def test_quarter_index_periods():
    """KVK uses the quarter index as tname/gname: cohorts and event times in quarters."""
    df = simulate_staggered(n_units=120, cohorts={8029: 20, 8034: 20}, seed=4)
    res = att_gt(df, "y", "period", "id", "gname", bstrap=False, cband=False)
    assert res.params.glist == (8029, 8034)
    dyn = aggte(res, "dynamic")
    assert dyn.egt.min() == 8020 - 8034 + 1 and dyn.egt.max() == 8047 - 8029


def test_unbalanced_cell_without_treated_observations(mpdta):
    df = mpdta[~((mpdta["first.treat"] == 2004) & (mpdta["year"] == 2005))]
    with pytest.raises(EstimationError, match=r"ATT\(g=2004, t=2005\): no observed treated"):
        att_gt(df, *ARGS, allow_unbalanced_panel=True, bstrap=False, cband=False)


def test_package_root_exports(mpdta):
    import kvk_analysis

    res = kvk_analysis.att_gt(mpdta, *ARGS, bstrap=False, cband=False)
    assert isinstance(kvk_analysis.aggte(res, "group"), AggteResult)


def test_vcov_matches_analytic_se(fit):
    v = fit.vcov()
    assert v.shape == (12, 12)
    np.testing.assert_allclose(np.sqrt(np.diag(v)), fit.analytic_se, rtol=1e-12)
    agg = aggte(fit, "dynamic", bstrap=False, cband=False)
    va = agg.vcov()
    assert va.shape == (len(agg.egt), len(agg.egt))
    np.testing.assert_allclose(np.sqrt(np.diag(va)), agg.se_egt, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(va) > -1e-15)
