"""pandera validation of the tidy table, reported as one InputError naming file/row/column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from kvk_analysis.errors import InputError
from kvk_analysis.readers import read_ks, read_sickleave
from kvk_analysis.schema import tidy_schema, validate_tidy

DATA = Path(__file__).parent / "data" / "readers"
HEADER = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"
)
GOOD = [
    "0101;Halden;2008K1;Pleie og omsorg;619;30 417,7;333,6;2 446,0",
    "0101;Halden;2008K2;Pleie og omsorg;619;30 417,7;301,2;2 101,5",
    "0104;Moss;2008K1;Oppvekst;310;18 200,0;150,0;1 020,0",
]


def ks_file(tmp_path: Path, *rows: str, name: str = "ks_bad.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return p


def test_valid_file_passes_and_drops_line(tmp_path):
    df = read_sickleave(ks_file(tmp_path, *GOOD))
    assert "_line" not in df.columns
    assert len(df) == 9
    assert df.attrs["path"].endswith("ks_bad.csv")


def test_lost_greater_than_contracted(tmp_path):
    p = ks_file(tmp_path, *GOOD, "0104;Moss;2008K2;Oppvekst;310;1 000,0;150,0;1 020,0")
    with pytest.raises(InputError) as info:
        read_sickleave(p)
    err = info.value
    assert err.row == 5
    assert err.column.startswith("Tapte dagsverk")
    assert err.expected == "lost days <= contracted days"
    msg = str(err)
    assert "ks_bad.csv" in msg and "row 5" in msg and "Tapte dagsverk" in msg
    # doctor_certified and total both exceed contracted days: 2 problems
    assert msg.startswith(str(p)) and "2 problems" in msg


def test_duplicate_key(tmp_path):
    p = ks_file(tmp_path, *GOOD, GOOD[0].replace("2 446,0", "2 447,0"))
    with pytest.raises(InputError) as info:
        read_sickleave(p)
    err = info.value
    assert err.row == 5 and "duplicate" in err.expected
    assert "Kommunenr" in err.column and "0101 2008Q1 care" in str(err.found)
    assert "ks_bad.csv" in str(err) and "row 5" in str(err)


def test_negative_days(tmp_path):
    p = ks_file(tmp_path, *GOOD, "0104;Moss;2008K2;Oppvekst;310;18 200,0;-150,0;1 020,0")
    with pytest.raises(InputError) as info:
        read_sickleave(p)
    err = info.value
    assert err.row == 5 and err.column == "Tapte dagsverk egenmeldt (lost_days)"
    assert err.expected == "a number >= 0" and err.found == -150.0


def test_unknown_code_and_period_range(tmp_path):
    p = ks_file(tmp_path, *GOOD, "9999;Atlantis;2008K1;Annet;3;100,0;1,0;2,0")
    with pytest.raises(InputError) as info:
        read_sickleave(p, valid_codes={"0101", "0104"})
    err = info.value
    assert err.row == 5 and err.column == "Kommunenr (kommunenummer)" and err.found == "9999"
    assert "valid codes" in err.expected
    with pytest.raises(InputError) as info:
        read_sickleave(p, period_range=("2008Q2", "2011Q4"))
    err = info.value
    assert err.row == 2 and err.column == "Kvartal (period)"
    assert err.expected == "a quarter between 2008Q2 and 2011Q4"
    assert "and 0 more" not in str(err)


def test_many_failures_are_counted(tmp_path):
    rows = [
        f"0101;Halden;{y}K{q};Annet;3;10,0;20,0;30,0" for y in (2007, 2008) for q in (1, 2, 3, 4)
    ]
    with pytest.raises(InputError) as info:
        read_sickleave(ks_file(tmp_path, *rows))
    msg = str(info.value)
    # 8 rows x 3 measures exceed contracted days
    assert "24 problems" in msg and "... and 19 more" in msg
    assert info.value.row == 2


def test_rows_without_line_name_the_key():
    df = read_ks(DATA / "ks_aggregate.csv")
    df.loc[5, "rate"] = 150.0
    df["_line"] = pd.array([pd.NA] * len(df), dtype="Int64")
    with pytest.raises(InputError) as info:
        validate_tidy(df)
    msg = str(info.value)
    assert "ks_aggregate.csv" in msg and "0101 2008Q3 education" in msg
    assert "rate" in info.value.column


def test_schema_types():
    schema = tidy_schema()
    df = read_ks(DATA / "ks_aggregate.csv").drop(columns="_line")
    schema.validate(df)
    bad = df.assign(period=df["period"].astype(str))
    with pytest.raises(pa.errors.SchemaError, match="period"):
        schema.validate(bad)
    assert np.isfinite(df["rate"]).all()
