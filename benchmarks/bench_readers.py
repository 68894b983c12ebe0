"""Benchmark the KS employee-level reader against DuckDB and polars used directly (issue 13).

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/bench_readers.py --rows 8000000 30000000 [--repeat 3]

For each N it writes an employee-level KS file of N rows (430 municipalities x 28 quarters x
3 sectors, decimal commas) to a temporary folder, then times, each in its *own* process (so
that peak memory is measured per method), interleaved and best of ``--repeat``:

* ``kvk``: :func:`kvk_analysis.readers.read_ks_employee` (DuckDB inside, plus the checks a
  reader owes its user: empty, non-numeric and negative cells, short rows, label validation,
  the tidy table);
* ``duckdb``: one ``read_csv`` + ``GROUP BY`` query with typed decimal-comma columns;
* ``polars``: ``scan_csv(decimal_comma=True)`` + ``group_by`` with the streaming engine;
* ``pandas`` (``--pandas``): ``read_csv`` of the whole file + ``groupby().sum()``.

The sums (groups, lost and contracted days) of every method are checked to agree first.  It
prints each method's best time, rows/second, peak resident memory (``VmHWM`` of the child,
which includes native allocations ``tracemalloc`` cannot see) and kvk's ratio to each peer.
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


KEYS = ["Kommunenr", "Kvartal", "Sektor"]
NUMS = ["Avtalte dagsverk", "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt"]


def run_kvk(path: str) -> dict:
    from kvk_analysis.readers import read_ks_employee

    df = read_ks_employee(path)
    total = df[df["measure"] == "total"]
    return {
        "groups": len(total),
        "lost": float(total["lost_days"].sum()),
        "contracted": float(total["contracted_days"].sum()),
    }


def run_duckdb(path: str) -> dict:
    import duckdb

    types = ", ".join(f"'{h}': '{'DOUBLE' if h in NUMS else 'VARCHAR'}'" for h in HEADER)
    sums = ", ".join(f'sum("{c}")' for c in NUMS)
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT {', '.join(KEYS)}, {sums}, count(*) FROM read_csv('{path}', delim=';', "
            f"header=false, skip=1, columns={{{types}}}, decimal_separator=',', auto_detect=false) "
            "GROUP BY ALL"
        )
        .fetchall()
    )
    return {
        "groups": len(rows),
        "lost": float(sum(r[4] + r[5] for r in rows)),
        "contracted": float(sum(r[3] for r in rows)),
    }


def run_polars(path: str) -> dict:
    import polars as pl

    schema = {h: (pl.Float64 if h in NUMS else pl.String) for h in HEADER}
    out = (
        pl.scan_csv(
            path, separator=";", has_header=False, skip_rows=1, schema=schema, decimal_comma=True
        )
        .group_by(KEYS)
        .agg([pl.col(c).sum() for c in NUMS] + [pl.len().alias("n")])
        .collect(engine="streaming")
    )
    return {
        "groups": out.height,
        "lost": float(out[NUMS[1]].sum() + out[NUMS[2]].sum()),
        "contracted": float(out[NUMS[0]].sum()),
    }


def run_pandas(path: str) -> dict:
    import pandas as pd

    raw = pd.read_csv(path, sep=";", decimal=",", dtype={"Kommunenr": str})
    g = raw.groupby(KEYS)[NUMS].sum()
    lost = g[NUMS[1]] + g[NUMS[2]]
    return {"groups": len(g), "lost": float(lost.sum()), "contracted": float(g[NUMS[0]].sum())}


METHODS = {"kvk": run_kvk, "duckdb": run_duckdb, "polars": run_polars, "pandas": run_pandas}


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
    # Imports are not part of the timing.
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import polars  # noqa: F401

    import kvk_analysis.readers  # noqa: F401

    baseline = _vm_hwm_mb()
    start = time.perf_counter()
    result = METHODS[method](path)
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
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--pandas", action="store_true", help="also time pandas (slow, big)")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.generate:
        generate(Path(args.generate[1]), int(args.generate[0]))
        return
    methods = ["kvk", "duckdb", "polars"] + (["pandas"] if args.pandas else [])
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            path = Path(tmp) / f"ks_employee_{n}.csv"
            t0 = time.perf_counter()
            # In a child process too, so that this process stays small.
            subprocess.run([sys.executable, __file__, "--generate", str(n), str(path)], check=True)
            size = path.stat().st_size / 1e6
            print(f"N = {n:,} rows, {size:,.0f} MB (generated in {time.perf_counter() - t0:.1f} s)")
            best: dict[str, dict] = {}
            for _ in range(args.repeat):  # interleaved: each round runs every method once
                for method in methods:
                    r = measure(method, path)
                    if method not in best or r["seconds"] < best[method]["seconds"]:
                        best[method] = r
            ref = best["duckdb"]
            for method, r in best.items():
                same = r["groups"] == ref["groups"] and all(
                    abs(r[k] - ref[k]) <= 1e-9 * abs(ref[k]) for k in ("lost", "contracted")
                )
                if not same:
                    raise SystemExit(f"{method} sums differ from duckdb's: {r} vs {ref}")
            print(f"  same sums in every method: {ref['groups']:,} groups")
            for method, r in best.items():
                print(
                    f"  {method:7s} {r['seconds']:7.2f} s  {n / r['seconds'] / 1e6:6.2f} M rows/s  "
                    f"peak {r['peak_mb']:6.0f} MB (+{r['peak_mb'] - r['baseline_mb']:5.0f} MB "
                    "above imports)"
                )
            k = best["kvk"]
            for method in methods[1:]:
                r = best[method]
                print(
                    f"  kvk/{method}: time {k['seconds'] / r['seconds']:.2f}x, peak memory above "
                    f"imports {(k['peak_mb'] - k['baseline_mb']) / max(r['peak_mb'] - r['baseline_mb'], 1):.2f}x"
                )
            path.unlink()


if __name__ == "__main__":
    main()
