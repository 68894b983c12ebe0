"""Benchmark of a cold ``kvk data build`` on the embedded default (part of ``kvk run``'s start-up).

Each run is a fresh process that builds into an empty temporary folder (the checkout's
``data/processed`` is not touched), timed as CPU seconds (user + system) and wall time:

    .venv/bin/python benchmarks/bench_build.py                      # this checkout, best of 5
    .venv/bin/python benchmarks/bench_build.py --baseline ../other  # interleaved with another

There is no outside program that builds this data, so two references are printed instead: the
floor (a process that only imports pandas and pyarrow, which every build needs) and, with
``--baseline``, another checkout of kvk (e.g. before a change) run interleaved with this one;
the outputs of both are checked to be equal first: every CSV byte for byte, every Parquet file
as the same frame with the same dtypes (its metadata names the checkout's input path, so its
bytes differ between checkouts; from one checkout they are identical).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = (
    "import sys; from kvk_analysis.build import build_data; "
    "build_data(processed_dir=sys.argv[1], progress=False)"
)
FLOOR = "import pandas, pyarrow.parquet"


def run(root: Path, code: str, out: Path) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one fresh process."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(root))
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.chdir(root)
        os.execve(sys.executable, [sys.executable, "-c", code, str(out)], env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{code!r} failed in {root} (status {status})")
    return usage.ru_utime + usage.ru_stime, wall


def same_outputs(a: Path, b: Path) -> bool:
    """Every output of build ``a`` equal to ``b``'s (see the module docstring)."""
    import pandas as pd

    names = json.loads((a / "manifest.json").read_text(encoding="utf-8"))["output_hashes"]
    for name in names:
        if name.endswith(".parquet"):
            x, y = pd.read_parquet(a / name), pd.read_parquet(b / name)
            if not (x.equals(y) and x.dtypes.equals(y.dtypes)):
                return False
        elif (a / name).read_bytes() != (b / name).read_bytes():
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", type=Path, help="another kvk checkout, run interleaved")
    args = ap.parse_args()
    roots = {"kvk": REPO}
    if args.baseline:
        roots["baseline"] = args.baseline.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / name for name in roots}
        for name, root in roots.items():  # equal outputs first (and warm the disk cache)
            run(root, BUILD, outs[name])
        if args.baseline and not same_outputs(outs["kvk"], outs["baseline"]):
            raise SystemExit("the outputs differ from the baseline's: no timing")
        times: dict[str, list[tuple[float, float]]] = {"floor": [], **{n: [] for n in roots}}
        for _ in range(args.runs):
            times["floor"].append(run(REPO, FLOOR, Path(tmp) / "floor"))
            for name, root in roots.items():
                times[name].append(run(root, BUILD, outs[name]))
    best = {name: (min(c for c, _ in t), min(w for _, w in t)) for name, t in times.items()}
    print(f"cold build on the embedded default, best of {args.runs} (fresh processes)")
    for name, (cpu, wall) in best.items():
        label = "imports only (floor)" if name == "floor" else f"{name} ({roots[name]})"
        print(f"  {label:60s} CPU {cpu:6.3f} s   wall {wall:6.3f} s")
    print(f"  build above the floor: CPU {best['kvk'][0] - best['floor'][0]:.3f} s")
    if args.baseline:
        ratio = best["baseline"][0] / best["kvk"][0]
        print(f"  outputs equal; baseline / kvk CPU: {ratio:.2f}x")


if __name__ == "__main__":
    main()
