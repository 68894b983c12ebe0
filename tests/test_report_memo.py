"""What a kept kernel shares between profiles (:mod:`kvk_analysis.report.memo`) and what a
batch worker keeps out of the garbage collector: a profile never sees another profile's
changes, a changed panel is read again."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from kvk_analysis.fileio import sha256
from kvk_analysis.report import batch, memo


def _build(path: Path, digest: str | None) -> SimpleNamespace:
    manifest = {"output_hashes": {"panel.parquet": digest}} if digest else {}
    return SimpleNamespace(outputs={"panel.parquet": path}, manifest=manifest)


@pytest.fixture(autouse=True)
def _fresh_memo():
    memo.clear()
    yield
    memo.clear()


def test_read_output_reads_once_and_hands_out_copies(tmp_path, monkeypatch):
    path = tmp_path / "panel.parquet"
    frame = pd.DataFrame({"kommunenummer": ["0101", "0104"], "rate": [6.5, 7.25]})
    frame.to_parquet(path)
    reads = []
    real = pd.read_parquet
    monkeypatch.setattr(pd, "read_parquet", lambda p, *a, **k: reads.append(p) or real(p, *a, **k))
    build = _build(path, sha256(path))
    first = memo.read_output(build)
    pd.testing.assert_frame_equal(first, frame)
    first.loc[0, "rate"] = 99.0  # one profile changes its frame ...
    first["extra"] = 1
    second = memo.read_output(build)
    pd.testing.assert_frame_equal(second, frame)  # ... the next one does not see it
    assert len(reads) == 1


def test_read_output_reads_a_changed_file_again(tmp_path):
    path = tmp_path / "panel.parquet"
    pd.DataFrame({"rate": [1.0]}).to_parquet(path)
    assert memo.read_output(_build(path, sha256(path)))["rate"].tolist() == [1.0]
    pd.DataFrame({"rate": [2.0]}).to_parquet(path)  # rebuilt: another hash in the manifest
    assert memo.read_output(_build(path, sha256(path)))["rate"].tolist() == [2.0]
    assert len(memo._FRAMES) == 1  # the older frame of that file is let go


def test_read_output_without_a_recorded_hash_reads_every_time(tmp_path):
    path = tmp_path / "panel.parquet"
    pd.DataFrame({"rate": [1.0]}).to_parquet(path)
    assert memo.read_output(_build(path, None))["rate"].tolist() == [1.0]
    pd.DataFrame({"rate": [3.0]}).to_parquet(path)
    assert memo.read_output(_build(path, None))["rate"].tolist() == [3.0]
    assert not memo._FRAMES


def test_freeze_long_lived_keeps_objects_alive_and_out_of_collections():
    before = gc.get_freeze_count()
    kept = [{"a": 1}]
    try:
        memo.freeze_long_lived()
        assert gc.get_freeze_count() > before
        assert kept[0]["a"] == 1
    finally:
        gc.unfreeze()


def test_a_worker_job_freezes_what_stays_after_collecting_its_garbage(monkeypatch):
    job = batch.Job(name="x", notebook=Path("nb.ipynb"), params={}, out_dir=Path("."))
    seen = {}

    def fake_run_job(j, *, reuse_kernel, own_kernel):
        seen.update(job=j, reuse=reuse_kernel, own=own_kernel)
        return batch.JobResult(j, "done", 1.0)

    monkeypatch.setattr(batch, "run_job", fake_run_job)
    try:
        result = batch._run_in_worker(job, reuse_kernel=True, own_kernel=False)
        assert result.status == "done" and seen == {"job": job, "reuse": True, "own": False}
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
