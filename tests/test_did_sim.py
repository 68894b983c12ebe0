"""att_gt/aggte recover a planted heterogeneous dynamic effect (simulate_staggered).

The fast tests check one KVK-sized dataset; the Monte Carlo (marked slow) checks coverage of
95 % intervals over many datasets, with analytic and with bootstrap standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.did import aggte, att_gt, simulate_staggered, true_aggregates
from kvk_analysis.evaluation.twfe import twfe

ARGS = ("y", "period", "id", "gname")


@pytest.fixture(scope="module")
def truth() -> dict:
    return true_aggregates()


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_staggered(seed=20070328)


def test_dgp_shape_and_truth(panel, truth):
    assert panel.shape[0] == 430 * 28
    sizes = panel.groupby("gname")["id"].nunique()
    assert sizes.to_dict() == {0: 286, 8029: 40, 8031: 49, 8034: 34, 8036: 21}
    cells = truth["att_gt"].set_index(["group", "time"])["att"]
    planted = panel[panel["period"] >= panel["gname"]].query("gname > 0")
    planted = planted.groupby(["gname", "period"])["true_effect"].mean()
    np.testing.assert_allclose(planted.to_numpy(), cells.loc[planted.index].to_numpy())
    assert (panel.loc[panel["period"] < panel["gname"], "true_effect"] == 0).all()


def test_recovers_att_gt(panel, truth):
    res = att_gt(panel, *ARGS, seed=1)
    tidy = res.tidy()
    post = tidy[tidy["time"] >= tidy["group"]].set_index(["group", "time"])
    idx = pd.MultiIndex.from_arrays([post.index.get_level_values(i).astype(int) for i in (0, 1)])
    true = truth["att_gt"].set_index(["group", "time"])["att"].loc[idx].to_numpy()
    z = (post["estimate"].to_numpy() - true) / post["std_error"].to_numpy()
    assert np.abs(z).max() < 4.5
    assert abs(z.mean()) < 0.5
    # the uniform band covers every planted post-treatment ATT(g,t) and the zero pre-effects
    assert ((post["conf_low"].to_numpy() <= true) & (true <= post["conf_high"].to_numpy())).all()
    pre = tidy[tidy["time"] < tidy["group"]]
    assert ((pre["conf_low"] <= 0) & (pre["conf_high"] >= 0)).mean() > 0.9
    assert res.pretrend_test is not None and res.pretrend_test.p_value > 0.01


@pytest.mark.parametrize("typ", ["simple", "dynamic", "group", "calendar"])
def test_recovers_aggregations(panel, truth, typ):
    res = att_gt(panel, *ARGS, seed=2)
    agg = aggte(res, typ)
    key = {"simple": "simple"}.get(typ, f"{typ}_overall")
    assert abs(agg.overall.estimate - truth[key]) < 3 * agg.overall.std_error
    if typ == "simple":
        return
    post = agg.egt >= 0 if typ == "dynamic" else np.ones(len(agg.egt), bool)
    true = truth[typ].reindex(agg.egt[post]).to_numpy()
    est, se = agg.att_egt[post], agg.se_egt[post]
    assert np.all(np.abs(est - true) < agg.critical_value * se + 1e-12)


def test_conditional_parallel_trends_needs_covariates():
    """With a covariate-driven trend, unconditional DiD is biased; reg/ipw/dr with x are not."""
    df = simulate_staggered(seed=5, x_trend=3.0, noise_sd=0.3)
    truth = true_aggregates()["dynamic_overall"]
    naive = aggte(att_gt(df, *ARGS, bstrap=False, cband=False), "dynamic").overall
    assert abs(naive.estimate - truth) > 3 * naive.std_error
    for method in ("reg", "ipw", "dr"):
        res = att_gt(df, *ARGS, xformla="~ x", est_method=method, bstrap=False, cband=False)
        ov = aggte(res, "dynamic").overall
        assert abs(ov.estimate - truth) < 3 * ov.std_error, method


def test_weighted_panel_recovers_truth(panel, truth):
    res = att_gt(panel, *ARGS, weightsname="weight", bstrap=False, cband=False)
    agg = aggte(res, "dynamic")
    # target: event-time averages with cohort shares measured in sampling weight
    units = panel.drop_duplicates("id")
    wsum = units[units["gname"] > 0].groupby("gname")["weight"].sum()
    cells = truth["att_gt"].assign(e=lambda d: d["time"] - d["group"])
    cells["w"] = cells["group"].map(wsum)
    target = cells.groupby("e")[["att", "w"]].apply(lambda d: np.average(d["att"], weights=d["w"]))
    assert abs(agg.overall.estimate - target.mean()) < 3 * agg.overall.std_error
    post = agg.egt >= 0
    z = (agg.att_egt[post] - target.reindex(agg.egt[post]).to_numpy()) / agg.se_egt[post]
    assert np.abs(z).max() < 4


def test_not_yet_treated_recovers_truth(panel, truth):
    res = att_gt(panel, *ARGS, control_group="notyettreated", seed=3)
    ov = aggte(res, "simple").overall
    assert abs(ov.estimate - truth["simple"]) < 3 * ov.std_error


# ---------------------------------------------------------------------------------------
# Monte Carlo coverage (slow)
# ---------------------------------------------------------------------------------------


def monte_carlo(n_rep: int = 500, seed: int = 2024) -> dict[str, float]:
    """Coverage of nominal 95 % intervals over ``n_rep`` KVK-sized simulated panels.

    Returns coverage of the overall dynamic and simple ATT (analytic and bootstrap SEs), the
    mean/min/max pointwise coverage over post-treatment event times, and the simultaneous
    coverage of the uniform band over all post-treatment event times.
    """
    truth = true_aggregates()
    ss = np.random.SeedSequence(seed)
    dyn_true = truth["dynamic"]
    hits: dict[str, list] = {k: [] for k in ("dyn_a", "dyn_b", "simple_a", "simple_b")}
    e_hits_a, e_hits_b, band_hits = [], [], []
    simple_est, twfe_est = [], []
    for child in ss.spawn(n_rep):
        df = simulate_staggered(seed=np.random.default_rng(child))
        res = att_gt(df, *ARGS, seed=int(child.generate_state(1)[0]))
        twfe_est.append(twfe(df, yname="y", tname="period", idname="id").overall)
        for typ, key in (("dynamic", "dyn"), ("simple", "simple")):
            agg = aggte(res, typ)
            tgt = truth["dynamic_overall"] if typ == "dynamic" else truth["simple"]
            ov = agg.overall
            if typ == "simple":
                simple_est.append(ov.estimate)
            hits[f"{key}_b"].append(ov.conf_low <= tgt <= ov.conf_high)
            se_a = float(np.sqrt(np.mean(agg.influence_overall**2) / res.n_units))
            hits[f"{key}_a"].append(abs(ov.estimate - tgt) <= 1.959964 * se_a)
            if typ == "dynamic":
                post = agg.egt >= 0
                true = dyn_true.reindex(agg.egt[post]).to_numpy()
                est, se = agg.att_egt[post], agg.se_egt[post]
                se_an = np.sqrt(np.mean(agg.influence_egt[:, post] ** 2, axis=0) / res.n_units)
                e_hits_b.append(np.abs(est - true) <= 1.959964 * se)
                e_hits_a.append(np.abs(est - true) <= 1.959964 * se_an)
                band_hits.append(np.all(np.abs(est - true) <= agg.critical_value * se))
    ea, eb = np.mean(e_hits_a, axis=0), np.mean(e_hits_b, axis=0)
    return {
        "n_rep": n_rep,
        "overall_dynamic_analytic": float(np.mean(hits["dyn_a"])),
        "overall_dynamic_bootstrap": float(np.mean(hits["dyn_b"])),
        "overall_simple_analytic": float(np.mean(hits["simple_a"])),
        "overall_simple_bootstrap": float(np.mean(hits["simple_b"])),
        "event_time_analytic_mean": float(ea.mean()),
        "event_time_analytic_min": float(ea.min()),
        "event_time_analytic_max": float(ea.max()),
        "event_time_bootstrap_mean": float(eb.mean()),
        "event_time_bootstrap_min": float(eb.min()),
        "event_time_bootstrap_max": float(eb.max()),
        "uniform_band_simultaneous": float(np.mean(band_hits)),
        "simple_bias": float(np.mean(simple_est) - truth["simple"]),
        "simple_mc_se": float(np.std(simple_est) / np.sqrt(n_rep)),
        "twfe_bias": float(np.mean(twfe_est) - truth["simple"]),
        "twfe_mc_se": float(np.std(twfe_est) / np.sqrt(n_rep)),
    }


@pytest.mark.slow
def test_monte_carlo_coverage():
    out = monte_carlo(n_rep=500)
    print(out)  # figures quoted in the report
    for key in (
        "overall_dynamic_analytic",
        "overall_dynamic_bootstrap",
        "overall_simple_analytic",
        "overall_simple_bootstrap",
        "event_time_analytic_mean",
        "event_time_bootstrap_mean",
        "uniform_band_simultaneous",
    ):
        assert 0.92 <= out[key] <= 0.98, (key, out[key])
    # unbiased, unlike static TWFE under heterogeneous, growing effects
    assert abs(out["simple_bias"]) < 3 * out["simple_mc_se"]
    assert abs(out["twfe_bias"]) > 10 * out["twfe_mc_se"]
    # each event time separately, allowing for Monte Carlo error (sd about 1 pp at 500 reps)
    for key in ("event_time_analytic", "event_time_bootstrap"):
        assert out[f"{key}_min"] >= 0.90 and out[f"{key}_max"] <= 0.99, out
