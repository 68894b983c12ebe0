"""Pre-trend power (Roth 2022): R pretrends' published He & Wang example and simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from kvk_analysis.did import aggte, pretrend_power, pretrend_test
from kvk_analysis.did.power import rejection_probability, slope_for_power, truncated_mean_box
from kvk_analysis.errors import InputError

DATA = Path(__file__).parent / "data" / "honestdid" / "HeAndWangResults.json"


@pytest.fixture(scope="module")
def he_wang():
    d = json.loads(DATA.read_text())
    return np.array(d["beta"]), np.array(d["sigma"]), np.array(d["tVec"])


def test_he_wang_slope_for_power(he_wang) -> None:
    """R README: slope_for_power(sigma, targetPower = 0.5, tVec, referencePeriod = -1)
    = 0.05205871 (R's uniroot stops at ~1e-4, its pmvnorm at 1e-3)."""
    _, sigma, t = he_wang
    assert slope_for_power(sigma, 0.5, t, -1) == pytest.approx(0.05205871, abs=1e-4)


def test_he_wang_power_and_mean_after_pretesting(he_wang) -> None:
    """R README: pretrends(..., deltatrue = slope50 * (tVec - referencePeriod))."""
    _, sigma, t = he_wang
    slope = 0.05205871
    pre, post = t < -1, t > -1
    delta = slope * (t + 1)
    s_pre = sigma[np.ix_(pre, pre)]
    z = stats.norm.ppf(0.975)
    assert rejection_probability(delta[pre], s_pre, z) == pytest.approx(0.4999776, abs=1e-3)
    mean_pre = truncated_mean_box(delta[pre], s_pre, z * np.sqrt(np.diag(s_pre)))
    np.testing.assert_allclose(mean_pre, [-0.09230764, -0.05555285, -0.02790950], atol=2e-5)
    mean_post = delta[post] + sigma[np.ix_(post, pre)] @ np.linalg.solve(
        s_pre, mean_pre - delta[pre]
    )
    np.testing.assert_allclose(
        mean_post, [0.06490184, 0.12084694, 0.16946498, 0.22453827], atol=2e-5
    )


def test_truncated_mean_by_simulation() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + np.eye(3) * 0.3
    mu = np.array([0.4, -0.2, 1.0])
    ub = 1.5 * np.sqrt(np.diag(cov))
    draws = rng.multivariate_normal(mu, cov, size=400_000)
    inside = draws[np.all(np.abs(draws) <= ub, axis=1)]
    se = inside.std(axis=0) / np.sqrt(len(inside))
    assert np.all(np.abs(truncated_mean_box(mu, cov, ub) - inside.mean(axis=0)) < 4 * se)


@pytest.fixture(scope="module", params=["universal", "varying"])
def fitted(request):
    from kvk_analysis.evaluation.testing import fit_att_gt, simulate_panel

    panel = simulate_panel(n_units=200, effect=-0.5, seed=31)
    res = fit_att_gt(panel, base_period=request.param)
    dyn = aggte(res, type="dynamic", bstrap=False, cband=False)
    return res, dyn


@pytest.mark.parametrize("method", ["sup-t", "wald", "pointwise"])
def test_power_function_by_simulation(fitted, method) -> None:
    """Draw beta ~ N(slope * trend, Sigma) (pre and post jointly), apply the test, and compare
    the rejection frequency with power() and the post-period means among non-rejections with
    bias_conditional."""
    res, dyn = fitted
    pretest = pretrend_test(res, method=method, seed=2) if method != "pointwise" else None
    pp = pretrend_power(dyn, method=method, pretest=pretest, seed=2)
    assert pp.method == method and pp.min_e == -8
    assert pp.power(pp.slope_50) == pytest.approx(0.5, abs=2e-3)
    assert pp.power(pp.slope_80) == pytest.approx(0.8, abs=2e-3)
    assert 0 < pp.slope_50 < pp.slope_80
    egt = np.asarray(dyn.egt)
    pre = np.isin(egt, pp.event_times)
    post = egt >= 0
    ref = -1
    slope = pp.slope_80
    mu = np.where(pre & (res.params.base_period == "varying"), slope, slope * (egt - ref))
    mu[~(pre | post)] = 0.0
    idx = np.flatnonzero(pre | post)
    cov = dyn.vcov()[np.ix_(idx, idx)]
    rng = np.random.default_rng(11)
    draws = rng.multivariate_normal(mu[idx], cov, size=60_000, method="cholesky")
    bpre = draws[:, pre[idx]]
    if method == "wald":
        s_pre = dyn.vcov()[np.ix_(pre, pre)]
        stat = np.einsum("ij,ij->i", bpre, np.linalg.solve(s_pre, bpre.T).T)
        reject = stat > pp.critical_value
    else:
        se = (
            np.asarray(pretest.std_errors)
            if pretest is not None
            else np.sqrt(np.diag(dyn.vcov())[pre])
        )
        reject = np.max(np.abs(bpre) / se, axis=1) > pp.critical_value
    assert reject.mean() == pytest.approx(0.8, abs=4 * np.sqrt(0.16 / len(draws)))
    kept = draws[~reject][:, post[idx]]
    sim_mean = kept.mean(axis=0)
    sim_se = kept.std(axis=0) / np.sqrt(len(kept))
    np.testing.assert_array_equal(pp.bias["event_time"], egt[post])
    np.testing.assert_allclose(pp.bias["bias"], slope * (egt[post] - ref), rtol=1e-12)
    assert np.all(np.abs(pp.bias["bias_conditional"].to_numpy() - sim_mean) < 4.5 * sim_se)


def test_bad_input(fitted) -> None:
    res, dyn = fitted
    with pytest.raises(InputError, match="unknown method"):
        pretrend_power(dyn, method="f-test")
    with pytest.raises(InputError, match="another method"):
        pretrend_power(dyn, method="wald", pretest=pretrend_test(res, method="sup-t", seed=1))
    with pytest.raises(InputError, match="dynamic"):
        pretrend_power(aggte(res, type="simple"))
