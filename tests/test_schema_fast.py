"""The plain-pandas pre-checks in front of pandera (schema._plainly_valid, cohorts._plainly_valid).

A pre-check may send a valid table on to pandera (that only costs time), but it must never
pass a table pandera refuses: then an error would go unreported.  Each case below mutates a
valid table one way and checks "pre-check passes => pandera passes"; the valid tables
themselves must pass the pre-check (or the speed-up is gone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from kvk_analysis import cohorts
from kvk_analysis.readers import read_ks
from kvk_analysis.readers.tidy import dimension_columns
from kvk_analysis.schema import _plainly_valid, tidy_schema

DATA = Path(__file__).parent / "data" / "readers"
CODES = {"0101", "0104", "0111", "0219", "0821", "1119", "2030"}  # the sample's codes
RANGE = ("2005Q1", "2011Q4")


def _tidy() -> pd.DataFrame:
    return read_ks(DATA / "ks_aggregate.csv").drop(columns="_line")


def _pandera_accepts(df: pd.DataFrame, codes=CODES, period_range=RANGE) -> bool:
    schema = tidy_schema(codes, period_range, key=dimension_columns(df))
    try:
        schema.validate(df, lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError):
        return False
    return True


def _set(df: pd.DataFrame, column: str, value, row: int = 1) -> pd.DataFrame:
    out = df.copy()
    col = out[column].astype(object)
    col.iloc[row] = value
    out[column] = col.astype(df[column].dtype) if value is not None else col
    return out


def _tidy_cases() -> dict[str, pd.DataFrame]:
    df = _tidy()
    codes = sorted(set(df["kommunenummer"]))
    cases = {
        "valid": df,
        "nan lost days": df.assign(lost_days=df["lost_days"].where(df.index != 2)),
    }
    for column in ("kommunenummer", "sector", "measure", "status", "source"):
        cases[f"{column} NaN"] = df.assign(**{column: df[column].where(df.index != 1)})
        cases[f"{column} object"] = df.assign(**{column: df[column].astype(object)})
        cases[f"{column} string[python]"] = df.assign(**{column: df[column].astype("string")})
    for code in ("101", "01010", "9999", "03", "\u0660\u0661\u0660\u0661", "0101\n", " 0101", ""):
        cases[f"code {code!r}"] = _set(df, "kommunenummer", code)
    for column, value in (("sector", "alle"), ("measure", "sum"), ("status", "ok ")):
        cases[f"{column} {value!r}"] = _set(df, column, value)
    for column in ("lost_days", "contracted_days", "employees", "rate"):
        cases[f"{column} negative"] = _set(df, column, -1.0)
        cases[f"{column} float32"] = df.assign(**{column: df[column].astype("float32")})
        cases[f"{column} object"] = df.assign(**{column: df[column].astype(object)})
    cases["rate 150"] = _set(df, "rate", 150.0)
    cases["rate inf"] = _set(df, "rate", np.inf)
    cases["lost > contracted"] = _set(df, "lost_days", 1e9)
    cases["duplicate row"] = pd.concat([df, df.iloc[[3]]], ignore_index=True)
    period = df["period"].astype(object)
    cases["period as str"] = df.assign(period=df["period"].astype(str))
    cases["period NaT"] = df.assign(period=pd.PeriodIndex(period.where(df.index != 1), freq="Q"))
    cases["period monthly"] = df.assign(period=df["period"].dt.asfreq("M"))
    cases["period 2004Q4"] = df.assign(
        period=pd.PeriodIndex([pd.Period("2004Q4", "Q"), *period.iloc[1:]], freq="Q")
    )
    cases["missing column"] = df.drop(columns="source")
    cases["duplicate column"] = pd.concat([df, df[["rate"]]], axis=1)
    cases["extra dimension, unique"] = df.assign(sex="all")
    cases["extra dimension, duplicate key"] = pd.concat(
        [df.assign(sex="female"), df.iloc[[0]].assign(sex="female")], ignore_index=True
    )
    cases["unknown code of the list"] = df.assign(
        kommunenummer=df["kommunenummer"].replace(codes[0], "1234")
    )
    return cases


@pytest.mark.parametrize("name", list(_tidy_cases()))
def test_tidy_precheck_never_passes_what_pandera_refuses(name):
    df = _tidy_cases()[name]
    fast = _plainly_valid(df, CODES, RANGE, dimension_columns(df))
    if fast:
        assert _pandera_accepts(df), name
    if name in ("valid", "nan lost days", "extra dimension, unique"):
        assert fast and _pandera_accepts(df)  # the valid table takes the fast way


def test_tidy_precheck_without_codes_or_range():
    df = _tidy()
    assert _plainly_valid(df, None, None, dimension_columns(df))
    assert _pandera_accepts(df, None, None)
    odd = _set(df, "kommunenummer", "1234")
    assert _plainly_valid(odd, None, None, dimension_columns(odd))
    assert _pandera_accepts(odd, None, None)


REGISTRY = (
    "kommunenr,kommune,pulje,admitted,programme_start,left,source,membership_source\n"
    "0101,Halden,I,2007-01,2007-03,,doc,documented\n"
    "0104,Moss,II,2007-06-15,2007-09,2009-12,doc,documented\n"
    "0105,Sarpsborg,,2008-01,2008-02,,doc,simulated\n"
    ",Bydel Frogner,III,2008-01,2008-04,,doc,documented\n"
)


def _registry(tmp_path: Path) -> pd.DataFrame:
    """The frame read_registry validates (before its final dtype changes)."""
    p = tmp_path / "reg.csv"
    p.write_text(REGISTRY, encoding="utf-8")
    seen = {}
    original = cohorts._plainly_valid

    def spy(out):
        seen["out"] = out.copy()
        return original(out)

    cohorts._plainly_valid = spy
    try:
        cohorts.read_registry(p)
    finally:
        cohorts._plainly_valid = original
    return seen["out"]


def _registry_accepts(out: pd.DataFrame) -> bool:
    try:
        cohorts._schema().validate(out, lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError):
        return False
    return True


def test_registry_precheck_never_passes_what_pandera_refuses(tmp_path):
    out = _registry(tmp_path)
    assert cohorts._plainly_valid(out) and _registry_accepts(out)
    cases = {
        "code 3 digits": _set(out, "kommunenummer", "101"),
        "code 5 digits": _set(out, "kommunenummer", "01011"),
        "code duplicate": _set(out, "kommunenummer", "0101"),
        "code NaN": out.assign(kommunenummer=out["kommunenummer"].where(out.index != 1)),
        "code object": out.assign(kommunenummer=out["kommunenummer"].astype(object)),
        "code arabic digits": _set(out, "kommunenummer", "\u0660\u0661\u0660\u0664"),
        "kommune NaN": out.assign(kommune=out["kommune"].where(out.index != 1)),
        "pulje V": _set(out, "pulje", "V"),
        "pulje NaN": _set(out, "pulje", None),
        "pulje str dtype": out.assign(pulje=out["pulje"].astype("str")),
        "date 2005": _set(out, "admitted", pd.Timestamp("2005-12-31")),
        "date 2011": _set(out, "left", pd.Timestamp("2011-01-01")),
        "date edge": _set(out, "left", pd.Timestamp("2010-12-31")),
        "date us": out.assign(admitted=out["admitted"].astype("datetime64[us]")),
        "membership other": _set(out, "membership_source", "guessed"),
        "borough object": out.assign(is_borough=out["is_borough"].astype(object)),
        "missing column": out.drop(columns="left"),
    }
    for name, df in cases.items():
        if cohorts._plainly_valid(df):
            assert _registry_accepts(df), name
    assert cohorts._plainly_valid(cases["date edge"])
