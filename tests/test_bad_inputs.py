"""Issue 11 item 6: every bad input gives one clear line naming file, row and column, or is read
correctly.  Each case runs through the ``kvk`` entry point, as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kvk_analysis.cli import main
from kvk_analysis.errors import InputError
from kvk_analysis.periods import parse_quarter
from kvk_analysis.quality import data_quality_table
from kvk_analysis.readers import read_sickleave

DATA = Path(__file__).parent / "data" / "readers"
HEADER = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt\n"
)
REGISTRY = (
    "kommunenr,kommune,pulje,admitted,programme_start,left,source,membership_source\n"
    "0101,Halden,I,2007-03-28,2007-04-15,,x,simulated\n"
    "0104,Moss,,,,,x,documented\n"
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def one_error_line(err: str) -> str:
    """The message a user sees: one line starting with ``error:``, no traceback."""
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --------------------------------------------------------------------------- quarters


@pytest.mark.parametrize(
    ("text", "quarter"),
    [("2007-1", "2007Q1"), ("2007-3", "2007Q3"), ("2007-4", "2007Q4"), ("2007-03", "2007Q1"),
     ("2007-12", "2007Q4"), ("2007-3-15", "2007Q1"), (" 2008-2 ", "2008Q2")],
)  # fmt: skip
def test_year_dash_digit_is_a_quarter_and_two_digits_a_month(text, quarter):
    assert parse_quarter(text) == pd.Period(quarter, freq="Q")


@pytest.mark.parametrize("text", ["2007-5", "2007-9", "2007-0", "2007-13"])
def test_year_dash_other_digit_is_refused(text):
    with pytest.raises(ValueError, match="not a quarter"):
        parse_quarter(text)


def test_file_with_quarters_2007_1_to_4_is_read(tmp_path, capsys):
    rows = "".join(
        f"0101;Halden;2007-{q};Oppvekst;500;30 000,0;{100 * q},0;1 500,0\n" for q in (1, 2, 3, 4)
    )
    src = tmp_path / "dash.csv"
    src.write_text(HEADER + rows, encoding="utf-8")
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    assert status == 0, err
    out = pd.read_csv(tmp_path / "o.csv")
    total = out[out["measure"] == "total"].set_index("period")["lost_days"]
    assert total.to_dict() == {"2007Q1": 1600, "2007Q2": 1700, "2007Q3": 1800, "2007Q4": 1900}


def test_quarter_2007_5_names_file_row_column(tmp_path, capsys):
    src = tmp_path / "month.csv"
    src.write_text(HEADER + "0101;Halden;2007-5;Oppvekst;500;30 000,0;310,0;1 400,0\n")
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    line = one_error_line(err)
    assert status == 2 and str(src) in line and "row 2" in line and "'Kvartal'" in line


# --------------------------------------------------------------------------- employee level

EMPLOYEE = (DATA / "ks_employee.csv").read_text(encoding="utf-8")


def test_negative_employee_days_are_refused_with_line_and_column(tmp_path, capsys):
    lines = EMPLOYEE.splitlines(keepends=True)
    assert ";2,0;12,0" in lines[2]
    lines[2] = lines[2].replace(";2,0;12,0", ";-2,0;12,0")
    src = tmp_path / "neg.csv"
    src.write_text("".join(lines), encoding="utf-8")
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    line = one_error_line(err)
    assert status == 2 and str(src) in line and "row 3" in line
    assert "'Tapte dagsverk egenmeldt'" in line and "-2,0" in line
    assert not (tmp_path / "o.csv").exists()


def test_negative_employee_days_in_a_later_block(tmp_path):
    lines = EMPLOYEE.splitlines(keepends=True)
    k = len(lines) - 2
    fields = lines[k].split(";")
    fields[6] = "-" + fields[6]  # Avtalte dagsverk
    lines[k] = ";".join(fields)
    src = tmp_path / "neg.csv"
    src.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match="negative") as info:
        read_sickleave(src, source="ks-employee")
    assert info.value.row == k + 1 and info.value.column == "Avtalte dagsverk"


def test_negative_employee_days_in_xlsx(tmp_path):
    from openpyxl import Workbook

    rows = [ln.split(";") for ln in EMPLOYEE.splitlines()]
    wb = Workbook()
    ws = wb.active
    ws.append(rows[0])
    for r in rows[1:]:
        ws.append([*r[:6], *(float(x.replace(",", ".")) for x in r[6:])])
    ws.cell(row=4, column=9).value = -1.5
    wb.save(tmp_path / "emp.xlsx")
    with pytest.raises(InputError, match="negative") as info:
        read_sickleave(tmp_path / "emp.xlsx")
    assert info.value.row == 4 and info.value.column == "Tapte dagsverk legemeldt"


# --------------------------------------------------------------------------- published rates

RATES = (
    '"region";"kvartal";"Sykefravær i prosent";"Tapte dagsverk";"Avtalte dagsverk"\n'
    '"0101 Halden";"2008K3";105,3;6 000;100 000\n'
    '"0101 Halden";"2008K4";6,1;6 100;100 000\n'
    '"0104 Moss";"2008K3";5,0;5 049;100 000\n'
)


def test_published_rate_contradicting_days_is_reported_not_replaced_silently(tmp_path, capsys):
    src = tmp_path / "rates.csv"
    src.write_text(RATES, encoding="utf-8")
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    assert status == 0
    assert "published rate contradicts the days" in err and "line 2" in err and "105.3" in err
    tidy = read_sickleave(src)
    (conflict,) = tidy.attrs["rate_conflicts"]  # 6,1 and 5,0 (5.049 rounded) are no conflict
    assert conflict["line"] == 2 and conflict["published"] == 105.3
    assert conflict["from_days"] == pytest.approx(6.0)
    assert any("rate_conflict" in n for n in tidy.attrs["notes"])
    q = data_quality_table(tidy)
    row = q[q["check"] == "rate_conflict"].iloc[0]
    assert row["kommunenummer"] == "0101" and str(row["period"]) == "2008Q3"
    assert row["value"] == 105.3 and "6.00" in row["detail"]
    # the tidy rate itself is the one from the days
    assert tidy.loc[tidy["period"] == pd.Period("2008Q3"), "rate"].iloc[0] == pytest.approx(6.0)


def test_build_writes_rate_conflicts_to_the_quality_table_with_the_file(tmp_path, capsys):
    src = tmp_path / "rates.csv"
    src.write_text(RATES, encoding="utf-8")
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    out = tmp_path / "p"
    status, stdout, err = run(
        capsys, "data", "build", "--sickleave", src, "--registry", reg, "--processed-dir", out,
        "--start", "2008Q3", "--end", "2008Q4", "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert "published rate contradicts the days" in stdout
    q = pd.read_csv(out / "data_quality.csv", dtype=str)
    (detail,) = q.loc[q["check"] == "rate_conflict", "detail"]
    assert "rates.csv, line 2" in detail
    # reports read the build's table (notebooks 01 and 05), so the conflict reaches them too
    from kvk_analysis.quality import read_quality_table
    from kvk_analysis.report.tables import quality_summary

    typed = read_quality_table(out / "data_quality.csv")
    assert str(typed["period"].dtype) == "period[Q-DEC]" and typed["value"].dtype == float
    summary = quality_summary(typed, "en")
    assert summary["Check"].str.contains("rate", case=False).any(), summary


# --------------------------------------------------------------------------- JSON-stat


@pytest.mark.parametrize("missing", ["Tid", "Region"])
def test_jsonstat_dimension_missing_is_an_input_error(tmp_path, capsys, missing):
    obj = json.loads((DATA / "ssb_jsonstat.json").read_text(encoding="utf-8-sig"))
    del obj["dimension"][missing]
    src = tmp_path / "cube.json"
    src.write_text(json.dumps(obj), encoding="utf-8")
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    line = one_error_line(err)
    assert status == 2 and str(src) in line and f"dimension.{missing}" in line
    assert "KeyError" not in err


# --------------------------------------------------------------------------- formats, encodings

AGG = HEADER + (
    "0101;Halden;2007K1;Pleie og omsorg;812;50 234,0;612,5;4 210,3\n"
    "0104;Moss;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n"
)


def aggregate_sums(path: Path) -> pd.Series:
    tidy = read_sickleave(path)
    return tidy.set_index(["kommunenummer", "sector", "measure"])["lost_days"].sort_index()


def test_xlsx_saved_with_a_csv_name_is_read(tmp_path, capsys):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.strip().split(";"))
    ws.append(["0101", "Halden", "2007K1", "Pleie og omsorg", 812, 50234.0, 612.5, 4210.3])
    ws.append(["0104", "Moss", "2007K1", "Oppvekst", 400, 20000.0, 200.0, 1000.0])
    src = tmp_path / "export.csv"
    wb.save(src)
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    assert status == 0, err
    assert "source: ks" in err
    plain = tmp_path / "plain.csv"
    plain.write_text(AGG, encoding="utf-8")
    pd.testing.assert_series_equal(aggregate_sums(src), aggregate_sums(plain))


def test_utf16_unicode_text_is_read(tmp_path, capsys):
    """Excel "Unicode text": UTF-16 with BOM, tab-separated, CRLF."""
    src = tmp_path / "unicode.txt"
    src.write_bytes(AGG.replace(";", "\t").replace("\n", "\r\n").encode("utf-16"))
    status, _, err = run(capsys, "data", "convert", src, "-o", tmp_path / "o.csv")
    assert status == 0, err
    plain = tmp_path / "plain.csv"
    plain.write_text(AGG, encoding="utf-8")
    pd.testing.assert_series_equal(aggregate_sums(src), aggregate_sums(plain))


def test_utf16_employee_level_is_read(tmp_path):
    src = tmp_path / "emp.txt"
    src.write_bytes(EMPLOYEE.replace(";", "\t").encode("utf-16"))
    a = read_sickleave(src)
    b = read_sickleave(DATA / "ks_employee.csv")
    assert a.attrs["source"] == "ks-employee"
    pd.testing.assert_frame_equal(a.drop(columns="source"), b.drop(columns="source"))


def test_encoding_option_is_honoured_by_auto_detection(tmp_path, capsys):
    """UTF-16 without a BOM (big-endian, so no zero-byte guess either way is safe) is found
    only with --encoding; auto detection must use it."""
    src = tmp_path / "nobom.csv"
    src.write_bytes(AGG.encode("utf-16-be"))
    status, _, err = run(
        capsys, "data", "convert", src, "--encoding", "utf-16-be", "-o", tmp_path / "o.csv"
    )
    assert status == 0, err
    assert "source: ks (detected" in err
    assert len(pd.read_csv(tmp_path / "o.csv")) == 6


# --------------------------------------------------------------------------- build errors


def ks_file(tmp_path: Path, name: str, rows: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def build(capsys, tmp_path, *files: Path) -> tuple[int, str]:
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    status, _, err = run(
        capsys, "data", "build", "--sickleave", *files, "--registry", reg,
        "--processed-dir", tmp_path / "p", "--start", "2007Q1", "--end", "2007Q1",
        "--no-progress",
    )  # fmt: skip
    return status, err


def test_unmappable_code_in_one_of_several_files_names_it(tmp_path, capsys):
    a = ks_file(tmp_path, "a.csv", "0101;Halden;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n")
    e = ks_file(
        tmp_path,
        "e.csv",
        "0104;Moss;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n"
        "5001;Trondheim;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n",
    )
    status, err = build(capsys, tmp_path, a, e)
    line = one_error_line(err)
    assert status == 2 and line.startswith(f"error: {e}, row 3,") and "5001" in line


def test_duplicates_after_harmonising_two_files_name_both(tmp_path, capsys):
    row = "0101;Halden;2007K1;Pleie og omsorg;812;50 234,0;612,5;4 210,3\n"
    a = ks_file(tmp_path, "a.csv", row)
    b = ks_file(tmp_path, "b.csv", "0104;Moss;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n" + row)
    status, err = build(capsys, tmp_path, a, b)
    line = one_error_line(err)
    assert status == 2 and line.startswith(f"error: {a}, row 2,")
    assert "a.csv row 2" in line and "b.csv row 3" in line


def test_codes_of_one_territory_in_two_files_name_both(tmp_path, capsys):
    c = ks_file(tmp_path, "c.csv", "1503;K;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n")
    d = ks_file(tmp_path, "d.csv", "1505;K;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n")
    status, err = build(capsys, tmp_path, c, d)
    line = one_error_line(err)
    assert status == 2 and "c.csv row 2" in line and "d.csv row 2" in line


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--start", "2005K9"], ["--start", "2005K9", "quarter"]),
        (["--end", "2011-7"], ["--end", "2011-7"]),
        (["--start", "2009Q1", "--end", "2008Q1"], ["2009Q1", "2008Q1", "empty"]),
    ],
)
def test_bad_build_window_is_one_line(tmp_path, capsys, argv, words):
    status, _, err = run(capsys, "data", "build", "--processed-dir", tmp_path / "p", *argv)
    line = one_error_line(err)
    assert status == 2 and all(w in line for w in words), line


def test_output_path_under_an_existing_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x", encoding="utf-8")
    status, _, err = run(capsys, "data", "build", "--processed-dir", blocker / "sub")
    line = one_error_line(err)
    assert status == 2 and str(blocker) in line and "is a file" in line
    src = tmp_path / "a.csv"
    src.write_text(AGG, encoding="utf-8")
    status, _, err = run(capsys, "data", "convert", src, "-o", blocker / "out.csv")
    line = one_error_line(err)
    assert status == 2 and str(blocker) in line and "is a file" in line


def test_unknown_encoding_is_one_line(tmp_path, capsys):
    src = tmp_path / "a.csv"
    src.write_text(AGG, encoding="utf-8")
    status, _, err = run(
        capsys, "data", "convert", src, "--encoding", "utf-99", "-o", tmp_path / "o"
    )
    line = one_error_line(err)
    assert status == 2 and "utf-99" in line and "encoding" in line
