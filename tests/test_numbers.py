"""Norwegian number parsing/formatting and SSB symbols."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvk_analysis.numbers import (
    NumberFormatError,
    format_number,
    parse_cell,
    parse_number,
    parse_number_series,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12 345,6", 12345.6),
        ("12\u00a0345,6", 12345.6),  # no-break space
        ("12\u2009345,6", 12345.6),  # thin space
        ("12\u202f345,6", 12345.6),  # narrow no-break space
        ("1 234 567", 1234567.0),
        ("1.234,5", 1234.5),
        ("1.234.567", 1234567.0),
        ("5,3", 5.3),
        ("-3 201", -3201.0),
        ("\u22123 201", -3201.0),  # minus sign
        ("+0,5", 0.5),
        (",5", 0.5),
        ("  7  ", 7.0),
        ("0", 0.0),
        ("1e3", 1000.0),
    ],
)
def test_parse_number_norwegian_forms(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "status", "value"),
    [
        ("..", "missing", math.nan),
        (".", "not_applicable", math.nan),
        (":", "confidential", math.nan),
        ("-", "zero", 0.0),
        ("", "missing", math.nan),
        (" ", "missing", math.nan),
        (None, "missing", math.nan),
        (float("nan"), "missing", math.nan),
        (3, "ok", 3.0),
        (2.5, "ok", 2.5),
    ],
)
def test_parse_cell_symbols(text, status, value):
    got_value, got_status = parse_cell(text)
    assert got_status == status
    assert (math.isnan(got_value) and math.isnan(value)) or got_value == value


@pytest.mark.parametrize(
    "text", ["5.3", "12 34", "1 2", "abc", "1,2,3", "12.34,5", "--", "1.23", "inf", True]
)
def test_parse_number_rejects(text):
    with pytest.raises(NumberFormatError):
        parse_number(text)


def test_parse_number_english():
    assert parse_number("12,345.6", decimal=".") == pytest.approx(12345.6)
    assert parse_number("5.3", decimal=".") == pytest.approx(5.3)
    with pytest.raises(NumberFormatError):
        parse_number("5,3", decimal=".")


def test_parse_number_series_values_status_and_index():
    s = pd.Series(
        ["12 345,6", "-", ":", "..", ".", None, 3.5, "7"], index=list("abcdefgh"), dtype=object
    )
    values, status = parse_number_series(s)
    assert list(values.index) == list("abcdefgh")
    np.testing.assert_allclose(
        values.to_numpy(), [12345.6, 0, np.nan, np.nan, np.nan, np.nan, 3.5, 7.0]
    )
    assert list(status) == [
        "ok",
        "zero",
        "confidential",
        "missing",
        "not_applicable",
        "missing",
        "ok",
        "ok",
    ]
    assert values.dtype == "float64"


def test_parse_number_series_reports_position():
    s = pd.Series(["1", "2", "x3", "4"], dtype="str")
    with pytest.raises(NumberFormatError) as info:
        parse_number_series(s)
    assert info.value.position == 2
    assert info.value.text == "x3"


@pytest.mark.parametrize(
    ("x", "decimals", "lang", "text"),
    [
        (12345.6, 1, "nb", "12\u00a0345,6"),
        (12345.6, 1, "en", "12,345.6"),
        (-1234567.891, 2, "nb", "-1\u00a0234\u00a0567,89"),
        (5.25, 0, "nb", "5"),
        (999.96, 1, "nb", "1\u00a0000,0"),
        (-0.04, 1, "nb", "0,0"),  # no "-0,0"
        (0.5, 2, "en", "0.50"),
        (float("nan"), 1, "nb", ""),
        (None, 1, "en", ""),
    ],
)
def test_format_number(x, decimals, lang, text):
    assert format_number(x, decimals, lang) == text


def test_format_number_options():
    assert (
        format_number(-12345.6, 1, "nb", thousands="\u202f", minus="\u2212")
        == "\u221212\u202f345,6"
    )
    assert format_number(12345.6, 1, "nb", thousands="") == "12345,6"
    assert format_number(float("nan"), 1, na_rep="..") == ".."
    with pytest.raises(ValueError, match="cannot format"):
        format_number(float("inf"))
    with pytest.raises(ValueError, match="lang must be"):
        format_number(1.0, 1, "de")  # type: ignore[arg-type]


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(x=finite, decimals=st.integers(0, 4), lang=st.sampled_from(["nb", "en"]))
def test_format_parse_round_trip(x, decimals, lang):
    text = format_number(x, decimals, lang)
    back = parse_number(text, decimal="," if lang == "nb" else ".")
    expected = float(f"{x:.{decimals}f}")
    assert back == pytest.approx(expected, rel=1e-15, abs=0.0) or back == expected == 0


@settings(max_examples=200, deadline=None)
@given(
    xs=st.lists(
        st.one_of(finite, st.sampled_from(["..", ":", ".", "-", ""])), min_size=1, max_size=30
    ),
    thousands=st.sampled_from(["\u00a0", " ", "\u2009", "\u202f", "."]),
)
def test_series_matches_scalar(xs, thousands):
    cells = [
        x if isinstance(x, str) else format_number(x, 2, "nb", thousands=thousands) for x in xs
    ]
    values, status = parse_number_series(pd.Series(cells, dtype="str"))
    for cell, v, s in zip(cells, values, status, strict=True):
        v1, s1 = parse_cell(cell)
        assert s == s1
        assert (math.isnan(v) and math.isnan(v1)) or v == v1
