"""``build_data``: outputs, manifest, no-op rebuild, determinism, raw files untouched."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import kvk_analysis.readers as readers
from kvk_analysis.build import OUTPUTS, PLAUSIBLE_PERIODS, build_data
from kvk_analysis.errors import InputError
from kvk_analysis.fileio import sha256

REGISTRY = (
    "kommunenr,kommune,pulje,admitted,programme_start,left,source,membership_source\n"
    "0101,Halden,I,2007-03-28,2007-04-15,,x,simulated\n"
    "0104,Moss,,,,,x,documented\n"
)


READER_CALLS: list[dict] = []


def tidy_csv_reader(path, source="auto", encoding=None, **options):
    """Stand-in for readers.read_sickleave: reads a tidy CSV written by :func:`write_inputs`
    (the validation options are recorded in ``READER_CALLS``)."""
    READER_CALLS.append(options)
    df = pd.read_csv(path, dtype={"kommunenummer": str})
    df["period"] = pd.PeriodIndex(df["period"], freq="Q")
    df.attrs["notes"] = ["stand-in reader note"]
    return df


@pytest.fixture
def fake_reader(monkeypatch):
    monkeypatch.setattr(readers, "read_sickleave", tidy_csv_reader)


def write_inputs(tmp_path, codes=("0101", "0104", "0105")):
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    rows = []
    for k, code in enumerate(codes):
        for i, p in enumerate(pd.period_range("2005Q1", "2008Q4", freq="Q")):
            for s in ("care", "other"):
                rows.append((code, str(p), s, "total", 50.0 + i + k, 1000.0, 12.0))
    df = pd.DataFrame(
        rows,
        columns=[
            "kommunenummer", "period", "sector", "measure", "lost_days", "contracted_days",
            "employees",
        ],
    )  # fmt: skip
    df["rate"] = df["lost_days"] / df["contracted_days"] * 100
    df["status"], df["source"] = "ok", "test"
    sick = raw / "sick.csv"
    df.to_csv(sick, index=False)
    reg = raw / "registry.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    return sick, reg


def test_build_writes_outputs_and_is_noop_when_unchanged(tmp_path, fake_reader):
    sick, reg = write_inputs(tmp_path)
    raw_hashes = {p: sha256(p) for p in (sick, reg)}
    out = tmp_path / "processed"
    res = build_data([sick], reg, processed_dir=out, progress=False)
    assert not res.up_to_date
    for name in OUTPUTS:
        assert (out / name).exists(), name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["inputs"]) == {"sickleave", "registry", "reference"}
    assert list(manifest["inputs"]["sickleave"].values()) == [raw_hashes[sick]]
    assert manifest["params"]["measure"] == "total" and manifest["kvk_version"]
    for key in ("built_utc", "python", "pandas", "outputs", "balance", "notes"):
        assert key in manifest
    panel = pd.read_parquet(out / "panel.parquet")
    assert panel["period"].dtype == "period[Q-DEC]"
    assert panel["gname"].dtype == "Int64"
    assert len(panel) == 3 * 16 * 3
    mapping = pd.read_csv(out / "code_mapping.csv", dtype=str)
    assert set(mapping["rule"]) == {"identity"}

    before = (out / "manifest.json").read_bytes()
    again = build_data([sick], reg, processed_dir=out, progress=False)
    assert again.up_to_date and "up to date" in again.message
    assert (out / "manifest.json").read_bytes() == before
    assert {p: sha256(p) for p in (sick, reg)} == raw_hashes  # raw files never modified

    forced = build_data([sick], reg, processed_dir=out, progress=False, force=True)
    assert not forced.up_to_date
    changed = build_data(
        [sick], reg, processed_dir=out, progress=False, params={"rule": "admitted"}
    )
    assert not changed.up_to_date
    sick.write_text(sick.read_text(encoding="utf-8").replace("50.0", "51.0", 1), encoding="utf-8")
    assert not build_data([sick], reg, processed_dir=out, progress=False).up_to_date


def test_build_validates_and_keeps_reader_notes(tmp_path, fake_reader):
    sick, reg = write_inputs(tmp_path)
    READER_CALLS.clear()
    res = build_data(
        [sick], reg, processed_dir=tmp_path / "p", progress=False, params={"start": "2006Q1"}
    )
    (opts,) = READER_CALLS
    assert opts["period_range"] == PLAUSIBLE_PERIODS
    codes = opts["valid_codes"]
    assert {"0101", "1503", "1556", "1505", "3101", "5001"} <= codes  # 1994-2024 vintages
    assert "0199" not in codes
    assert "sick.csv: stand-in reader note" in res.notes
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["reader_notes"].values()) == [["stand-in reader note"]]
    assert "sick.csv: stand-in reader note" in manifest["notes"]


def test_build_is_deterministic(tmp_path, fake_reader):
    sick, reg = write_inputs(tmp_path)
    a = build_data([sick], reg, processed_dir=tmp_path / "a", progress=False)
    b = build_data([sick], reg, processed_dir=tmp_path / "b", progress=False)
    for name in OUTPUTS:
        assert sha256(a.outputs[name]) == sha256(b.outputs[name]), name


def test_failed_build_leaves_no_manifest(tmp_path, fake_reader):
    sick, reg = write_inputs(tmp_path)
    reg.write_text(REGISTRY + "0101,Halden,II,,,,x,\n", encoding="utf-8")
    out = tmp_path / "processed"
    with pytest.raises(InputError, match="more than once"):
        build_data([sick], reg, processed_dir=out, progress=False)
    assert not (out / "manifest.json").exists()


def test_bad_arguments(tmp_path, fake_reader):
    sick, reg = write_inputs(tmp_path)
    with pytest.raises(InputError, match="not found"):
        build_data([tmp_path / "nope.csv"], reg, processed_dir=tmp_path / "p", progress=False)
    with pytest.raises(InputError, match="unknown build parameter"):
        build_data([sick], reg, processed_dir=tmp_path / "p", params={"colour": "red"})


KS_SAMPLE = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt\n"
    "0101;Halden;2007K1;Pleie og omsorg;812;50 234,0;612,5;4 210,3\n"
    "0101;Halden;2007K1;Oppvekst;500;30 000,0;300,0;1 500,0\n"
    "0104;Moss;2007K1;Pleie og omsorg;700;40 000,0;500,0;3 000,0\n"
    "0104;Moss;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n"
)


def test_build_with_the_real_ks_reader(tmp_path):
    sick = tmp_path / "ks.csv"
    sick.write_text(KS_SAMPLE, encoding="utf-8")
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    res = build_data([sick], reg, processed_dir=tmp_path / "p", progress=False)
    panel = pd.read_parquet(res.outputs["panel.parquet"])
    halden = panel[(panel["kommunenummer"] == "0101") & (panel["sector"] == "all")].iloc[0]
    assert halden["contracted_days"] == pytest.approx(80234.0)
    assert halden["lost_days"] == pytest.approx(612.5 + 4210.3 + 300 + 1500)


def test_build_with_the_real_reader_rejects_bad_codes_and_quarters(tmp_path):
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    # a three-digit code is padded (a reader note), then validated against the crosswalk
    sick = tmp_path / "ks.csv"
    sick.write_text(KS_SAMPLE.replace("\n0104;Moss", "\n104;Moss"), encoding="utf-8")
    res = build_data([sick], reg, processed_dir=tmp_path / "p", progress=False)
    assert any(n.startswith("ks.csv: ") and "padded" in n for n in res.notes)
    assert list(res.manifest["reader_notes"].values())[0][0].startswith("2 municipality numbers")
    bad = tmp_path / "bad_code.csv"
    bad.write_text(KS_SAMPLE.replace("0104;Moss", "0199;Moss"), encoding="utf-8")
    with pytest.raises(InputError, match="valid codes") as info:
        build_data([bad], reg, processed_dir=tmp_path / "q", progress=False)
    assert info.value.row == 4
    # a plausible quarter outside the analysis window is kept in the tidy table, not in the panel
    wide = tmp_path / "wide.csv"
    wide.write_text(KS_SAMPLE + "0101;Halden;2006K4;Oppvekst;500;30 000,0;310,0;1 400,0\n")
    res = build_data(
        [wide], reg, processed_dir=tmp_path / "r", progress=False, params={"start": "2007Q1"}
    )
    panel = pd.read_parquet(res.outputs["panel.parquet"])
    assert panel["period"].min() == pd.Period("2007Q1", freq="Q")
    tidy = pd.read_parquet(res.outputs["tidy_sickleave.parquet"])
    assert tidy["period"].min() == pd.Period("2006Q4", freq="Q")
    # an impossible quarter is an error naming the file and the row
    typo = tmp_path / "typo.csv"
    typo.write_text(KS_SAMPLE.replace("0104;Moss;2007K1;Oppvekst", "0104;Moss;1907K1;Oppvekst"))
    with pytest.raises(InputError, match="1990Q1 and 2030Q4") as info:
        build_data([typo], reg, processed_dir=tmp_path / "s", progress=False)
    assert info.value.row == 5 and "typo.csv" in str(info.value)


def test_code_fingerprint_tracks_data_layer_source(tmp_path, monkeypatch):
    from kvk_analysis import build as build_mod
    from kvk_analysis import config

    fake = tmp_path / "pkg"
    (fake / "readers").mkdir(parents=True)
    for name in build_mod._BUILD_MODULES:
        if not name.endswith(".py"):
            continue
        (fake / name).write_text(f"# {name}\n", encoding="utf-8")
    (fake / "readers" / "ks.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.setattr(config, "PACKAGE_DIR", fake)
    before = build_mod.code_fingerprint()
    assert build_mod.code_fingerprint() == before
    (fake / "readers" / "ks.py").write_text("x = 2\n", encoding="utf-8")
    assert build_mod.code_fingerprint() != before
