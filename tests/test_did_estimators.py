"""The 2x2 DiD estimators: influence functions equal the numerical derivative of the estimate.

For estimators defined by weighted sample moments, ``d att / d w_i = IF_i / (n w_i)``
(``IF_i / n`` with unit weights): this checks every influence-function term (propensity score,
outcome regressions, weights) without any reference implementation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.did import _estimators as est

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def cell() -> dict:
    d = pd.read_csv(REF / "mpdta.csv")
    s = d[d["year"].isin([2005, 2006]) & d["first.treat"].isin([0, 2006])]
    wide = s.pivot(index="countyreal", columns="year", values="lemp")
    unit = s.groupby("countyreal")[["first.treat", "lpop"]].first().loc[wide.index]
    rng = np.random.default_rng(3)
    return {
        # observation level (repeated cross-section form)
        "y": s["lemp"].to_numpy(),
        "post": (s["year"] == 2006).to_numpy(float),
        "d_obs": (s["first.treat"] == 2006).to_numpy(float),
        "x_obs": np.column_stack([np.ones(len(s)), s["lpop"].to_numpy()]),
        "w_obs": rng.uniform(0.5, 2.0, len(s)),
        # unit level (panel form)
        "dy": (wide[2006] - wide[2005]).to_numpy(),
        "y1": wide[2006].to_numpy(),
        "y0": wide[2005].to_numpy(),
        "d": (unit["first.treat"] == 2006).to_numpy(float),
        "x": np.column_stack([np.ones(len(unit)), unit["lpop"].to_numpy()]),
        "w": rng.uniform(0.5, 2.0, len(unit)),
    }


def _check_derivative(fn, w: np.ndarray, rows: list[int]) -> None:
    att0, inf = fn(w)
    n = len(w)
    eps = 1e-3  # smaller steps lose to round-off (estimates are differences of sums)
    for i in rows:
        up, down = w.copy(), w.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (fn(up)[0] - fn(down)[0]) / (2 * eps)  # central difference
        # IF_i = (w_i / mean w) phi_i with phi the influence function of the weighted
        # empirical distribution, and d att / d w_i = phi_i / sum(w) = IF_i / (n w_i)
        analytic = inf[i] / (n * w[i])
        assert numeric == pytest.approx(analytic, rel=1e-5, abs=1e-10), (i, numeric, analytic)


ROWS = [0, 3, 10, 50, 120, 200, 300]


@pytest.mark.parametrize("name", ["reg_did_panel", "std_ipw_did_panel", "drdid_panel"])
def test_panel_influence_functions(cell, name):
    f = getattr(est, name)
    _check_derivative(lambda w: f(cell["dy"], cell["d"], cell["x"], w), cell["w"], ROWS)


@pytest.mark.parametrize("name", ["std_ipw_did_rc", "drdid_rc"])
def test_rc_influence_functions(cell, name):
    f = getattr(est, name)
    rows = [*ROWS, 400, 650]
    _check_derivative(
        lambda w: f(cell["y"], cell["post"], cell["d_obs"], cell["x_obs"], w), cell["w_obs"], rows
    )


def test_unbalanced_reg_influence_function(cell):
    y1, y0 = cell["y1"].copy(), cell["y0"].copy()
    y1[[1, 7, 30]] = np.nan  # unbalanced: some units seen in one period only
    y0[[2, 40]] = np.nan
    d = cell["d"].astype(bool)
    _check_derivative(
        lambda w: est.reg_did_unbalanced(y1, y0, cell["x"], cell["x"], d, ~d, w),
        cell["w"],
        [0, 1, 2, 3, 30, 40, 120, 300],
    )


def test_batched_equals_single(cell):
    """Batched columns of dy give the same results as one call per column."""
    dys = np.column_stack([cell["dy"], cell["dy"] * 0.5 + 0.1, cell["y1"]])
    for f in (est.reg_did_panel, est.std_ipw_did_panel, est.drdid_panel):
        att, inf = f(dys, cell["d"], cell["x"], cell["w"])
        for j in range(dys.shape[1]):
            a1, f1 = f(dys[:, j], cell["d"], cell["x"], cell["w"])
            assert att[j] == pytest.approx(a1, abs=1e-13)
            np.testing.assert_allclose(inf[:, j], f1, atol=1e-12)


def test_logit_matches_statsmodels(cell):
    import statsmodels.api as sm

    p, cov = est.logit_irls(cell["x"], cell["d"], cell["w"])
    ref = sm.GLM(cell["d"], cell["x"], family=sm.families.Binomial(), var_weights=cell["w"]).fit()
    # statsmodels stops at a looser convergence tolerance than logit_irls
    np.testing.assert_allclose(p, ref.fittedvalues, rtol=1e-6)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-5)
