"""Published SSB archive tables: the genuine excerpts, every layout, malformed variants."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.errors import InputError
from kvk_analysis.readers import detect_source, read_sickleave, read_ssb_table
from kvk_analysis.readers.detect import detect_source_reason

GENUINE = Path(__file__).parent / "data" / "ssb_genuine"  # copies (see PROVENANCE.md there)
PIPE = GENUINE / "tab-2006-12-21-12_begge_q2q3-2006_dagsverk.txt"
COUNTY = GENUINE / "tab-2009-06-30-09_bostedsfylke_q1-2008_q1-2009_legemeldt.txt"
ARCHIVE = Path(__file__).parent / "data" / "ssb_archive"
needs_genuine = pytest.mark.skipif(not PIPE.is_file(), reason="genuine excerpts not available")


def _archive_module():
    spec = importlib.util.spec_from_file_location("make_archive", ARCHIVE / "make_archive.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cell(df: pd.DataFrame, code: str, quarter: str, **dims) -> pd.Series:
    sel = (df["kommunenummer"] == code) & (df["period"] == pd.Period(quarter, "Q"))
    for k, v in dims.items():
        sel &= df[k] == v
    assert sel.sum() == 1, (code, quarter, dims)
    return df[sel].iloc[0]


# ----------------------------------------------------------------------------- genuine


@needs_genuine
@pytest.mark.parametrize("source", ["ssb-table", "auto"])
def test_genuine_pipe_table_gives_the_published_numbers(source):
    df = read_sickleave(PIPE, source=source)
    assert df.attrs["source"] == "ssb-table"
    assert len(df) == 16 * 4  # 16 municipalities x Q2/Q3 of 2005 and 2006
    assert set(df["kommunenummer"]) >= {"0101", "0104", "0136"} and "" not in set(
        df["kommunenummer"]
    )
    halden = cell(df, "0101", "2006Q2")
    assert (halden["lost_days"], halden["rate"]) == (30609, 5.8)  # "2. kvartal 20061"
    assert cell(df, "0101", "2006Q3")[["lost_days", "rate"]].tolist() == [31170, 6.1]
    assert cell(df, "0101", "2005Q2")["rate"] == 5.4 and np.isnan(
        cell(df, "0101", "2005Q2")["lost_days"]
    )
    assert cell(df, "0104", "2005Q3")["rate"] == 6.3
    assert cell(df, "0136", "2006Q3")[["lost_days", "rate"]].tolist() == [19018, 7.0]
    assert cell(df, "0121", "2006Q3")[["lost_days", "rate"]].tolist() == [532, 4.5]
    # the change (21124 is not a rate) and percentage-change columns are checked, not emitted
    assert df["rate"].max() <= 100
    assert set(df["measure"]) == {"doctor_certified"} and set(df["sex"]) == {"all"}
    assert set(df["unit_basis"]) == {"residence"} and not df["preliminary"].any()
    totals = df.attrs["totals"].set_index("period")
    assert totals.loc[pd.Period("2006Q2", "Q"), "lost_days"] == 5_557_516
    assert totals.loc[pd.Period("2006Q3", "Q"), "lost_days"] == 5_605_277
    assert totals.loc[pd.Period("2005Q2", "Q"), "rate"] == 5.5
    notes = "\n".join(df.attrs["notes"])
    assert ("source ssb-table detected: '|'-separated text" in notes) == (source == "auto")
    assert "Ugyldig" in notes and "left out" in notes
    assert "Endring siste år" in notes and "Prosentvis endring" in notes


@needs_genuine
@pytest.mark.parametrize("source", ["ssb-table", "auto"])
def test_genuine_county_table(source):
    df = read_sickleave(COUNTY, source=source)
    assert set(df["region_level"]) == {"county"} and len(df) == 19 * 2
    ostfold = cell(df, "01", "2009Q1")
    assert (ostfold["lost_days"], ostfold["rate"]) == (450088, 7.4)
    assert cell(df, "01", "2008Q1")["rate"] == 7.2
    assert cell(df, "20", "2009Q1")[["lost_days", "rate"]].tolist() == [127674, 7.9]
    assert cell(df, "14", "2009Q1")["lost_days"] == 138370  # Sogn og Fjordane
    assert cell(df, "16", "2009Q1")["rate"] == 6.5  # Sør-Trøndelag
    assert cell(df, "01", "2009Q1")["preliminary"] and not cell(df, "01", "2008Q1")["preliminary"]
    totals = df.attrs["totals"].set_index("period")
    assert totals.loc[pd.Period("2009Q1", "Q"), "lost_days"] == 7_333_014  # not 7 333 014 683
    assert totals.loc[pd.Period("2008Q1", "Q"), "rate"] == 6.2


@needs_genuine
def test_detection_says_why():
    for path in (PIPE, COUNTY):
        assert detect_source(path) == "ssb-table"
        source, why = detect_source_reason(path)
        assert "published SSB table" in why and "rows of a region" in why


@needs_genuine
def test_convert_command_prints_reason_and_layout(tmp_path, capsys):
    from kvk_analysis.cli import main

    out = tmp_path / "tidy.csv"
    assert main(["data", "convert", str(PIPE), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "source: ssb-table (detected:" in err and "layout: published SSB table, pipe text" in err
    assert "lost days of 2006Q2" in err and "percentage change of the rate" in err
    assert len(pd.read_csv(out)) == 64


# ----------------------------------------------------------------------------- fixture layouts


ARCHIVE_FILES = sorted(p.name for p in ARCHIVE.glob("tab-*"))


@pytest.mark.parametrize("name", ARCHIVE_FILES)
def test_every_fixture_layout_reads_the_true_numbers(name):
    truth = _archive_module()
    df = read_sickleave(ARCHIVE / name)
    assert df.attrs["source"] == "ssb-table" and len(df) >= 24
    for r in df.itertuples():
        y, q = r.period.year, r.period.quarter
        if not np.isnan(r.lost_days):
            assert r.lost_days == truth.DAYS[(r.kommunenummer, y, q)]
        assert r.rate == pytest.approx(truth._r1(truth._rate(r.kommunenummer, y, q)))
    for r in df.attrs["totals"].itertuples():
        if not np.isnan(r.lost_days):
            assert r.lost_days == truth._total(r.period.year, r.period.quarter)[0]
    latest = df["period"].max()
    assert df.loc[df["period"] == latest, "preliminary"].all()  # "Foreløpige tall"


def test_layouts_are_recognised_as_such():
    forms = {name: read_ssb_table(ARCHIVE / name).attrs["layout"] for name in ARCHIVE_FILES}
    assert "pipe text" in forms["tab-2005-09-01.txt"]
    assert "spaced text" in forms["tab-2006-03-01.txt"]
    assert "aligned text" in forms["tab-2005-12-01.txt"]
    assert "HTML page" in forms["tab-2006-09-01.html"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_sex_columns_and_sex_rows(tmp_path):
    cols = (
        "Sykefraværsprosent for arbeidstakere med legemeldt sykefravær etter bostedskommune. "
        "Kvartalstall.\n\n"
        "                           Menn                             Kvinner\n"
        "Bostedskommune   1. kvartal 2008  1. kvartal 2009   1. kvartal 2008  1. kvartal 2009\n"
        "I alt                        4,9              5,1               7,9              8,3\n"
        "0101 Halden                  5,0              5,2               8,1              8,0\n"
        "0104 Moss                    4,4              4,7               7,5              7,9\n"
    )
    df = read_ssb_table(_write(tmp_path, "sex_cols.txt", cols))
    assert cell(df, "0101", "2009Q1", sex="male")["rate"] == 5.2
    assert cell(df, "0101", "2008Q1", sex="female")["rate"] == 8.1
    rows = (
        "Sykefraværsdagsverk for arbeidstakere med legemeldt sykefravær etter bostedskommune. "
        "Kvartalstall.\n\n"
        "Kommune | 1. kvartal 2008 | 1. kvartal 2009 | Endring |\n"
        "Menn |\n"
        "0101 Halden | 8 000 | 8 500 | 500 |\n"
        "0104 Moss | 6 000 | 5 900 | -100 |\n"
        "Kvinner |\n"
        "0101 Halden | 10 000 | 12 000 | 2 000 |\n"
        "0104 Moss | 9 000 | 9 100 | 100 |\n"
    )
    df = read_ssb_table(_write(tmp_path, "sex_rows.txt", rows))
    assert cell(df, "0104", "2008Q1", sex="male")["lost_days"] == 6000
    assert cell(df, "0101", "2009Q1", sex="female")["lost_days"] == 12000
    titled = rows.replace("bostedskommune.", "bostedskommune. Menn.").replace("Kvinner |\n", "")
    titled = titled.replace("Menn |\n", "").split("0101 Halden | 10 000")[0]
    df = read_ssb_table(_write(tmp_path, "sex_title.txt", titled))
    assert set(df["sex"]) == {"male"}


def test_over_three_days_and_persons_tables_are_their_own_measures(tmp_path):
    over3 = (
        "Sykefraværsdagsverk for arbeidstakere med legemeldt sykefravær over 3 dager etter "
        "bostedskommune. 4. kvartal 2001 og 2002. Kvartalstall\n\n"
        "Bostedskommune       2001       20021     Endring\n"
        "0101 Halden        15 000      16 000       1 000\n"
        "0104 Moss          12 000      11 500        -500\n"
        "1 Foreløpige tall.\n"
    )
    df = read_ssb_table(_write(tmp_path, "over3.txt", over3))
    assert set(df["measure"]) == {"doctor_certified_over3"}
    assert (
        cell(df, "0104", "2002Q4")["lost_days"] == 11500
        and cell(df, "0104", "2002Q4")["preliminary"]
    )
    persons = (
        "Arbeidstakere med legemeldt sykefravær etter bostedskommune. Antall og i prosent av "
        "alle arbeidstakere. Kvartalstall\n\n"
        "Kommune | 1. kvartal 2008 | | 1. kvartal 2009 | |\n"
        "| Antall | Prosent | Antall | Prosent |\n"
        "I alt | 170 000 | 7,1 | 180 000 | 7,4 |\n"
        "0101 Halden | 1 100 | 8,0 | 1 150 | 8,3 |\n"
        "0104 Moss | 1 000 | 7,2 | 990 | 7,0 |\n"
    )
    df = read_ssb_table(_write(tmp_path, "persons.txt", persons))
    assert set(df["measure"]) == {"persons_doctor_certified"}
    halden = cell(df, "0101", "2009Q1")
    assert halden["persons"] == 1150 and halden["rate"] == 8.3 and np.isnan(halden["lost_days"])


def test_other_series_are_refused_saying_what_they_are(tmp_path):
    text = (
        "Sykepengetilfeller etter bostedskommune. 1. kvartal 2008 og 2009. Kvartalstall\n\n"
        "Kommune   1. kvartal 2008   1. kvartal 2009\n0101 Halden   1 200   1 300\n"
        "0104 Moss   900   950\n"
    )
    with pytest.raises(InputError, match="sickness-benefit cases") as info:
        read_ssb_table(_write(tmp_path, "cases.txt", text))
    assert info.value.row == 1 and "cases.txt" in str(info.value)


def test_quarters_in_reverse_order(tmp_path):
    df = read_ssb_table(ARCHIVE / "tab-2007-09-01.txt")  # 2007 before 2006
    truth = _archive_module()
    assert cell(df, "0219", "2006Q2")["lost_days"] == truth.DAYS[("0219", 2006, 2)]
    assert cell(df, "0219", "2007Q2")["lost_days"] == truth.DAYS[("0219", 2007, 2)]


# ----------------------------------------------------------------------------- malformed


def _variant(tmp_path: Path, source: Path, old: str, new: str, count: int = 1) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, old
    p = tmp_path / ("bad_" + source.name)
    p.write_text(text.replace(old, new, count), encoding="utf-8")
    return p


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


@needs_genuine
def test_a_value_missing_in_a_row(tmp_path):
    p = _variant(tmp_path, PIPE, "0104 Moss | 38 362 | 3 059 |", "0104 Moss | 38 362 |")
    with pytest.raises(InputError, match="wrong number of values") as info:
        read_ssb_table(p)
    assert info.value.row == _line_of(p, "0104 Moss") and info.value.column == "Moss"
    assert str(p) in str(info.value)


@needs_genuine
def test_a_column_heading_missing(tmp_path):
    p = _variant(
        tmp_path, PIPE, "Endring siste år |\nSykefraværs- dagsverk |", "Sykefraværs- dagsverk |"
    )
    with pytest.raises(InputError) as info:
        read_ssb_table(p)
    msg = str(info.value)
    assert "cannot place the columns" in msg or "no reading of the header" in msg
    assert info.value.row is not None and info.value.column and str(p) in msg


def test_a_change_that_does_not_match(tmp_path):
    src = ARCHIVE / "tab-2005-12-01.txt"
    text = src.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("0104 Moss"))
    parts = re.split(r"\s{2,}", line.strip())
    change = parts[3]
    bad = line.replace(change.rjust(18), "9 999".rjust(18))
    p = _variant(tmp_path, src, line, bad)
    with pytest.raises(InputError) as info:
        read_ssb_table(p)
    assert info.value.row == _line_of(p, "0104 Moss")
    assert "Endring" in info.value.column and "change" in str(info.value)
    assert info.value.found == 9999


@needs_genuine
def test_a_header_cut_off(tmp_path):
    text = COUNTY.read_text(encoding="utf-8")
    cut = text.replace("1. kvartal\n2008\n1. kvartal\n2009 1\n1. kvartal\n", "")
    p = tmp_path / "cut.txt"
    p.write_text(cut, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_ssb_table(p)
    assert (
        info.value.row is not None
        and info.value.column is not None
        and "cut.txt" in str(info.value)
    )


@needs_genuine
def test_a_rate_column_that_is_not_a_rate(tmp_path):
    # swap the headings of the rate and change groups: the numbers refuse every reading
    p = _variant(
        tmp_path,
        PIPE,
        "| Sykefraværsprosent | Prosentvis endring siste år av sykefraværsprosenten |",
        "| Prosentvis endring siste år av sykefraværsprosenten | Sykefraværsprosent |",
    )
    with pytest.raises(InputError) as info:
        read_ssb_table(p)
    assert info.value.row is not None and info.value.column and "rate" in str(info.value)


def test_copy_with_another_extension_is_still_detected(tmp_path):
    p = tmp_path / "download.dat"
    shutil.copy(ARCHIVE / "tab-2006-03-01.txt", p)
    assert detect_source(p) == "ssb-table"


SAMPLES = Path(__file__).parent / "data" / "readers"


def test_days_of_both_quarters_first_and_changes_after():
    df = read_ssb_table(SAMPLES / "ssb_archive_days_then_changes.txt")
    assert cell(df, "0101", "2006Q2")[["lost_days", "rate"]].tolist() == [30609, 5.8]
    assert cell(df, "0104", "2006Q3")[["lost_days", "rate"]].tolist() == [38159, 7.0]
    assert cell(df, "0104", "2005Q3")["rate"] == 6.3
    # "Endring siste år" covers the two change columns only, not the rates
    assert "change of days (days) from 2005Q3 to 2006Q3" in df.attrs["layout"]
    assert "percentage points" not in df.attrs["layout"]


def test_sexes_as_group_headings():
    df = read_ssb_table(SAMPLES / "ssb_archive_sex_groups.txt")
    assert cell(df, "0101", "2009Q1", sex="all")[["lost_days", "rate"]].tolist() == [30000, 6.1]
    assert cell(df, "0101", "2009Q1", sex="male")[["lost_days", "rate"]].tolist() == [12000, 5.1]
    assert cell(df, "0104", "2009Q1", sex="female")[["lost_days", "rate"]].tolist() == [12000, 7.2]
    totals = df.attrs["totals"]
    assert totals.loc[totals["sex"] == "female", "lost_days"].item() == 600000


def test_archive_html_page_with_group_cells():
    df = read_sickleave(SAMPLES / "ssb_archive_page.html")
    assert df.attrs["source"] == "ssb-table" and "HTML page" in df.attrs["layout"]
    assert cell(df, "0111", "2006Q3")[["lost_days", "rate"]].tolist() == [4629, 6.4]
    assert cell(df, "0111", "2005Q2")["rate"] == 6.0
    assert "Ugyldig" in "\n".join(df.attrs["notes"]) and len(df) == 12


def test_rates_by_sex_with_year_headings_and_a_county_subtotal():
    df = read_ssb_table(SAMPLES / "ssb_archive_rates_by_sex.txt")
    assert cell(df, "0101", "2009Q1", sex="female")["rate"] == 7.4  # "20091", quarter from title
    assert cell(df, "0104", "2008Q1", sex="all")["rate"] == 6.2
    assert "01" not in set(df["kommunenummer"])  # Østfold is a subtotal here
    assert any("Østfold" in n and "county subtotal" in n for n in df.attrs["notes"])


def test_persons_table_in_the_archive_layout(tmp_path):
    df = read_sickleave(SAMPLES / "ssb_archive_persons.txt")
    assert set(df["measure"]) == {"persons_doctor_certified"} and df["lost_days"].isna().all()
    halden = cell(df, "0101", "2006Q3")
    assert (halden["persons"], halden["rate"]) == (1010, 7.9)
    assert cell(df, "0104", "2005Q2")["rate"] == 8.0
    text = (SAMPLES / "ssb_archive_persons.txt").read_text(encoding="utf-8")
    bad = _write(tmp_path, "bad_persons.txt", text.replace("7,9 | 2,7 | 6,8", "7,9 | 9,7 | 6,8"))
    with pytest.raises(InputError, match="percentage change") as info:
        read_ssb_table(bad)
    assert info.value.row == 10 and "Prosentvis endring" in info.value.column


def test_html_page_with_a_layout_table_around_the_data_table():
    df = read_sickleave(SAMPLES / "ssb_archive_nested.html")
    assert set(df["measure"]) == {"doctor_certified"}  # title in a <p> inside the layout table
    assert cell(df, "0104", "2006Q2")["lost_days"] == 38362
    assert cell(df, "0104", "2006Q2")["preliminary"]  # footnote 2: "Foreløpige tall."
    assert not cell(df, "0104", "2005Q2")["preliminary"]
    assert "footnote 2: Foreløpige tall." in df.attrs["notes"]


def test_aligned_row_whose_columns_touch(tmp_path):
    src = ARCHIVE / "tab-2005-12-01.txt"
    line = next(ln for ln in src.read_text(encoding="utf-8").splitlines() if ln.startswith("0106"))
    parts = re.split(r"(\s{2,})", line)
    parts[3] = " "  # "103 050 96 603": two numbers one space apart, like the thousands
    p = _variant(tmp_path, src, line, "".join(parts))
    df = read_ssb_table(p)
    truth = _archive_module()
    assert cell(df, "0106", "2004Q3")["lost_days"] == truth.DAYS[("0106", 2004, 3)]
    assert cell(df, "0106", "2005Q3")["lost_days"] == truth.DAYS[("0106", 2005, 3)]
    assert any("one space apart" in n for n in df.attrs["notes"])
