"""Older published SSB tables: aligned text, '|' text and HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kvk_analysis.errors import InputError
from kvk_analysis.readers import read_sickleave, read_ssb_table

DATA = Path(__file__).parent / "data" / "readers"


def row(df: pd.DataFrame, code: str, quarter: str) -> pd.Series:
    sel = df[(df["kommunenummer"] == code) & (df["period"] == pd.Period(quarter))]
    assert len(sel) == 1
    return sel.iloc[0]


def test_aligned_text_table():
    df = read_ssb_table(DATA / "ssb_table_aligned.txt")
    assert df.attrs["source"] == "ssb-table"
    # 9 municipalities x 2 quarters; I alt and Ugyldig are not municipality rows
    assert len(df) == 18
    assert set(df["period"].astype(str)) == {"2008Q1", "2009Q1"}  # "20091" = 2009 + footnote 1
    assert set(df["measure"]) == {"doctor_certified"}  # legemeldt in the title
    halden_08, halden_09 = row(df, "0101", "2008Q1"), row(df, "0101", "2009Q1")
    assert (halden_08["lost_days"], halden_09["lost_days"]) == (17923, 21124)
    assert (halden_08["rate"], halden_09["rate"]) == (5.3, 6.0)
    assert np.isnan(halden_08["contracted_days"])  # not derivable from a rounded rate
    assert halden_08["_line"] == 8
    utsira = row(df, "1151", "2009Q1")
    assert utsira["status"] == "zero" and utsira["lost_days"] == 0
    notes = "\n".join(df.attrs["notes"])
    assert "Ugyldig" in notes and "412" in notes
    assert "which equals the total row" in notes
    assert "footnote 1" in notes and "Foreløpige tall" in notes
    totals = df.attrs["totals"]
    assert list(totals["kommunenummer"].unique()) == ["0000"]
    assert totals.set_index("period").loc[pd.Period("2009Q1"), "lost_days"] == 465261


def test_pipe_table_cp1252_with_county_row():
    df = read_ssb_table(DATA / "ssb_table_pipe.txt")
    assert df.attrs["encoding"] == "cp1252"
    assert set(df["period"].astype(str)) == {"2007Q4", "2008Q4"}
    assert len(df) == 10
    assert row(df, "0111", "2007Q4")["lost_days"] == 302
    assert row(df, "0111", "2008Q4")["rate"] == 4.9
    notes = "\n".join(df.attrs["notes"])
    assert "Østfold" in notes and "not a municipality" in notes
    assert "differs by" in notes  # national total vs a county extract


def test_html_table_with_quarter_group_headings():
    df = read_sickleave(DATA / "ssb_table.html")
    assert df.attrs["source"] == "ssb-table" and df.attrs["detected"]
    assert set(df["period"].astype(str)) == {"2008Q2", "2009Q2"}
    assert len(df) == 18
    halden = row(df, "0101", "2009Q2")
    assert (halden["lost_days"], halden["rate"]) == (21124, 6.0)
    assert "_line" not in df.columns  # dropped after validation


def test_all_forms_agree():
    """The same numbers written three ways give the same days and rates."""
    a = read_ssb_table(DATA / "ssb_table_aligned.txt")
    h = read_ssb_table(DATA / "ssb_table.html")
    # The HTML sample has the aligned sample's values, one quarter later.
    h = h.assign(period=h["period"] - 1)
    cols = ["kommunenummer", "period", "lost_days", "rate"]
    pd.testing.assert_frame_equal(
        a[cols].sort_values(cols[:2]).reset_index(drop=True),
        h[cols].sort_values(cols[:2]).reset_index(drop=True),
    )


def _bad(tmp_path: Path, old: str, new: str, name: str = "bad_table.txt") -> Path:
    text = (DATA / "ssb_table_aligned.txt").read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / name
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def test_row_with_missing_value(tmp_path):
    p = _bad(tmp_path, "4 643               5,4", "                    5,4")
    with pytest.raises(InputError) as info:
        read_ssb_table(p)
    assert info.value.row == 11 and "bad_table.txt" in str(info.value)


def test_rate_above_100_in_table(tmp_path):
    p = _bad(tmp_path, "5,6               5,9", "5,6             105,9")
    with pytest.raises(InputError) as info:
        read_sickleave(p)
    msg = str(info.value)
    assert "bad_table.txt" in msg and "row 10" in msg and "rate" in msg
    assert "1. kvartal 20091" in info.value.column  # the column as written in the file


def test_no_quarter_in_header(tmp_path):
    text = (
        "Bostedskommune   Sum   Sum\n0101 Halden   17 923   21 124\n0104 Moss   14 210   15 876\n"
    )
    p = tmp_path / "noheader.txt"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"noheader\.txt, row 1") as info:
        read_ssb_table(p)
    assert "quarters" in str(info.value)


def test_year_only_headings_take_the_quarter_from_the_title(tmp_path):
    text = (
        "Sykefraværsprosent for arbeidstakere med egenmeldt sykefravær etter bostedskommune. "
        "3. kvartal. Kvartalstall\n\n"
        "Bostedskommune      2008     20091\n"
        "0101 Halden          1,1       1,3\n"
        "0104 Moss            0,9        ..\n"
    )
    p = tmp_path / "years.txt"
    p.write_text(text, encoding="utf-8")
    df = read_ssb_table(p)
    assert set(df["period"].astype(str)) == {"2008Q3", "2009Q3"}
    assert set(df["measure"]) == {"self_certified"}
    assert row(df, "0104", "2009Q3")["status"] == "missing"
    assert row(df, "0101", "2008Q3")["rate"] == 1.1


def test_centred_group_headings_and_short_quarter_labels(tmp_path):
    text = (
        "Sykefraværsdagsverk for arbeidstakere med legemeldt sykefravær etter bostedskommune. "
        "3. kvartal 2008 og 3. kvartal 2009. Kvartalstall\n\n"
        "                               Sykefraværsdagsverk                 Sykefraværsprosent\n"
        "                          3. kv. 2008   3. kv. 2009   Endring    3. kv. 2008  3. kv. 2009\n"
        "I alt                         200 000       210 000    10 000            5,0          5,2\n"
        "0101 Halden                    17 923        21 124     3 201            5,3          6,0\n"
        "0104 Moss                      14 210        15 876     1 666            5,1          5,6\n"
    )
    p = tmp_path / "centred.txt"
    p.write_text(text, encoding="utf-8")
    df = read_ssb_table(p)
    assert row(df, "0104", "2008Q3")[["lost_days", "rate"]].tolist() == [14210, 5.1]
    assert row(df, "0101", "2009Q3")[["lost_days", "rate"]].tolist() == [21124, 6.0]
    assert any("Endring" in n and "not emitted" in n for n in df.attrs["notes"])
