"""aggregate() sums days and recomputes rates; missing_summary() counts statuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvk_analysis.readers import aggregate, missing_summary, read_ks, read_ssb_csv
from kvk_analysis.readers.tidy import KEY_COLUMNS, TAIL_COLUMNS, VALUE_COLUMNS

DATA = Path(__file__).parent / "data" / "readers"
SECTORS = ["care", "education", "other"]


@st.composite
def tidy_tables(draw):
    codes = draw(
        st.lists(
            st.sampled_from(["0101", "0104", "0111", "1119"]), min_size=1, max_size=4, unique=True
        )
    )
    quarters = draw(st.lists(st.integers(0, 7), min_size=1, max_size=3, unique=True))
    rows = []
    for code in codes:
        for q in quarters:
            for sector in SECTORS:
                contracted = draw(st.floats(1.0, 1e6, allow_nan=False))
                share = draw(st.floats(0.0, 1.0))
                rows.append(
                    (
                        code,
                        pd.Period("2007Q1") + q,
                        sector,
                        contracted * share,
                        contracted,
                        draw(st.integers(1, 5000)),
                    )
                )
    df = pd.DataFrame(
        rows,
        columns=["kommunenummer", "period", "sector", "lost_days", "contracted_days", "employees"],
    )
    df["measure"], df["status"], df["source"] = "total", "ok", "test"
    df["employees"] = df["employees"].astype(float)
    df["rate"] = df["lost_days"] / df["contracted_days"] * 100
    return df[KEY_COLUMNS + VALUE_COLUMNS + TAIL_COLUMNS]


@settings(max_examples=30, deadline=None)
@given(df=tidy_tables())
def test_sum_of_parts_equals_whole(df):
    agg = aggregate(df, by=["kommunenummer", "period"])
    assert set(agg["sector"]) == {"all"}
    assert len(agg) == df.groupby(["kommunenummer", "period"]).ngroups
    for col in ["lost_days", "contracted_days", "employees"]:
        assert agg[col].sum() == pytest.approx(df[col].sum(), rel=1e-9)
    # The rate is recomputed from the summed days, never an average of rates.
    np.testing.assert_allclose(agg["rate"], agg["lost_days"] / agg["contracted_days"] * 100)
    # Aggregating twice (municipality level, then nation) equals aggregating once.
    nation_once = aggregate(df, by=["period"]).set_index("period")
    nation_twice = aggregate(agg, by=["period"]).set_index("period")
    np.testing.assert_allclose(nation_once["lost_days"], nation_twice["lost_days"], rtol=1e-9)
    np.testing.assert_allclose(nation_once["rate"], nation_twice["rate"], rtol=1e-9)
    assert set(nation_once.reset_index()["kommunenummer"]) == {"0000"}


@settings(max_examples=25, deadline=None)
@given(df=tidy_tables(), data=st.data())
def test_missing_part_makes_the_whole_missing(df, data):
    i = data.draw(st.integers(0, len(df) - 1))
    df.loc[i, ["lost_days", "rate"]] = np.nan
    df.loc[i, "status"] = "confidential"
    agg = aggregate(df, by=["kommunenummer", "period"]).set_index(["kommunenummer", "period"])
    hit = agg.loc[(df.loc[i, "kommunenummer"], df.loc[i, "period"])]
    assert np.isnan(hit["lost_days"]) and np.isnan(hit["rate"]) and hit["status"] == "confidential"
    assert (agg.drop(index=hit.name)["status"] == "ok").all()


def test_existing_totals_are_not_double_counted():
    df = read_ks(DATA / "ks_aggregate.csv")
    parts = aggregate(df, by=["kommunenummer", "period"])
    with_all = pd.concat([df, parts], ignore_index=True)
    again = aggregate(with_all, by=["kommunenummer", "period"])
    pd.testing.assert_frame_equal(again, parts)
    # A group that has only a ready-made total keeps it.
    only_total = parts[parts["kommunenummer"] == "0101"]
    kept = aggregate(
        pd.concat([df[df["kommunenummer"] != "0101"], only_total]), by=["kommunenummer", "period"]
    )
    pd.testing.assert_frame_equal(
        kept[kept["kommunenummer"] == "0101"].reset_index(drop=True),
        only_total.reset_index(drop=True),
    )


def test_measures_are_never_added():
    df = read_ks(DATA / "ks_aggregate.csv")
    agg = aggregate(df, by=["period"])
    assert set(agg["measure"]) == {"total", "self_certified", "doctor_certified"}
    t = agg.set_index(["period", "measure"])["lost_days"].unstack()
    np.testing.assert_allclose(t["total"], t["self_certified"] + t["doctor_certified"])


def test_aggregate_over_sex():
    df = read_ssb_csv(DATA / "ssb_long.csv")
    parts = df[df["sex"] != "all"]
    agg = aggregate(parts, by=["kommunenummer", "period"]).set_index(["kommunenummer", "period"])
    published = df[df["sex"] == "all"].set_index(["kommunenummer", "period"])
    ok = published.index[
        (published["status"] == "ok") & (agg.loc[published.index, "status"] == "ok")
    ]
    np.testing.assert_allclose(agg.loc[ok, "lost_days"], published.loc[ok, "lost_days"])
    with pytest.raises(ValueError, match="not a dimension"):
        aggregate(df, by=["kommune"])


def test_missing_summary_counts():
    df = read_ssb_csv(DATA / "ssb_long.csv")
    s = missing_summary(df)
    assert list(s.columns) == [
        "measure",
        "ok",
        "missing",
        "not_applicable",
        "confidential",
        "zero",
        "n",
        "share_missing",
    ]
    row = s.iloc[0]
    assert row["n"] == len(df)
    assert row["confidential"] == 1 and row["missing"] == 3
    assert row["share_missing"] == pytest.approx(4 / len(df))
    by_sex = missing_summary(df, by=["sex"]).set_index("sex")
    assert by_sex.loc["male", "confidential"] == 1 and by_sex["n"].sum() == len(df)
