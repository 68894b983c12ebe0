"""kvk's att_gt/aggte against R ``did``'s published numbers on mpdta and against csdid.

R's table (tests/reference/r_did_mpdta_attgt.csv) is transcribed from the README quoted in
tests/reference/PROVENANCE.md: ``att_gt(yname="lemp", tname="year", idname="countyreal",
gname="first.treat", xformla=~1, est_method="reg")``, printed to 4 decimals; its standard
errors come from R's multiplier bootstrap with 1000 draws (random).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.did import aggte, att_gt, inference

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module")
def r_table() -> pd.DataFrame:
    return pd.read_csv(REF / "r_did_mpdta_attgt.csv")


def _fit(mpdta: pd.DataFrame, **kw):
    return att_gt(mpdta, "lemp", "year", "countyreal", "first.treat", **kw)


def _bootstrap_z(inf, stat, r_value, reps=200, kind="rademacher", printed=5e-5):
    """Standardised distance of R's printed value from kvk's bootstrap distribution of
    ``stat(bootstrap result)`` over ``reps`` bootstraps of 1000 draws each (as R's printed
    results, which are one such draw); R's rounding to 4 decimals (``printed``) is allowed
    for.  |z| < 3 is expected for each value when kvk draws what R draws."""
    n = inf.shape[0]
    rng = np.random.default_rng(20261204)
    vals = np.array(
        [
            stat(inference.multiplier_bootstrap(inf, np.arange(n), n, 1000, 0.05, rng, kind))
            for _ in range(reps)
        ]
    )
    mean, sd = vals.mean(axis=0), vals.std(axis=0)
    dist = np.maximum(np.abs(np.asarray(r_value) - mean) - printed, 0.0)
    return np.sign(np.asarray(r_value) - mean) * dist / sd


class CheckRPublished:
    """R's published ATT(g,t), bootstrap SEs and uniform band on mpdta (one case per subclass)."""

    kwargs: dict = {}

    @pytest.fixture(scope="class")
    @classmethod
    def res(cls, mpdta):
        return _fit(mpdta, biters=5000, seed=20240501, **cls.kwargs)

    @pytest.mark.against_r
    def test_point_estimates(self, res, r_table):
        assert list(res.group) == list(r_table["group"])
        assert list(res.time) == list(r_table["time"])
        # printed to 4 decimals: rounding error <= 5e-5
        np.testing.assert_allclose(res.att, r_table["att"], atol=5.01e-5, rtol=0)

    @pytest.mark.against_r
    def test_bootstrap_se_within_bootstrap_noise(self, res, r_table):
        ratio = res.std_error / r_table["std_error"].to_numpy()
        assert np.all(np.abs(ratio - 1) < 0.10), ratio
        assert abs(np.mean(ratio) - 1) < 0.05

    @pytest.mark.against_r
    def test_analytic_se_close_to_r_bootstrap(self, res, r_table):
        ratio = res.analytic_se / r_table["std_error"].to_numpy()
        assert np.all(np.abs(ratio - 1) < 0.10), ratio

    @pytest.mark.against_r
    def test_uniform_band(self, res, r_table):
        assert res.uniform
        # R's band half-width / SE gives its critical value (about 2.6-2.9 with 1000 draws)
        r_crit = np.median(
            (r_table["band_high"] - r_table["band_low"]) / (2 * r_table["std_error"])
        )
        assert abs(res.critical_value / r_crit - 1) < 0.08
        # R draws Rademacher weights (BMisc::multiplier_bootstrap): R's critical value (one
        # 1000-draw bootstrap) lies inside the spread of kvk's 1000-draw critical values
        z = _bootstrap_z(res.influence, lambda b: b.critical_value, r_crit, printed=0.005)
        assert abs(z) < 3, z
        assert res.params.bootstrap_weights == "rademacher"
        tidy = res.tidy()
        assert (tidy["band"] == "uniform").all()
        np.testing.assert_allclose(
            tidy["conf_high"] - tidy["conf_low"], 2 * res.critical_value * res.std_error
        )


@pytest.mark.against_r
def test_mammen_band_differs_from_r(mpdta, r_table):
    """Why the default is Rademacher: with Mammen weights (kvk's default before 2026-12) the
    sup-t critical value is systematically larger: R's 2.63 lies about 2.8 standard deviations
    below the mean of Mammen's 1000-draw critical values (2.77) and about 1 below
    Rademacher's (2.68)."""
    res = _fit(mpdta, est_method="reg", bstrap=False, cband=False)
    r_crit = np.median((r_table["band_high"] - r_table["band_low"]) / (2 * r_table["std_error"]))
    # R's critical value is read off bands and SEs printed to 4 decimals: about +-0.005
    z_mammen = _bootstrap_z(res.influence, lambda b: b.critical_value, r_crit, kind="mammen")
    z_rademacher = _bootstrap_z(res.influence, lambda b: b.critical_value, r_crit)
    assert z_mammen < -2.5 and abs(z_rademacher) < 1.5, (z_mammen, z_rademacher)


class TestRPublishedReg(CheckRPublished):
    kwargs = {"est_method": "reg"}


class TestRPublishedDR(CheckRPublished):
    """Without covariates the DR estimator equals the regression one (same R table)."""

    kwargs = {"est_method": "dr", "xformla": "~1"}


class TestRPublishedIPW(CheckRPublished):
    kwargs = {"est_method": "ipw"}


def test_methods_identical_without_covariates(mpdta):
    fits = [_fit(mpdta, est_method=m, bstrap=False, cband=False) for m in ("reg", "dr", "ipw")]
    for f in fits[1:]:
        np.testing.assert_allclose(f.att, fits[0].att, rtol=0, atol=1e-12)
        np.testing.assert_allclose(f.analytic_se, fits[0].analytic_se, rtol=1e-10)


@pytest.fixture(scope="module")
def r_aggte() -> pd.DataFrame:
    return pd.read_csv(REF / "r_did_mpdta_aggte.csv", dtype={"index": str})


@pytest.mark.against_r
@pytest.mark.parametrize("typ", ["dynamic", "group"])
def test_aggregations_match_r_readme(mpdta, r_aggte, typ):
    """aggte overall and disaggregated effects printed in R did's README (see PROVENANCE)."""
    res = _fit(mpdta, est_method="reg", biters=5000, seed=7)
    agg = aggte(res, typ)
    ref = r_aggte[r_aggte["type"] == typ]
    ov = ref[ref["index"] == "overall"].iloc[0]
    # group overall printed to 3 decimals (-0.031), the rest to 4
    tol = 5.01e-4 if typ == "group" else 5.01e-5
    assert agg.overall.estimate == pytest.approx(ov["estimate"], abs=tol)
    assert abs(agg.overall.std_error / ov["std_error"] - 1) < 0.10
    rest = ref[ref["index"] != "overall"]
    np.testing.assert_array_equal(agg.egt, rest["index"].astype(int))
    np.testing.assert_allclose(agg.att_egt, rest["estimate"], atol=5.01e-5)
    # R's SEs are one draw of a 1000-draw Rademacher bootstrap: compare with the spread of
    # kvk's (same weights, same number of draws) rather than with one kvk draw
    z = _bootstrap_z(agg.influence_egt, lambda b: b.std_error, rest["std_error"].to_numpy())
    assert np.all(np.abs(z) < 3), z


@pytest.mark.against_r
def test_pretest_matches_r_readme(mpdta):
    """R prints "P-value for pre-test of parallel trends assumption: 0.16812"."""
    res = _fit(mpdta, est_method="reg", bstrap=False, cband=False)
    assert res.pretrend_test is not None
    assert res.pretrend_test.df == 5
    assert res.pretrend_test.p_value == pytest.approx(0.16812, abs=5e-6)
    assert "0.1681" in res.summary()


# ---------------------------------------------------------------------------------------
# cross-check with csdid (Python port of R/Stata csdid), analytic inference: exact.
# tests/reference/csdid_mpdta.csv is made by benchmarks/make_reference_csdid.py (csdid 0.4.3)
# ---------------------------------------------------------------------------------------


def _variants(mpdta: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data variants benchmarks/make_reference_csdid.py made the references from (its
    own function, loaded from the script, so the two can never drift apart)."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "make_reference_csdid.py"
    spec = importlib.util.spec_from_file_location("make_reference_csdid", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.variants(mpdta)


CSDID = pd.read_csv(REF / "csdid_mpdta.csv", comment="#")


@pytest.fixture(scope="module")
def variants(mpdta) -> dict[str, pd.DataFrame]:
    return _variants(mpdta)


@pytest.mark.filterwarnings("ignore:dropped 20 unit.s. of cohort.s. .2004.")
@pytest.mark.filterwarnings("ignore:sampling weight 'w' varies over time")
@pytest.mark.filterwarnings("ignore:.* not observed in the period whose weight")
@pytest.mark.parametrize("case", list(dict.fromkeys(CSDID["case"])))
def test_matches_csdid(variants, case):
    """ATT(g,t), the four aggregations and their analytic SEs equal csdid's (all settings:
    comparison groups, base periods, methods, covariates, weights, anticipation, unbalanced
    panels, time-varying weights with every fix_weights option, as R did 2.5).  For "dr" on unbalanced panels csdid's drdid_rc is the reference; its influence
    function differs in one sign from R DRDID's (see test_did_estimators.py)."""
    ref = CSDID[CSDID["case"] == case]
    kw = json.loads(ref["kvk_kwargs"].iloc[0])
    ours = _fit(variants[ref["data"].iloc[0]], bstrap=False, cband=False, **kw)
    cells = ref[ref["kind"] == "att_gt"]
    np.testing.assert_array_equal(ours.group, cells["group"].astype(int))
    np.testing.assert_array_equal(ours.time, cells["time"].astype(int))
    np.testing.assert_allclose(ours.att, cells["estimate"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(ours.std_error, cells["std_error"], rtol=1e-8)
    for typ in ("simple", "dynamic", "group", "calendar"):
        rows = ref[ref["kind"] == typ]
        agg = aggte(ours, typ)
        overall = rows[rows["index"].isna()].iloc[0]
        assert agg.overall.estimate == pytest.approx(overall["estimate"], abs=1e-10)
        assert agg.overall.std_error == pytest.approx(overall["std_error"], rel=1e-8)
        rest = rows[rows["index"].notna()]
        np.testing.assert_array_equal(agg.egt, rest["index"].astype(int))
        np.testing.assert_allclose(agg.att_egt, rest["estimate"], atol=1e-10)
        np.testing.assert_allclose(agg.se_egt, rest["std_error"], rtol=1e-8)


def test_csdid_cache_is_current(variants):
    """Live csdid (when installed) still gives the cached numbers for one rich case."""
    pytest.importorskip("csdid.att_gt")
    sys.path.insert(0, str(REF.parents[1] / "benchmarks"))
    try:
        from make_reference_csdid import run_csdid
    finally:
        sys.path.pop(0)
    case = "unbalanced-dr-lpop-weights"
    ref = CSDID[CSDID["case"] == case]
    live = pd.DataFrame(run_csdid(variants["unbalanced"], json.loads(ref["kvk_kwargs"].iloc[0])))
    np.testing.assert_allclose(live["estimate"], ref["estimate"], atol=1e-12)
    np.testing.assert_allclose(live["std_error"], ref["std_error"], rtol=1e-10)


def test_unbalanced_estimator_equals_panel_on_balanced_data(mpdta):
    from kvk_analysis.did._estimators import reg_did_panel, reg_did_unbalanced

    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    unit = mpdta.groupby("countyreal")[["first.treat", "lpop"]].first()
    sub = unit["first.treat"].isin([0, 2006]).to_numpy()
    d = (unit["first.treat"] == 2006).to_numpy()[sub]
    x = np.column_stack([np.ones(sub.sum()), unit["lpop"].to_numpy()[sub]])
    y1, y0 = wide[2006].to_numpy()[sub], wide[2005].to_numpy()[sub]
    w = np.ones(sub.sum())
    a_rc, f_rc = reg_did_unbalanced(y1, y0, x, x, d, ~d, w)
    a_p, f_p = reg_did_panel(y1 - y0, d.astype(float), x, w)
    assert a_rc == pytest.approx(a_p, abs=1e-12)
    np.testing.assert_allclose(f_rc, f_p, atol=1e-10)
