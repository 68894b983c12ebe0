"""KS payroll-register extracts: aggregate CSV/xlsx and employee-level rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.errors import InputError
from kvk_analysis.readers import read_ks, read_ks_employee, read_sickleave

DATA = Path(__file__).parent / "data" / "readers"
AGG = DATA / "ks_aggregate.csv"
EMP = DATA / "ks_employee.csv"
HEADER = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"
)


def write(tmp_path: Path, text: str, name: str = "ks.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_aggregate_sample_shape_and_measures():
    df = read_ks(AGG)
    # 7 municipalities x 4 quarters x 3 sectors x 3 measures
    assert len(df) == 7 * 4 * 3 * 3
    assert df.attrs["encoding"] == "utf-8-sig"
    assert df.attrs["source"] == "ks"
    assert set(df["sector"]) == {"care", "education", "other"}
    assert set(df["measure"]) == {"self_certified", "doctor_certified", "total"}
    assert str(df["period"].dtype) == "period[Q-DEC]"
    assert df["kommunenummer"].str.fullmatch(r"\d{4}").all()
    # First data row of the file: 0101;Halden;2008K3;Pleie og omsorg;619;30 417,7;333,6;2 446,0
    row = df[
        (df["kommunenummer"] == "0101")
        & (df["period"] == pd.Period("2008Q3"))
        & (df["sector"] == "care")
    ]
    got = row.set_index("measure")
    assert got.loc["self_certified", "lost_days"] == pytest.approx(333.6)
    assert got.loc["doctor_certified", "lost_days"] == pytest.approx(2446.0)
    assert got.loc["total", "lost_days"] == pytest.approx(2779.6)
    assert got.loc["total", "contracted_days"] == pytest.approx(30417.7)
    assert got.loc["total", "employees"] == 619
    assert got.loc["total", "rate"] == pytest.approx(2779.6 / 30417.7 * 100)
    assert (got["_line"] == 2).all()


def test_total_is_sum_of_parts():
    df = read_ks(AGG)
    wide = df.pivot_table(
        index=["kommunenummer", "period", "sector"], columns="measure", values="lost_days"
    )
    np.testing.assert_allclose(wide["total"], wide["self_certified"] + wide["doctor_certified"])


def test_cp1252_and_bom_give_the_same_layout():
    a = read_ks(DATA / "ks_aggregate_cp1252.csv")
    assert a.attrs["encoding"] == "cp1252"
    assert len(a) == len(read_ks(AGG))


def test_xlsx_variant(tmp_path):
    from openpyxl import Workbook

    src = pd.read_csv(AGG, sep=";", dtype=str, encoding="utf-8-sig")
    wb = Workbook()
    ws = wb.active
    ws.append(list(src.columns))
    for rec in src.head(6).itertuples(index=False):
        vals = list(rec)
        # Excel stores numbers as numbers and drops the leading zero of the code.
        vals[0] = int(vals[0])
        for k in (4, 5, 6, 7):
            vals[k] = float(vals[k].replace("\u00a0", "").replace(",", "."))
        ws.append(vals)
    ws.append([])  # a blank row is skipped
    ws.append([104, "Moss", "2009K1", "Annet", 10, "630,0", ":", "12,0"])
    path = tmp_path / "ks.xlsx"
    wb.save(path)
    df = read_sickleave(path)  # auto-detected from content
    assert df.attrs["source"] == "ks"
    assert df.attrs["encoding"] == "xlsx"
    assert len(df) == 7 * 3
    assert (df["kommunenummer"].iloc[:18] == "0101").all()
    assert any("padded with zeros" in n for n in df.attrs["notes"])
    moss = df[df["kommunenummer"] == "0104"].set_index("measure")
    assert moss.loc["self_certified", "status"] == "confidential"
    assert np.isnan(moss.loc["total", "lost_days"])
    assert moss.loc["doctor_certified", "lost_days"] == 12.0


def test_suppressed_and_empty_cells(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + "\n0101;Halden;2007K1;Oppvekst;80;5 040,0;:;310,2\n0101;Halden;2007K2;Oppvekst;80;;41,0;-\n",
    )
    df = read_ks(p).set_index(["period", "measure"])
    q1, q2 = pd.Period("2007Q1"), pd.Period("2007Q2")
    assert df.loc[(q1, "self_certified"), "status"] == "confidential"
    assert df.loc[(q1, "total"), "status"] == "confidential"
    assert df.loc[(q1, "doctor_certified"), "status"] == "ok"
    assert df.loc[(q2, "doctor_certified"), "lost_days"] == 0.0
    assert df.loc[(q2, "doctor_certified"), "status"] == "missing"  # contracted days empty
    assert np.isnan(df.loc[(q2, "total"), "rate"])


def test_other_quarter_spellings(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + "\n0101;Halden;1. kvartal 2007;Alle;5;300;1;2\n0101;Halden;2007Q2;alle;5;300;1;2\n",
    )
    df = read_ks(p)
    assert set(df["period"].astype(str)) == {"2007Q1", "2007Q2"}
    assert set(df["sector"]) == {"all"}


@pytest.mark.parametrize(
    ("line", "column", "found"),
    [
        ("0101;Halden;2007K1;Oppvekst;80;5 040,0;12,x;310,2", "Tapte dagsverk egenmeldt", "12,x"),
        ("0101;Halden;2007K5;Oppvekst;80;5 040,0;12,0;310,2", "Kvartal", "2007K5"),
        ("0101;Halden;2007K1;Helse;80;5 040,0;12,0;310,2", "Sektor", "Helse"),
        ("01O1;Halden;2007K1;Oppvekst;80;5 040,0;12,0;310,2", "Kommunenr", "01O1"),
        ("0101;Halden;2007K1;Oppvekst;80;5.040,0.5;12,0;310,2", "Avtalte dagsverk", "5.040,0.5"),
    ],
)
def test_bad_cell_names_file_row_column(tmp_path, line, column, found):
    good = "0104;Moss;2007K1;Annet;12;700,0;3,0;20,0"
    p = write(tmp_path, HEADER + "\n" + good + "\n\n" + line + "\n", name="bad_ks.csv")
    with pytest.raises(InputError) as info:
        read_ks(p)
    err = info.value
    assert err.row == 4  # header, good row, blank line, bad row
    assert err.column == column
    assert err.found == found
    msg = str(err)
    assert "bad_ks.csv" in msg and "row 4" in msg and column in msg


def test_missing_column(tmp_path):
    p = write(
        tmp_path,
        HEADER.replace(";Tapte dagsverk legemeldt", "") + "\n0101;Halden;2007K1;Alle;1;2;3\n",
        name="short.csv",
    )
    with pytest.raises(InputError) as info:
        read_ks(p)
    assert info.value.row == 1
    assert info.value.column == "Tapte dagsverk legemeldt"
    assert "short.csv" in str(info.value)


def test_wrong_field_count(tmp_path):
    p = write(tmp_path, HEADER + "\n0101;Halden;2007K1;Alle;1;2;3\n", name="fields.csv")
    with pytest.raises(InputError, match=r"fields\.csv.*row 2"):
        read_ks(p)


def test_undecodable_bytes_name_row_and_column(tmp_path):
    text = HEADER + "\n0101;Halden;2007K1;Alle;1;2;3;4\n1119;H\u00e5;2007K1;Alle;1;2;3;4\n"
    p = write(tmp_path, text, name="latin.csv", encoding="cp1252")
    with pytest.raises(InputError) as info:
        read_ks(p, encoding="utf-8")
    err = info.value
    assert err.row == 3 and err.column == "Kommune"
    assert "latin.csv" in str(err) and "row 3" in str(err) and "Kommune" in str(err)
    # Detected, it reads.
    assert read_ks(p).attrs["encoding"] == "cp1252"


# ------------------------------------------------------------------ employee level


def _pandas_reference(path: Path, by_sex: bool = False) -> pd.DataFrame:
    """The naive aggregation, sorted like the tidy table (sector codes, periods)."""
    raw = pd.read_csv(path, sep=";", decimal=",", dtype={"Kommunenr": str})
    raw["Sektor"] = raw["Sektor"].map(
        {"Pleie og omsorg": "care", "Oppvekst": "education", "Annet": "other"}
    )
    raw["Kvartal"] = raw["Kvartal"].str.replace("K", "Q")
    keys = ["Kommunenr", "Kvartal", "Sektor"] + (["Kjonn"] if by_sex else [])
    return raw.groupby(keys).agg(
        contracted=("Avtalte dagsverk", "sum"),
        selfc=("Tapte dagsverk egenmeldt", "sum"),
        doctor=("Tapte dagsverk legemeldt", "sum"),
        n=("Ansattnr", "size"),
    )


def test_employee_aggregation_matches_pandas():
    df = read_ks_employee(EMP)
    ref = _pandas_reference(EMP)
    assert len(df) == 3 * len(ref)
    total = (
        df[df["measure"] == "total"].set_index(["kommunenummer", "period", "sector"]).sort_index()
    )
    np.testing.assert_allclose(total["contracted_days"], ref["contracted"].to_numpy())
    np.testing.assert_allclose(total["lost_days"], (ref["selfc"] + ref["doctor"]).to_numpy())
    np.testing.assert_array_equal(total["employees"], ref["n"].to_numpy())
    assert df["_line"].isna().all()
    assert df.attrs["source"] == "ks-employee"


def test_employee_by_sex():
    df = read_sickleave(EMP, by_sex=True)  # options pass through to the reader
    ref = _pandas_reference(EMP, by_sex=True)
    assert set(df["sex"]) == {"female", "male"}
    assert len(df) == 3 * len(ref)
    doc = df[df["measure"] == "doctor_certified"]
    assert doc["lost_days"].sum() == pytest.approx(ref["doctor"].sum())


def test_employee_streaming_in_many_blocks(tmp_path):
    rng = np.random.default_rng(3)
    n = 6000
    codes = rng.choice(["0101", "0104", "1119"], n)
    quarters = rng.choice(["2008K1", "2008K2"], n)
    sectors = rng.choice(["Pleie og omsorg", "Oppvekst", "Annet"], n)
    contracted = rng.uniform(20, 63, n).round(1)
    lost = (contracted * rng.uniform(0, 0.3, n)).round(1)
    lines = [
        "Kommunenr;Kvartal;Sektor;Ansattnr;Kjonn;Stillingsprosent;Avtalte dagsverk;Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"
    ]
    for i in range(n):
        lines.append(
            f"{codes[i]};{quarters[i]};{sectors[i]};{i};K;100;{str(contracted[i]).replace('.', ',')};0;"
            f"{str(lost[i]).replace('.', ',')}"
        )
    p = write(tmp_path, "\n".join(lines) + "\n", name="emp.csv")
    df = read_ks_employee(p)
    ref = _pandas_reference(p)
    total = (
        df[df["measure"] == "total"].set_index(["kommunenummer", "period", "sector"]).sort_index()
    )
    np.testing.assert_allclose(total["contracted_days"], ref["contracted"].to_numpy())
    np.testing.assert_allclose(total["lost_days"], ref["doctor"].to_numpy())
    assert total["employees"].sum() == n


EMP_HEADER = "Kommunenr;Kvartal;Sektor;Ansattnr;Kjonn;Stillingsprosent;Avtalte dagsverk;Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"


@pytest.mark.parametrize(
    ("bad", "column", "found"),
    [
        ("0101;2008K1;Oppvekst;7;K;100;63,0;1,0;abc", "Tapte dagsverk legemeldt", "abc"),
        ("0101;2008K9;Oppvekst;7;K;100;63,0;1,0;2,0", "Kvartal", "2008K9"),
        ("0101;2008K1;Skole;7;K;100;63,0;1,0;2,0", "Sektor", "Skole"),
    ],
)
def test_employee_bad_cell_is_located(tmp_path, bad, column, found):
    good = "\n".join(f"0104;2008K1;Annet;{i};M;50;31,5;0;1,5" for i in range(20))
    p = write(
        tmp_path, EMP_HEADER + "\n" + good + "\n" + bad + "\n" + good + "\n", name="emp_bad.csv"
    )
    with pytest.raises(InputError) as info:
        read_ks_employee(p)
    err = info.value
    assert err.row == 22 and err.column == column and err.found == found
    assert "emp_bad.csv" in str(err) and "row 22" in str(err)


def test_employee_missing_day_makes_group_missing(tmp_path):
    text = (
        EMP_HEADER
        + "\n0101;2008K1;Annet;1;K;100;63,0;1,0;2,0\n0101;2008K1;Annet;2;K;100;63,0;;2,0\n"
    )
    df = read_ks_employee(write(tmp_path, text)).set_index("measure")
    assert df.loc["self_certified", "status"] == "missing"
    assert np.isnan(df.loc["self_certified", "lost_days"])
    assert df.loc["doctor_certified", "lost_days"] == 4.0
    assert df.loc["doctor_certified", "employees"] == 2


def test_employee_wrong_field_count_and_encoding(tmp_path):
    p = write(tmp_path, EMP_HEADER + "\n0101;2008K1;Annet;1;K;100;63,0;1,0\n", name="short.csv")
    with pytest.raises(InputError) as info:
        read_ks_employee(p)
    assert info.value.row == 2 and "short.csv" in str(info.value)
    text = (
        EMP_HEADER
        + "\n0101;2008K1;Annet;1;K;100;63,0;1,0;2,0\n"
        + "1119;2008K1;\u00d8vrige;2;K;100;63,0;1,0;2,0\n"
    )
    p = write(tmp_path, text, name="enc.csv", encoding="cp1252")
    with pytest.raises(InputError) as info:
        read_ks_employee(p, encoding="utf-8")
    assert info.value.row == 3 and info.value.column == "Sektor"
    assert "enc.csv" in str(info.value)
    # Detected from the bytes, it reads ("Øvrige" is the sector "other").
    assert set(read_ks_employee(p)["sector"]) == {"other"}


def test_employee_xlsx_matches_csv(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for i, line in enumerate(EMP.read_text(encoding="utf-8").splitlines()):
        cells = line.split(";")
        if i:  # numbers as Excel stores them
            cells[0] = int(cells[0])
            cells[6:] = [float(c.replace(",", ".")) for c in cells[6:]]
        ws.append(cells)
    ws.append([104, "2008K1", "Helse", 1, "K", 100, 63.0, 1.0, 2.0])  # unknown sector
    path = tmp_path / "emp.xlsx"
    wb.save(path)
    with pytest.raises(InputError) as info:
        read_ks_employee(path)
    assert info.value.row == 62 and info.value.column == "Sektor" and "emp.xlsx" in str(info.value)
    ws.delete_rows(62)
    wb.save(path)
    a = read_sickleave(path, validate=False)
    assert a.attrs["source"] == "ks-employee"
    b = read_ks_employee(EMP)
    cols = ["kommunenummer", "period", "sector", "measure", "lost_days", "contracted_days"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    by_sex = read_ks_employee(path, by_sex=True)
    assert by_sex["employees"].sum() == b["employees"].sum()


def test_employee_thousands_separators_and_padded_keys_give_the_same_sums(tmp_path):
    """The fast path (DuckDB parses decimal commas) and the text path (space thousands
    separators, keys with surrounding spaces) aggregate to the same table."""
    lines = EMP.read_text(encoding="utf-8").splitlines()
    plain = read_ks_employee(EMP)
    changed = [lines[0]]
    for i, line in enumerate(lines[1:]):
        f = line.split(";")
        if i % 3 == 0:
            f[6] = f"0 {f[6]}" if "," in f[6] else f[6]  # "0 47,2": a space thousands group
            f[0] = f" {f[0]} "
        changed.append(";".join(f))
    p = write(tmp_path, "\n".join(changed) + "\n", name="spaces.csv")
    got = read_ks_employee(p)
    cols = ["kommunenummer", "period", "sector", "measure", "lost_days", "contracted_days"]
    pd.testing.assert_frame_equal(got[cols + ["employees"]], plain[cols + ["employees"]])


# ----------------------------------------------- employee level: rows polars alone would misread

GOOD = "0101;2008K1;Annet;1;K;100;63,0;1,0;2,0"


def _emp(tmp_path: Path, body: str, name: str = "emp.csv") -> Path:
    return write(tmp_path, EMP_HEADER + "\n" + body, name=name)


@pytest.mark.parametrize(
    ("body", "row", "found"),
    [
        # a short row among rows whose last cell is empty: polars reads it as empty cells
        (f"{GOOD}\n0101;2008K1;Annet;2;K;100;63,0;1,0;\n0101;2008K1;Annet;3;K;100;63,0\n", 4, 7),
        (f"0101;2008K1;Annet;1;K;100;63,0;1,0\n{GOOD}\n", 2, 8),  # the first data row
        # a surplus field: polars drops it silently when the column is not needed
        (f"{GOOD}\n{GOOD};9\n", 3, 10),
        (f"{GOOD};x;y\n{GOOD}\n", 2, 11),
        # fields counted in Python when a line has quotes
        (f'{GOOD}\n"0101";2008K1;"Annet";2;K;100;63,0;1,0\n', 3, 8),
        (f"{GOOD}\n   \n", 3, 1),  # spaces only: a row of one field
    ],
)
def test_employee_wrong_width_is_located(tmp_path, body, row, found):
    with pytest.raises(InputError, match="wrong number of fields") as info:
        read_ks_employee(_emp(tmp_path, body, "width.csv"))
    assert info.value.row == row and info.value.found == found
    assert "width.csv" in str(info.value)


def test_employee_reordered_header_short_row(tmp_path):
    """The last column is a key here: its empty cells are counted on their own."""
    header = "Kvartal;Tapte dagsverk legemeldt;Kommunenr;Sektor;Avtalte dagsverk;Tapte dagsverk egenmeldt;Kjonn"
    ok = "2008K1;2,0;0101;Annet;63,0;1,0;K\n2008K1;;0101;Annet;63,0;1,0;\n"
    df = read_ks_employee(write(tmp_path, header + "\n" + ok)).set_index("measure")
    assert df.loc["self_certified", "lost_days"] == 2.0
    assert df.loc["doctor_certified", "status"] == "missing"
    p = write(tmp_path, header + "\n" + ok + "2008K1;2,0;0101;Annet;63,0;1,0\n", name="short.csv")
    with pytest.raises(InputError, match="wrong number of fields") as info:
        read_ks_employee(p)
    assert info.value.row == 4 and info.value.found == 6


def test_employee_blank_lines_and_trailing_delimiters_change_nothing(tmp_path):
    plain = read_ks_employee(_emp(tmp_path, f"{GOOD}\n{GOOD}\n", "plain.csv"))
    for body in (
        f"\n\n{GOOD}\n\n{GOOD}\n\n\n",  # blank lines after the header, between rows, at the end
        f"{GOOD};\n{GOOD};\n",  # a trailing ";" (an empty surplus field)
        f"{GOOD}\r\n\r\n{GOOD}\r\n",  # CRLF
    ):
        got = read_ks_employee(_emp(tmp_path, body, "variant.csv"))
        cols = ["kommunenummer", "period", "sector", "measure", "lost_days", "employees", "status"]
        pd.testing.assert_frame_equal(got[cols], plain[cols])
    with pytest.raises(InputError, match="no data rows"):
        read_ks_employee(_emp(tmp_path, "\n\n", "blank.csv"))


def test_employee_empty_last_cells_make_groups_missing_not_errors(tmp_path):
    body = (
        f"{GOOD}\n0101;2008K1;Annet;2;K;100;63,0;1,0;\n\n0104;2008K1;Annet;3;K;100;63,0;1,0;4,5\n"
    )
    df = read_ks_employee(_emp(tmp_path, body))
    doc = df[df["measure"] == "doctor_certified"].set_index("kommunenummer")
    assert doc.loc["0101", "status"] == "missing" and np.isnan(doc.loc["0101", "lost_days"])
    assert doc.loc["0104", "lost_days"] == 4.5 and doc.loc["0101", "employees"] == 2


@pytest.mark.parametrize(
    ("bad", "column"),
    [("nan;1,0;2,0", "Avtalte dagsverk"), ("63,0;inf;2,0", "Tapte dagsverk egenmeldt")],
)
def test_employee_non_finite_days_are_refused(tmp_path, bad, column):
    body = f"{GOOD}\n0101;2008K1;Annet;2;K;100;{bad}\n"
    with pytest.raises(InputError, match="not a number") as info:
        read_ks_employee(_emp(tmp_path, body))
    assert info.value.row == 3 and info.value.column == column


def test_employee_quoted_fields_and_cp1252_copy(tmp_path):
    body = f'{GOOD}\n"0101";"2008K1";"Annet";"2;3";K;100;"63,0";1,0;2,0\n'
    df = read_ks_employee(_emp(tmp_path, body))
    assert df.loc[df["measure"] == "total", "lost_days"].tolist() == [6.0]
    text = EMP_HEADER + "\n" + GOOD + "\n1119;2008K1;\u00d8vrige;2;K;100;63,0;1,0;-2,0\n"
    p = write(tmp_path, text, name="neg1252.csv", encoding="cp1252")
    with pytest.raises(InputError, match="negative") as info:
        read_ks_employee(p)
    assert info.value.row == 3 and info.value.column == "Tapte dagsverk legemeldt"


# ----------------------------------- employee level: the fast tidy table equals the general one


@pytest.mark.parametrize("by_sex", [False, True])
@pytest.mark.parametrize(
    "variant", ["plain", "empty cells", "reordered header", "cp1252", "colliding labels"]
)
def test_employee_fast_table_equals_the_general_one(tmp_path, monkeypatch, variant, by_sex):
    """The tidy table built straight from polars' group table is the frame the general path
    (pandas group table, tidy.finish) builds: values, dtypes, order, attrs."""
    from kvk_analysis.readers import ks

    lines = EMP.read_text(encoding="utf-8").splitlines()
    encoding = "utf-8"
    if variant == "empty cells":
        lines = [ln if i % 7 != 3 else ln.rsplit(";", 1)[0] + ";" for i, ln in enumerate(lines)]
        lines = [ln if i % 11 != 5 else ";".join(ln.split(";")[:6] + ["", *ln.split(";")[7:]])
                 for i, ln in enumerate(lines)]  # fmt: skip
    elif variant == "reordered header":
        order = [8, 0, 6, 2, 4, 1, 7, 3, 5]
        lines = [";".join(ln.split(";")[i] for i in order) for ln in lines]
    elif variant == "cp1252":
        lines = [ln.replace("Annet", "\u00d8vrige") for ln in lines]
        encoding = "cp1252"
    elif variant == "colliding labels":  # "104" and "0104": two groups, one key (kept apart)
        lines = [ln if i % 5 != 2 else ln.replace("0104;", "104;", 1) for i, ln in enumerate(lines)]
    p = write(tmp_path, "\n".join(lines) + "\n", name="emp.csv", encoding=encoding)
    built = []
    original = ks._employee_tidy_fast
    monkeypatch.setattr(
        ks, "_employee_tidy_fast", lambda *a: built.append(original(*a)) or built[-1]
    )
    fast = read_ks_employee(p, by_sex=by_sex)
    # the fast builder made the table, except where two labels map to one key
    assert (built[0] is None) == (variant == "colliding labels")
    monkeypatch.setattr(ks, "_employee_tidy_fast", lambda *args: None)
    general = read_ks_employee(p, by_sex=by_sex)
    pd.testing.assert_frame_equal(fast, general, check_exact=True)
    assert fast.attrs == general.attrs
    if variant == "empty cells":
        assert (fast["status"] == "missing").any() and (fast["status"] == "ok").any()
    if variant == "colliding labels":
        assert fast.duplicated(["kommunenummer", "period", "sector", "measure"]).any()


@pytest.mark.parametrize(
    ("bad", "column", "match"),
    [
        ("63,0;-1,0;2,0", "Tapte dagsverk egenmeldt", "negative"),
        ("63,0;1,0;-inf", "Tapte dagsverk legemeldt", "not a number"),
        ("-0,5;1,0;2,0;;", "Avtalte dagsverk", "negative"),  # empty surplus fields: no error
        ("63,0;1,0;;5", None, "wrong number of fields"),  # a surplus field, an empty cell
        ("63,0;1,0;2,0;true", None, "wrong number of fields"),  # a surplus polars reads
    ],
)
def test_employee_bad_values_found_by_the_sums_are_located(tmp_path, bad, column, match):
    body = f"{GOOD}\n{GOOD}\n0101;2008K1;Annet;2;K;100;{bad}\n{GOOD}\n"
    with pytest.raises(InputError, match=match) as info:
        read_ks_employee(_emp(tmp_path, body))
    assert info.value.row == 4 and "emp.csv" in str(info.value)
    if column:
        assert info.value.column == column


# ------------------------------- employee level: surplus fields after an empty one, CR line ends


@pytest.mark.parametrize(
    ("body", "row"),
    [
        (f"{GOOD};;7\n{GOOD}\n{GOOD}\n", 2),  # the first data row
        (f"{GOOD}\n{GOOD}\n{GOOD};;7\n", 4),  # the last data row
        (f"{GOOD}\n{GOOD};;7\n{GOOD}\n{GOOD};;;x\n\n", 3),  # the last one, found from the first
        (f"\n\n{GOOD};;;;7\r\n{GOOD}\r\n", 4),  # blank lines before, CRLF
    ],
)
def test_employee_surplus_field_after_an_empty_one_on_the_first_or_last_row(tmp_path, body, row):
    """A surplus field after an empty one escapes the sentinel column: checked on the first
    and the last data row (a whole extract one or two columns wider than its header shows
    there), and the first such line named."""
    with pytest.raises(InputError, match="wrong number of fields") as info:
        read_ks_employee(_emp(tmp_path, body, "surplus.csv"))
    assert info.value.row == row and "surplus.csv" in str(info.value)
    assert info.value.found == len(body.splitlines()[row - 2].rstrip("\r").split(";"))


def test_employee_trailing_delimiters_on_the_first_and_last_row_are_no_error(tmp_path):
    plain = read_ks_employee(_emp(tmp_path, f"{GOOD}\n{GOOD}\n", "plain.csv"))
    got = read_ks_employee(_emp(tmp_path, f"{GOOD};\n{GOOD}\n{GOOD};\n", "trailing.csv"))
    assert got["employees"].sum() == 1.5 * plain["employees"].sum()
    # several empty surplus fields, on the first row too (polars took the first row's width
    # as the file's and refused ";;" there only)
    cols = ["kommunenummer", "period", "sector", "measure", "lost_days", "employees", "status"]
    for body in (f"{GOOD};;\n{GOOD}\n", f"{GOOD};;;\n{GOOD};;\n", f"{GOOD}\n{GOOD};;\n"):
        got = read_ks_employee(_emp(tmp_path, body, "trailing2.csv"))
        pd.testing.assert_frame_equal(got[cols], plain[cols])
    with pytest.raises(InputError) as info:  # a non-empty one after them is still refused
        read_ks_employee(_emp(tmp_path, f"{GOOD};;7\n{GOOD}\n", "surplus.csv"))
    assert info.value.row == 2


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_employee_cr_only_line_ends_read_as_lf(tmp_path, encoding):
    """Lines ending in a bare CR (classic Mac OS) are lines, as in an editor: the same table
    as with LF, and errors name the same line (polars splits at LF only: a copy with LF)."""
    lines = EMP.read_text(encoding="utf-8").splitlines()
    lf = read_ks_employee(write(tmp_path, "\n".join(lines) + "\n", "lf.csv", encoding))
    cr = read_ks_employee(write(tmp_path, "\r".join(lines) + "\r", "cr.csv", encoding))
    pd.testing.assert_frame_equal(
        cr.drop(columns="source"), lf.drop(columns="source"), check_exact=True
    )
    fields = lines[3].split(";")
    bad = [*lines[:3], ";".join([*fields[:2], "Skole", *fields[3:]]), *lines[4:]]
    with pytest.raises(InputError) as info:
        read_ks_employee(write(tmp_path, "\r".join(bad), "cr_bad.csv", encoding))
    assert info.value.row == 4 and info.value.column == "Sektor"


def test_employee_labels_when_polars_categories_give_none(tmp_path, monkeypatch):
    """The labels come from the read's own polars categories; should those come back empty
    (the API is marked unstable), the key columns are grouped as they are: same table."""
    import polars as pl

    plain = read_ks_employee(EMP, by_sex=True)
    monkeypatch.setattr(pl.Categories, "__iter__", lambda self: iter([]))
    fallback = read_ks_employee(EMP, by_sex=True)
    pd.testing.assert_frame_equal(fallback, plain, check_exact=False, rtol=1e-12)
    assert fallback.attrs == plain.attrs


@pytest.mark.parametrize("labels", [["0101", "1119"], ["care", "", "education"], ["Øvrige", "æ"]])
def test_employee_str_columns_built_from_buffers_equal_pandas(labels):
    """The tidy table's str columns are built from Arrow buffers (no per-cell objects): the
    same arrays as pandas builds from the labels, empty and non-ASCII labels included."""
    from kvk_analysis.readers.ks import _str_take, _str_tile

    idx = np.array([len(labels) - 1, 0, 0, *range(len(labels))])
    expected = pd.array(labels, dtype="str").take(idx)
    pd.testing.assert_extension_array_equal(_str_take(labels, idx), expected)
    pd.testing.assert_extension_array_equal(_str_tile(labels, 3), pd.array(labels * 3, dtype="str"))
    assert len(_str_tile(labels, 0)) == 0
