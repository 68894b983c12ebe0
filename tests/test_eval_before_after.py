"""Before/after tables: recovery of a planted effect, ratio-of-sums means, clustered SEs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation.before_after import before_after_table
from kvk_analysis.evaluation.testing import simulate_panel
from kvk_analysis.periods import quarter_index

EFFECT = -0.5


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_panel(n_units=160, sectors=("care", "education"), effect=EFFECT, seed=3)


@pytest.fixture(scope="module")
def table(panel: pd.DataFrame) -> pd.DataFrame:
    return before_after_table(panel)


def test_recovers_planted_effect(table: pd.DataFrame) -> None:
    assert set(table["pulje"]) == {"I", "II", "III", "IV", "all"}
    assert set(table["sector"]) == {"care", "education"}
    pooled = table[table["pulje"] == "all"]
    for _, row in pooled.iterrows():
        assert abs(row["estimate"] - EFFECT) < 4 * row["std_error"]
        assert row["conf_low"] < EFFECT < row["conf_high"]
    # every cohort-sector cell is informative and near the truth
    cells = table[table["pulje"] != "all"]
    assert np.all(np.abs(cells["estimate"] - EFFECT) < 5 * cells["std_error"])


def test_estimate_is_difference_of_changes(table: pd.DataFrame) -> None:
    np.testing.assert_allclose(
        table["treated_change"], table["treated_after"] - table["treated_before"], atol=1e-12
    )
    np.testing.assert_allclose(
        table["estimate"], table["treated_change"] - table["comparison_change"], atol=1e-10
    )


def test_means_are_ratio_of_summed_days(panel: pd.DataFrame, table: pd.DataFrame) -> None:
    row = table[(table["pulje"] == "II") & (table["sector"] == "care")].iloc[0]
    g = quarter_index(pd.Period("2007Q3", freq="Q"))
    care = panel[panel["sector"] == "care"]
    treated = care[(care["pulje"] == "II") & care["tname"].between(g - 4, g - 1)]
    expected = treated["lost_days"].sum() / treated["contracted_days"].sum() * 100
    assert row["treated_before"] == pytest.approx(expected, rel=1e-12)
    comp = care[(care["gname"] == 0) & care["tname"].between(g, g + 3)]
    expected = comp["lost_days"].sum() / comp["contracted_days"].sum() * 100
    assert row["comparison_after"] == pytest.approx(expected, rel=1e-12)
    # not the unweighted mean of percentages
    assert row["treated_before"] != pytest.approx(treated["rate"].mean(), rel=1e-6)


def test_standard_error_matches_clustered_wls(panel: pd.DataFrame, table: pd.DataFrame) -> None:
    g = quarter_index(pd.Period("2008Q1", freq="Q"))
    d = panel[
        (panel["sector"] == "education") & ((panel["pulje"] == "III") | (panel["gname"] == 0))
    ]
    d = d[d["tname"].between(g - 4, g + 3)].copy()
    d["treat"] = (d["gname"] > 0).astype(int)
    d["post"] = (d["tname"] >= g).astype(int)
    fit = smf.wls("rate ~ treat * post", data=d, weights=d["contracted_days"]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d["kommunenummer"])[0]}
    )
    crv1 = before_after_table(panel, vcov="CRV1")
    row = crv1[(crv1["pulje"] == "III") & (crv1["sector"] == "education")].iloc[0]
    assert row["estimate"] == pytest.approx(fit.params["treat:post"], abs=1e-10)
    assert row["std_error"] == pytest.approx(fit.bse["treat:post"], rel=1e-8)
    assert row["n_treated"] == d.loc[d["treat"] == 1, "kommunenummer"].nunique()

    # default CRV3: the cluster jackknife of the 2x2 difference, computed here by hand
    def did(x: pd.DataFrame) -> float:
        m = x.groupby(["treat", "post"]).apply(
            lambda c: np.sum(c["rate"] * c["contracted_days"]) / c["contracted_days"].sum(),
            include_groups=False,
        )
        return (m[(1, 1)] - m[(1, 0)]) - (m[(0, 1)] - m[(0, 0)])

    ids = d["kommunenummer"].unique()
    full = did(d)
    loo = np.array([did(d[d["kommunenummer"] != u]) for u in ids])
    g = len(ids)
    jack = np.sqrt((g - 1) / g * np.sum((loo - full) ** 2))
    row = table[(table["pulje"] == "III") & (table["sector"] == "education")].iloc[0]
    assert row["estimate"] == pytest.approx(full, abs=1e-10)
    assert row["std_error"] == pytest.approx(jack, rel=1e-6)


def test_fixed_date_variant(panel: pd.DataFrame) -> None:
    tab = before_after_table(
        panel, before=("2008Q4", "2008Q4"), after=("2009Q3", "2009Q3"), by=("sector",)
    )
    assert list(tab["before_window"].unique()) == ["2008Q4"]
    assert list(tab["after_window"].unique()) == ["2009Q3"]
    assert tab["n_treated"].iloc[0] == panel.loc[panel["participant"], "kommunenummer"].nunique()
    assert (
        tab["n_comparison"].iloc[0] == panel.loc[panel["never_treated"], "kommunenummer"].nunique()
    )
    # everybody treated in both windows: the 2x2 difference is no programme effect
    assert abs(tab["estimate"].iloc[0]) < 4 * tab["std_error"].iloc[0]


def test_unweighted_and_not_yet(panel: pd.DataFrame) -> None:
    care = panel[panel["sector"] == "care"]
    tab = before_after_table(care, weights=None, by=("pulje",), comparison="not_yet_treated")
    row = tab[tab["pulje"] == "I"].iloc[0]
    g = quarter_index(pd.Period("2007Q1", freq="Q"))
    tr = care[(care["pulje"] == "I") & care["tname"].between(g, g + 3)]
    assert row["treated_after"] == pytest.approx(tr["rate"].mean(), rel=1e-12)
    # puljer III (2008Q1) and IV (2008Q3) have not joined by the end of pulje I's after window
    n_never = care.loc[care["never_treated"], "kommunenummer"].nunique()
    n_later = care.loc[care["pulje"].isin(["III", "IV"]), "kommunenummer"].nunique()
    assert row["n_comparison"] == n_never + n_later
    assert tab.loc[tab["pulje"] == "IV", "n_comparison"].iloc[0] == n_never


def test_bad_input(panel: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="no column 'lost'"):
        before_after_table(panel, yname="lost")
    with pytest.raises(InputError, match="variance type"):
        before_after_table(panel, vcov="HC1")
    with pytest.raises(InputError, match="comparison"):
        before_after_table(panel, comparison="everyone")
    with pytest.raises(InputError, match="both be event times"):
        before_after_table(panel, before=(-4, -1), after=("2009Q1", "2009Q4"))
    with pytest.raises(InputError, match="backwards"):
        before_after_table(panel, before=(-1, -4))
    with pytest.raises(InputError, match="before window must end"):
        before_after_table(panel, before=(-4, 0), after=(0, 3))
    with pytest.raises(InputError, match="more than one row"):
        before_after_table(panel, by=("pulje",))
    with pytest.raises(EstimationError, match="no treated observations in the after window"):
        before_after_table(panel, after=(30, 31))
    with pytest.raises(EstimationError, match="no participants"):
        before_after_table(panel[panel["never_treated"]])


def test_unknown_cohort(panel: pd.DataFrame) -> None:
    care = panel[panel["sector"] == "care"].copy()
    care["gname"] = care["gname"].astype("Int64")
    n_i = care.loc[care["pulje"] == "I", "kommunenummer"].nunique()
    unit = care.loc[care["pulje"] == "I", "kommunenummer"].iloc[0]
    care.loc[care["kommunenummer"] == unit, ["gname", "pulje"]] = pd.NA
    with pytest.warns(UserWarning, match="1 participant"):
        tab = before_after_table(care, by=("pulje",))
    assert tab.loc[tab["pulje"] == "I", "n_treated"].iloc[0] == n_i - 1
    fixed = before_after_table(care, before=("2006Q4", "2006Q4"), after=("2009Q1", "2009Q1"), by=())
    assert fixed["n_treated"].iloc[0] == care.loc[care["participant"], "kommunenummer"].nunique()
