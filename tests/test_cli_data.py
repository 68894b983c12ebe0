"""``kvk data convert | build | codes`` through the command-line entry point."""

from __future__ import annotations

import pandas as pd
import pytest
from test_build import KS_SAMPLE, tidy_csv_reader, write_inputs

import kvk_analysis.readers as readers
from kvk_analysis import cli_data, cohorts
from kvk_analysis.cli import build_parser, main
from kvk_analysis.readers.tidy import MEASURES

TIDY = (
    "kommunenummer,period,sector,measure,lost_days,contracted_days,employees,rate,status,source\n"
    "1503,2007Q1,all,total,30,300,3,10,ok,t\n"
    "1556,2007Q1,all,total,10,700,7,1.4285714,ok,t\n"
    "3101,2021Q1,all,total,5,100,1,5,ok,t\n"
)


def test_subcommands_registered():
    parser = build_parser()
    for argv in (
        ["data", "codes", "in.csv", "-o", "out.csv", "--level", "merged"],
        ["data", "build", "--force", "--measure", "self_certified"],
        ["data", "convert", "in.csv", "--source", "ks", "-o", "out.csv"],
    ):
        assert callable(parser.parse_args(argv).func)


def test_choices_agree_with_the_library():
    """cli_data keeps its own copies (no pandas at import); they must not drift."""
    assert cli_data.SOURCES == ("auto", *readers.SOURCES)
    assert cli_data.MEASURES == MEASURES
    assert cli_data.RULES == cohorts.RULES


def test_codes_command(tmp_path, capsys):
    src = tmp_path / "tidy.csv"
    src.write_text(TIDY, encoding="utf-8")
    out, mapping = tmp_path / "out.csv", tmp_path / "map.csv"
    assert main(["data", "codes", str(src), "-o", str(out), "--mapping", str(mapping)]) == 0
    df = pd.read_csv(out, dtype={"kommunenummer": str})
    assert sorted(df["kommunenummer"]) == ["0101", "1505"]
    k = df[df["kommunenummer"] == "1505"].iloc[0]
    assert k["lost_days"] == 40 and k["rate"] == pytest.approx(4.0)
    assert set(pd.read_csv(mapping, dtype=str)["rule"]) == {"merged_2008", "recoded"}
    printed = capsys.readouterr().out
    assert "merged_2008" in printed and "3101->0101" in printed


def test_codes_command_error_names_file_and_row(tmp_path, capsys):
    src = tmp_path / "tidy.csv"
    src.write_text(TIDY.replace("3101,2021Q1", "3118,2021Q1"), encoding="utf-8")
    assert main(["data", "codes", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(src) in err and "row 4" in err
    assert "level='merged'" in err
    assert not (tmp_path / "o.csv").exists()


def test_build_command_then_up_to_date(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(readers, "read_sickleave", tidy_csv_reader)
    sick, reg = write_inputs(tmp_path)
    argv = ["data", "build", "--sickleave", str(sick), "--registry", str(reg),
            "--processed-dir", str(tmp_path / "p"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("built ")
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert main([*argv, "--registry", str(tmp_path / "missing.csv")]) == 2
    assert "not found" in capsys.readouterr().err


def test_convert_command(tmp_path, capsys):
    src = tmp_path / "ks.csv"
    src.write_text(KS_SAMPLE, encoding="utf-8")
    out = tmp_path / "tidy.csv"
    assert main(["data", "convert", str(src), "-o", str(out)]) == 0
    assert "source: ks" in capsys.readouterr().err
    df = pd.read_csv(out, dtype={"kommunenummer": str})
    assert {"kommunenummer", "period", "sector", "measure", "rate"} <= set(df.columns)
    assert set(df["period"]) == {"2007Q1"}
