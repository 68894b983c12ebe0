"""Scale benchmark: write an employee-level KS extract of N rows and time the KS reader on it.

    .venv/bin/python benchmarks/bench_employee_level.py --rows 2000000 [--keep PATH]

Prints rows, file size, generation time, reading time (``readers.ks.read_ks_employee``) and
peak memory of this process.  The data are simulated
(``kvk_analysis.simulate.simulate_employee_level``); nothing is written under ``data/``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows to write")
    parser.add_argument("--keep", default=None, help="write here and keep the file")
    args = parser.parse_args()

    from kvk_analysis.readers.ks import read_ks_employee
    from kvk_analysis.simulate import simulate_employee_level

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "employee_level.csv"
        t0 = time.perf_counter()
        n = simulate_employee_level(path, n_rows=args.rows)
        t_gen = time.perf_counter() - t0
        size = path.stat().st_size / 1e6
        print(f"wrote {n:,} rows, {size:.1f} MB in {t_gen:.1f} s ({n / t_gen:,.0f} rows/s)")
        t0 = time.perf_counter()
        tidy = read_ks_employee(path)
        t_read = time.perf_counter() - t0
        print(
            f"read_ks_employee: {len(tidy):,} tidy rows in {t_read:.1f} s ({n / t_read:,.0f} rows/s)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
