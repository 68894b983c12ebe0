"""Synthetic control: weights, recovery of a planted effect, placebo inference, speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation.synth import (
    N_DONORS,
    select_donors,
    simplex_least_squares,
    synth,
    synth_municipality,
)
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
    return synth_municipality(_donor_panel(), "T")


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
    res = synth_municipality(panel, "T")
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
    res = synth_municipality(panel, "T", donors=donors, predictors=("log_pop",), placebo=False)
    assert set(res.weights["unit"]) == set(donors)
    assert np.isnan(res.p_value) and res.placebo_stats.empty
    assert res.weights["weight"].sum() == pytest.approx(1.0)


def test_fast_enough_for_batch_reports() -> None:
    # ~290 never-participants, 28 quarters: the size of the KVK panel
    panel = simulate_panel(n_units=430, share_treated=0.33, seed=8)
    treated = panel.loc[panel["participant"], "kommunenummer"].unique()[:3]
    start = time.perf_counter()
    for unit in treated:
        res = synth_municipality(panel, unit)
    per_unit = (time.perf_counter() - start) / len(treated)
    assert len(res.placebo_stats) == res.params["n_donors"] <= N_DONORS
    assert per_unit < 1.0  # ~0.02 s measured with the default pool; generous
    start = time.perf_counter()
    res = synth_municipality(panel, treated[0], donors="all")
    assert len(res.placebo_stats) == panel.loc[panel["never_treated"], "kommunenummer"].nunique()
    assert time.perf_counter() - start < 2.0  # ~0.1 s measured with all donors


def test_missing_donor_outcomes_are_dropped() -> None:
    panel = _donor_panel()
    panel.loc[(panel["kommunenummer"] == "d05") & (panel["tname"] == START + 3), "rate"] = np.nan
    res = synth_municipality(panel, "T", placebo=False)
    assert res.dropped_donors == ["d05"]
    assert "d05" not in set(res.weights["unit"])


def test_bad_input() -> None:
    panel = _donor_panel()
    with pytest.raises(InputError, match="not in the panel"):
        synth_municipality(panel, "X")
    with pytest.raises(InputError, match="no first treated period"):
        synth_municipality(panel, "d01")
    with pytest.raises(EstimationError, match="fewer than two pre-periods"):
        synth_municipality(panel, "T", treatment_period=START + 1)
    with pytest.raises(EstimationError, match="no period from"):
        synth_municipality(panel, "T", treatment_period="2020Q1")
    gap = panel[~((panel["kommunenummer"] == "T") & (panel["tname"] == START + 2))]
    with pytest.raises(InputError, match="treated unit has missing outcomes"):
        synth_municipality(gap, "T")
    with pytest.raises(InputError, match="one row per unit and period"):
        synth_municipality(pd.concat([panel, panel]), "T")
    with pytest.raises(InputError, match="donors not in the panel"):
        synth_municipality(panel, "T", donors=["nope"])


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
    res = [synth_municipality(panel, unit) for unit in treated]
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
    full = [synth_municipality(panel, unit, donors="all", placebo=False) for unit in treated]
    assert sum(r.pre_rmspe < 0.01 for r in full) >= 3  # 9 of 20 measured
    res = [synth_municipality(panel, unit) for unit in treated]
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
    auto = synth_municipality(panel, "T", n_donors=25)
    assert auto.params["n_donors"] == 25 == len(auto.placebo_stats)
    assert auto.params["donor_rule"] == "never-participants, 25 nearest by pre-period path"
    assert "Donor pool: 25 units (never-participants, 25 nearest" in auto.summary()
    full = synth_municipality(panel, "T", donors="all", placebo=False)
    assert full.params["n_donors"] == 60 and full.params["donor_rule"] == "all never-participants"
    listed = synth_municipality(panel, "T", donors=["d01", "d02", "d03"], placebo=False)
    assert listed.params["donor_rule"] == "as given" and listed.params["donors"] == "list"
    with pytest.raises(InputError, match="'auto', 'all' or a list"):
        synth_municipality(panel, "T", donors="some")


# ----------------------------------------------------------------------------------------
# the general method: R Synth's specification on California's Proposition 99
# ----------------------------------------------------------------------------------------

PROP99 = Path("/work/shared/reference/did/prop99_smoking.csv")
LOCAL_PROP99 = Path(__file__).parent / "reference" / "prop99_smoking.csv"
ADH_WEIGHTS = {
    "Utah": 0.334,
    "Nevada": 0.234,
    "Montana": 0.199,
    "Colorado": 0.164,
    "Connecticut": 0.069,
}
# Abadie, Diamond & Hainmueller (2010), Table 1: synthetic California's predictor means
ADH_SYNTHETIC = [9.86, 89.41, 0.1735, 24.20, 127.1, 120.2, 91.62]


def _prop99_data() -> pd.DataFrame:
    for path in (LOCAL_PROP99, PROP99):
        if path.exists():
            return pd.read_csv(path)
    pytest.skip("prop99_smoking.csv not available")


def _prop99(placebo: bool, **kw):
    return synth(
        _prop99_data(),
        "California",
        yname="cigsale",
        idname="state",
        tname="year",
        treatment_period=1989,
        predictors=["lnincome", "retprice", "age15to24"],
        predictors_op="mean",
        time_predictors_prior=(1980, 1988),
        special_predictors=[
            ("beer", (1984, 1988), "mean"),
            ("cigsale", 1975, "mean"),
            ("cigsale", 1980, "mean"),
            ("cigsale", 1988, "mean"),
        ],
        time_optimize_ssr=(1970, 1988),
        placebo=placebo,
        **kw,
    )


@pytest.fixture(scope="module")
def prop99():
    return _prop99(placebo=True)


def test_prop99_weights_close_to_adh(prop99) -> None:
    w = prop99.weights.set_index("unit")["weight"]
    for state, published in ADH_WEIGHTS.items():
        assert w[state] == pytest.approx(published, abs=0.03), state
    assert w.drop(list(ADH_WEIGHTS)).max() < 0.03  # all other states (almost) zero
    assert w.sum() == pytest.approx(1.0, abs=1e-10)
    bal = prop99.predictor_balance
    assert bal["synthetic"].to_numpy() == pytest.approx(ADH_SYNTHETIC, rel=0.01)
    assert bal["treated"].iloc[4:].tolist() == [127.1, 120.2, 90.1]
    assert prop99.v["weight"].sum() == pytest.approx(1.0) and (prop99.v["weight"] >= 0).all()
    assert prop99.params["n_donors"] == 38 and prop99.dropped_donors == []
    # the effect: about -19 packs per capita on average over 1989-2000 (ADH Figure 3)
    assert -30 < prop99.effect < -12


def test_prop99_california_has_the_highest_placebo_ratio(prop99) -> None:
    ratios = prop99.placebo_ratios
    assert len(ratios) == 39
    assert ratios.iloc[0]["unit"] == "California" and ratios.iloc[0]["rank"] == 1
    assert prop99.rank == 1 and prop99.p_value == pytest.approx(1 / 39)


def test_nested_v_beats_equal_and_custom_v() -> None:
    opt = _prop99(placebo=False)
    equal = _prop99(placebo=False, v="equal")
    custom = _prop99(placebo=False, v=[1, 1, 1, 1, 5, 5, 5])
    assert opt.loss_v <= equal.loss_v and opt.loss_v <= custom.loss_v
    assert equal.v["weight"].tolist() == pytest.approx([1 / 7] * 7)
    assert custom.v["weight"].tolist() == pytest.approx(np.array([1, 1, 1, 1, 5, 5, 5]) / 19)
    # W for a given V: simplex_least_squares, checked against SLSQP above


def test_general_synth_input_checks() -> None:
    d = _prop99_data()
    kw = dict(yname="cigsale", idname="state", tname="year", treatment_period=1989)
    with pytest.raises(InputError, match="treatment_period"):
        synth(d, "California", yname="cigsale", idname="state", tname="year")
    with pytest.raises(InputError, match="whole numbers"):
        synth(d.assign(year=d["year"] + 0.5), "California", **kw)
    with pytest.raises(InputError, match="holds dates"):
        synth(d.assign(year=pd.to_datetime(d["year"].astype(int).astype(str))), "California", **kw)
    with pytest.raises(InputError, match="special predictors"):
        synth(d, "California", special_predictors=[("beer", 1985)], **kw)
    with pytest.raises(InputError, match="one nonnegative weight per predictor"):
        synth(d, "California", predictors=["beer"], v=[1, 2], **kw)
    with pytest.raises(InputError, match="belong to synth_municipality"):
        synth(d, "California", donors="auto", **kw)
    # a pandas Period[Y] time column is converted and gives the same fit
    per = d.assign(year=pd.PeriodIndex(d["year"].astype(int).astype(str), freq="Y"))
    a = synth(d, "California", v="equal", placebo=False, **kw)
    b = synth(
        per,
        "California",
        yname="cigsale",
        idname="state",
        tname="year",
        treatment_period="1989",
        v="equal",
        placebo=False,
    )
    assert b.weights["weight"].to_numpy() == pytest.approx(a.weights["weight"].to_numpy())
    assert b.effect == pytest.approx(a.effect)


def test_cohort_checks_in_synth() -> None:
    panel = _donor_panel()
    # a cohort that changes within the treated unit: today's code used the first row's
    bad = panel.copy()
    bad.loc[(bad["kommunenummer"] == "T") & (bad["tname"] > START + 30), "gname"] = START + 30
    with pytest.raises(InputError, match="changes over time"):
        synth_municipality(bad, "T")
    with pytest.raises(InputError, match="changes over time"):
        synth(bad, "T", yname="rate", idname="kommunenummer", tname="tname", gname="gname")
    # never treated coded inf (as R did) is a never-participant donor
    inf = panel.assign(gname=panel["gname"].replace(0, np.inf))
    a, b = synth_municipality(panel, "T"), synth_municipality(inf, "T")
    pd.testing.assert_frame_equal(a.weights, b.weights)
    assert a.p_value == b.p_value
    # fractional quarters are an error, not truncated
    with pytest.raises(InputError, match="whole numbers"):
        synth_municipality(panel.assign(tname=panel["tname"] + 0.5), "T")
    # a Period[Q] time column is converted to the quarter index
    per = panel.assign(
        tname=pd.PeriodIndex([f"{t // 4}Q{t % 4 + 1}" for t in panel["tname"]], freq="Q")
    )
    c = synth_municipality(per, "T")
    pd.testing.assert_frame_equal(a.weights, c.weights)


def test_legacy_call_runs_the_kvk_layer() -> None:
    panel = _donor_panel()
    with pytest.warns(PendingDeprecationWarning, match="synth_municipality"):
        old = synth(panel, "T", placebo=False)
    new = synth_municipality(panel, "T", placebo=False)
    pd.testing.assert_frame_equal(old.weights, new.weights)
    assert old.params["donors"] == "auto"
    assert new.path["period"].iloc[0] == pd.Period("2005Q1", freq="Q")
    assert len(new.v) == T0 and new.v["weight"].sum() == pytest.approx(1.0)


def test_kvk_layer_optimised_v() -> None:
    panel = _donor_panel(n_donors=15)
    fixed = synth_municipality(panel, "T", placebo=False)
    opt = synth_municipality(panel, "T", placebo=False, v="optimize")
    assert opt.loss_v <= fixed.loss_v + 1e-12
    assert opt.effect == pytest.approx(EFFECT, abs=0.1)
