"""Cohort registry: reading, validation, first treated quarter, summary."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from kvk_analysis import config
from kvk_analysis.cohorts import (
    OUTPUT_COLUMNS,
    first_treated_period,
    read_registry,
    registry_summary,
)
from kvk_analysis.errors import InputError

HEADER = "kommunenr,kommune,pulje,admitted,programme_start,left,source,membership_source"


def write(tmp_path, lines, name="reg.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def test_shipped_documented_registry_reads_cleanly():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = read_registry(config.COHORTS_DIR / "kvk_participants_documented.csv")
    assert len(reg) == 33
    assert list(reg.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS
    assert {"pulje_known_range", "evidence"} <= set(reg.columns)
    assert reg["pulje"].notna().sum() == 18 and reg["pulje"].isna().sum() == 15
    assert set(reg["pulje"].dropna()) == {"III", "IV"}
    assert (reg["membership_source"] == "documented").all()
    assert not reg["is_borough"].any()
    bjugn = reg.set_index("kommunenummer").loc["1627"]
    assert pd.isna(bjugn["admitted"]) and bjugn["programme_start"] == pd.Timestamp("2009-01-01")
    assert reg.set_index("kommunenummer").loc["0101", "pulje_known_range"] == "I-II"
    summary = registry_summary(reg)
    assert summary.loc["IV", "documented"] == 16 and summary.loc["III", "total"] == 2
    assert summary.loc["unknown", "total"] == 15 and summary.loc["total", "total"] == 33


def test_valid_registry_with_boroughs_and_simulated_rows(tmp_path):
    path = write(
        tmp_path,
        [
            HEADER + ",unit_type",
            "0101,Halden,I,2007-03-28,2007-04,,press,documented,",
            "0219,Bærum,pulje 2,2007-10-17,2007-11-15,2009-06,press,simulated,",
            "030105,Bydel Frogner,III,2008-06,2008-08-28,,web,,borough",
            ",Bydel Stovner,,,,,web,,",
            "1503,Kristiansund,1,2007-03,2007-04,,x,,",
        ],
    )
    reg = read_registry(path)
    assert list(reg["pulje"].astype(object).where(reg["pulje"].notna(), None)) == [
        "I", "II", "III", None, "I",
    ]  # fmt: skip
    assert list(reg["is_borough"]) == [False, False, True, True, False]
    assert reg.loc[3, "kommunenummer"] == "030111"
    assert list(reg["membership_source"]) == ["documented", "simulated"] + ["documented"] * 3
    assert reg.loc[1, "left"] == pd.Timestamp("2009-06-01")
    assert reg["admitted"].dtype == "datetime64[ns]"
    s = registry_summary(reg)
    assert s.loc["II", "simulated"] == 1 and s.loc["total", "boroughs"] == 2


def test_semicolon_cp1252_and_xlsx(tmp_path):
    lines = [HEADER.replace(",", ";"), "0429;Åmot;IV;2008-11-04;2009-01;;x;"]
    reg = read_registry(write(tmp_path, lines, encoding="cp1252"))
    assert reg.loc[0, "kommune"] == "Åmot" and reg.loc[0, "pulje"] == "IV"
    df = pd.DataFrame(
        {"kommunenr": ["0429", "0101"], "kommune": ["Åmot", "Halden"], "pulje": ["IV", "V"]}
    )
    xlsx = tmp_path / "reg.xlsx"
    df.to_excel(xlsx, index=False)
    with pytest.raises(InputError) as err:
        read_registry(xlsx)
    assert err.value.row == 3 and err.value.column == "pulje" and str(xlsx) in str(err.value)


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("0101,Halden,V,,,,,", "pulje", "I, II, III, IV"),
        ("0101,Halden,I,2005-03,,,,", "admitted", "within 2006-2010"),
        ("0101,Halden,I,,2011-01-01,,,", "programme_start", "within 2006-2010"),
        ("0101,Halden,I,03/2007,,,,", "admitted", "YYYY-MM"),
        ("0101,Halden,I,2007-13,,,,", "admitted", "YYYY-MM"),
        ("0101,Halden,I,,,,,guessed", "membership_source", "documented or simulated"),
        ("0999,Nowhere,I,,,,,", "kommunenr", "valid in 2007 or 2008"),
        ("12345,Halden,I,,,,,", "kommunenr", "030101-030117"),
        ("0101,Halden,I,,2008-01,2007-06,,", "left", "after programme_start"),
    ],
)
def test_malformed_rows_name_row_and_column(tmp_path, line, column, expected):
    path = write(tmp_path, [HEADER, "0219,Bærum,IV,2008-11-04,2009-01,,x,", line])
    with pytest.raises(InputError) as err:
        read_registry(path)
    assert err.value.row == 3
    assert err.value.column == column
    assert expected in str(err.value) and str(path) in str(err.value)


def test_duplicate_unit(tmp_path):
    path = write(tmp_path, [HEADER, "0101,Halden,I,,,,,", "0219,Bærum,,,,,,", "0101,Halden,,,,,,"])
    with pytest.raises(InputError, match="more than once") as err:
        read_registry(path)
    assert err.value.row == 4 and err.value.column == "kommunenr"


def test_missing_column_and_empty_file(tmp_path):
    with pytest.raises(InputError) as err:
        read_registry(write(tmp_path, ["kommunenr,kommune", "0101,Halden"]))
    assert err.value.row == 1 and err.value.column == "pulje"
    with pytest.raises(InputError, match="no rows"):
        read_registry(write(tmp_path, [HEADER], name="empty.csv"))
    with pytest.raises(InputError, match="not found"):
        read_registry(tmp_path / "nope.csv")


def test_name_mismatch_warns(tmp_path):
    path = write(tmp_path, [HEADER, "0101,Moss,I,,,,,", "1736,Snåsa,II,,,,,"])
    with pytest.warns(UserWarning, match="'Halden'") as rec:
        read_registry(path)
    assert len(rec) == 1  # Snåsa matches "Snåase - Snåsa"


def test_unknown_borough_name(tmp_path):
    path = write(tmp_path, [HEADER, ",Bydel Atlantis,I,,,,,"])
    with pytest.raises(InputError, match="borough") as err:
        read_registry(path)
    assert err.value.row == 2


@pytest.fixture
def tiny(tmp_path):
    return read_registry(
        write(
            tmp_path,
            [
                HEADER,
                "0101,Halden,I,2007-03-28,2007-04-15,,x,",
                "0104,Moss,II,2007-10-17,2007-10-01,,x,",
                "0105,Sarpsborg,II,,,,x,",
                "0106,Fredrikstad,,,,,x,",
            ],
        )
    )


def test_first_treated_rules(tiny):
    q = lambda s: pd.Period(s, "Q")  # noqa: E731
    ps = first_treated_period(tiny)
    assert ps.dtype == "period[Q-DEC]" and ps.name == "first_treated"
    assert list(ps[:3]) == [q("2007Q2"), q("2007Q4"), q("2007Q4")]  # 0105 filled from pulje II
    assert pd.isna(ps[3])  # unknown pulje: never guessed
    ad = first_treated_period(tiny, "admitted")
    assert list(ad[:3]) == [q("2007Q1"), q("2007Q4"), q("2007Q4")]
    full = first_treated_period(tiny, "first_full_quarter")
    assert list(full[:3]) == [q("2007Q3"), q("2007Q4"), q("2007Q4")]
    strict = first_treated_period(tiny, fill_from_pulje=False)
    assert pd.isna(strict[2]) and pd.isna(strict[3])
    with pytest.raises(InputError, match="rule"):
        first_treated_period(tiny, "guess")
