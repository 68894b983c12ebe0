"""Municipality frame, population imputation and code harmonisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvk_analysis.errors import InputError
from kvk_analysis.municipalities import (
    NATIONAL_POPULATION_2008,
    code_info,
    harmonise_codes,
    load_frame,
    load_population,
    merged_frame,
)

INDRE_OSTFOLD = ["0122", "0123", "0124", "0125", "0138"]


def tidy(codes, periods=("2007Q1",), lost=None, contracted=None, sector="all"):
    """A small tidy table: one row per code x period."""
    rows = []
    for i, (c, p) in enumerate((c, p) for p in periods for c in codes):
        lo = 10.0 + i if lost is None else lost[i]
        co = 200.0 + 3 * i if contracted is None else contracted[i]
        rows.append(
            {
                "kommunenummer": c,
                "period": pd.Period(p, "Q"),
                "sector": sector,
                "measure": "total",
                "lost_days": lo,
                "contracted_days": co,
                "employees": 5.0,
                "rate": lo / co * 100,
                "status": "ok",
                "source": "ks test.csv",
            }
        )
    return pd.DataFrame(rows)


# --- frame and population ---------------------------------------------------------------


def test_frame_counts_and_types():
    f08, f07 = load_frame(2008), load_frame(2007)
    assert len(f08) == 430 and len(f07) == 431
    assert list(f08.columns) == ["kommunenummer", "kommune", "fylkesnr", "fylke"]
    assert f08["kommunenummer"].str.fullmatch(r"\d{4}").all()
    assert f08["fylkesnr"].str.fullmatch(r"\d{2}").all()
    assert "1505" in set(f08["kommunenummer"]) and "1505" not in set(f07["kommunenummer"])
    assert {"1503", "1556"} <= set(f07["kommunenummer"])
    assert not {"1503", "1556"} & set(f08["kommunenummer"])
    assert f08["kommunenummer"].is_unique


def test_frame_rejects_other_years():
    with pytest.raises(InputError, match="2007 or 2008"):
        load_frame(2010)


def test_population_complete_and_flagged():
    pop = load_population()
    codes = set(load_frame(2007)["kommunenummer"]) | set(load_frame(2008)["kommunenummer"])
    assert set(pop["kommunenummer"]) == codes
    assert len(pop) == len(codes) * 5
    assert sorted(pop["year"].unique()) == [2005, 2006, 2007, 2008, 2009]
    assert pop["population"].notna().all() and (pop["population"] > 0).all()
    # imputed rows carry a method, observed rows none
    assert (pop.loc[pop["imputed"], "imputation"] != "").all()
    assert (pop.loc[~pop["imputed"], "imputation"] == "").all()
    raw = load_population(impute=False)
    assert (raw["population"].isna() == pop["imputed"]).all()
    assert (raw.loc[raw["population"].isna(), "imputation"] == "missing").all()
    # observed values are untouched (first data row of the source file)
    halden = pop[(pop["kommunenummer"] == "0101") & (pop["year"] == 2005)]
    assert halden["population"].item() == 27582
    missing_units = {"0706", "0719", "0720", "1503", "1556", "1723", "1729", "1901", "1915"}
    assert missing_units <= set(pop.loc[pop["imputed"], "kommunenummer"])


def test_population_sum_relations():
    pop = load_population().pivot(index="kommunenummer", columns="year", values="population")
    parts = pop.loc["1503"] + pop.loc["1556"]
    np.testing.assert_allclose(parts.to_numpy(), pop.loc["1505"].to_numpy())
    assert pop.loc["1505", 2008] == 22661  # observed
    f08 = load_frame(2008)["kommunenummer"]
    assert pop.loc[f08, 2008].sum() == pytest.approx(NATIONAL_POPULATION_2008)


# --- code table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "territory"),
    [
        ("3101", {"0101"}),  # Halden 2024
        ("3001", {"0101"}),  # Halden 2020-2023
        ("5004", {"1702"}),  # Steinkjer 2018-2019, before Verran joined
        ("5030", {"1662"}),  # Klæbu 2018-2019
        ("5011", {"1612"}),  # Hemne 2018-2019, before the split
        ("0715", {"0702", "0714"}),  # Holmestrand + Hof 2018-2019, Sande still apart
        ("0710", {"0706", "0719", "0720"}),
        ("1756", {"1723", "1729"}),
        ("1154", {"1160"}),  # Vindafjord before 2006
        ("1503", {"1505"}),
    ],
)
def test_code_territories(code, territory):
    assert set(code_info(code).territory) == territory


# --- harmonise_codes ---------------------------------------------------------------------------


def test_identity_returns_same_rows():
    df = tidy(["0101", "0219"], periods=("2007Q1", "2007Q2"))
    out, rep = harmonise_codes(df)
    pd.testing.assert_frame_equal(out, df)
    assert set(rep.to_frame()["rule"]) == {"identity"}


def test_kristiansund_frei_summed_and_rate_recomputed():
    df = tidy(["1503", "1556"], lost=[30.0, 10.0], contracted=[300.0, 700.0])
    out, rep = harmonise_codes(df)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["kommunenummer"] == "1505"
    assert row["lost_days"] == 40 and row["contracted_days"] == 1000 and row["employees"] == 10
    assert row["rate"] == pytest.approx(4.0)  # not the mean of 10 % and 1.43 %
    t = rep.to_frame()
    assert list(t.columns) == ["from_code", "from_name", "to_code", "to_name", "rule", "n_rows"]
    assert set(t["rule"]) == {"merged_2008"} and set(t["to_code"]) == {"1505"}
    assert "1503->1505" in rep.summary()


def test_later_codes_map_back():
    df = tidy(["3101", "5004", "0219"])
    df["kommunenummer"] = ["3101", "5004", "3201"]
    out, rep = harmonise_codes(df, vintage="2024")
    assert list(out["kommunenummer"]) == ["0101", "1702", "0219"]
    assert set(rep.to_frame()["rule"]) == {"recoded"}


def test_merged_code_refused_at_municipality_level():
    with pytest.raises(InputError) as err:
        harmonise_codes(tidy(["3118"]), path="x.csv")
    msg = str(err.value)
    assert "x.csv" in msg and "row 2" in msg and "'kommunenummer'" in msg
    assert "0124 Askim" in msg and "level='merged'" in msg


def test_merged_level_sums_all_members():
    later = tidy(["3118"], periods=("2021Q1",), lost=[50.0], contracted=[1000.0])
    parts = tidy(INDRE_OSTFOLD, lost=[1.0, 2, 3, 4, 5], contracted=[100.0] * 5)
    out, rep = harmonise_codes(pd.concat([later, parts], ignore_index=True), level="merged")
    assert set(out["kommunenummer"]) == {"3118"}
    q1 = out[out["period"] == pd.Period("2007Q1", "Q")].iloc[0]
    assert q1["lost_days"] == 15 and q1["contracted_days"] == 500
    assert q1["rate"] == pytest.approx(3.0)
    assert set(rep.to_frame()["rule"]) == {"merged", "merged_group"}
    mf = merged_frame()
    assert "3118" in set(mf["kommunenummer"])
    assert mf.set_index("kommunenummer").loc["3118", "members"] == ";".join(INDRE_OSTFOLD)


def test_partial_group_is_missing_not_summed():
    df = tidy(INDRE_OSTFOLD[:3])
    out, rep = harmonise_codes(df, level="merged")
    assert out["lost_days"].isna().all() and out["rate"].isna().all()
    assert (out["status"] == "missing").all()
    assert any("part of their unit" in n for n in rep.notes)
    only_1503, _ = harmonise_codes(tidy(["1503"]))
    assert only_1503["lost_days"].isna().all()


def test_missing_part_makes_sum_missing():
    df = tidy(["1503", "1556"])
    df.loc[1, ["lost_days", "rate"]] = np.nan
    df.loc[1, "status"] = "confidential"
    out, _ = harmonise_codes(df)
    assert np.isnan(out["lost_days"].iloc[0]) and np.isnan(out["rate"].iloc[0])
    assert out["contracted_days"].iloc[0] == df["contracted_days"].sum()
    assert out["status"].iloc[0] == "confidential"


@pytest.mark.parametrize("code", ["5055", "1806", "1108", "1130"])
def test_split_successors_refused_naming_them(code):
    with pytest.raises(InputError) as err:
        harmonise_codes(tidy([code]), vintage="2024")
    msg = str(err.value)
    for name in ("1571 Halsa", "1805 Narvik", "1854 Ballangen", "1129 Forsand"):
        assert name in msg


def test_unknown_and_malformed_codes():
    with pytest.raises(InputError, match="unknown code"):
        harmonise_codes(tidy(["0101", "0999"]), path="f.csv")
    df = tidy(["0101", "01x1"])
    with pytest.raises(InputError) as err:
        harmonise_codes(df, path="f.csv")
    assert err.value.row == 3 and err.value.column == "kommunenummer"
    with pytest.raises(InputError, match="not a municipality"):
        harmonise_codes(tidy(["2111"]))


def test_overlapping_codes_refused():
    with pytest.raises(InputError, match="counted twice") as err:
        harmonise_codes(tidy(["0101", "3001"]), path="f.csv")
    assert err.value.row == 3
    with pytest.raises(InputError, match="counted twice"):
        harmonise_codes(tidy(["1505", "1503", "1556"]))


def test_mixed_vintages_need_a_vintage():
    df = tidy(["1103", "3101"])
    with pytest.raises(InputError, match="vintage"):
        harmonise_codes(df)
    with pytest.raises(InputError, match="several 2008 municipalities"):
        harmonise_codes(df, vintage="2024")
    out, _ = harmonise_codes(df, vintage="2024", level="merged")
    assert set(out["kommunenummer"]) == {"1103", "0101"}


def test_integer_codes_are_padded():
    df = tidy(["0101"])
    df["kommunenummer"] = [101]
    out, _ = harmonise_codes(df)
    assert out["kommunenummer"].tolist() == ["0101"]


def test_bad_arguments():
    with pytest.raises(InputError, match="level"):
        harmonise_codes(tidy(["0101"]), level="county")
    with pytest.raises(InputError, match="code column"):
        harmonise_codes(tidy(["0101"]), code_column="knr")


days = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    lost=st.lists(days, min_size=5, max_size=5),
    extra=st.lists(st.floats(min_value=1, max_value=1e6), min_size=5, max_size=5),
)
def test_property_merged_sum_equals_parts(lost, extra):
    contracted = [lo + e for lo, e in zip(lost, extra, strict=True)]
    out, _ = harmonise_codes(tidy(INDRE_OSTFOLD, lost=lost, contracted=contracted), level="merged")
    assert len(out) == 1
    row = out.iloc[0]
    assert row["lost_days"] == pytest.approx(sum(lost))
    assert row["contracted_days"] == pytest.approx(sum(contracted))
    assert row["rate"] == pytest.approx(sum(lost) / sum(contracted) * 100)
    assert 0 <= row["rate"] <= 100


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(days, st.floats(min_value=1, max_value=1e5)), min_size=2, max_size=2),
    st.sampled_from(["2005Q1", "2006Q3", "2007Q4"]),
)
def test_property_kristiansund_whole_equals_parts(parts, period):
    lost = [a for a, _ in parts]
    contracted = [a + b for a, b in parts]
    df = tidy(["1503", "1556"], periods=(period,), lost=lost, contracted=contracted)
    out, _ = harmonise_codes(df)
    assert out["lost_days"].sum() == pytest.approx(df["lost_days"].sum())
    assert out["contracted_days"].sum() == pytest.approx(df["contracted_days"].sum())
    assert out["rate"].iloc[0] == pytest.approx(sum(lost) / sum(contracted) * 100)
