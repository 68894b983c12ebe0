"""Benchmark the KS employee-level reader (Arrow streaming) against a naive pandas read.

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/bench_readers.py --rows 1000000 10000000

For each N it writes an employee-level KS file of N rows (430 municipalities x 28 quarters x
3 sectors, decimal commas) to a temporary folder, then runs in *separate* processes, so that
peak memory is measured per method:

* ``arrow``: :func:`kvk_analysis.readers.read_ks_employee` (streamed blocks, Arrow group-by);
* ``pandas``: ``pandas.read_csv(sep=";", decimal=",")`` of the whole file + ``groupby().sum()``.

It prints rows/second and peak resident memory (``VmHWM`` of the child process, which
includes Arrow's allocations that ``tracemalloc`` cannot see; also shown above the memory
after imports) and the ratios, and checks that both give the same sums.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = [
    "Kommunenr", "Kvartal", "Sektor", "Ansattnr", "Kjonn", "Stillingsprosent",
    "Avtalte dagsverk", "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt",
]  # fmt: skip


def generate(path: Path, n: int, seed: int = 1, chunk: int = 2_000_000) -> None:
    """Write an employee-level KS file of ``n`` rows (numbers with decimal commas)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    codes = np.array([f"{c:04d}" for c in range(101, 101 + 430)])
    quarters = np.array([f"{y}K{q}" for y in range(2005, 2012) for q in range(1, 5)])
    sectors = np.array(["Pleie og omsorg", "Oppvekst", "Annet"])

    def comma(x: np.ndarray) -> pa.Array:
        return pc.replace_substring(pc.cast(pa.array(x.round(1)), pa.string()), ".", ",")

    with pacsv.CSVWriter(
        path,
        pa.schema([(h, pa.string()) for h in HEADER]),
        write_options=pacsv.WriteOptions(delimiter=";", quoting_style="none"),
    ) as writer:
        done = 0
        while done < n:
            m = min(chunk, n - done)
            pct = rng.choice([40, 50, 60, 75, 80, 100], m)
            contracted = 63 * pct / 100
            self_ = np.minimum(rng.poisson(0.8, m).astype(float), contracted)
            doctor = np.minimum(rng.exponential(4.0, m) * (rng.random(m) < 0.3), contracted - self_)
            table = pa.table(
                {
                    "Kommunenr": codes[rng.integers(0, len(codes), m)],
                    "Kvartal": quarters[rng.integers(0, len(quarters), m)],
                    "Sektor": sectors[rng.integers(0, 3, m)],
                    "Ansattnr": pc.cast(pa.array(np.arange(done, done + m)), pa.string()),
                    "Kjonn": np.where(rng.random(m) < 0.78, "K", "M"),
                    "Stillingsprosent": pc.cast(pa.array(pct), pa.string()),
                    "Avtalte dagsverk": comma(contracted),
                    "Tapte dagsverk egenmeldt": comma(self_),
                    "Tapte dagsverk legemeldt": comma(doctor),
                }
            )
            writer.write_table(table)
            done += m


def run_arrow(path: str) -> dict:
    from kvk_analysis.readers import read_ks_employee

    df = read_ks_employee(path)
    total = df[df["measure"] == "total"]
    return {
        "groups": len(total),
        "lost": float(total["lost_days"].sum()),
        "contracted": float(total["contracted_days"].sum()),
    }


def run_pandas(path: str) -> dict:
    import pandas as pd

    raw = pd.read_csv(path, sep=";", decimal=",", dtype={"Kommunenr": str})
    g = raw.groupby(["Kommunenr", "Kvartal", "Sektor"])[
        ["Avtalte dagsverk", "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt"]
    ].sum()
    lost = g["Tapte dagsverk egenmeldt"] + g["Tapte dagsverk legemeldt"]
    return {
        "groups": len(g),
        "lost": float(lost.sum()),
        "contracted": float(g["Avtalte dagsverk"].sum()),
    }


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` from /proc belongs to the current address space, so it starts afresh at
    ``exec``; ``getrusage().ru_maxrss`` would carry over the parent's peak on Linux.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(method: str, path: str) -> None:
    import pandas  # noqa: F401  (imports are not part of the timing)
    import pyarrow.csv  # noqa: F401

    import kvk_analysis.readers  # noqa: F401

    baseline = _vm_hwm_mb()
    start = time.perf_counter()
    result = {"arrow": run_arrow, "pandas": run_pandas}[method](path)
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = _vm_hwm_mb()
    result["baseline_mb"] = baseline
    print(json.dumps(result))


def measure(method: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-pandas", action="store_true", help="only time the Arrow reader")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.generate:
        generate(Path(args.generate[1]), int(args.generate[0]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            path = Path(tmp) / f"ks_employee_{n}.csv"
            t0 = time.perf_counter()
            # In a child process too, so that this process stays small.
            subprocess.run([sys.executable, __file__, "--generate", str(n), str(path)], check=True)
            size = path.stat().st_size / 1e6
            print(f"N = {n:,} rows, {size:,.0f} MB (generated in {time.perf_counter() - t0:.1f} s)")
            results = {"arrow": measure("arrow", path)}
            if not args.skip_pandas:
                results["pandas"] = measure("pandas", path)
            for method, r in results.items():
                print(
                    f"  {method:7s} {r['seconds']:7.2f} s  {n / r['seconds'] / 1e6:6.2f} M rows/s  "
                    f"peak {r['peak_mb']:6.0f} MB (after imports {r['baseline_mb']:4.0f} MB, "
                    f"+{r['peak_mb'] - r['baseline_mb']:5.0f} MB)  {r['groups']:,} groups"
                )
            if "pandas" in results:
                a, p = results["arrow"], results["pandas"]
                same = abs(a["lost"] - p["lost"]) <= 1e-6 * p["lost"] and a["groups"] == p["groups"]
                print(
                    f"  arrow/pandas: time {a['seconds'] / p['seconds']:.2f}x, "
                    f"peak memory {a['peak_mb'] / p['peak_mb']:.2f}x "
                    f"(above imports {(a['peak_mb'] - a['baseline_mb']) / (p['peak_mb'] - p['baseline_mb']):.2f}x); "
                    f"same sums: {same}"
                )
            path.unlink()


if __name__ == "__main__":
    main()
