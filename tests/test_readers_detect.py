"""Source detection from file content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kvk_analysis.errors import InputError
from kvk_analysis.readers import detect_source, read_sickleave

DATA = Path(__file__).parent / "data" / "readers"

EXPECTED = {
    "ks_aggregate.csv": "ks",
    "ks_aggregate_cp1252.csv": "ks",
    "ks_employee.csv": "ks-employee",
    "ssb_long.csv": "ssb-csv",
    "ssb_wide.csv": "ssb-csv",
    "ssb_by_variable.csv": "ssb-csv",
    "ssb_jsonstat.json": "ssb-jsonstat",
    "ssb_table_aligned.txt": "ssb-table",
    "ssb_table_pipe.txt": "ssb-table",
    "ssb_table.html": "ssb-table",
}


@pytest.mark.parametrize(("name", "source"), sorted(EXPECTED.items()))
def test_detects_every_sample(name, source):
    assert detect_source(DATA / name) == source


@pytest.mark.parametrize(("name", "source"), sorted(EXPECTED.items()))
def test_detection_ignores_the_extension(tmp_path, name, source):
    p = tmp_path / "export.dat"
    shutil.copy(DATA / name, p)
    assert detect_source(p) == source
    df = read_sickleave(p)
    assert df.attrs["source"] == source and df.attrs["detected"] is True
    assert len(df) > 0
    assert {"kommunenummer", "period", "sector", "measure", "rate", "status", "source"} <= set(
        df.columns
    )


def test_unknown_content(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("Dette er et notat om sykefravær.\nIngen tabell her.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes\.txt, row 1.*KS extract") as info:
        detect_source(p)
    assert info.value.found.startswith("Dette er")


def test_json_that_is_not_jsonstat(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(InputError, match=r"x\.json.*JSON-stat"):
        detect_source(p)


def test_missing_file_and_unknown_source(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        detect_source(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unknown source"):
        read_sickleave(DATA / "ks_aggregate.csv", source="sas")
