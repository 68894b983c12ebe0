"""Tests of the core helpers: quarters, errors, atomic writes, encodings."""

from __future__ import annotations

import codecs

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvk_analysis import fileio, periods
from kvk_analysis.errors import InputError


@pytest.mark.parametrize(
    "text",
    [
        "2007Q1",
        "2007K1",
        "2007k1",
        "2007-Q1",
        "2007 Q1",
        "Q1-2007",
        "1. kvartal 2007",
        "1 kvartal 2007",
        "1. kv. 2007",
        "2007-02-15",
        "2007-03",
    ],
)
def test_parse_quarter_spellings(text):
    assert periods.parse_quarter(text) == pd.Period("2007Q1", freq="Q")


@pytest.mark.parametrize(
    "text",
    # a bare year or "year.quarter" is not a date: pandas would read it as January (Q1)
    ["2007Q5", "kvartal", "", "2007K0", "13. kvartal 2007", "2007", "2007.3", "2007-13-01"],
)
def test_parse_quarter_rejects(text):
    with pytest.raises(ValueError, match="not a quarter"):
        periods.parse_quarter(text)


@given(st.integers(min_value=1990, max_value=2030), st.integers(min_value=1, max_value=4))
def test_quarter_index_round_trip(year, q):
    p = pd.Period(year=year, quarter=q, freq="Q")
    idx = periods.quarter_index(p)
    assert periods.index_to_quarter(idx) == p
    assert periods.quarter_index(p + 1) == idx + 1  # consecutive across years


def test_quarter_index_series_and_known_value():
    s = pd.Series(pd.period_range("2006Q4", "2007Q2", freq="Q"))
    assert periods.quarter_index(s).tolist() == [8027, 8028, 8029]


def test_working_days():
    # 2007Q1: Jan 23, Feb 20, Mar 22 weekdays
    assert periods.working_days(pd.Period("2007Q1", freq="Q")) == 65


def test_input_error_message_names_file_row_column():
    err = InputError(
        "check the export",
        path="x.csv",
        row=12,
        column="rate",
        expected="a number between 0 and 100",
        found="104,3",
    )
    text = str(err)
    assert "x.csv" in text and "row 12" in text and "'rate'" in text
    assert "expected a number between 0 and 100" in text and "'104,3'" in text
    assert isinstance(err, ValueError)


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with fileio.atomic_write(target) as fh:
            fh.write("new partial")
            raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_success(tmp_path):
    target = tmp_path / "sub" / "t.csv"
    with fileio.atomic_path(target) as tmp:
        tmp.write_text("a;b\n", encoding="utf-8")
        assert not target.exists()
    assert target.read_text(encoding="utf-8") == "a;b\n"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (codecs.BOM_UTF8 + "Bærum".encode(), "utf-8-sig"),
        ("Bærum".encode(), "utf-8"),
        ("Bærum".encode("cp1252"), "cp1252"),
    ],
)
def test_detect_encoding(tmp_path, payload, expected):
    f = tmp_path / "t.csv"
    f.write_bytes(payload)
    text, enc = fileio.read_text(f)
    assert enc == expected and text == "Bærum"


def test_read_text_wrong_encoding_names_line(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes(b"a\nb\n\xe6x\n")
    with pytest.raises(InputError, match=r"t\.csv, row 3"):
        fileio.read_text(f, encoding="utf-8")


def test_atomic_outputs_get_normal_permissions(tmp_path):
    import os
    import stat

    target = tmp_path / "r.txt"
    with fileio.atomic_write(target) as fh:
        fh.write("x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
