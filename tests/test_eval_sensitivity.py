"""Sensitivity table (placebo dates, leave-one-cohort-out, comparison groups, covariates)
and the HonestDiD wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation.sensitivity import event_study_vcov, honest_did, sensitivity_table
from kvk_analysis.evaluation.testing import fit_att_gt, simulate_panel

EFFECT = -0.5


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_panel(n_units=200, effect=EFFECT, seed=31)


@pytest.fixture(scope="module")
def table(panel: pd.DataFrame) -> pd.DataFrame:
    return sensitivity_table(panel, placebo_shifts=(4, 8))


def _dynamic(panel: pd.DataFrame, **kwargs):
    from kvk_analysis.did import aggte

    return aggte(fit_att_gt(panel, **kwargs), type="dynamic", min_e=-4, max_e=3)


def test_table_has_all_specs(table: pd.DataFrame) -> None:
    expected = {
        "baseline",
        "not_yet_treated",
        "covariates",
        *(f"leave_out_{p}" for p in ("I", "II", "III", "IV")),
        *(f"placebo_{k}q_{p}" for k in (4, 8) for p in ("I", "II", "III", "IV")),
    }
    assert set(table["spec"]) == expected
    assert list(table.columns) == [
        "spec",
        "description",
        "estimate",
        "std_error",
        "p_value",
        "conf_low",
        "conf_high",
        "n_units",
        "n_treated",
        "note",
    ]


def test_real_specs_recover_effect(table: pd.DataFrame) -> None:
    real = table[~table["spec"].str.startswith("placebo")]
    assert np.all(np.abs(real["estimate"] - EFFECT) < 4 * real["std_error"])
    loo = table[table["spec"].str.startswith("leave_out")]
    base = table[table["spec"] == "baseline"].iloc[0]
    assert (loo["n_treated"] == base["n_treated"] - 20).all()  # 20 units per pulje


def test_placebo_dates_find_nothing(table: pd.DataFrame) -> None:
    placebo = table[table["spec"].str.startswith("placebo") & table["estimate"].notna()]
    assert len(placebo) == 7
    assert np.all(np.abs(placebo["estimate"]) < 4 * placebo["std_error"])
    assert (placebo["n_treated"] == 20).all()
    # pulje I joined 2007Q1: 8 quarters early is the panel's first quarter, no pre-period
    skipped = table[table["spec"] == "placebo_8q_I"].iloc[0]
    assert np.isnan(skipped["estimate"]) and "not estimable" in skipped["note"]


def test_placebo_detects_anticipation() -> None:
    # a fall in sick leave that starts 4 quarters before joining shows up in the placebo
    panel = simulate_panel(n_units=200, effect=EFFECT, seed=32)
    early = panel["participant"] & (panel["tname"] >= panel["gname"] - 4)
    panel.loc[early & (panel["tname"] < panel["gname"]), "rate"] += EFFECT
    tab = sensitivity_table(panel, specs=("placebo",), placebo_shifts=(4,))
    assert (tab["estimate"] < -0.3).all()
    assert (tab["conf_high"] < 0).all()


def test_event_study_vcov_matches_standard_errors(panel: pd.DataFrame) -> None:
    es = _dynamic(panel)
    egt, beta, vcov = event_study_vcov(es)
    np.testing.assert_array_equal(egt, es.egt)
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), es.se_egt, rtol=1e-10)
    assert np.allclose(vcov, vcov.T)


def test_bad_input(panel: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown sensitivity spec"):
        sensitivity_table(panel, specs=("jackknife",))
    with pytest.raises(InputError, match="no column 'pulje2'"):
        sensitivity_table(panel, cohort="pulje2")
    with pytest.raises(InputError, match="placebo shifts"):
        sensitivity_table(panel, specs=("placebo",), placebo_shifts=(0,))
    with pytest.raises(InputError, match="dynamic aggregation"):
        event_study_vcov(object())
    es = _dynamic(panel)
    with pytest.raises(EstimationError, match="event time 9"):
        honest_did(_dynamic(panel, base_period="universal"), e=9)
    with pytest.raises(InputError, match="restriction type"):
        honest_did(es, type="linear")


@pytest.mark.slow
def test_honest_did_smoothness(panel: pd.DataFrame) -> None:
    es = _dynamic(panel, base_period="universal")
    out = honest_did(es, type="smoothness", m_grid=[0.0, 0.05, 0.1])
    assert out["type"].tolist() == ["original", "smoothness", "smoothness", "smoothness"]
    orig = out.iloc[0]
    k = int(np.flatnonzero(es.egt == 0)[0])
    z = stats.norm.ppf(0.975)
    assert orig["conf_low"] == pytest.approx(es.att_egt[k] - z * es.se_egt[k], rel=1e-6)
    widths = (out["conf_high"] - out["conf_low"]).to_numpy()[1:]
    assert np.all(np.diff(widths) > 0)
    assert (out["conf_low"].iloc[1:] < EFFECT).all() and (out["conf_high"].iloc[1:] > EFFECT).all()


@pytest.mark.slow
def test_honest_did_relative_magnitudes(panel: pd.DataFrame) -> None:
    es = _dynamic(panel, base_period="universal")
    out = honest_did(es, m_grid=[0.0, 1.0], grid_points=60)
    assert out["M"].iloc[1:].tolist() == [0.0, 1.0]
    lo, hi = out["conf_low"].to_numpy(), out["conf_high"].to_numpy()
    assert lo[2] < lo[1] and hi[2] > hi[1]  # wider for larger Mbar
    assert lo[2] < EFFECT < hi[2]


def test_event_study_vcov_clusters_like_att_gt(panel: pd.DataFrame) -> None:
    """With clustervars the event-study covariance is the clustered one of the result."""
    from kvk_analysis.did import aggte
    from kvk_analysis.evaluation.testing import fit_att_gt

    es = aggte(fit_att_gt(panel, clustervars="fylkesnr"), type="dynamic")
    _, _, vcov = event_study_vcov(es)
    np.testing.assert_allclose(vcov, es.vcov(), rtol=1e-12)
    inf = es.influence_egt
    unclustered = inf.T @ inf / inf.shape[0] ** 2
    assert not np.allclose(np.diag(vcov), np.diag(unclustered))
