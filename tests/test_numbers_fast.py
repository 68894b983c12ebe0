"""parse_number_series' Arrow fast path against the pandas implementation it replaced.

The fast path must accept and reject exactly the cells the old code did (same values to the
bit, same statuses, the same first bad cell), and a reader must still name the file row and
column of a bad cell.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvk_analysis.errors import InputError
from kvk_analysis.numbers import (
    _EN_RE,
    _EXP_RE,
    _NB_RE,
    _SPACE_RE,
    _SPACES,
    SYMBOLS,
    NumberFormatError,
    _expected,
    parse_cell,
    parse_number_series,
)
from kvk_analysis.readers import read_ks


def _reference_series(
    series: pd.Series, *, decimal: Literal[",", "."] = ","
) -> tuple[pd.Series, pd.Series]:
    """The implementation before the Arrow fast path (commit a5005a8), verbatim."""
    n = len(series)
    values = np.full(n, np.nan)
    status = np.full(n, "missing", dtype=object)
    raw = series.to_numpy(dtype=object, na_value=None)
    if isinstance(series.dtype, pd.StringDtype):  # every non-missing cell is a str
        is_str = series.notna().to_numpy()
    else:
        is_str = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=n)
    # Non-string cells (numbers, None): one by one is fine, they are rare outside xlsx.
    for i in np.flatnonzero(~is_str):
        try:
            values[i], status[i] = parse_cell(raw[i], decimal=decimal)
        except NumberFormatError as exc:
            exc.position = int(i)
            raise
    if is_str.any():
        idx = np.flatnonzero(is_str)
        text = pd.Series(raw[idx], dtype="str").str.strip().str.strip(_SPACES)
        is_sym = text.isin(list(SYMBOLS)).to_numpy()
        if is_sym.any():
            sym = text[is_sym].map(SYMBOLS)
            values[idx[is_sym]] = sym.map(lambda t: t[0]).to_numpy(dtype=float)
            status[idx[is_sym]] = sym.map(lambda t: t[1]).to_numpy()
        rest = text[~is_sym]
        if len(rest):
            s = rest.str.replace(r"^[\u2212\u2013]", "-", regex=True)
            pattern = _NB_RE if decimal == "," else _EN_RE
            plain = s.str.match(pattern)
            expo = s.str.match(_EXP_RE)
            good = (plain | expo).to_numpy()
            s = s.str.replace(_SPACE_RE, "", regex=True)
            if not good.all():
                bad = int(np.flatnonzero(~good)[0])
                pos = int(idx[~is_sym][bad])
                raise NumberFormatError(raw[pos], _expected(decimal), position=pos)
            if decimal == ",":
                lit = s.where(expo, s.str.replace(".", "", regex=False))
                lit = lit.str.replace(",", ".", regex=False)
            else:
                lit = s.where(expo, s.str.replace(",", "", regex=False))
                lit = lit.str.replace(",", ".", regex=False)
            num = lit.astype("float64").to_numpy()
            if np.isinf(num).any():
                bad = int(np.flatnonzero(np.isinf(num))[0])
                pos = int(idx[~is_sym][bad])
                raise NumberFormatError(raw[pos], _expected(decimal), position=pos)
            values[idx[~is_sym]] = num
            status[idx[~is_sym]] = "ok"
    return (
        pd.Series(values, index=series.index, dtype="float64"),
        pd.Series(status, index=series.index, dtype="str"),
    )


def _outcome(fn, cells, decimal):
    try:
        values, status = fn(pd.Series(cells, dtype=object), decimal=decimal)
    except NumberFormatError as exc:
        return ("error", exc.position, exc.text, exc.expected)
    return (
        "ok",
        values.to_numpy().view(np.int64).tolist(),  # bit patterns: -0.0 and NaN compared too
        list(status),
        str(values.dtype),
        str(status.dtype),
    )


def assert_same(cells, decimal=","):
    assert _outcome(parse_number_series, cells, decimal) == _outcome(
        _reference_series, cells, decimal
    ), cells


EDGE = [
    "12 345,6", "12\u00a0345,6", "12\u2009345,6", "12\u202f345,6", "12\u2007345,6",
    "1 234 567", "1.234,5", "1.234.567", "5,3", "-3 201", "\u22123 201", "\u20133,5",
    "+0,5", ",5", "-,5", "  7  ", "\u00a07\u00a0", "0", "-0", "-0,0", "+0", "1e3", "1,5e3",
    "1.5E-3", "1.e5", "12,", "12.", ".5", "1e400", "-1e400", "1e-400", "9" * 400,
    "0,1000000000000000055511151231257827", "9007199254740993", "1,7976931348623159e308",
    "", " ", "..", "...", ".", ":", "-", "\u2013", "\u2212", " - ", "\t..\n",
    "1 23", "12 34,5", "1.23,4", "1,234", "1,234.5", "12a", "x", "\u0663", "\u0661\u0662,5",
    "1\n", "1\n2", "\u2212", "--1", "+-1", "1-", "e5", "1e", "1 e5", "1\u00a0000e2",
    "\u2212\u22121", "1\u200b0", "١٢٣", "1\x0b", "\x1c5\x1c", "\u30005\u3000",
]  # fmt: skip


@pytest.mark.parametrize("decimal", [",", "."])
@pytest.mark.parametrize("cell", EDGE)
def test_each_edge_cell_as_before(cell, decimal):
    assert_same(["1", cell, "2"], decimal)
    assert_same([cell], decimal)


@pytest.mark.parametrize("decimal", [",", "."])
def test_edge_cells_together_and_mixed_types(decimal):
    good = [c for c in EDGE if _outcome(parse_number_series, [c], decimal)[0] == "ok"]
    assert len(good) > 30
    assert_same(good, decimal)
    assert_same([*good, 3.5, None, np.nan, 7, *good], decimal)
    assert_same([*good, "1e999", "x", *good], decimal)  # malformed beats an earlier overflow
    assert_same(["1e999", *good, 2.0], decimal)
    assert_same([True, "x"], decimal)


def test_first_bad_cell_position_and_text():
    cells = ["1 000,5", "..", "-", "2,5", "3 00,0", "x", "1e999"]
    with pytest.raises(NumberFormatError) as info:
        parse_number_series(pd.Series(cells, dtype=object))
    assert (info.value.position, info.value.text) == (4, "3 00,0")
    with pytest.raises(NumberFormatError) as info:
        parse_number_series(pd.Series(["1", "1e999", "1e999"], dtype="str"))
    assert (info.value.position, info.value.text) == (1, "1e999")
    assert info.value.expected == _expected(",")


def test_string_dtype_and_index_kept():
    s = pd.Series(["1 234,5", None, "\u22122", ":"], index=[10, 20, 30, 40], dtype="str")
    values, status = parse_number_series(s)
    assert list(values.index) == [10, 20, 30, 40]
    assert values.tolist()[0] == 1234.5 and math.isnan(values.tolist()[1])
    assert values.tolist()[2:] == [-2.0, pytest.approx(float("nan"), nan_ok=True)]
    assert list(status) == ["ok", "missing", "ok", "confidential"]
    assert_same(list(s.astype(object).where(s.notna(), None)))


_ALPHABET = "0123456789 ,.+-eE:\u00a0\u2009\u202f\u2007\u2212\u2013\u0663x\n"
_cells = st.one_of(
    st.text(alphabet=_ALPHABET, max_size=8),
    st.sampled_from(EDGE),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(
        lambda x: f"{x:,.3f}".replace(",", " ").replace(".", ",")
    ),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**25), 10**25).map(lambda i: f"{i:,}".replace(",", "\u00a0")),
    st.sampled_from(list(SYMBOLS)),
)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_cells, min_size=1, max_size=12), decimal=st.sampled_from([",", "."]))
def test_fuzz_same_as_before(cells, decimal):
    assert_same(cells, decimal)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(_cells, min_size=1, max_size=6))
def test_fuzz_agrees_with_parse_cell(cells):
    try:
        values, status = parse_number_series(pd.Series(cells, dtype="str"))
    except NumberFormatError as exc:
        with pytest.raises(NumberFormatError):
            parse_cell(cells[exc.position])
        for cell in cells[: exc.position]:  # the cells before it parse (or overflow)
            try:
                parse_cell(cell)
            except NumberFormatError:
                assert True
        return
    for cell, v, s in zip(cells, values, status, strict=True):
        v1, s1 = parse_cell(cell)
        assert s == s1
        assert (math.isnan(v) and math.isnan(v1)) or v == v1


HEADER = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"
)


@pytest.mark.parametrize(
    ("cell", "column_index", "column"),
    [
        ("30 4x7,7", 5, "Avtalte dagsverk"),
        ("1 2,0", 6, "Tapte dagsverk egenmeldt"),
        ("1e999", 7, "Tapte dagsverk legemeldt"),
        ("\u0663\u00a0", 4, "Antall ansatte"),
    ],
)
def test_reader_names_row_and_column(tmp_path, cell, column_index, column):
    good = "0101;Halden;2008K{q};Pleie og omsorg;619;30 417,7;333,6;2\u00a0446,0"
    rows = [good.format(q=q) for q in (1, 2, 3)]
    fields = rows[1].split(";")
    fields[column_index] = cell
    rows[1] = ";".join(fields)
    p = tmp_path / "ks.csv"
    p.write_text("\n".join([HEADER, "", *rows]) + "\n", encoding="utf-8")  # blank line 2
    if cell == "\u0663\u00a0":  # an Arabic-Indic digit: accepted as before (Python's float)
        assert read_ks(p)["employees"].iloc[3] == 3.0
        return
    with pytest.raises(InputError) as info:
        read_ks(p)
    err = info.value
    assert (Path(err.path).name, err.row, err.column, err.found) == ("ks.csv", 4, column, cell)
    assert "ks.csv" in str(err) and "row 4" in str(err)
