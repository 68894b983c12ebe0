"""An error the panel finds in the combined table names the files and rows behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvk_analysis.build import build_data
from kvk_analysis.errors import InputError

HEADER = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"
)


def _ks(path: Path, code: str, quarters: list[str]) -> Path:
    rows = [f"{code};Halden;{q};Oppvekst;310;18 200,0;150,0;1 020,0" for q in quarters]
    path.write_text("\n".join([HEADER, "", *rows]) + "\n", encoding="utf-8")
    return path


def test_codes_counted_twice_name_both_files_and_rows(tmp_path):
    # 3101 is Halden's code from 2020: both codes in one quarter would count Halden twice.
    a = _ks(tmp_path / "a.csv", "0101", ["2008K1", "2008K2"])
    b = _ks(tmp_path / "b.csv", "3101", ["2008K3", "2008K2"])
    with pytest.raises(InputError) as info:
        build_data([a, b], processed_dir=tmp_path / "out", progress=False)
    err = info.value
    assert "counted twice" in err.message
    # every row of the two codes (line 2 is blank), files in the order given
    assert err.message.endswith("(from a.csv row 3, a.csv row 4, b.csv row 3, b.csv row 4)")
    assert (Path(err.path).name, err.row, err.found) == ("a.csv", 3, "0101, 3101")
    assert not (tmp_path / "out" / "manifest.json").exists()
