"""Synthetic control: weights, recovery of a planted effect, placebo inference, speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation.synth import N_DONORS, select_donors, simplex_least_squares, synth
from kvk_analysis.evaluation.testing import simulate_panel
from kvk_analysis.periods import quarter_index
from kvk_analysis.simulate import scenario, simulate

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
    # ~290 never-participants, 28 quarters: the size of the KVK panel
    panel = simulate_panel(n_units=430, share_treated=0.33, seed=8)
    treated = panel.loc[panel["participant"], "kommunenummer"].unique()[:3]
    start = time.perf_counter()
    for unit in treated:
        res = synth(panel, unit)
    per_unit = (time.perf_counter() - start) / len(treated)
    assert len(res.placebo_stats) == res.params["n_donors"] <= N_DONORS
    assert per_unit < 1.0  # ~0.02 s measured with the default pool; generous
    start = time.perf_counter()
    res = synth(panel, treated[0], donors="all")
    assert len(res.placebo_stats) == panel.loc[panel["never_treated"], "kommunenummer"].nunique()
    assert time.perf_counter() - start < 2.0  # ~0.1 s measured with all donors


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


def _register_panel(name: str) -> pd.DataFrame:
    """The simulated register (``kvk_analysis.simulate``) of a scenario as a panel of the
    all-sector rate, with the columns the default donor pool uses."""
    sim = simulate(scenario(name))
    cells = sim.cells.assign(lost=sim.cells["lost_self"] + sim.cells["lost_doctor"])
    g = cells.groupby(["unit", "period"], as_index=False)[["lost", "contracted_days"]].sum()
    g["rate"] = g["lost"] / g["contracted_days"] * 100
    g["tname"] = np.asarray(quarter_index(pd.PeriodIndex(g["period"], freq="Q")))
    units = sim.units.set_index("kommunenummer")
    first = units["first_treated"].map(lambda p: 0 if pd.isna(p) else quarter_index(p))
    g["gname"] = g["unit"].map(first).astype(int)
    pop = g["unit"].map(units["population_2008"])
    g["log_pop"] = np.log(pop)
    g["size_group"] = pd.cut(
        pop, [0, 5000, 20000, np.inf], labels=["<5k", "5-20k", ">=20k"], right=False
    ).astype(str)
    return g.rename(columns={"unit": "kommunenummer"})


def test_default_pool_recovers_planted_effect_over_units() -> None:
    # 20 participants of a KVK-sized panel with a planted effect of -1 pp
    panel = simulate_panel(n_units=430, share_treated=0.33, effect=-1.0, seed=9, end="2010Q4")
    treated = panel.loc[panel["participant"], "kommunenummer"].unique()[:20]
    res = [synth(panel, unit) for unit in treated]
    effects = np.array([r.effect for r in res])
    p = np.array([r.p_value for r in res])
    assert effects.mean() == pytest.approx(-1.0, abs=0.15)  # -0.99 measured
    assert np.mean(p < 0.1) >= 0.5  # 0.65 measured: a -1 pp effect mostly stands out
    assert all(2 <= r.params["n_donors"] <= N_DONORS for r in res)
    assert all("size group" in r.params["donor_rule"] for r in res)
    assert all(len(r.placebo_stats) == r.params["n_donors"] for r in res)


def test_placebo_p_values_not_degenerate_without_effect() -> None:
    # the simulated register without effect (noisy small municipalities, 9-16 pre-quarters):
    # with all ~285 never-participants the fit interpolates noise (pre-period RMSPE ~0); the
    # default pool does not, and the placebo p-values spread over (0, 1]
    panel = _register_panel("no_effect")
    gu = panel.groupby("kommunenummer")["gname"].first()
    treated = np.random.default_rng(3).choice(gu.index[gu > 0], 20, replace=False)
    full = [synth(panel, unit, donors="all", placebo=False) for unit in treated]
    assert sum(r.pre_rmspe < 0.01 for r in full) >= 3  # 9 of 20 measured
    res = [synth(panel, unit) for unit in treated]
    pre = np.array([r.pre_rmspe for r in res])
    p = np.array([r.p_value for r in res])
    assert pre.min() > 0.05  # ~0.49 pp median measured
    assert 0.3 < p.mean() < 0.7  # 0.44 measured
    assert np.mean(p < 0.1) <= 0.3  # 0.15 measured
    assert np.mean(p > 0.5) >= 0.25  # 0.40 measured
    assert abs(np.mean([r.effect for r in res])) < 0.3


def test_select_donors_rule() -> None:
    rng = np.random.default_rng(0)
    ids = [f"u{k:03d}" for k in range(100)]
    paths = pd.DataFrame(rng.normal(0, 1, (100, 8)), index=ids)
    size = pd.Series(["small"] * 70 + ["large"] * 30, index=ids)
    log_pop = pd.Series(np.linspace(6, 12, 100), index=ids)
    cands = ids[1:]
    pool, rule = select_donors(paths, "u000", cands, size_group=size, log_pop=log_pop)
    assert len(pool) == 40 and set(pool) <= {i for i in cands if size[i] == "small"}
    assert rule == (
        "never-participants, size group small, 40 nearest by pre-period path and log population"
    )
    # the nearest come first and every left-out candidate is farther than every chosen one
    x1 = paths.loc["u000"].to_numpy()
    small = [i for i in cands if size[i] == "small"]
    d_path = np.sqrt(((paths.loc[small].to_numpy() - x1) ** 2).mean(axis=1))
    lp = log_pop[small].to_numpy()
    dist = pd.Series(
        (d_path / d_path.std(ddof=1)) ** 2 + ((lp - log_pop["u000"]) / lp.std(ddof=1)) ** 2,
        index=small,
    )
    assert pool == dist.sort_values(kind="stable").index[:40].tolist()
    # a size group with fewer than n_donors candidates: all of them, no ranking
    pool, rule = select_donors(paths, "u099", cands[:-1], size_group=size)
    assert sorted(pool) == ids[70:99] and rule == "never-participants, size group large"
    # too few in the size group: all sizes, then the nearest
    pool, rule = select_donors(paths, "u099", cands[:-1], size_group=size, min_group=30)
    assert len(pool) == 40 and {size[i] for i in pool} == {"small", "large"}
    assert rule == (
        "never-participants, all sizes (size group large has 29 < 30), 40 nearest by "
        "pre-period path"
    )
    pool, rule = select_donors(paths, "u000", cands[:10])
    assert pool == cands[:10] and rule == "never-participants"
    with pytest.raises(InputError, match="n_donors"):
        select_donors(paths, "u000", cands, n_donors=1)


def test_donor_options_and_summary() -> None:
    panel = _donor_panel(n_donors=60)
    auto = synth(panel, "T", n_donors=25)
    assert auto.params["n_donors"] == 25 == len(auto.placebo_stats)
    assert auto.params["donor_rule"] == "never-participants, 25 nearest by pre-period path"
    assert "Donor pool: 25 units (never-participants, 25 nearest" in auto.summary()
    full = synth(panel, "T", donors="all", placebo=False)
    assert full.params["n_donors"] == 60 and full.params["donor_rule"] == "all never-participants"
    listed = synth(panel, "T", donors=["d01", "d02", "d03"], placebo=False)
    assert listed.params["donor_rule"] == "as given" and listed.params["donors"] == "list"
    with pytest.raises(InputError, match="'auto', 'all' or a list"):
        synth(panel, "T", donors="some")
