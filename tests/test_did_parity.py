"""R ``did`` 2.5 parity items (issue 10 item 5, issue 13 items 1 and 5).

* calendar aggregation ignores ``min_e``/``max_e``/``balance_e`` with a warning
  (``compute.aggte.R``);
* the multiplier bootstrap draws Rademacher weights by default (``BMisc::multiplier_bootstrap``,
  called by ``mboot.R``), in blocks that give exactly the draws of one block;
* time-varying sampling weights follow ``fix_weights`` (``compute.att_gt2.R``: default = the
  weight of the earlier of the cell's two periods on a balanced panel, each observation's own
  weight on an unbalanced one), checked by hand here and against csdid in test_did_mpdta.py;
* Period / datetime / ``inf`` period columns;
* ``import kvk_analysis.did`` does not import ``scipy.stats``.

R's published bootstrap results on mpdta are checked statistically in test_did_mpdta.py.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.did import aggte, att_gt, inference, simulate_staggered
from kvk_analysis.errors import InputError
from kvk_analysis.periods import index_to_quarter

att_gt_module = importlib.import_module("kvk_analysis.did.att_gt")
ARGS = ("y", "period", "id", "gname")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_staggered(n_units=260, seed=11)


@pytest.fixture(scope="module")
def fit(panel):
    return att_gt(panel, *ARGS, biters=199, seed=3)


# ---------------------------------------------------------------------------------------
# calendar aggregation: R ignores the event-time window
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"max_e": 0}, {"min_e": 2}, {"balance_e": 1}])
def test_calendar_ignores_event_window_with_warning(fit, kw):
    plain = aggte(fit, "calendar")
    with pytest.warns(UserWarning, match="ignored for type='calendar'"):
        windowed = aggte(fit, "calendar", **kw)
    np.testing.assert_array_equal(windowed.egt, plain.egt)
    np.testing.assert_array_equal(windowed.att_egt, plain.att_egt)
    assert windowed.overall.estimate == plain.overall.estimate
    # the window still applies where R applies it
    assert aggte(fit, "group", max_e=0).overall.estimate != aggte(fit, "group").overall.estimate


def test_calendar_without_window_does_not_warn(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aggte(fit, "calendar")


# ---------------------------------------------------------------------------------------
# multiplier bootstrap
# ---------------------------------------------------------------------------------------


def test_default_weights_are_rademacher(fit):
    assert fit.params.bootstrap_weights == "rademacher"
    v = inference.multiplier_weights(np.random.default_rng(0), 300, 257)
    assert set(np.unique(v)) == {-1.0, 1.0}
    assert abs(v.mean()) < 0.01
    assert "Rademacher weights" in fit.summary()


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_blocked_draws_equal_unblocked(kind, block):
    """The weights drawn block by block are exactly those drawn at once (same seed), and so
    are the bootstrap sums up to rounding of the matrix product."""
    biters, n = 133, 171  # n not a multiple of 64: whole words per draw still line up
    whole = inference.multiplier_weights(np.random.default_rng(5), biters, n, kind)
    blocks = np.vstack(
        [
            v.copy()
            for _, v in inference.weight_blocks(np.random.default_rng(5), biters, n, kind, block)
        ]
    )
    np.testing.assert_array_equal(blocks, whole)
    s = np.random.default_rng(1).normal(size=(n, 4))
    sums = inference._weighted_sums(np.random.default_rng(5), biters, s, kind, block=block)
    np.testing.assert_allclose(sums, whole @ s, rtol=1e-12, atol=1e-12)
    one = inference.multiplier_bootstrap(
        s, np.arange(n), n, biters, 0.05, np.random.default_rng(5), kind, block=biters
    )
    blk = inference.multiplier_bootstrap(
        s, np.arange(n), n, biters, 0.05, np.random.default_rng(5), kind, block=block
    )
    np.testing.assert_allclose(blk.std_error, one.std_error, rtol=1e-12)
    assert blk.critical_value == pytest.approx(one.critical_value, rel=1e-12)


def test_bootstrap_memory_does_not_grow_with_draws():
    n = 40_000
    s = np.random.default_rng(0).normal(size=(n, 2))

    def extra(biters: int) -> float:
        tracemalloc.start()
        try:
            out = inference._weighted_sums(np.random.default_rng(1), biters, s, "rademacher")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak - out.nbytes

    small, large = extra(100), extra(3000)
    assert large < 1.2 * small + 2**20
    assert large < inference.BLOCK_BYTES * 1.5 + 2**20


@pytest.mark.parametrize("control_group", ["nevertreated", "notyettreated"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
@pytest.mark.parametrize("weightsname", [None, "weight"])
def test_cohort_sum_draws_equal_general_draws(panel, control_group, base_period, weightsname):
    """Without covariates att_gt computes the bootstrap from cohort sums; it equals the
    general V @ influence / n with the same weights."""
    res = att_gt(
        panel,
        *ARGS,
        control_group=control_group,
        base_period=base_period,
        weightsname=weightsname,
        biters=60,
        seed=4,
    )
    n = res.n_units
    draws, wdraws = att_gt_module._draws_general(
        np.random.default_rng(4),
        60,
        "rademacher",
        res.influence,
        res.unit_weight,
        res.unit_group,
        np.array(res.params.glist),
        res.cluster_codes,
        n,
    )
    scale = np.abs(draws).max()
    np.testing.assert_allclose(res.bootstrap_draws, draws, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(res.bootstrap_weight_draws, wdraws, rtol=0, atol=1e-13)


@pytest.mark.parametrize("typ", ["simple", "dynamic", "group", "calendar"])
def test_aggte_bootstrap_is_the_bootstrap_of_its_influence_function(fit, typ):
    """aggte applies its (linear) aggregation to att_gt's draws: the same as drawing the
    att_gt weights again and multiplying them with aggte's influence functions."""
    agg = aggte(fit, typ)
    n = fit.n_units
    both = np.column_stack([fit.influence, agg.influence_egt, agg.influence_overall])
    d = inference._weighted_sums(np.random.default_rng(3), 199, both, "rademacher") / n
    ref = inference.summarize_draws(d[:, fit.influence.shape[1] :], n, 0.05)
    np.testing.assert_allclose(np.r_[agg.se_egt, agg.overall.std_error], ref.std_error, rtol=1e-10)
    if agg.uniform:
        k = len(agg.egt)
        crit = inference.sup_t_critical(ref.draws[:, :k], ref.std_error[:k], 0.05)
        assert agg.critical_value == pytest.approx(crit, rel=1e-10)


def test_aggte_with_other_biters_draws_afresh(fit):
    agg = aggte(fit, "dynamic", biters=99)
    assert agg.params.biters == 99 and np.isfinite(agg.se_egt).all()


# ---------------------------------------------------------------------------------------
# time-varying sampling weights (fix_weights)
# ---------------------------------------------------------------------------------------


def _tv_panel() -> pd.DataFrame:
    df = simulate_staggered(n_units=120, periods=range(1, 7), cohorts={4: 25, 5: 20}, seed=8).drop(
        columns="weight"
    )
    rng = np.random.default_rng(2)
    df["w"] = rng.uniform(0.5, 2.0, len(df))  # changes every period
    return df


def _hand_att(df: pd.DataFrame, g: int, t: int, base: int, wper: int | None) -> float:
    """Weighted DiD of cohort g against the never treated, between periods base and t, with
    each unit's weight of period ``wper`` (None: each observation its own period's)."""
    wide = df.pivot(index="id", columns="period", values="y")
    w = df.pivot(index="id", columns="period", values="w")
    coh = df.groupby("id")["gname"].first()

    def mean(mask, period):
        ww = w[wper if wper is not None else period][mask]
        return float(np.sum(ww * wide[period][mask]) / ww.sum())

    tr, co = coh == g, coh == 0
    return (mean(tr, t) - mean(tr, base)) - (mean(co, t) - mean(co, base))


@pytest.mark.filterwarnings("ignore:sampling weight 'w' varies over time")
def test_fix_weights_by_hand():
    df = _tv_panel()
    res = {
        fw: att_gt(df, *ARGS, weightsname="w", fix_weights=fw, bstrap=False, cband=False)
        for fw in (None, "base_period", "first_period")
    }
    cells = dict(enumerate(zip(res[None].group, res[None].time, strict=True)))
    for j, (g, t) in cells.items():
        # varying base period: pre-treatment cells compare t-1 and t, post ones g-1 and t
        base = t - 1 if t < g else g - 1
        earlier = min(base, t)
        assert res[None].att[j] == pytest.approx(_hand_att(df, g, t, base, earlier), abs=1e-12)
        assert res["base_period"].att[j] == pytest.approx(
            _hand_att(df, g, t, base, g - 1), abs=1e-12
        )
        assert res["first_period"].att[j] == pytest.approx(_hand_att(df, g, t, base, 1), abs=1e-12)
    # they differ where the periods differ (pre-treatment cells of the default vs base_period)
    assert np.abs(res[None].att - res["first_period"].att).max() > 1e-3
    # aggregation weights: each unit's first-period weight, whatever fix_weights
    first = df[df["period"] == 1].set_index("id")["w"]
    np.testing.assert_array_equal(res[None].unit_weight, first.loc[res[None].unit_ids])
    assert res["base_period"].params.fix_weights == "base_period"


def test_fix_weights_unbalanced_per_observation_by_hand():
    df = _tv_panel()
    df = df.drop(df.sample(40, random_state=1).index)
    with pytest.warns(UserWarning, match="varies over time"):
        res = att_gt(
            df, *ARGS, weightsname="w", allow_unbalanced_panel=True, bstrap=False, cband=False
        )
    j = int(np.flatnonzero((res.group == 5) & (res.time == 6))[0])
    assert res.att[j] == pytest.approx(_hand_att(df, 5, 6, 4, None), abs=1e-12)
    # aggregation weights on an unbalanced panel: the unit's mean weight (as R)
    mean_w = df.groupby("id")["w"].mean()
    np.testing.assert_allclose(res.unit_weight, mean_w.loc[res.unit_ids], rtol=1e-14)


def test_time_invariant_weights_ignore_fix_weights(panel):
    fits = [
        att_gt(panel, *ARGS, weightsname="weight", fix_weights=fw, bstrap=False, cband=False)
        for fw in (None, "base_period", "first_period")
    ]
    for f in fits[1:]:
        np.testing.assert_array_equal(f.att, fits[0].att)


def test_fix_weights_invalid(panel):
    with pytest.raises(Exception, match="fix_weights must be one of"):
        att_gt(panel, *ARGS, weightsname="weight", fix_weights="varying")


# ---------------------------------------------------------------------------------------
# period columns: Period[Q], Period[Y], datetime, inf
# ---------------------------------------------------------------------------------------


def test_period_q_columns_are_quarter_indices(panel):
    ref = att_gt(panel, *ARGS, bstrap=False, cband=False)
    per = panel.assign(
        period=pd.PeriodIndex([index_to_quarter(q) for q in panel["period"]], freq="Q"),
    )
    res = att_gt(per, *ARGS, bstrap=False, cband=False)
    np.testing.assert_array_equal(res.time, ref.time)
    np.testing.assert_array_equal(res.group, ref.group)
    np.testing.assert_array_equal(res.att, ref.att)
    assert res.params.tlist[0] == 2005 * 4  # 2005Q1 -> year*4 + q - 1


@pytest.mark.filterwarnings("ignore:no never-treated units")
def test_period_q_cohort_column(panel):
    treated = panel[panel["gname"] > 0]
    per = treated.assign(
        gname=pd.PeriodIndex([index_to_quarter(q) for q in treated["gname"]], freq="Q"),
    )
    ref = att_gt(treated, *ARGS, control_group="notyettreated", bstrap=False, cband=False)
    res = att_gt(per, *ARGS, control_group="notyettreated", bstrap=False, cband=False)
    np.testing.assert_array_equal(res.att, ref.att)
    with_nat = per.astype({"gname": "period[Q-DEC]"})
    with_nat.loc[with_nat.index[:3], "gname"] = pd.NaT
    with pytest.raises(InputError, match="NaT") as err:
        att_gt(with_nat, *ARGS)
    assert err.value.column == "gname" and err.value.row == with_nat.index[0]


def test_period_y_is_year():
    df = pd.read_csv("tests/reference/mpdta.csv")
    ref = att_gt(df, "lemp", "year", "countyreal", "first.treat", bstrap=False, cband=False)
    per = df.assign(year=pd.PeriodIndex(df["year"].astype(str), freq="Y"))
    res = att_gt(per, "lemp", "year", "countyreal", "first.treat", bstrap=False, cband=False)
    np.testing.assert_array_equal(res.att, ref.att)
    np.testing.assert_array_equal(res.time, ref.time)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: pd.to_datetime(s.astype(str) + "-01-01"),  # dates
        lambda s: pd.PeriodIndex([pd.Period(f"{y}-03", "M") for y in s], freq="M"),  # months
    ],
)
def test_dates_and_other_periods_refused(make):
    df = pd.read_csv("tests/reference/mpdta.csv")
    bad = df.assign(year=make(df["year"]))
    with pytest.raises(InputError) as err:
        att_gt(bad, "lemp", "year", "countyreal", "first.treat")
    assert err.value.column == "year"
    assert "Period[" in str(err.value) or "dates" in str(err.value)


def test_never_treated_coded_inf():
    df = pd.read_csv("tests/reference/mpdta.csv")
    ref = att_gt(df, "lemp", "year", "countyreal", "first.treat", bstrap=False, cband=False)
    inf = df.assign(**{"first.treat": df["first.treat"].replace(0, np.inf)})
    res = att_gt(inf, "lemp", "year", "countyreal", "first.treat", bstrap=False, cband=False)
    np.testing.assert_array_equal(res.att, ref.att)
    assert res.params.cohort_sizes[0] == 309
    minus = df.assign(**{"first.treat": df["first.treat"].replace(0, -np.inf)})
    with pytest.raises(InputError, match="infinite"):
        att_gt(minus, "lemp", "year", "countyreal", "first.treat")


# ---------------------------------------------------------------------------------------
# imports
# ---------------------------------------------------------------------------------------


def test_import_does_not_load_scipy_stats():
    code = "import sys, kvk_analysis.did; print('scipy.stats' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"
