"""Synthetic control: weights, recovery of a planted effect, placebo inference, speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation.synth import simplex_least_squares, synth
from kvk_analysis.evaluation.testing import simulate_panel

T0, T1 = 24, 8  # pre and post quarters
START = 8020  # 2005Q1
TRUE_W = {"d03": 0.5, "d07": 0.3, "d11": 0.2}
EFFECT = -1.0


def _donor_panel(n_donors: int = 40, seed: int = 4) -> pd.DataFrame:
    """Donors with their own trends and seasonality; unit 'T' is a convex combination of
    three donors (plus small noise) with a planted effect from quarter T0 on."""
    rng = np.random.default_rng(seed)
    t = np.arange(T0 + T1)
    season = np.array([0.8, -0.2, -0.8, 0.2])[t % 4]
    ids = [f"d{k:02d}" for k in range(n_donors)]
    Y = (
        6
        + rng.normal(0, 1, (n_donors, 1))
        + rng.normal(0, 0.04, (n_donors, 1)) * t
        + rng.uniform(0.5, 1.5, (n_donors, 1)) * season
        + rng.normal(0, 0.3, (n_donors, len(t))).cumsum(axis=1) * 0.5
    )
    y_t = sum(w * Y[ids.index(d)] for d, w in TRUE_W.items()) + rng.normal(0, 0.02, len(t))
    y_t = y_t + np.where(t >= T0, EFFECT, 0.0)
    rows = [
        pd.DataFrame({"kommunenummer": u, "tname": START + t, "gname": g, "rate": y})
        for u, g, y in [*((d, 0, Y[k]) for k, d in enumerate(ids)), ("T", START + T0, y_t)]
    ]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def result():
    return synth(_donor_panel(), "T")


def test_recovers_planted_effect(result) -> None:
    assert result.treatment_period == START + T0
    assert result.effect == pytest.approx(EFFECT, abs=0.05)
    post = result.path[result.path["post"]]
    assert np.all(np.abs(post["gap"] - EFFECT) < 0.1)
    assert result.pre_rmspe < 0.05
    w = result.weights.set_index("unit")["weight"]
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (w >= 0).all()
    for d, wd in TRUE_W.items():
        assert w[d] == pytest.approx(wd, abs=0.05)


def test_placebo_inference(result) -> None:
    assert len(result.placebo_stats) == 40
    assert result.rank == 1
    assert result.p_value == pytest.approx(1 / 41)
    assert set(result.placebo_gaps["unit"]) == set(result.placebo_stats["unit"])
    assert len(result.placebo_gaps) == 40 * (T0 + T1)
    ratio = result.post_rmspe / result.pre_rmspe
    assert result.ratio == pytest.approx(ratio)
    tidy = result.tidy()
    assert tidy["term"].tolist() == ["overall"] + ["gap"] * T1
    assert tidy["p_value"].iloc[0] == pytest.approx(1 / 41)
    assert tidy["event_time"].iloc[1:].tolist() == list(range(T1))
    assert "placebo rank 1 of 41" in result.summary()


def test_no_effect_gives_large_p_value() -> None:
    panel = _donor_panel(seed=9)
    panel.loc[panel["kommunenummer"] == "T", "rate"] -= np.where(
        panel.loc[panel["kommunenummer"] == "T", "tname"] >= START + T0, EFFECT, 0.0
    )
    res = synth(panel, "T")
    assert abs(res.effect) < 0.1
    assert res.p_value > 0.1


def test_simplex_least_squares_is_optimal() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 30))
    b = rng.normal(size=12)
    w = simplex_least_squares(A, b)
    assert w.sum() == pytest.approx(1.0, abs=1e-12) and (w >= 0).all()
    ref = minimize(
        lambda v: np.sum((A @ v - b) ** 2),
        np.full(30, 1 / 30),
        method="SLSQP",
        bounds=[(0, 1)] * 30,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert np.sum((A @ w - b) ** 2) <= ref.fun + 1e-7


def test_predictors_and_explicit_donors() -> None:
    panel = _donor_panel()
    panel["log_pop"] = panel["kommunenummer"].map(lambda u: float(len(u)) + (u == "T") * 0.1)
    donors = [f"d{k:02d}" for k in range(20)]
    res = synth(panel, "T", donors=donors, predictors=("log_pop",), placebo=False)
    assert set(res.weights["unit"]) == set(donors)
    assert np.isnan(res.p_value) and res.placebo_stats.empty
    assert res.weights["weight"].sum() == pytest.approx(1.0)


def test_fast_enough_for_batch_reports() -> None:
    # ~290 donors, 28 quarters: the size of the KVK panel
    panel = simulate_panel(n_units=430, share_treated=0.33, seed=8)
    treated = panel.loc[panel["participant"], "kommunenummer"].unique()[:3]
    start = time.perf_counter()
    for unit in treated:
        res = synth(panel, unit)
    per_unit = (time.perf_counter() - start) / len(treated)
    assert len(res.placebo_stats) == panel.loc[panel["never_treated"], "kommunenummer"].nunique()
    assert per_unit < 2.0  # ~0.15 s measured; generous for a shared machine


def test_missing_donor_outcomes_are_dropped() -> None:
    panel = _donor_panel()
    panel.loc[(panel["kommunenummer"] == "d05") & (panel["tname"] == START + 3), "rate"] = np.nan
    res = synth(panel, "T", placebo=False)
    assert res.dropped_donors == ["d05"]
    assert "d05" not in set(res.weights["unit"])


def test_bad_input() -> None:
    panel = _donor_panel()
    with pytest.raises(InputError, match="not in the panel"):
        synth(panel, "X")
    with pytest.raises(InputError, match="no first treated period"):
        synth(panel, "d01")
    with pytest.raises(EstimationError, match="fewer than two pre-periods"):
        synth(panel, "T", treatment_period=START + 1)
    with pytest.raises(EstimationError, match="no period from"):
        synth(panel, "T", treatment_period="2020Q1")
    gap = panel[~((panel["kommunenummer"] == "T") & (panel["tname"] == START + 2))]
    with pytest.raises(InputError, match="treated unit has missing outcomes"):
        synth(gap, "T")
    with pytest.raises(InputError, match="one row per unit and period"):
        synth(pd.concat([panel, panel]), "T")
    with pytest.raises(InputError, match="donors not in the panel"):
        synth(panel, "T", donors=["nope"])
