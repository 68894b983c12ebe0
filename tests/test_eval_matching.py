"""Matched comparison group: balance improves, matched set is usable by att_gt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation.matching import match_controls
from kvk_analysis.evaluation.testing import fit_att_gt, simulate_panel


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    # participation depends strongly on the pre-programme level
    return simulate_panel(n_units=300, share_treated=0.3, selection=2.0, effect=-0.5, seed=21)


@pytest.mark.parametrize("method", ["mahalanobis", "propensity"])
@pytest.mark.parametrize("replace", [False, True])
def test_balance_improves(panel: pd.DataFrame, method: str, replace: bool) -> None:
    res = match_controls(panel, method=method, replace=replace)
    bal = res.balance
    assert list(bal.index) == ["pre_level", "pre_trend", "log_pop"]
    assert bal.loc["pre_level", "smd_before"] > 1.0  # selection on the level
    assert abs(bal.loc["pre_level", "smd_after"]) < 0.5 * abs(bal.loc["pre_level", "smd_before"])
    assert bal["smd_after"].abs().mean() < bal["smd_before"].abs().mean()
    n_treated = panel.loc[panel["participant"], "kommunenummer"].nunique()
    assert len(res.matches) == n_treated and not res.unmatched
    if not replace:
        assert res.matches["control"].is_unique
    assert res.weights.loc[~res.weights["treated"], "weight"].sum() == pytest.approx(n_treated)


def test_balance_table_by_hand(panel: pd.DataFrame) -> None:
    res = match_controls(panel, covariates=("pre_level",))
    units = panel.groupby("kommunenummer").first()
    t = units.loc[units["participant"], "pre_level"]
    c = units.loc[units["never_treated"], "pre_level"]
    sd = np.sqrt((t.var() + c.var()) / 2)
    row = res.balance.loc["pre_level"]
    assert row["smd_before"] == pytest.approx((t.mean() - c.mean()) / sd, rel=1e-12)
    matched = units.loc[res.matches["control"], "pre_level"]
    assert row["mean_control_after"] == pytest.approx(matched.mean(), rel=1e-12)
    assert row["var_ratio_before"] == pytest.approx(t.var() / c.var(), rel=1e-12)


def test_exact_county_ratio_and_caliper(panel: pd.DataFrame) -> None:
    res = match_controls(panel, exact=("fylkesnr",), ratio=2, replace=True)
    county = panel.groupby("kommunenummer")["fylkesnr"].first()
    m = res.matches
    assert (county.loc[m["treated"]].to_numpy() == county.loc[m["control"]].to_numpy()).all()
    assert (m.groupby("treated").size() == 2).all()
    tight = match_controls(panel, method="propensity", caliper=0.01, replace=True)
    assert len(tight.unmatched) > 0
    assert len(tight.unmatched) + tight.weights["treated"].sum() == len(
        res.weights[res.weights["treated"]]
    )
    assert tight.params["caliper"] == 0.01


def test_subset_feeds_att_gt(panel: pd.DataFrame) -> None:
    from kvk_analysis.did import aggte

    res = match_controls(panel, replace=True)
    sub = res.subset(panel)
    assert set(sub["kommunenummer"]) == set(res.weights["unit"])
    assert sub["match_weight"].notna().all()
    ov = aggte(fit_att_gt(sub, weightsname="match_weight"), type="simple").overall
    assert abs(ov.estimate + 0.5) < 4 * ov.std_error
    assert "Participants matched" in res.summary()


def test_bad_input(panel: pd.DataFrame) -> None:
    two = simulate_panel(n_units=30, sectors=("care", "education"), seed=2)
    with pytest.raises(InputError, match="differs between rows"):
        match_controls(two)
    with pytest.raises(InputError, match="no column 'income'"):
        match_controls(panel, covariates=("income",))
    with pytest.raises(InputError, match="method"):
        match_controls(panel, method="cem")
    with pytest.raises(InputError, match="ratio"):
        match_controls(panel, ratio=0)
    with pytest.raises(EstimationError, match="without replacement"):
        match_controls(panel, ratio=5)
    with pytest.raises(EstimationError, match="never-participants"):
        match_controls(panel[panel["participant"]])
    missing = panel.copy()
    missing.loc[missing["kommunenummer"] == "1001", "log_pop"] = np.nan
    with pytest.raises(InputError, match="missing covariate"):
        match_controls(missing)
