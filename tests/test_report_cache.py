"""The results cache of ``evaluate`` (kvk_analysis.report.cache): same key -> read, any change
of panel, specification or code -> recomputed, concurrent callers compute once, unreadable
entries recomputed, ``make clean`` removes it and a build leaves it alone."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from kvk_analysis import config
from kvk_analysis.report import cache
from kvk_analysis.report import evaluation as ev
from kvk_analysis.report.evaluation import Specification, evaluate

ROOT = Path(__file__).resolve().parents[1]


def _panel(seed: int = 1) -> pd.DataFrame:
    from kvk_analysis.evaluation.testing import simulate_panel

    return simulate_panel(n_units=40, sectors=("all",), effect=-1.0, noise=0.2, seed=seed)


class Counter:
    """A compute function that counts its calls and returns a fresh object each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"value": [1.5, 2.5], "call": self.calls}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return _panel()


def test_same_key_reads_the_stored_results(tmp_path, panel):
    spec = Specification(seed=1)
    count = Counter()
    first = cache.cached(panel, spec, count, tmp_path)
    again = cache.cached(panel, spec, count, tmp_path)
    assert count.calls == 1
    assert again == first and again is not first  # read from the file, not this object
    assert len(list(tmp_path.glob("*.pkl"))) == 1


def test_changed_spec_panel_or_code_is_recomputed(tmp_path, panel, monkeypatch):
    count = Counter()
    cache.cached(panel, Specification(seed=1), count, tmp_path)
    cache.cached(panel, Specification(seed=2), count, tmp_path)
    assert count.calls == 2
    cache.cached(panel, Specification(seed=1, control_group="notyettreated"), count, tmp_path)
    assert count.calls == 3
    changed = panel.copy()
    changed.loc[changed.index[5], "rate"] += 1e-9  # one value, a tiny change
    cache.cached(changed, Specification(seed=1), count, tmp_path)
    assert count.calls == 4
    reordered = panel.iloc[::-1]  # same rows, other order
    cache.cached(reordered, Specification(seed=1), count, tmp_path)
    assert count.calls == 5
    renamed = panel.rename(columns={"pre_level": "pre_level2"})
    cache.cached(renamed, Specification(seed=1), count, tmp_path)
    assert count.calls == 6
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "another kvk")
    cache.cached(panel, Specification(seed=1), count, tmp_path)
    assert count.calls == 7
    monkeypatch.undo()
    cache.cached(panel, Specification(seed=1), count, tmp_path)
    assert count.calls == 7  # the first entry is still there


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other_key"])
def test_unreadable_entry_is_recomputed_and_replaced(tmp_path, panel, damage):
    spec = Specification(seed=1)
    count = Counter()
    cache.cached(panel, spec, count, tmp_path)
    (entry,) = tmp_path.glob("*.pkl")
    raw = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"not a pickle at all")
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # a signed, valid pickle with another key (e.g. a hash collision): never trusted
        payload = pickle.loads(raw[32:])
        payload["key"] = {**payload["key"], "panel": "0" * 64}
        payload["results"] = {"value": "stale"}
        body = pickle.dumps(payload)
        entry.write_bytes(cache._sign(body, cache._secret()) + body)
    out = cache.cached(panel, spec, count, tmp_path)
    assert count.calls == 2 and out["value"] == [1.5, 2.5]
    assert cache.cached(panel, spec, count, tmp_path) == out and count.calls == 2


def _slow_compute(log: str) -> dict:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(1.0)
    return {"value": 42}


def _caller(folder: str, log: str, queue) -> None:
    import functools

    out = cache.cached(
        _panel(), Specification(seed=7), functools.partial(_slow_compute, log), folder
    )
    queue.put(out)


def _run_together(target, folder: str, log: str, n: int) -> list:
    """Start ``n`` processes of ``target(folder, log, queue)`` at once; their outputs, after
    checking that every process exited cleanly."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(folder, log, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    outs = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outs


def test_concurrent_callers_with_the_same_key_compute_once(tmp_path):
    log = tmp_path / "computed.log"
    outs = _run_together(_caller, str(tmp_path / "c"), str(log), n=3)
    assert outs == [{"value": 42}] * 3
    assert len(log.read_text(encoding="utf-8").split()) == 1  # one computed, two waited


def _slow_part(log: str, name: str) -> str:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {name} {time.time()}\n")
    time.sleep(1.0)
    return name.upper()


def _parts_caller(folder: str, log: str, queue) -> None:
    import functools

    parts = {n: functools.partial(_slow_part, log, n) for n in ("sensitivity", "main")}
    out = cache.cached_parts(
        _panel(), Specification(seed=7), parts, lambda d: d["main"] + d["sensitivity"], folder
    )
    queue.put(out)


def test_concurrent_callers_share_the_parts(tmp_path):
    """Two callers that start together compute one part each, at the same time, and both
    return the combination; every part is computed once."""
    log = tmp_path / "parts.log"
    outs = _run_together(_parts_caller, str(tmp_path / "c"), str(log), n=2)
    assert outs == ["MAINSENSITIVITY"] * 2
    rows = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(r[1] for r in rows) == ["main", "sensitivity"]  # each part once
    assert len({r[0] for r in rows}) == 2  # by different processes
    assert abs(float(rows[0][2]) - float(rows[1][2])) < 0.9  # at the same time


def test_part_of_a_failed_holder_is_computed(tmp_path, panel):
    """A part whose lock was held by a caller that stopped without storing it is computed
    by the waiting caller (the lock is released with its holder)."""
    import fcntl
    import threading

    spec = Specification(seed=1)
    digest = cache.key_digest(cache.cache_key(panel, spec))
    tmp_path.mkdir(exist_ok=True)
    fd = os.open(tmp_path / f"{digest}.main.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    threading.Timer(0.5, os.close, args=(fd,)).start()  # the holder "dies" without a result
    order = []
    parts = {
        "main": lambda: order.append("main") or "m",
        "sensitivity": lambda: order.append("sensitivity") or "s",
    }
    out = cache.cached_parts(panel, spec, parts, lambda d: d["main"] + d["sensitivity"], tmp_path)
    assert out == "ms" and order == ["sensitivity", "main"]  # the free part first


class _Trap:
    """Unpickling this creates a file: the test below shows the cache never unpickles it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_entry_not_signed_by_this_user_is_never_unpickled(tmp_path, panel):
    """An entry with the right name and key but without this user's signature (a cache that
    came with a copied project, or written by someone else) is recomputed, not loaded."""
    spec = Specification(seed=1)
    count = Counter()
    cache.cached(panel, spec, count, tmp_path)
    (entry,) = tmp_path.glob("*.pkl")
    payload = pickle.loads(entry.read_bytes()[32:])
    trap = tmp_path / "unpickled"
    payload["results"] = _Trap(str(trap))
    body = pickle.dumps(payload)
    for forged in (body, b"\0" * 32 + body, cache._sign(body, b"k" * 32) + body):
        entry.write_bytes(forged)
        out = cache.cached(panel, spec, count, tmp_path)
        assert not trap.exists() and out["value"] == [1.5, 2.5]
    assert count.calls == 4


def test_prune_touches_only_the_caches_own_files(tmp_path, panel):
    """Pruning a folder the caller named removes old entries and stale temporaries of the
    cache, never other files in it (however old, whatever their suffix)."""
    old = time.time() - 7200
    others = [tmp_path / n for n in (".gitignore", ".env", "notes.pkl", "notes.txt", "a.b.lock")]
    for f in others:
        f.write_text("keep")
        os.utime(f, (old, old))
    stale = tmp_path / f".{'a' * 64}.main.tmp123.pkl"
    stale.write_text("half")
    os.utime(stale, (old, old))
    count = Counter()
    for seed in range(cache.MAX_ENTRIES + 2):
        cache.cached(panel, Specification(seed=seed), count, tmp_path)
    assert all(f.read_text() == "keep" for f in others)
    assert not stale.exists()
    assert len(list(tmp_path.glob("*.results.pkl"))) == cache.MAX_ENTRIES


def test_empty_cache_dir_means_no_cache(tmp_path, panel, monkeypatch):
    """``cache_dir=""`` is no cache (not the working folder)."""
    monkeypatch.chdir(tmp_path)
    folder, _ = ev._cache_folder(panel, Specification(seed=1), "")
    assert folder is None


def test_prune_keeps_the_newest_entries(tmp_path, panel):
    count = Counter()
    for seed in range(cache.MAX_ENTRIES + 3):
        cache.cached(panel, Specification(seed=seed), count, tmp_path)
        time.sleep(0.01)
    assert len(list(tmp_path.glob("*.pkl"))) == cache.MAX_ENTRIES
    newest = cache.MAX_ENTRIES + 2
    cache.cached(panel, Specification(seed=newest), count, tmp_path)
    assert count.calls == cache.MAX_ENTRIES + 3  # the newest is still read


def test_evaluate_through_the_cache(tmp_path, panel, monkeypatch):
    spec = Specification(inference="analytic", seed=3)
    first = evaluate(panel, spec, cache_dir=tmp_path)
    for part in ("_main_part", "_sensitivity_part", "_prepare_run"):
        monkeypatch.setattr(ev, part, lambda *a, **k: pytest.fail("recomputed"))
    again = evaluate(panel, spec, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again.estimates(), first.estimates())
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(
        first.to_dict(), sort_keys=True
    )
    assert sorted(p.name.split(".")[1] for p in tmp_path.glob("*.pkl")) == sorted(
        ev.EVALUATION_PARTS
    )
    assert sorted(ev.EVALUATION_PARTS) == ["honest", "main", "power", "smoothness"]
    monkeypatch.undo()
    # the parts, computed apart and combined, equal the results computed in one go
    direct = evaluate(panel, spec, cache_dir=None)
    assert json.dumps(direct.to_dict(), sort_keys=True) == json.dumps(
        first.to_dict(), sort_keys=True
    )
    assert direct.notes == first.notes
    # without a seed the bootstrap draws afresh: never cached
    calls = []
    monkeypatch.setattr(ev, "_evaluate", lambda p, s: calls.append(s) or "fresh")
    assert evaluate(panel, Specification(seed=None), cache_dir=tmp_path) == "fresh"
    assert evaluate(panel, spec, cache_dir=None) == "fresh" and len(calls) == 2


def test_parts_computed_apart_keep_the_notes_of_one_computation(tmp_path, panel, monkeypatch):
    """The relative-magnitude bounds failing stops the smoothness bounds too (one note, both
    fields None), whether the sensitivity block is computed in one go or in cached parts."""

    def fail(*args, **kwargs):
        raise ValueError("no bounds")

    monkeypatch.setattr(ev, "_relative_magnitudes", fail)
    spec = Specification(inference="analytic", seed=4)
    apart = evaluate(panel, spec, cache_dir=tmp_path)
    whole = evaluate(panel, spec, cache_dir=None)
    for res in (apart, whole):
        assert res.honest is None and res.honest_smoothness is None
        assert res.power is not None
    assert apart.notes == whole.notes
    assert [n for n in apart.notes if "HonestDiD" in n] == ["sensitivity (HonestDiD): no bounds"]


def test_auto_cache_only_for_the_built_panel(tmp_path, panel, monkeypatch):
    processed = tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setattr(config, "PROCESSED_DIR", processed)
    spec = Specification(seed=1)
    assert ev._cache_folder(panel, spec, "auto") == (None, None)  # nothing built
    panel.to_parquet(processed / "panel.parquet", index=False)
    assert ev._cache_folder(panel, spec, "auto") == (None, None)  # no manifest: not a build
    (processed / "manifest.json").write_text("{}", encoding="utf-8")
    built = pd.read_parquet(processed / "panel.parquet")
    folder, fingerprint = ev._cache_folder(built, spec, "auto")
    assert folder == processed / cache.CACHE_DIRNAME
    assert fingerprint == cache.panel_fingerprint(built)
    assert ev._cache_folder(_panel(seed=2), spec, "auto") == (None, None)  # another panel
    assert ev._cache_folder(built, Specification(seed=None), "auto") == (None, None)
    monkeypatch.setenv(ev.CACHE_ENV, "0")
    assert ev._cache_folder(built, spec, "auto") == (None, None)


def test_build_keeps_the_cache_and_make_clean_removes_it(tmp_path):
    from kvk_analysis.build import _remove_leftovers

    processed = tmp_path / "data" / "processed"
    entry = processed / cache.CACHE_DIRNAME / "ab.pkl"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"x")
    (processed / ".panel.x1y2.parquet").write_bytes(b"x")
    assert _remove_leftovers(processed) == [".panel.x1y2.parquet"]
    assert entry.exists()
    if shutil.which("make") is None:
        pytest.skip("needs make")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "reports").mkdir()
    subprocess.run(["make", "-s", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert sorted(p.name for p in processed.iterdir()) == [".gitkeep"]


def test_light_imports():
    """Importing the report's evaluation, the evaluation package and the HonestDiD port loads
    neither scipy.stats (scipy.special serves) nor statsmodels nor pyfixest (issue 13); the
    package's names still resolve (lazily)."""
    import sys

    code = (
        "import sys\n"
        "import kvk_analysis.report.evaluation, kvk_analysis.evaluation\n"
        "import kvk_analysis.evaluation.honest, kvk_analysis.evaluation.estimators\n"
        "import kvk_analysis.evaluation.twfe, kvk_analysis.report.cache\n"
        "print([m for m in ('scipy.stats', 'statsmodels', 'pyfixest') if m in sys.modules])\n"
        "from kvk_analysis.evaluation import twfe, synth, honest_sensitivity, match_controls\n"
        "print(callable(twfe) and callable(synth) and callable(match_controls))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


def test_unusable_cache_folder_computes(tmp_path, panel, monkeypatch):
    """A cache folder that cannot be created (a file in the way) costs time, not results."""
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setattr(ev, "_evaluate", lambda p, s: "computed")
    assert evaluate(panel, Specification(seed=1), cache_dir=blocker / "cache") == "computed"


def _shared_caller(folder: str, log: str, queue) -> None:
    import functools

    key = {
        "format": 1,
        "panel": "p",
        "specification": {"seed": 7},
        "code": cache.code_fingerprint(),
    }
    entry = cache.SharedEntry(folder, key, "figure", lang="nb")
    queue.put(entry.get(functools.partial(_slow_compute, log)))


def test_shared_entries_are_made_once_for_every_caller(tmp_path):
    """What callers derive from the same cached results (a figure, by name and parameters)
    is made once: concurrent callers wait for the first and read its entry, stored beside
    the results' parts (pruned with them) and signed like them."""
    log = tmp_path / "shared.log"
    folder = tmp_path / "c"
    folder.mkdir()
    outs = _run_together(_shared_caller, str(folder), str(log), n=3)
    assert outs == [{"value": 42}] * 3
    assert len(log.read_text(encoding="utf-8").split()) == 1  # one made it, two waited
    key = {
        "format": 1,
        "panel": "p",
        "specification": {"seed": 7},
        "code": cache.code_fingerprint(),
    }
    (entry,) = folder.glob("*.pkl")
    assert entry.name.startswith(cache.key_digest(key) + ".shared_")
    assert cache._ENTRY_NAME.match(entry.name)  # the cache's own file: pruned with the key
    count = Counter()
    shared = cache.SharedEntry(folder, key, "figure", lang="nb")
    assert shared.get(count) == {"value": 42} and count.calls == 0
    assert cache.SharedEntry(folder, key, "figure", lang="en").get(count)["call"] == 1
    assert cache.SharedEntry(folder, key, "other", lang="nb").get(count)["call"] == 2
    assert shared.get(count, width="50%")["call"] == 3  # more parameters: another entry
    other_key = {**key, "panel": "another panel"}
    assert cache.SharedEntry(folder, other_key, "figure", lang="nb").get(count)["call"] == 4
    entry.write_bytes(b"\0" * 32 + pickle.dumps({"key": key, "results": "forged"}))
    assert shared.get(count)["call"] == 5  # not signed by this user: made again


def test_results_from_the_cache_share_what_is_drawn_from_them(tmp_path, panel):
    spec = Specification(inference="analytic", seed=3)
    first = evaluate(panel, spec, cache_dir=tmp_path)
    again = evaluate(panel, spec, cache_dir=tmp_path)
    a, b = first.shared("event_study_plot", lang="nb"), again.shared("event_study_plot", lang="nb")
    assert a.part() == b.part() and a.digest == b.digest
    assert a.part() != first.shared("event_study_plot", lang="en").part()
    other = evaluate(panel, Specification(inference="analytic", seed=4), cache_dir=tmp_path)
    assert other.shared("event_study_plot", lang="nb").digest != a.digest
    # not from the cache (or changed since): nothing shared
    assert evaluate(panel, spec, cache_dir=None).shared("event_study_plot", lang="nb") is None
    import dataclasses

    assert dataclasses.replace(first, notes=[]).shared("event_study_plot") is None
    assert pickle.loads(pickle.dumps(first)).shared("event_study_plot") is None
