"""A build is one transaction: interrupted at any chosen point (Ctrl-C in-process, SIGKILL in a
subprocess), the next build never calls the half-written state "up to date"; a panel that does
not match its manifest is rebuilt with a message; leftovers of interrupted builds are removed.

Interrupts are sent at known points by wrapping ``os.replace`` (the call that puts each output
in place), never by sleeping and hoping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from kvk_analysis.build import OUTPUTS, build_data
from kvk_analysis.fileio import sha256

REGISTRY = (
    "kommunenr,kommune,pulje,admitted,programme_start,left,source,membership_source\n"
    "0101,Halden,I,2007-03-28,2007-04-15,,x,simulated\n"
    "0104,Moss,,,,,x,documented\n"
)
KS_SAMPLE = (
    "Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
    "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt\n"
    "0101;Halden;2007K1;Pleie og omsorg;812;50 234,0;612,5;4 210,3\n"
    "0101;Halden;2007K1;Oppvekst;500;30 000,0;300,0;1 500,0\n"
    "0104;Moss;2007K1;Pleie og omsorg;700;40 000,0;500,0;3 000,0\n"
    "0104;Moss;2007K1;Oppvekst;400;20 000,0;200,0;1 000,0\n"
)
WINDOW = {"start": "2007Q1", "end": "2007Q1"}
DOCTOR = {**WINDOW, "measure": "doctor_certified"}
#: Every file a build puts in place, in any order: a kill after any one of them is tested.
COMMITTED = (*OUTPUTS, "manifest.json")


def inputs(tmp_path: Path) -> tuple[Path, Path]:
    sick = tmp_path / "ks.csv"
    sick.write_text(KS_SAMPLE, encoding="utf-8")
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    return sick, reg


def build(sick, reg, out, params=WINDOW, **kw):
    return build_data([sick], reg, processed_dir=out, params=params, progress=False, **kw)


class Interrupted(BaseException):
    """Stands for Ctrl-C (KeyboardInterrupt) without tripping pytest's own handler."""


def interrupt_after(monkeypatch, name: str) -> list[str]:
    """Make ``os.replace`` raise right after it has put a file called ``name`` in place."""
    real = os.replace
    seen: list[str] = []

    def replace(src, dst, *a, **k):
        real(src, dst, *a, **k)
        seen.append(Path(dst).name)
        if Path(dst).name == name:
            raise Interrupted(name)

    monkeypatch.setattr(os, "replace", replace)
    return seen


def measures_in_panel(out: Path) -> set[str]:
    return set(pd.read_parquet(out / "panel.parquet")["measure"].astype(str))


def assert_consistent(out: Path) -> None:
    """Every output the manifest lists has the hash the manifest records."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name, digest in manifest["output_hashes"].items():
        assert sha256(out / name) == digest, name


def test_issue_reproduction_interrupt_after_panel_replaced(tmp_path, monkeypatch):
    """Issue 11 item 1 exactly: build, then a --measure doctor_certified build interrupted just
    after panel.parquet is replaced, then a plain build must not say "up to date"."""
    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    assert measures_in_panel(out) == {"total"}
    interrupt_after(monkeypatch, "panel.parquet")
    with pytest.raises(Interrupted):
        build(sick, reg, out, params=DOCTOR)
    monkeypatch.undo()
    again = build(sick, reg, out)
    assert not again.up_to_date, again.message
    assert measures_in_panel(out) == {"total"}
    assert_consistent(out)


@pytest.mark.parametrize("point", COMMITTED)
def test_interrupt_at_every_commit_point(tmp_path, monkeypatch, point):
    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    seen = interrupt_after(monkeypatch, point)
    with pytest.raises(Interrupted):
        build(sick, reg, out, params=DOCTOR)
    assert seen[-1] == point
    monkeypatch.undo()
    # whatever the point, each parameter set is either up to date with matching files or rebuilt
    for params, measure in ((WINDOW, "total"), (DOCTOR, "doctor_certified")):
        res = build(sick, reg, out, params=params)
        assert measures_in_panel(out) == {measure}, (point, res.message)
        assert res.manifest["params"]["measure"] == measure
        assert_consistent(out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_interrupt_while_writing_outputs_keeps_the_old_build(tmp_path, monkeypatch):
    """Ctrl-C before anything is put in place: the previous build stays whole and up to date,
    and no temporary file is left behind."""
    import kvk_analysis.quality as quality

    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    before = {p.name: sha256(p) for p in out.iterdir()}

    def boom(*a, **k):
        raise Interrupted("during data_quality_table")

    monkeypatch.setattr(quality, "data_quality_table", boom)
    with pytest.raises(Interrupted):
        build(sick, reg, out, params=DOCTOR)
    monkeypatch.undo()
    assert {p.name: sha256(p) for p in out.iterdir()} == before
    assert build(sick, reg, out).up_to_date


def test_output_that_does_not_match_its_manifest_is_rebuilt_with_a_message(tmp_path):
    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    good = sha256(out / "panel.parquet")
    other = tmp_path / "other"
    build(sick, reg, other, params=DOCTOR)
    (out / "panel.parquet").write_bytes((other / "panel.parquet").read_bytes())
    res = build(sick, reg, out)
    assert not res.up_to_date
    assert "panel.parquet" in res.message and "manifest" in res.message
    assert sha256(out / "panel.parquet") == good
    (out / "data_quality.csv").unlink()
    res = build(sick, reg, out)
    assert not res.up_to_date and "data_quality.csv" in res.message
    assert build(sick, reg, out).up_to_date


def test_manifest_without_output_hashes_is_not_up_to_date(tmp_path):
    """A manifest of an older kvk (no output hashes) cannot vouch for the outputs."""
    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    del manifest["output_hashes"]
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert not build(sick, reg, out).up_to_date


def test_next_build_removes_leftovers_of_interrupted_builds(tmp_path):
    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    leftovers = [
        out / ".panel.k2j3h4.parquet",  # atomic_path of an older kvk
        out / ".manifest.json.abcd.tmp",  # atomic_write
        out / ".data_quality.csv.x1y2.tmp",
    ]
    for p in leftovers:
        p.write_bytes(b"half")
    stage = out / ".build-q8w7e6"
    stage.mkdir()
    (stage / "panel.parquet").write_bytes(b"half")
    (out / ".gitkeep").write_bytes(b"")
    res = build(sick, reg, out)
    assert res.up_to_date  # leftovers do not make a whole build stale ...
    assert not any(p.exists() for p in [*leftovers, stage])  # ... but are removed
    assert (out / ".gitkeep").exists()
    assert any("temporary" in n for n in res.notes)


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    real = os.replace
    def replace(src, dst, *a, **k):
        real(src, dst, *a, **k)
        if Path(dst).name == sys.argv[4]:
            os.kill(os.getpid(), getattr(signal, sys.argv[5]))
    os.replace = replace
    from kvk_analysis.build import build_data
    build_data([sys.argv[1]], sys.argv[2], processed_dir=sys.argv[3], progress=False,
               params={"start": "2007Q1", "end": "2007Q1", "measure": "doctor_certified"})
    """
)


@pytest.mark.parametrize(
    ("point", "sig"),
    [
        ("panel.parquet", "SIGKILL"),
        ("tidy_sickleave.parquet", "SIGKILL"),
        ("panel.parquet", "SIGINT"),  # Ctrl-C: KeyboardInterrupt raised in the build
    ],
)
def test_kill_just_after_an_output_is_replaced(tmp_path, point, sig):
    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    build(sick, reg, out)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(sick), str(reg), str(out), point, sig],
        env=env,
        capture_output=True,
        timeout=120,
    )
    expected = {"SIGKILL": {-signal.SIGKILL}, "SIGINT": {-signal.SIGINT, 130, 1}}[sig]
    assert proc.returncode in expected, proc.stderr.decode()
    if sig == "SIGINT":
        assert b"KeyboardInterrupt" in proc.stderr
    res = build(sick, reg, out)
    assert not res.up_to_date, res.message
    assert measures_in_panel(out) == {"total"}
    assert_consistent(out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_concurrent_builds_into_one_folder_leave_a_whole_build(tmp_path):
    """Two builds at once (threads; flock excludes separate descriptors): the folder ends
    as one whole build whose files match its manifest."""
    import threading

    sick, reg = inputs(tmp_path)
    out = tmp_path / "processed"
    errors: list[BaseException] = []

    def run(params):
        try:
            build(sick, reg, out, params=params)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in (WINDOW, DOCTOR, WINDOW)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert_consistent(out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert measures_in_panel(out) == {manifest["params"]["measure"]}
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
