"""SSB StatBank CSV exports and JSON-stat (PxWebApi)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.errors import InputError
from kvk_analysis.readers import read_sickleave, read_ssb_csv, read_ssb_jsonstat

DATA = Path(__file__).parent / "data" / "readers"


def key(df: pd.DataFrame, code: str, quarter: str, **dims) -> pd.Series:
    sel = (df["kommunenummer"] == code) & (df["period"] == pd.Period(quarter))
    for k, v in dims.items():
        sel &= df[k] == v
    assert sel.sum() == 1, (code, quarter, dims)
    return df[sel].iloc[0]


def test_long_csv_with_title_sex_and_symbols():
    df = read_ssb_csv(DATA / "ssb_long.csv")
    assert df.attrs["encoding"] == "cp1252"  # Latin-1 text
    assert "sex" in df.columns
    assert set(df["sex"]) == {"all", "male", "female"}
    # 7 municipalities x 4 quarters x 3 sexes; "0 Hele landet" left out and noted
    assert len(df) == 7 * 4 * 3
    assert any("Hele landet" in n for n in df.attrs["notes"])
    assert any(n.startswith("title: 12441") for n in df.attrs["notes"])
    assert any("foreløpige" in n for n in df.attrs["notes"])
    # Rate recomputed from days where both exist.
    ok = df[df["status"] == "ok"]
    np.testing.assert_allclose(ok["rate"], ok["lost_days"] / ok["contracted_days"] * 100)
    # Suppressed and missing cells.
    assert key(df, "2030", "2009Q2", sex="male")["status"] == "confidential"
    bo = key(df, "0821", "2008Q3", sex="all")
    assert bo["status"] == "missing" and np.isnan(bo["lost_days"]) and not np.isnan(bo["rate"])
    # Both sexes = men + women (the sample is consistent).
    both = key(df, "0101", "2009Q1", sex="all")["lost_days"]
    parts = (
        key(df, "0101", "2009Q1", sex="male")["lost_days"]
        + key(df, "0101", "2009Q1", sex="female")["lost_days"]
    )
    assert both == parts
    assert (df["_line"] > 3).all()


def test_wide_csv():
    df = read_ssb_csv(DATA / "ssb_wide.csv")
    assert len(df) == 7 * 4
    assert set(df["measure"]) == {"total"}  # "Egenmeldt og legemeldt" in the title
    assert key(df, "0101", "2008Q3")["rate"] == pytest.approx(9.2)
    hvaler = key(df, "0111", "2008Q3")
    assert hvaler["status"] == "not_applicable" and np.isnan(hvaler["rate"])
    baerum = key(df, "0219", "2009Q2")
    assert baerum["status"] == "zero" and baerum["rate"] == 0.0
    assert key(df, "0219", "2009Q2")["_line"] == 6


def test_by_variable_csv_broadcasts_contracted_days():
    df = read_ssb_csv(DATA / "ssb_by_variable.csv")
    assert set(df["measure"]) == {"doctor_certified"}  # "Tapte dagsverk, legemeldt"
    assert df["contracted_days"].notna().all() and df["employees"].notna().all()
    r = key(df, "0101", "2008Q3")
    assert r["rate"] == pytest.approx(r["lost_days"] / r["contracted_days"] * 100)


def test_long_csv_with_value_column(tmp_path):
    text = (
        '"region";"kvartal";"statistikkvariabel";"value"\n'
        '"0101 Halden";"2009K1";"Sykefraværsprosent, egenmeldt";1,2\n'
        '"0101 Halden";"2009K1";"Sykefraværsprosent, legemeldt";5,9\n'
        '"0101 Halden";"2009K1";"Endring fra året før";0,4\n'
    )
    p = tmp_path / "v.csv"
    p.write_text(text, encoding="utf-8")
    df = read_ssb_csv(p).set_index("measure")
    assert df.loc["self_certified", "rate"] == pytest.approx(1.2)
    assert df.loc["doctor_certified", "rate"] == pytest.approx(5.9)
    assert any("Endring" in n for n in df.attrs["notes"])


def _bad_csv(tmp_path: Path, replace: tuple[str, str], name: str = "bad_ssb.csv") -> Path:
    text = (DATA / "ssb_wide.csv").read_bytes().decode("latin-1")
    assert replace[0] in text
    p = tmp_path / name
    p.write_bytes(text.replace(replace[0], replace[1], 1).encode("latin-1"))
    return p


def test_bad_number_in_ssb_csv(tmp_path):
    p = _bad_csv(tmp_path, ('"0104 Moss";6,4', '"0104 Moss";6,4x'))
    with pytest.raises(InputError) as info:
        read_ssb_csv(p)
    err = info.value
    assert err.row == 4 and err.column == "Sykefraværsprosent 2008K3" and err.found == "6,4x"
    assert "bad_ssb.csv" in str(err) and "row 4" in str(err)


def test_wrong_quarter_label_in_ssb_csv(tmp_path):
    text = '"region";"kvartal";"Sykefraværsprosent"\n"0101 Halden";"2009K1";5,0\n"0101 Halden";"2009X2";5,0\n'
    p = tmp_path / "q.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_ssb_csv(p)
    assert (info.value.row, info.value.column, info.value.found) == (3, "kvartal", "2009X2")
    assert "q.csv" in str(info.value)


def test_missing_quarter_column_in_ssb_csv(tmp_path):
    p = tmp_path / "noq.csv"
    p.write_text('"region";"Sykefraværsprosent"\n"0101 Halden";5,0\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"noq\.csv, row 1") as info:
        read_ssb_csv(p)
    assert "kvartal" in str(info.value)


def test_rate_above_100_is_rejected_by_schema(tmp_path):
    p = _bad_csv(tmp_path, ('"0104 Moss";6,4', '"0104 Moss";106,4'), name="rate.csv")
    with pytest.raises(InputError) as info:
        read_sickleave(p)
    err = info.value
    assert err.row == 4 and "rate" in err.column
    msg = str(err)
    assert "rate.csv" in msg and "row 4" in msg and "between 0 and 100" in msg


def test_duplicate_cell_in_ssb_csv(tmp_path):
    text = '"region";"kvartal";"Sykefraværsprosent"\n"0101 Halden";"2009K1";5,0\n"0101 Halden";"2009K1";5,5\n'
    p = tmp_path / "dup.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_ssb_csv(p)
    assert info.value.row == 3 and info.value.column == "region" and "dup.csv" in str(info.value)


# ------------------------------------------------------------------ JSON-stat


def test_jsonstat_sample():
    df = read_ssb_jsonstat(DATA / "ssb_jsonstat.json")
    raw = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8"))
    assert len(df) == 3 * 2 * 4  # regions x sexes x quarters
    assert set(df["kommunenummer"]) == {"0101", "0104", "1119"}  # "K-0101" -> "0101"
    assert set(df["sex"]) == {"all", "female"}
    # Row-major order: value[0..2] is Halden, both sexes, 2008K3, (prosent, tapte, avtalte).
    first = key(df, "0101", "2008Q3", sex="all")
    assert first["lost_days"] == raw["value"][1] and first["contracted_days"] == raw["value"][2]
    # value[5] (Halden, both, 2008K4, avtalte) is ":" -> confidential, rate as published.
    sup = key(df, "0101", "2008Q4", sex="all")
    assert sup["status"] == "confidential" and np.isnan(sup["contracted_days"])
    assert sup["rate"] == raw["value"][3]
    # value[13], value[14] (Halden, female, 2008K3, tapte + avtalte) are ".." -> missing.
    miss = key(df, "0101", "2008Q3", sex="female")
    assert miss["status"] == "missing" and np.isnan(miss["lost_days"])
    assert df["_line"].isna().all()


def test_jsonstat_v1_bundle_and_sparse_values(tmp_path):
    raw = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8"))
    dims = raw.pop("dimension")
    dims["id"], dims["size"], dims["role"] = raw.pop("id"), raw.pop("size"), raw.pop("role")
    sparse = {str(i): v for i, v in enumerate(raw["value"]) if v is not None}
    bundle = {"dataset": {**raw, "dimension": dims, "value": sparse}}
    p = tmp_path / "v1.json"
    p.write_text(json.dumps(bundle), encoding="utf-8")
    a = read_ssb_jsonstat(p)
    b = read_ssb_jsonstat(DATA / "ssb_jsonstat.json")
    pd.testing.assert_frame_equal(a.drop(columns="source"), b.drop(columns="source"))


def test_jsonstat_malformed(tmp_path):
    raw = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8"))
    raw["value"] = raw["value"][:-1]
    p = tmp_path / "short.json"
    p.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputError, match=r"short\.json.*column 'value'"):
        read_ssb_jsonstat(p)
    raw = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8"))
    raw["dimension"]["Tid"]["category"]["index"] = {
        "2008M07": 0,
        "2008K4": 1,
        "2009K1": 2,
        "2009K2": 3,
    }
    p = tmp_path / "tid.json"
    p.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputError, match=r"tid\.json.*column 'Tid'.*2008M07"):
        read_ssb_jsonstat(p)
    p = tmp_path / "broken.json"
    p.write_text(
        '{"version": "2.0",\n "class": "dataset",\n "value": [1, 2,, 3]}', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"broken\.json, row 3"):
        read_ssb_jsonstat(p)


def test_jsonstat_value_that_is_not_a_number(tmp_path):
    raw = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8"))
    raw["value"][4] = "6,1"
    p = tmp_path / "text_value.json"
    p.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputError, match=r"text_value\.json.*column 'value'") as info:
        read_ssb_jsonstat(p)
    assert info.value.found == "4: '6,1'"
    raw["value"] = {"0": 5.0, str(len(raw["value"])): 1.0}  # sparse, one index past the end
    p.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputError, match="outside the cube"):
        read_ssb_jsonstat(p)


def test_csv_field_over_the_size_limit_names_the_row(tmp_path):
    p = tmp_path / "huge.csv"
    p.write_text(
        '"region";"kvartal";"Sykefraværsprosent"\n'
        '"0101 Halden";"2009K1";5,0\n'
        f'"0104 Moss";"2009K1";"{"9" * 200_000}"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="malformed CSV") as info:
        read_ssb_csv(p)
    assert info.value.row == 3 and "huge.csv" in str(info.value)


def test_comma_separated_export_with_decimal_points(tmp_path):
    text = (
        '"region","kvartal","Sykefraværsprosent"\n'
        '"0101 Halden","2009K1",6.1\n'
        '"0104 Moss","2009K1",".."\n'
    )
    p = tmp_path / "comma.csv"
    p.write_text(text, encoding="utf-8")
    df = read_sickleave(p)
    assert df.attrs["source"] == "ssb-csv"
    assert df.set_index("kommunenummer").loc["0101", "rate"] == pytest.approx(6.1)
    assert df.set_index("kommunenummer").loc["0104", "status"] == "missing"


def test_jsonstat_status_as_list(tmp_path):
    raw = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8"))
    status = [None] * len(raw["value"])
    for k, v in raw["status"].items():
        status[int(k)] = v
    raw["status"] = status
    p = tmp_path / "list.json"
    p.write_text(json.dumps(raw), encoding="utf-8")
    a = read_ssb_jsonstat(p)
    b = read_ssb_jsonstat(DATA / "ssb_jsonstat.json")
    pd.testing.assert_frame_equal(a.drop(columns="source"), b.drop(columns="source"))


def test_wide_with_variable_column(tmp_path):
    text = (
        '"Sykefravær for lønnstakere etter bostedskommune"\n'
        '"region";"statistikkvariabel";"2009K1";"2009K2"\n'
        '"0101 Halden";"Tapte dagsverk";"1 200";"1 100"\n'
        '"0101 Halden";"Avtalte dagsverk";"20 000";"19 000"\n'
        '"0101 Halden";"Sykefraværsprosent";"6,0";"5,8"\n'
    )
    p = tmp_path / "wide_var.csv"
    p.write_text(text, encoding="utf-8")
    df = read_ssb_csv(p).set_index("period")
    q1 = df.loc[pd.Period("2009Q1")]
    assert (q1["lost_days"], q1["contracted_days"], q1["rate"]) == (1200, 20000, 6.0)
    assert df.loc[pd.Period("2009Q2"), "rate"] == pytest.approx(1100 / 19000 * 100)


def test_absence_type_and_industry_dimensions(tmp_path):
    text = (
        '"region";"næring (SN2007)";"sykefraværstype";"kvartal";"Sykefraværsprosent"\n'
        '"0101 Halden";"84 Offentlig administrasjon";"Egenmeldt og legemeldt";"2009K1";7,5\n'
        '"0101 Halden";"84 Offentlig administrasjon";"Egenmeldt";"2009K1";1,2\n'
        '"0101 Halden";"84 Offentlig administrasjon";"Legemeldt";"2009K1";6,3\n'
        '"0101 Halden";"85 Undervisning";"Legemeldt";"2009K1";5,1\n'
    )
    p = tmp_path / "types.csv"
    p.write_text(text, encoding="utf-8")
    df = read_sickleave(p)
    assert "industry" in df.columns and "sykefravaerstype" not in df.columns
    adm = df[df["industry"] == "84 Offentlig administrasjon"].set_index("measure")["rate"]
    assert adm.to_dict() == {"total": 7.5, "self_certified": 1.2, "doctor_certified": 6.3}
    bad = tmp_path / "badtype.csv"
    bad.write_text(text.replace('"Egenmeldt";', '"Fravær";'), encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_ssb_csv(bad)
    assert (info.value.row, info.value.column) == (3, "sykefraværstype")


def test_semicolon_export_with_decimal_points(tmp_path):
    text = (
        '"region";"kvartal";"statistikkvariabel";"value"\n'
        '"0101 Halden";"2009K1";"Sykefraværsprosent";6.125\n'
        '"0104 Moss";"2009K1";"Sykefraværsprosent";5.3\n'
    )
    p = tmp_path / "points.csv"
    p.write_text(text, encoding="utf-8")
    df = read_ssb_csv(p).set_index("kommunenummer")
    # "6.125" is a decimal here, not 6125: the file's other cells show a decimal point.
    assert df.loc["0101", "rate"] == pytest.approx(6.125)
    assert df.loc["0104", "rate"] == pytest.approx(5.3)
