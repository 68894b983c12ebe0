"""Benchmark: kvk ``att_gt`` + ``aggte(type="dynamic")`` against csdid, differences, moderndid
and diff-diff, at 430, 4,300 and 43,000 units.

Run on demand (not a test)::

    .venv/bin/python benchmarks/bench_att_gt.py [--sizes 430 4300 43000] [--repeat 5]
        [--biters 999] [--covariates] [--blas-threads 1] [--no-reference]

Input: panels simulated by :func:`kvk_analysis.did.simulate_staggered` with KVK's design
(28 quarters 2005Q1-2011Q4, cohorts 2007Q2/2007Q4/2008Q3/2009Q1 holding 40/49/34/21 of every
430 units, the rest never treated), scaled to each size.  Every library runs the same
specification: never-treated comparison group, varying base period, outcome regression without
covariates (``--covariates``: doubly robust with the covariate ``x``), multiplier bootstrap with
``--biters`` draws, then the dynamic (event-study) aggregation with its own bootstrap.

Procedure, per size: (1) one run of every library; the ATT(g,t) and event-study estimates must
equal kvk's (max |diff| < 1e-8), else the library is reported as DIFFERENT and the script exits
non-zero; (2) ``--repeat`` timing rounds, interleaved (kvk, peer 1, peer 2, ..., kvk, ...),
best of N per library; a peer whose first run took more than ``--slow`` seconds is timed once;
(3) peak extra memory of one run of each library (tracemalloc: numpy and Python allocations
beyond the input data; memory allocated inside compiled extensions that bypass Python's
allocator, e.g. diff-diff's Rust backend, is not seen).  The machine is shared, so absolute
times are noisy; the ratios within one run are the result.

Peers are optional (``pip install .[bench]``); a missing one is reported and skipped.  With
``--covariates`` diff-diff's doubly robust estimates differ from R's (its own propensity-score
trimming), so only the other peers are comparable there.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import io
import os
import platform
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from kvk_analysis.did import aggte, att_gt, simulate_staggered
from kvk_analysis.did.dgp import KVK_COHORTS

Result = tuple[np.ndarray, np.ndarray]  # ATT(g,t) in kvk's (group, time) order, event study


def make_panel(n_units: int, seed: int = 20070328) -> pd.DataFrame:
    """KVK's design scaled to ``n_units`` (cohort sizes proportional to 430 units)."""
    scale = n_units / 430
    cohorts = {g: max(1, round(k * scale)) for g, k in KVK_COHORTS.items()}
    return simulate_staggered(n_units=n_units, cohorts=cohorts, seed=seed)


def run_kvk(df: pd.DataFrame, spec: dict, biters: int) -> Result:
    res = att_gt(
        df,
        spec["y"],
        spec["t"],
        spec["id"],
        spec["g"],
        xformla=spec["x"] and [spec["x"]],
        est_method=spec["method"],
        biters=biters,
        seed=1,
    )
    dyn = aggte(res, "dynamic")
    return res.att, dyn.att_egt


def _quiet() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def run_csdid(df: pd.DataFrame, spec: dict, biters: int) -> Result:
    from csdid.att_gt import ATTgt  # noqa: PLC0415

    with _quiet():
        out = ATTgt(
            yname=spec["y"],
            tname=spec["t"],
            idname=spec["id"],
            gname=spec["g"],
            data=df,
            xformla=f"{spec['y']}~{spec['x']}" if spec["x"] else None,
            biters=biters,
            cband=True,
        ).fit(est_method=spec["method"], bstrap=True)
        out.aggte(typec="dynamic", biters=biters)
    return np.asarray(out.results["att"], float), np.asarray(out.atte["att_egt"], float)


def run_differences(df: pd.DataFrame, spec: dict, biters: int) -> Result:
    from differences import ATTgt  # noqa: PLC0415

    data = df.set_index([spec["id"], spec["t"]])
    data["cohort_col"] = data[spec["g"]].where(data[spec["g"]] != 0)
    formula = f"{spec['y']} ~ {spec['x']}" if spec["x"] else spec["y"]
    with _quiet():
        model = ATTgt(data=data, cohort_column="cohort_col")
        model.fit(
            formula=formula,
            est_method=spec["method"],
            control_group="never_treated",
            boot_iterations=biters,
            random_state=1,
            progress_bar=False,
        )
        event = model.aggregate("event", boot_iterations=biters, random_state=1)
    att = model.results().iloc[:, 0].to_numpy(float)
    return att, event.iloc[:, 0].to_numpy(float)


def run_moderndid(df: pd.DataFrame, spec: dict, biters: int) -> Result:
    from moderndid import aggte as m_aggte  # noqa: PLC0415
    from moderndid import att_gt as m_att_gt  # noqa: PLC0415

    with _quiet():
        mp = m_att_gt(
            df,
            yname=spec["y"],
            tname=spec["t"],
            idname=spec["id"],
            gname=spec["g"],
            xformla=f"~{spec['x']}" if spec["x"] else None,
            est_method=spec["method"],
            boot=True,
            biters=biters,
            cband=True,
            random_state=1,
        )
        dyn = m_aggte(mp, type="dynamic")
    order = np.lexsort((np.asarray(mp.times), np.asarray(mp.groups)))
    return np.asarray(mp.att_gt, float)[order], np.asarray(dyn.att_by_event, float)


def run_diff_diff(df: pd.DataFrame, spec: dict, biters: int) -> Result:
    from diff_diff import CallawaySantAnna  # noqa: PLC0415

    with _quiet():
        cs = CallawaySantAnna(
            control_group="never_treated",
            estimation_method=spec["method"],
            n_bootstrap=biters,
            seed=1,
            base_period="varying",
            cband=True,
        )
        r = cs.fit(
            df,
            outcome=spec["y"],
            unit=spec["id"],
            time=spec["t"],
            first_treat=spec["g"],
            covariates=[spec["x"]] if spec["x"] else None,
            aggregate="event_study",
        )
    gt = r.group_time_effects
    att = np.array([gt[k]["effect"] for k in sorted(gt)], float)
    es = r.event_study_effects
    return att, np.array([es[e]["effect"] for e in sorted(es)], float)


PEERS: dict[str, tuple[str, Callable[[pd.DataFrame, dict, int], Result]]] = {
    "csdid": ("csdid", run_csdid),
    "differences": ("differences", run_differences),
    "moderndid": ("moderndid", run_moderndid),
    "diff-diff": ("diff-diff", run_diff_diff),
}


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference (infinite when the shapes differ)."""
    return float(np.max(np.abs(a - b))) if a.shape == b.shape else np.inf


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _timed(fn: Callable[[], Result]) -> tuple[float, Result]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _peak_mb(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[430, 4300, 43000])
    ap.add_argument("--repeat", type=int, default=5, help="timing rounds (best is kept)")
    ap.add_argument("--biters", type=int, default=999, help="bootstrap draws")
    ap.add_argument("--covariates", action="store_true", help="DR with one covariate")
    ap.add_argument("--no-reference", action="store_true", help="time kvk only")
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    ap.add_argument(
        "--slow", type=float, default=20.0, help="a peer slower than this (s) is timed once"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="BLAS threads for every library (default: the machine's; kvk chooses its own)",
    )
    args = ap.parse_args(argv)
    if args.blas_threads is None:
        return _run(args)
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    method = "dr" if args.covariates else "reg"
    spec = {"y": "y", "t": "period", "id": "id", "g": "gname", "method": method}
    spec["x"] = "x" if args.covariates else None
    runners: dict[str, Callable[[pd.DataFrame, dict, int], Result]] = {"kvk": run_kvk}
    if not args.no_reference:
        for name in args.peers:
            runners[name] = PEERS[name][1]
    versions = ", ".join(f"{n} {_version(PEERS[n][0])}" for n in runners if n != "kvk")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{versions}; {os.cpu_count()} CPUs (shared: compare ratios, not absolute times)"
    )
    print(
        f"spec: never treated, varying base, est_method={method}, covariates="
        f"{'x' if args.covariates else 'none'}, {args.biters} bootstrap draws, att_gt + "
        f"aggte(dynamic); best of {args.repeat} interleaved rounds; BLAS threads "
        f"{args.blas_threads or 'default'}\n"
    )
    ok = True
    rows = []
    for n in args.sizes:
        df = make_panel(n)
        print(f"{n} units x {df['period'].nunique()} periods ({len(df):,} rows)")
        calls = {
            lib: (lambda fn=fn, df=df: fn(df, spec, args.biters)) for lib, fn in runners.items()
        }
        first: dict[str, float] = {}
        results: dict[str, Result] = {}
        for lib, call in list(calls.items()):
            try:
                first[lib], results[lib] = _timed(call)
            except ImportError as exc:
                print(f"  {lib}: skipped ({exc})")
                del calls[lib]
        # (1) equal estimates first
        base_att, base_dyn = results["kvk"]
        agree: dict[str, str] = {}
        for lib in calls:
            if lib == "kvk":
                continue
            d_att = _max_diff(results[lib][0], base_att)
            d_dyn = _max_diff(results[lib][1], base_dyn)
            same = d_att < 1e-8 and d_dyn < 1e-8
            ok &= same
            agree[lib] = f"max|diff| {max(d_att, d_dyn):.0e}" + ("" if same else " DIFFERENT")
        # (2) interleaved timing rounds
        best = dict(first)
        for _ in range(args.repeat):
            for lib, call in calls.items():
                if lib != "kvk" and first[lib] > args.slow:
                    continue
                best[lib] = min(best[lib], _timed(call)[0])
        # (3) memory
        mem = {}
        if not args.no_memory:
            for lib, call in calls.items():
                if lib == "kvk" or first[lib] <= args.slow:
                    mem[lib] = _peak_mb(call)
        for lib in calls:
            line = f"  {lib:<12} {best[lib] * 1000:10.1f} ms"
            line += f"  peak extra {mem[lib]:7.1f} MB" if lib in mem else "  peak extra     n/a   "
            if lib != "kvk":
                line += f"   kvk {best[lib] / best['kvk']:6.2f}x faster; estimates {agree[lib]}"
                if first[lib] > args.slow:
                    line += " (timed once)"
            print(line)
            rows.append((n, lib, best[lib], best[lib] / best["kvk"], mem.get(lib)))
        peers = [best[lib] for lib in calls if lib != "kvk"]
        if peers:
            print(f"  ratio to the fastest peer: {min(peers) / best['kvk']:.2f}x\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
