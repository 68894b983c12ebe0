"""Benchmark the KS employee-level reader against DuckDB and polars used directly (issue 13).

    .venv/bin/python benchmarks/bench_readers.py                 # 2M, 8M, 30M rows (make bench)
    .venv/bin/python benchmarks/bench_readers.py --rows 2000000 --repeat 9

For each N it writes a simulated employee-level KS file of N rows (430 municipalities x 28
quarters x 3 sectors drawn at random, so the group-by sees unsorted keys; decimal commas) to
a temporary folder, then runs, each in its *own* process (so that peak memory is measured per
method and no method warms another's caches in its process), interleaved and best of
``--repeat`` (wall time; the CPU seconds of all the method's threads are printed too, since
on a shared machine they are less disturbed by other jobs than the wall time):

* ``kvk``: :func:`kvk_analysis.readers.read_ks_employee` (polars inside, plus the checks a
  reader owes its user: empty, non-numeric and negative cells, rows with the wrong number of
  fields, label validation, the tidy table; 30M rows are the size issue 13 quotes, a 1.3 GB
  file: about a minute per size here);
* ``duckdb``: one ``read_csv`` + ``GROUP BY`` query with typed decimal-comma columns
  (``preserve_insertion_order=false``, ``--threads`` threads);
* ``polars``: ``scan_csv(decimal_comma=True)`` + ``group_by`` + ``collect(engine="streaming")``,
  string keys (what a user writes);
* ``polars-cat``: the same with categorical keys (the tuning kvk uses; shown so that the
  ratio against the tuned engine is visible too);
* ``pandas`` (``--pandas``): ``read_csv`` of the whole file + ``groupby().sum()``.

Every run of every method writes its per-group sums (groups, contracted days, lost days,
rows), and the script stops unless they equal kvk's (relative 1e-9) before it prints any
time.  All methods use ``--threads`` threads (``POLARS_MAX_THREADS`` for kvk and polars,
``SET threads`` for DuckDB).  It prints each method's best time, rows/second, peak resident
memory (``VmHWM`` of the child, which includes native allocations ``tracemalloc`` cannot see)
above the imports, the median time (how noisy the machine was), kvk's ratio to each peer and to the faster of DuckDB and polars used
directly, and, from the largest size, what a national register of 500,000 employees x 40
quarters costs on this machine if time grows linearly with the rows (memory does not: the
group table has one row per municipality x quarter x sector).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = [
    "Kommunenr", "Kvartal", "Sektor", "Ansattnr", "Kjonn", "Stillingsprosent",
    "Avtalte dagsverk", "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt",
]  # fmt: skip
KEYS = ["Kommunenr", "Kvartal", "Sektor"]
NUMS = ["Avtalte dagsverk", "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt"]
SECTOR = {"Pleie og omsorg": "care", "Oppvekst": "education", "Annet": "other"}
NATIONAL_ROWS = 500_000 * 40  # employees x quarters


def generate(path: Path, n: int, seed: int = 1, chunk: int = 2_000_000) -> None:
    """Write an employee-level KS file of ``n`` rows (numbers with decimal commas)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    codes = np.array([f"{c:04d}" for c in range(101, 101 + 430)])
    quarters = np.array([f"{y}K{q}" for y in range(2005, 2012) for q in range(1, 5)])
    sectors = np.array(list(SECTOR))

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


# --------------------------------------------------------------------------- the methods
# Each returns what the method produces (timed); ``kvk_frame``/``_peer_frame`` then turn it into
# one pandas frame: code, quarter (2005Q1), sector (care ...), contracted, lost, n (not timed).


def run_kvk(path: str, threads: int):
    from kvk_analysis.readers import read_ks_employee

    return read_ks_employee(path)


def kvk_frame(df):
    total = df[df["measure"] == "total"]
    return total.assign(code=total["kommunenummer"], quarter=total["period"].astype(str))[
        ["code", "quarter", "sector", "contracted_days", "lost_days", "employees"]
    ].set_axis(["code", "quarter", "sector", "contracted", "lost", "n"], axis=1)


def _peer_frame(df):
    """A peer's raw-label sums in kvk's key spelling (after the timing)."""
    if not hasattr(df, "iloc"):  # polars
        import polars as pl

        df = df.with_columns(pl.col(KEYS).cast(pl.String)).to_pandas()
    return df.assign(
        code=df["Kommunenr"],
        quarter=df["Kvartal"].str.replace("K", "Q"),
        sector=df["Sektor"].map(SECTOR),
        contracted=df[NUMS[0]],
        lost=df[NUMS[1]] + df[NUMS[2]],
    )[["code", "quarter", "sector", "contracted", "lost", "n"]]


def run_duckdb(path: str, threads: int):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    types = ", ".join(f"'{h}': '{'DOUBLE' if h in NUMS else 'VARCHAR'}'" for h in HEADER)
    sums = ", ".join(f'sum("{c}") AS "{c}"' for c in NUMS)
    df = con.execute(
        f"SELECT {', '.join(KEYS)}, {sums}, count(*) AS n FROM read_csv('{path}', delim=';', "
        f"header=false, skip=1, columns={{{types}}}, decimal_separator=',', auto_detect=false) "
        "GROUP BY ALL"
    ).df()
    return df


def _run_polars(path: str, key_type) -> object:
    import polars as pl

    schema = {
        h: (pl.Float64 if h in NUMS else key_type if h in KEYS else pl.String) for h in HEADER
    }
    out = (
        pl.scan_csv(
            path, separator=";", has_header=False, skip_rows=1, schema=schema, decimal_comma=True
        )
        .group_by(KEYS)
        .agg([pl.col(c).sum() for c in NUMS] + [pl.len().alias("n")])
        .collect(engine="streaming")
    )
    return out


def run_polars(path: str, threads: int):
    import polars as pl

    return _run_polars(path, pl.String)


def run_polars_cat(path: str, threads: int):
    import polars as pl

    return _run_polars(path, pl.Categorical)


def run_pandas(path: str, threads: int):
    import pandas as pd

    raw = pd.read_csv(path, sep=";", decimal=",", dtype={"Kommunenr": str})
    g = raw.groupby(KEYS)[NUMS].sum()
    g["n"] = raw.groupby(KEYS).size()
    return g.reset_index()


METHODS = {
    "kvk": run_kvk,
    "duckdb": run_duckdb,
    "polars": run_polars,
    "polars-cat": run_polars_cat,
    "pandas": run_pandas,
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


def child(method: str, path: str, threads: int, out: str) -> None:
    # Imports are not part of the timing (nor of the memory above the baseline).
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import polars  # noqa: F401

    import kvk_analysis.readers  # noqa: F401

    baseline = _vm_hwm_mb()
    cpu = time.process_time()
    start = time.perf_counter()
    result = METHODS[method](path, threads)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = _vm_hwm_mb()
    sums = kvk_frame(result) if method == "kvk" else _peer_frame(result)
    sums.sort_values(["code", "quarter", "sector"]).reset_index(drop=True).to_parquet(out)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "baseline_mb": baseline}))


def measure(method: str, path: Path, threads: int, out: Path) -> dict:
    env = dict(os.environ, POLARS_MAX_THREADS=str(threads))
    res = subprocess.run(
        [sys.executable, __file__, "--child", method, str(path), str(threads), str(out)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def same_sums(a, b) -> str | None:
    """``None`` if two sums tables agree (same groups, sums to 1e-9 relative), else why not."""
    import numpy as np

    if len(a) != len(b):
        return f"{len(a)} groups vs {len(b)}"
    for c in ("code", "quarter", "sector"):
        if not (a[c].astype(str).to_numpy() == b[c].astype(str).to_numpy()).all():
            return f"different groups ({c})"
    for c in ("contracted", "lost", "n"):
        x, y = a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float)
        if not np.allclose(x, y, rtol=1e-9, atol=0):
            return f"{c} differs by up to {np.max(np.abs(x - y)):.3g}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 8_000_000, 30_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--threads", type=int, default=2, help="threads for every method")
    parser.add_argument("--pandas", action="store_true", help="also time pandas (slow, big)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, path, threads, out = args.child
        child(method, path, int(threads), out)
        return
    if args.generate:
        generate(Path(args.generate[1]), int(args.generate[0]))
        return
    import pandas as pd

    methods = ["kvk", "duckdb", "polars", "polars-cat"] + (["pandas"] if args.pandas else [])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.threads} threads per method, best of {args.repeat} "
        "interleaved rounds, each run in its own process"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            path = Path(tmp) / f"ks_employee_{n}.csv"
            t0 = time.perf_counter()
            # In a child process too, so that this process stays small.
            subprocess.run([sys.executable, __file__, "--generate", str(n), str(path)], check=True)
            size = path.stat().st_size
            print(
                f"\nN = {n:,} rows, {size / 1e6:,.0f} MB ({size / n:.1f} bytes/row; generated "
                f"in {time.perf_counter() - t0:.1f} s)"
            )
            load = os.getloadavg()[0]
            best: dict[str, dict] = {}
            times: dict[str, list[float]] = {m: [] for m in methods}
            cpu: dict[str, list[float]] = {m: [] for m in methods}
            for _ in range(args.repeat):  # interleaved: each round runs every method once
                for method in methods:
                    out = Path(tmp) / f"{method}.parquet"
                    r = measure(method, path, args.threads, out)
                    ref = Path(tmp) / "kvk.parquet"
                    why = same_sums(pd.read_parquet(ref), pd.read_parquet(out))
                    if why:
                        raise SystemExit(f"{method}'s sums differ from kvk's at N = {n}: {why}")
                    times[method].append(r["seconds"])
                    cpu[method].append(r["cpu"])
                    if method not in best or r["seconds"] < best[method]["seconds"]:
                        best[method] = r
            groups = len(pd.read_parquet(Path(tmp) / "kvk.parquet"))
            print(
                f"  same sums in every run of every method: {groups:,} groups; load average "
                f"{load:.2f} before and {os.getloadavg()[0]:.2f} after the rounds "
                f"({os.cpu_count()} cores: above that, other jobs took turns with these runs)"
            )
            for method, r in best.items():
                print(
                    f"  {method:10s} {r['seconds']:7.2f} s (median {statistics.median(times[method]):6.2f})"
                    f"  cpu {min(cpu[method]):6.2f} s"
                    f"  {n / r['seconds'] / 1e6:6.2f} M rows/s"
                    f"  peak {r['peak_mb']:6.0f} MB (+{r['peak_mb'] - r['baseline_mb']:5.0f} MB "
                    "above imports)"
                )
            k = best["kvk"]["seconds"]
            ratios = "  ".join(f"kvk/{m} {k / best[m]['seconds']:.2f}x" for m in methods[1:])
            fastest = min(("duckdb", "polars"), key=lambda m: best[m]["seconds"])
            print(f"  {ratios}")
            print(
                f"  kvk / faster of duckdb and polars used directly ({fastest}): "
                f"{k / best[fastest]['seconds']:.2f}x"
            )
            c = min(cpu["kvk"])
            print(
                "  CPU seconds (all threads, least of the rounds; less disturbed by other jobs "
                "than wall time): "
                + "  ".join(f"kvk/{m} {c / min(cpu[m]):.2f}x" for m in methods[1:])
            )
            rows.append((n, size, best))
            path.unlink()
    n, size, best = rows[-1]
    k = best["kvk"]
    scale = NATIONAL_ROWS / n
    print(
        f"\nNational register, {NATIONAL_ROWS:,} rows (500,000 employees x 40 quarters), "
        f"extrapolated linearly from N = {n:,}: about {size / n * NATIONAL_ROWS / 1e9:.1f} GB "
        f"of CSV, kvk {k['seconds'] * scale:.0f} s (polars {best['polars']['seconds'] * scale:.0f} "
        f"s, duckdb {best['duckdb']['seconds'] * scale:.0f} s), kvk's memory about "
        f"{k['peak_mb'] - k['baseline_mb']:.0f} MB above imports (flat in the rows)"
    )


if __name__ == "__main__":
    main()
