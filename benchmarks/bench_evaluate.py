"""Benchmark of ``kvk_analysis.report.evaluation.evaluate``: every estimate of a report (the
cost behind notebooks 03 and 05) on the built demo panel with the notebooks' default
specification (seed 20070328, 999 bootstrap draws, window 2005Q1-2011Q4).

    .venv/bin/python benchmarks/bench_evaluate.py [--repeat 2] [--profile FILE]

Prints, best of ``--repeat``:

* **cold**: a fresh Python process that imports kvk and evaluates (no results cache) - what a
  notebook kernel pays when nothing is cached; ``evaluate`` alone and with the imports;
* **two at once**: two fresh processes evaluating the same specification at the same time
  into one empty cache folder (notebooks 03 and 05 of ``kvk run``): each takes the parts
  the other is not computing and reads the rest, wall time until both are done;
* **warm**: a second, uncached ``evaluate`` in the same process (modules imported, the
  exact-input memos of the LF critical values and MVN probabilities cleared first);
* **cached**: ``evaluate`` reading its stored results (``cache_dir=`` a folder) and through
  the automatic cache of the built panel (``cache_dir="auto"``: fingerprint of the panel,
  comparison with ``data/processed/panel.parquet``, unpickling), and the ratio against cold.

No other package computes a whole evaluation report, so the peer is kvk itself without the
cache (the estimator peers are in ``bench_estimators.py``, HonestDiD in ``bench_honest.py``).
The cached results are first checked to equal the computed ones (``to_dict()``).
``--profile FILE`` also writes a cProfile of one cold ``evaluate`` to ``FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SPEC = {"start": "2005Q1", "end": "2011Q4", "biters": 999, "seed": 20070328}

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
from kvk_analysis.report.evaluation import evaluate, specification_from_parameters
panel = pd.read_parquet(sys.argv[1])
spec = specification_from_parameters(json.loads(sys.argv[2]))
cache_dir = sys.argv[4] if len(sys.argv) > 4 else None
t1 = time.perf_counter()
if sys.argv[3]:
    import cProfile
    prof = cProfile.Profile()
    prof.enable()
res = evaluate(panel, spec, cache_dir=cache_dir)
t2 = time.perf_counter()
if sys.argv[3]:
    prof.disable()
    prof.dump_stats(sys.argv[3])
print(json.dumps({"imports": t1 - t0, "evaluate": t2 - t1, "total": t2 - t0}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cold(panel_path: Path, profile: str = "") -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(panel_path), json.dumps(SPEC), profile],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def pair(panel_path: Path, cache_dir: str) -> float:
    """Wall seconds until two fresh processes evaluating the same specification at the same
    time into an empty cache folder are both done (notebooks 03 and 05 of one run)."""
    cmd = [sys.executable, "-c", _CHILD, str(panel_path), json.dumps(SPEC), "", cache_dir]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_env()) for _ in range(2)]
    for p in procs:
        p.communicate()
        if p.returncode:
            raise SystemExit("a concurrent evaluate failed")
    return time.perf_counter() - start


def best(values: list[float]) -> float:
    return min(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()

    import pandas as pd

    from kvk_analysis import config
    from kvk_analysis.build import build_data
    from kvk_analysis.did import power
    from kvk_analysis.evaluation import honest
    from kvk_analysis.report import cache
    from kvk_analysis.report.evaluation import evaluate, specification_from_parameters

    build = build_data(progress=False)
    panel_path = Path(build.outputs["panel.parquet"])
    panel = pd.read_parquet(panel_path)
    spec = specification_from_parameters(SPEC)
    print(f"panel {panel_path} ({len(panel)} rows); load {os.getloadavg()[0]:.2f}")

    # agreement first: stored and read results equal the computed ones
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        computed = evaluate(panel, spec, cache_dir=tmp)
        first = time.perf_counter() - t
        read = evaluate(panel, spec, cache_dir=tmp)
        same = json.dumps(computed.to_dict(), sort_keys=True) == json.dumps(
            read.to_dict(), sort_keys=True
        )
        if not same:
            raise SystemExit("cached results differ from the computed ones")
        print(f"cached results equal the computed ones (first call {first:.2f} s, imports incl.)")

        colds, pairs = [], []
        for i in range(args.repeat):  # interleaved: one process alone, then two together
            colds.append(cold(panel_path, args.profile if i == 0 else ""))
            with tempfile.TemporaryDirectory() as shared:
                pairs.append(pair(panel_path, shared))
        warm = []
        for _ in range(args.repeat):
            honest._LF_MEMO.clear()
            power._MVN_MEMO.clear()
            t = time.perf_counter()
            evaluate(panel, spec, cache_dir=None)
            warm.append(time.perf_counter() - t)
        cached_dir = []
        for _ in range(max(args.repeat, 3)):
            t = time.perf_counter()
            evaluate(panel, spec, cache_dir=tmp)
            cached_dir.append(time.perf_counter() - t)
    auto = []
    auto_used = cache.build_panel_matches(panel) and os.environ.get("KVK_EVALUATION_CACHE") != "0"
    if auto_used:
        evaluate(panel, spec)  # stores the entry if missing
        for _ in range(max(args.repeat, 3)):
            t = time.perf_counter()
            evaluate(panel, spec)
            auto.append(time.perf_counter() - t)

    cold_eval = best([c["evaluate"] for c in colds])
    cold_total = best([c["total"] for c in colds])
    print(f"{'cold: evaluate (fresh process)':44s} {cold_eval:7.2f} s")
    print(f"{'cold: imports + read + evaluate':44s} {cold_total:7.2f} s")
    print(
        f"{'cold: two processes at once, shared cache':44s} {best(pairs):7.2f} s"
        f"   (wall until both done, imports incl.; one alone {cold_total:.2f} s)"
    )
    print(f"{'warm: evaluate again, same process':44s} {best(warm):7.2f} s")
    print(
        f"{'cached: evaluate(cache_dir=folder)':44s} {best(cached_dir):7.3f} s"
        f"   (cold/cached = {cold_eval / best(cached_dir):.0f}x)"
    )
    if auto:
        print(
            f"{'cached: evaluate() on the built panel (auto)':44s} {best(auto):7.3f} s"
            f"   (cold/cached = {cold_eval / best(auto):.0f}x; {config.PROCESSED_DIR})"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f} (2 shared cores: compare ratios)")
    if args.profile:
        print(f"cProfile of one cold evaluate: {args.profile}")


if __name__ == "__main__":
    main()
