"""Analysis panel: columns, types, treatment coding, covariates, balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.cohorts import read_registry
from kvk_analysis.errors import InputError
from kvk_analysis.panel import EXTRA_COLUMNS, PANEL_COLUMNS, build_panel, panel_balance
from kvk_analysis.periods import quarter_index

SECTORS = ("care", "education", "other")
QUARTERS = pd.period_range("2005Q1", "2009Q4", freq="Q")


def make_tidy(codes=("0101", "0104", "0105", "0106"), slope=0.25, quarters=QUARTERS):
    """Sector rows only (no 'all'), rate rising by ``slope`` pp per quarter in every sector."""
    rows = []
    for k, code in enumerate(codes):
        for i, p in enumerate(quarters):
            if code in ("1503", "1556") and p.year >= 2008:
                continue
            if code == "1505" and p.year < 2008:
                continue
            for j, s in enumerate(SECTORS):
                contracted = 1000.0 * (j + 1) + 10 * k
                rate = 5.0 + k + slope * i
                rows.append(
                    {
                        "kommunenummer": code,
                        "period": p,
                        "sector": s,
                        "measure": "total",
                        "lost_days": rate / 100 * contracted,
                        "contracted_days": contracted,
                        "employees": 10.0 * (j + 1),
                        "rate": rate,
                        "status": "ok",
                        "source": "ks demo.csv",
                    }
                )
    df = pd.DataFrame(rows)
    df["period"] = df["period"].astype("period[Q-DEC]")
    return df


@pytest.fixture
def registry(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text(
        "kommunenr,kommune,pulje,admitted,programme_start,left,source,membership_source\n"
        "0101,Halden,I,2007-03-28,2007-04-15,,x,simulated\n"
        "0104,Moss,II,2007-10-17,2007-11-01,2009-03-01,x,simulated\n"
        "0105,Sarpsborg,,,,,x,documented\n"
        "030105,Bydel Frogner,III,2008-06,2008-08-28,,x,documented\n",
        encoding="utf-8",
    )
    return read_registry(path)


def test_columns_types_and_treatment(registry):
    panel = build_panel(make_tidy(), registry, start="2005Q1", end="2009Q4")
    d = panel.data
    assert list(d.columns) == PANEL_COLUMNS + EXTRA_COLUMNS
    assert d["period"].dtype == "period[Q-DEC]"
    assert d["gname"].dtype == "Int64" and d["event_time"].dtype == "Int64"
    assert d["tname"].dtype == "int64" and d["participant"].dtype == bool
    assert set(d["sector"]) == {"all", *SECTORS}
    assert len(d) == 4 * len(QUARTERS) * 4
    assert not d.duplicated(["kommunenummer", "period", "sector"]).any()
    by = d.groupby("kommunenummer").first()
    assert by.loc["0101", "gname"] == quarter_index(pd.Period("2007Q2", "Q"))
    assert by.loc["0104", "gname"] == quarter_index(pd.Period("2007Q4", "Q"))
    assert pd.isna(by.loc["0105", "gname"])  # participant, cohort unknown
    assert by.loc["0106", "gname"] == 0  # never treated
    assert list(by["participant"]) == [True, True, True, False]
    assert list(by["never_treated"]) == [False, False, False, True]
    assert list(by["cohort_known"]) == [True, True, False, False]
    assert list(by["membership_source"]) == ["simulated", "simulated", "documented", "not_listed"]
    assert by.loc["0101", "pulje"] == "I" and pd.isna(by.loc["0106", "pulje"])
    halden = d[d["kommunenummer"] == "0101"]
    np.testing.assert_array_equal(
        halden["event_time"].to_numpy(dtype=float), (halden["tname"] - 8029).to_numpy(dtype=float)
    )
    assert d.loc[d["kommunenummer"] == "0106", "event_time"].isna().all()
    # left: recorded, still treated (intention to treat)
    moss = d[d["kommunenummer"] == "0104"]
    assert (moss["left"] == pd.Timestamp("2009-03-01")).all()
    assert (moss.loc[moss["period"] > pd.Period("2009Q1", "Q"), "event_time"] > 0).all()
    assert any("Oslo boroughs" in n for n in panel.notes)
    assert any("intention to treat" in n for n in panel.notes)
    assert (d["weight"] == d["contracted_days"]).all()


def test_sector_all_sums_days(registry):
    d = build_panel(make_tidy(), registry).data
    cell = d[(d["kommunenummer"] == "0104") & (d["period"] == pd.Period("2006Q2", "Q"))]
    parts = cell[cell["sector"] != "all"]
    total = cell[cell["sector"] == "all"].iloc[0]
    assert total["lost_days"] == pytest.approx(parts["lost_days"].sum())
    assert total["contracted_days"] == pytest.approx(parts["contracted_days"].sum())
    assert total["rate"] == pytest.approx(
        parts["lost_days"].sum() / parts["contracted_days"].sum() * 100
    )


def test_sector_all_missing_when_a_sector_row_is_absent(registry):
    tidy = make_tidy()
    drop = (tidy["kommunenummer"] == "0106") & (tidy["period"] == QUARTERS[0])
    drop &= tidy["sector"] == "care"
    panel = build_panel(tidy[~drop], registry)
    d = panel.data
    cell = d[(d["kommunenummer"] == "0106") & (d["period"] == QUARTERS[0]) & (d["sector"] == "all")]
    assert cell["lost_days"].isna().all() and (cell["status"] == "missing").all()
    assert any("lack a sector row" in n for n in panel.notes)
    assert not any("without sick-leave data" in n for n in panel.notes)


def test_registry_units_without_data_are_noted(registry):
    panel = build_panel(make_tidy(codes=("0101", "0106")), registry)
    assert "registry units without sick-leave data: 0104, 0105" in panel.notes


def test_existing_all_rows_are_kept(registry):
    tidy = make_tidy()
    allrows = tidy[tidy["sector"] == "care"].assign(sector="all", lost_days=1.0, rate=0.1)
    d = build_panel(pd.concat([tidy, allrows]), registry).data
    all_rows = d[d["sector"] == "all"]
    assert len(all_rows) == 4 * len(QUARTERS)  # one per unit and quarter, none made again
    assert (all_rows["lost_days"] == 1.0).all()


def test_covariates(registry):
    d = build_panel(make_tidy(slope=0.25), registry).data
    row = d[(d["kommunenummer"] == "0101") & (d["sector"] == "care")].iloc[0]
    # rate = 5 + 0.25 * i over 2005Q1-2006Q4 (i = 0..7): mean 5.875, slope 1 pp/year
    assert row["pre_level"] == pytest.approx(5.875)
    assert row["pre_trend"] == pytest.approx(1.0)
    assert row["population"] == 27835  # Halden 1 January 2007 (observed)
    assert row["log_pop"] == pytest.approx(np.log(27835))
    assert row["size_group"] == ">=20k"
    assert row["fylkesnr"] == "01" and row["fylke"] == "Østfold" and row["kommune"] == "Halden"


def test_balance_report(registry):
    tidy = make_tidy()
    assert build_panel(tidy, registry).balance.missing.empty
    gap = tidy.drop(tidy[(tidy["kommunenummer"] == "0105") & (tidy["period"] == QUARTERS[3])].index)
    panel = build_panel(gap, registry)
    b = panel.balance
    assert not b.balanced
    assert set(b.missing["kommunenummer"]) == {"0105"}
    assert set(b.missing["period"]) == {QUARTERS[3]}
    assert len(b.missing) == 4  # three sectors and 'all'
    assert "unbalanced" in b.summary()
    assert len(b.units_absent) == 430 - 4
    frame4 = panel.data[["kommunenummer", "kommune", "fylkesnr", "fylke"]].drop_duplicates()
    assert panel_balance(build_panel(tidy, registry).data, frame4).balanced


def test_kristiansund_parts_become_1505(registry):
    panel = build_panel(make_tidy(codes=("1503", "1556", "1505", "0101")), registry)
    d = panel.data
    assert "1503" not in set(d["kommunenummer"]) and "1505" in set(d["kommunenummer"])
    k = d[d["kommunenummer"] == "1505"]
    assert k["period"].nunique() == len(QUARTERS)
    assert "merged_2008" in set(panel.mapping.to_frame()["rule"])


def test_merged_level(registry):
    tidy = make_tidy(codes=("0122", "0123", "0124", "0125", "0138", "0101"))
    panel = build_panel(tidy, registry, level="merged")
    units = set(panel.data["kommunenummer"])
    assert units == {"3118", "0101"}
    g = panel.data[(panel.data["kommunenummer"] == "3118") & (panel.data["sector"] == "care")]
    part = tidy[(tidy["sector"] == "care") & (tidy["period"] == QUARTERS[0])]
    assert g.iloc[0]["lost_days"] == pytest.approx(part.iloc[:5]["lost_days"].sum())


def test_bad_inputs(registry):
    with pytest.raises(InputError, match="measure"):
        build_panel(make_tidy(), registry, measure="self_certified")
    with pytest.raises(InputError, match="lacks columns"):
        build_panel(make_tidy().drop(columns=["contracted_days"]), registry)
    with pytest.raises(InputError, match="no rows"):
        build_panel(make_tidy(), registry, start="2015Q1", end="2016Q4")
    dup = make_tidy()
    with pytest.raises(InputError, match="more than one row"):
        build_panel(pd.concat([dup, dup.iloc[:1]]), registry)


def test_sum_rows_joins_distinct_sources_per_group_in_sorted_order():
    """Summed rows name every distinct source of their parts, sorted and joined by "; ",
    in the order groups first appear (a sum with a missing part stays missing)."""
    from kvk_analysis.panel import _sum_rows

    df = pd.DataFrame(
        {
            "kommunenummer": ["0301", "0301", "1103", "1103", "0301", "1103"],
            "sector": ["care", "care", "care", "care", "education", "care"],
            "lost_days": [1.0, 2.0, 3.0, np.nan, 5.0, 1.0],
            "contracted_days": [10.0, 20.0, 30.0, 40.0, 50.0, 10.0],
            "employees": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            "source": ["b.csv", "a.csv", "c.csv", "c.csv", "a.csv", "a.csv"],
        }
    )
    out = _sum_rows(df, ["kommunenummer", "sector"])
    assert out["kommunenummer"].tolist() == ["0301", "1103", "0301"]
    assert out["source"].tolist() == ["a.csv; b.csv", "a.csv; c.csv", "a.csv"]
    assert out["lost_days"].iloc[0] == 3.0 and np.isnan(out["lost_days"].iloc[1])
    assert out["rate"].iloc[2] == 10.0
