"""``make clean`` removes built data and reports, hidden temporary files and folders of
interrupted builds and runs included, and never touches data/raw."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clean_removes_hidden_leftovers_but_not_raw(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    processed, reports, raw = (tmp_path / d for d in ("data/processed", "reports", "data/raw"))
    for folder in (processed, reports, raw / "demo"):
        folder.mkdir(parents=True)
    made = [
        processed / "panel.parquet",
        processed / ".panel.k2j3.parquet",
        processed / ".build-x1y2" / "panel.parquet",
        processed / "..odd",
        reports / "03-programme-effect.html",
        reports / ".03-programme-effect.ab12" / "x.html",
        reports / "executed" / "03.ipynb",
    ]
    kept = [raw / "demo" / "ks.csv", raw / ".hidden", raw / "demo" / ".tmp.csv"]
    for f in [*made, *kept]:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x", encoding="utf-8")
    subprocess.run(["make", "-s", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert sorted(p.name for p in processed.iterdir()) == [".gitkeep"]
    assert sorted(p.name for p in reports.iterdir()) == [".gitkeep"]
    assert all(f.read_text(encoding="utf-8") == "x" for f in kept)
