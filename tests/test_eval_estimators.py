"""Heterogeneity-robust DiD estimators side by side (kvk_analysis.evaluation.estimators).

Default suite: algebraic identities that hold exactly in a balanced panel without covariates
(Sun-Abraham = dCDH with never-treated controls = Callaway-Sant'Anna with never-treated
controls and a universal base period; dCDH with not-yet-treated controls = CS not-yet-treated
universal; two-stage = imputation by hand; stacked with one cohort = Sun-Abraham), synthetic
DiD against R synthdid's own Frank-Wolfe algorithm (written out here) and planted effects.
``crosscheck`` extra: every estimator against the independent implementation of diff-diff.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from kvk_analysis.did import aggte
from kvk_analysis.errors import InputError
from kvk_analysis.evaluation.estimators import (
    ESTIMATORS,
    EVENT_COLUMNS,
    OVERALL_COLUMNS,
    compare_estimators,
    dcdh_event_study,
    gardner_did2s,
    sdid_weights,
    stacked_did,
    sun_abraham,
    synthetic_did,
)
from kvk_analysis.evaluation.testing import fit_att_gt, simulate_panel

KW = {"min_e": -6, "max_e": 6}


@pytest.fixture(scope="module")
def het() -> pd.DataFrame:
    # heterogeneous, growing effects; balanced; 4 cohorts + never treated
    return simulate_panel(n_units=160, share_treated=0.5, effect=-0.4, dynamic_slope=-0.05, seed=21)


def _cs(panel: pd.DataFrame, control_group: str, **kw):
    res = fit_att_gt(panel, control_group=control_group, base_period="universal")
    return aggte(res, type="dynamic", **kw)


def _series(e: np.ndarray, est: np.ndarray) -> pd.Series:
    s = pd.Series(est, index=e)
    return s[np.isfinite(s)]


def test_sun_abraham_equals_cs_never_treated_universal(het: pd.DataFrame) -> None:
    sa = sun_abraham(het, **KW)
    cs = _cs(het, "nevertreated", **KW)
    cs_s = pd.Series(cs.att_egt, index=cs.egt)
    sa_s = _series(sa.event_time, sa.estimate)
    assert len(sa_s) == 13
    np.testing.assert_allclose(sa_s.to_numpy(), cs_s.loc[sa_s.index].to_numpy(), atol=1e-9)
    # dCDH with never-treated controls: the same numbers (effects and placebos)
    dc = dcdh_event_study(het, control_group="nevertreated", **KW)
    np.testing.assert_allclose(_series(dc.event_time, dc.estimate).to_numpy(), sa_s, atol=1e-9)
    assert sa.overall == pytest.approx(cs.overall.estimate, abs=1e-9)
    assert np.isnan(sa.std_error[sa.event_time == -1]).all()
    assert (sa.std_error[sa.event_time != -1] > 0).all()


def test_dcdh_equals_cs_not_yet_treated_universal(het: pd.DataFrame) -> None:
    dc = dcdh_event_study(het, **KW)  # not-yet-treated controls (dCDH's default)
    cs = _cs(het, "notyettreated", **KW)
    cs_s = pd.Series(cs.att_egt, index=cs.egt)
    post = dc.event_time >= 0
    np.testing.assert_allclose(dc.estimate[post], cs_s.loc[dc.event_time[post]], atol=1e-9)
    # influence-function standard errors close to CS's analytic ones (same estimand)
    np.testing.assert_allclose(dc.std_error[post], cs.se_egt[cs.egt >= 0], rtol=0.05)


def test_two_stage_equals_imputation_by_hand() -> None:
    small = simulate_panel(
        n_units=40, share_treated=0.6, effect=-0.5, dynamic_slope=-0.1, seed=5, end="2009Q4"
    )
    res = gardner_did2s(small, min_e=-4, max_e=4)
    d = small.assign(rel=small["tname"] - small["gname"])
    treated = (d["gname"] > 0) & (d["rel"] >= 0)
    fit = smf.ols("rate ~ C(kommunenummer) + C(tname)", data=d[~treated]).fit()
    d["y0"] = fit.predict(d)
    d["tau"] = d["rate"] - d["y0"]
    imp = d[treated].groupby("rel")["tau"].mean()
    post = (res.event_time >= 0) & (res.event_time <= 4)
    np.testing.assert_allclose(res.estimate[post], imp.loc[res.event_time[post]], atol=1e-6)


def test_stacked_single_cohort_equals_sun_abraham() -> None:
    p = simulate_panel(n_units=120, effect=-0.5, dynamic_slope=-0.1, seed=8)
    one = p[p["gname"].isin([0, 8030])]
    st = stacked_did(one, min_e=-6, max_e=6)
    sa = sun_abraham(one, min_e=-6, max_e=6)
    np.testing.assert_allclose(st.estimate, sa.estimate, atol=1e-9)
    assert st.info["cohorts"] == [8030] and st.info["trimmed"] == []


def test_stacked_recovers_planted_effect_and_trims(het: pd.DataFrame) -> None:
    flat = simulate_panel(n_units=200, share_treated=0.5, effect=-0.5, seed=3)
    st = stacked_did(flat, min_e=-6, max_e=6)
    post = st.event_time >= 0
    assert np.all(np.abs(st.estimate[post] + 0.5) < 4 * st.std_error[post])
    assert abs(st.overall + 0.5) < 3 * st.overall_se
    # a window longer than some cohorts' follow-up trims those cohorts (Wing et al.)
    wide = stacked_did(het, min_e=-8, max_e=14)
    assert wide.info["trimmed"] and set(wide.info["cohorts"]).isdisjoint(wide.info["trimmed"])


# --- synthetic DiD: R synthdid's Frank-Wolfe algorithm, written out as in its source -----


def _fw_step(A, x, b, eta):
    Ax = A @ x
    half_grad = (Ax - b) @ A + eta * x
    i = int(np.argmin(half_grad))
    d_x = -x.copy()
    d_x[i] = 1 - x[i]
    if not np.any(d_x):
        return x
    d_err = A[:, i] - Ax
    step = -(half_grad @ d_x) / (d_err @ d_err + eta * (d_x @ d_x))
    return x + min(1.0, max(0.0, step)) * d_x


def _sc_weight_fw(Y, zeta, lam, min_decrease, max_iter):
    n, t0 = Y.shape[0], Y.shape[1] - 1
    x = np.full(t0, 1.0 / t0) if lam is None else lam
    Y = Y - Y.mean(axis=0)
    A, b, eta = Y[:, :t0], Y[:, t0], n * zeta**2
    vals = []
    while len(vals) < max_iter and (len(vals) < 2 or vals[-2] - vals[-1] > min_decrease**2):
        x = _fw_step(A, x, b, eta)
        err = A @ x - b
        vals.append(zeta**2 * x @ x + err @ err / n)
    return x


def _synthdid_r(Y, n0, t0):
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    noise = np.std(np.diff(Y[:n0, :t0], axis=1), ddof=1)
    zo, zl, md = (n1 * t1) ** 0.25 * noise, 1e-6 * noise, 1e-5 * noise
    Yc = np.vstack(
        [
            np.column_stack([Y[:n0, :t0], Y[:n0, t0:].mean(axis=1)]),
            np.append(Y[n0:, :t0].mean(axis=0), Y[n0:, t0:].mean()),
        ]
    )

    def sparsify(w):
        w = np.where(w <= w.max() / 4, 0, w)
        return w / w.sum()

    lam = _sc_weight_fw(Yc[:n0], zl, None, md, 100)
    lam = _sc_weight_fw(Yc[:n0], zl, sparsify(lam), md, 10_000)
    om = _sc_weight_fw(Yc[:, :t0].T, zo, None, md, 100)
    om = _sc_weight_fw(Yc[:, :t0].T, zo, sparsify(om), md, 10_000)
    a = np.concatenate([-om, np.full(n1, 1 / n1)])
    b = np.concatenate([-lam, np.full(t1, 1 / t1)])
    return a @ Y @ b, om, lam


def test_sdid_matches_synthdid_algorithm() -> None:
    rng = np.random.default_rng(4)
    n0, n1, t0, t1 = 30, 5, 12, 6
    f = rng.normal(size=(1, t0 + t1)).cumsum(axis=1)
    load = rng.uniform(0.5, 1.5, (n0 + n1, 1))
    Y = rng.normal(0, 1, (n0 + n1, 1)) + load * f + rng.normal(0, 0.3, (n0 + n1, t0 + t1))
    Y[n0:, t0:] -= 1.0
    tau, om, lam = sdid_weights(Y, n0, t0)
    tau_r, om_r, lam_r = _synthdid_r(Y, n0, t0)
    assert tau == pytest.approx(tau_r, abs=2e-3)
    assert om.sum() == pytest.approx(1.0) and lam.sum() == pytest.approx(1.0)
    assert np.abs(om - om_r).max() < 0.02


def test_sdid_staggered_recovers_planted_effect() -> None:
    flat = simulate_panel(n_units=150, share_treated=0.4, effect=-0.5, seed=6)
    res = synthetic_did(flat, replications=20)
    assert abs(res.overall + 0.5) < 4 * res.overall_se
    assert set(res.info["cohort_estimates"]) == {8028, 8030, 8032, 8034}
    assert res.info["replications"] == 20 and len(res.event_time) == 0


# --- the front door ------------------------------------------------------------------


def test_compare_estimators_tables_and_cs_passthrough(het: pd.DataFrame) -> None:
    cs = aggte(fit_att_gt(het), type="dynamic", min_e=-6, max_e=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = compare_estimators(het, cs=cs, sdid_replications=10, **KW)
    assert list(comp.overall.columns) == OVERALL_COLUMNS
    assert list(comp.event_study.columns) == EVENT_COLUMNS
    assert comp.overall["estimator"].tolist() == list(ESTIMATORS)
    row = comp.overall.set_index("estimator").loc["callaway_santanna"]
    assert row["estimate"] == cs.overall.estimate and row["std_error"] == cs.overall.std_error
    ev = comp.event_study
    cs_ev = ev[ev["estimator"] == "callaway_santanna"]
    np.testing.assert_array_equal(cs_ev["estimate"], cs.att_egt)
    assert set(ev["estimator"]) == set(ESTIMATORS) - {"sdid", "twfe_static"}
    assert ev.groupby("estimator")["event_time"].agg(["min", "max"]).eq([-6, 6]).all().all()
    ref = ev[ev["event_time"] == -1]
    assert (ref.loc[ref["estimator"] != "callaway_santanna", "estimate"] == 0).all()
    ok = comp.overall.dropna()
    assert (ok["conf_low"] < ok["estimate"]).all() and (ok["estimate"] < ok["conf_high"]).all()
    # the robust event-study estimators agree on the mean post effect (same estimand);
    # TWFE does not have to
    robust = comp.overall.set_index("estimator").loc[
        ["sun_abraham", "dcdh", "stacked", "gardner_bjs"], "estimate"
    ]
    assert np.ptp(robust) < 0.1
    assert set(comp.seconds) == set(ESTIMATORS) and "sdid" in comp.notes


def test_compare_estimators_recovers_planted_effect() -> None:
    flat = simulate_panel(n_units=200, share_treated=0.5, effect=-0.5, seed=13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = compare_estimators(flat, sdid_replications=20, **KW)
    ov = comp.overall.set_index("estimator")
    for name in ESTIMATORS:
        assert abs(ov.loc[name, "estimate"] + 0.5) < 4 * ov.loc[name, "std_error"], name


def test_compare_estimators_bad_input(het: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown estimator"):
        compare_estimators(het, estimators=["lasso"])
    with pytest.raises(InputError, match="window"):
        compare_estimators(het, min_e=0, max_e=4)
    with pytest.raises(InputError, match="control_group"):
        compare_estimators(het, control_group="all")
    with pytest.raises(InputError, match="type='dynamic'"):
        compare_estimators(het, cs=aggte(fit_att_gt(het), type="simple"))
    bad = het.assign(gname=np.where(het["tname"] > 8040, het["gname"] + 1, het["gname"]))
    with pytest.raises(InputError, match="changes over time"):
        compare_estimators(bad, estimators=["sun_abraham"])
    only = compare_estimators(het, estimators=["sun_abraham", "dcdh"], **KW)
    assert only.overall["estimator"].tolist() == ["sun_abraham", "dcdh"]


# --- independent implementations (crosscheck extra) ------------------------------------


def _dd():
    return pytest.importorskip("diff_diff")


DD_KW = {"outcome": "rate", "unit": "kommunenummer", "time": "tname", "first_treat": "gname"}


def _max_diff(mine, effects) -> float:
    theirs = {int(k): v["effect"] for k, v in effects.items()}
    diffs = [
        abs(est - theirs[int(e)])
        for e, est in zip(mine.event_time, mine.estimate, strict=True)
        if int(e) in theirs and int(e) != -1 and np.isfinite(est)
    ]
    assert len(diffs) >= 6
    return max(diffs)


def test_crosscheck_sun_abraham(het: pd.DataFrame) -> None:
    dd = _dd()
    ref = dd.SunAbraham(cluster="kommunenummer").fit(het, **DD_KW)
    mine = sun_abraham(het, **KW)
    assert _max_diff(mine, ref.event_study_effects) < 1e-9
    se = {int(k): v["se"] for k, v in ref.event_study_effects.items()}
    for e, s in zip(mine.event_time, mine.std_error, strict=True):
        if e != -1:
            assert s == pytest.approx(se[int(e)], rel=1e-6)


def test_crosscheck_two_stage_and_imputation(het: pd.DataFrame) -> None:
    dd = _dd()
    mine = gardner_did2s(het, **KW)
    two = dd.TwoStageDiD(cluster="kommunenummer").fit(het, **DD_KW, aggregate="event_study")
    imp = dd.ImputationDiD(cluster="kommunenummer").fit(het, **DD_KW, aggregate="event_study")
    assert _max_diff(mine, two.event_study_effects) < 1e-5
    assert _max_diff(mine, imp.event_study_effects) < 1e-5
    se = {int(k): v["se"] for k, v in two.event_study_effects.items()}
    post = [(s, se[int(e)]) for e, s in zip(mine.event_time, mine.std_error, strict=True) if e >= 0]
    np.testing.assert_allclose(*zip(*post, strict=True), rtol=1e-3)


def test_crosscheck_stacked(het: pd.DataFrame) -> None:
    dd = _dd()
    ref = dd.StackedDiD(kappa_pre=6, kappa_post=6).fit(het, **DD_KW, aggregate="event_study")
    mine = stacked_did(het, **KW)
    assert _max_diff(mine, ref.event_study_effects) < 1e-9
    assert sorted(ref.trimmed_groups) == sorted(mine.info["trimmed"])


def test_crosscheck_dcdh(het: pd.DataFrame) -> None:
    dd = _dd()
    d = het.assign(D=((het["gname"] > 0) & (het["tname"] >= het["gname"])).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ChaisemartinDHaultfoeuille(placebo=True).fit(
            d, outcome="rate", group="kommunenummer", time="tname", treatment="D", L_max=7
        )
    mine = dcdh_event_study(het, **KW)
    est = pd.Series(mine.estimate, index=mine.event_time)
    se = pd.Series(mine.std_error, index=mine.event_time)
    for l_, v in ref.event_study_effects.items():
        assert est[int(l_) - 1] == pytest.approx(v["effect"], abs=1e-9)
        assert se[int(l_) - 1] == pytest.approx(v["se"], rel=0.02)
    for l_, v in ref.placebo_event_study.items():
        if -1 + int(l_) >= -6:
            assert est[-1 + int(l_)] == pytest.approx(v["effect"], abs=1e-9)


def test_crosscheck_synthetic_did(het: pd.DataFrame) -> None:
    dd = _dd()
    one = het[het["gname"].isin([0, 8030])].assign(treat=lambda x: (x["gname"] > 0).astype(int))
    ref = dd.SyntheticDiD(seed=1).fit(
        one,
        outcome="rate",
        treatment="treat",
        unit="kommunenummer",
        time="tname",
        post_periods=sorted(t for t in one["tname"].unique() if t >= 8030),
    )
    mine = synthetic_did(one, replications=10)
    assert mine.overall == pytest.approx(ref.att, abs=1e-4)


def test_twfe_event_study_matches_dummy_variable_ols() -> None:
    """TWFE event study with binned end points against statsmodels OLS with unit and period
    dummies (the static TWFE is checked the same way in test_eval_twfe.py)."""
    from kvk_analysis.evaluation.twfe import event_study_twfe

    small = simulate_panel(n_units=40, effect=-0.5, dynamic_slope=-0.1, seed=5, end="2009Q4")
    res = event_study_twfe(small, min_e=-3, max_e=3)
    d = small.assign(e=(small["tname"] - small["gname"]).clip(-3, 3))
    names = []
    for k in [-3, -2, 0, 1, 2, 3]:
        name = f"e{'m' if k < 0 else 'p'}{abs(k)}"
        d[name] = ((d["gname"] > 0) & (d["e"] == k)).astype(float)
        names.append(name)
    ols = smf.ols(f"rate ~ {' + '.join(names)} + C(kommunenummer) + C(tname)", data=d).fit()
    mine = pd.Series(res.estimate, index=res.event_time).drop(-1)
    np.testing.assert_allclose(mine.to_numpy(), ols.params[names].to_numpy(), atol=1e-8)


@pytest.mark.parametrize("unbalanced", [False, True])
def test_two_stage_vcov_equals_pyfixest(unbalanced: bool) -> None:
    """The vectorised GMM variance (``_did2s_vcov``) equals pyfixest's per-cluster loop, and
    ``gardner_did2s`` equals ``pyfixest.did2s`` (estimates and standard errors)."""
    import pyfixest as pf

    from kvk_analysis.evaluation import estimators as E

    p = simulate_panel(n_units=60, share_treated=0.5, effect=-0.5, dynamic_slope=-0.1, seed=9)
    if unbalanced:
        p = p.drop(p.sample(frac=0.07, random_state=3).index)
    res = gardner_did2s(p, min_e=-4, max_e=4)
    df = E._prepare(p, "rate", "tname", "kommunenummer", "gname", "t")
    rel = np.where(df["_g"] > 0, df["_t"] - df["_g"], np.iinfo(np.int64).min)
    df["_d"] = ((df["_g"] > 0) & (rel >= 0)).astype(float)
    names = []
    for e in [e for e in range(-4, 5) if e != -1]:
        names.append(E._dummy("_tw", e))
        df[names[-1]] = (rel == e).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.did2s(
            df,
            yname="_y",
            first_stage="~ 0 | _id + _t",
            second_stage="~ " + " + ".join(names),
            treatment="_d",
            cluster="_id",
        )
    se = np.sqrt(np.diag(fit._vcov))
    keep = res.event_time != -1
    np.testing.assert_allclose(res.estimate[keep], fit.coef().to_numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(res.std_error[keep], se, rtol=1e-10)


def test_ridge_simplex_dual_equals_nnls() -> None:
    """The dual Newton solver of synthetic DiD's unit weights finds NNLS's optimum (the
    problem is strictly convex), or returns None and leaves it to NNLS."""
    from kvk_analysis.evaluation import estimators as E
    from kvk_analysis.evaluation.synth import simplex_least_squares

    rng = np.random.default_rng(4)
    solved = 0
    for trial in range(60):
        m = int(rng.integers(2, 25))
        k = int(rng.integers(m + 1, 300))
        A = rng.normal(size=(m, k)) * rng.uniform(0.1, 5)
        b = rng.normal(size=m) * rng.uniform(0.1, 5)
        if trial % 3 == 0:
            A[:, :4] = A[:, [0]]  # tied columns
        rho = rng.uniform(0.01, 10) ** 2
        x = E._ridge_simplex_dual(A, b, rho)
        ref = simplex_least_squares(
            np.vstack([A, np.sqrt(rho) * np.eye(k)]), np.concatenate([b, np.zeros(k)])
        )
        if x is None:
            continue
        solved += 1
        assert x.min() >= 0 and x.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(x, ref, atol=1e-7)
    assert solved >= 50


def test_synthetic_did_same_with_nnls_only(monkeypatch) -> None:
    from kvk_analysis.evaluation import estimators as E

    p = simulate_panel(n_units=80, effect=-0.5, seed=12)
    fast = E.synthetic_did(p, replications=5, seed=3)
    monkeypatch.setattr(E, "_ridge_simplex_dual", lambda *a, **k: None)
    slow = E.synthetic_did(p, replications=5, seed=3)
    assert fast.overall == pytest.approx(slow.overall, rel=1e-9, abs=1e-12)
    assert fast.overall_se == pytest.approx(slow.overall_se, rel=1e-7)
