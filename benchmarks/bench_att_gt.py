"""Benchmark: kvk ``att_gt`` + ``aggte(type="dynamic")`` against ``csdid`` and ``differences``.

Run on demand (not a test)::

    .venv/bin/python benchmarks/bench_att_gt.py [--repeat 7] [--biters 999] [--covariates]

Two inputs: R ``did``'s ``mpdta`` (500 counties x 5 years) and a panel of the default KVK size
(430 municipalities x 28 quarters 2005Q1-2011Q4, cohorts 2007Q2/2007Q4/2008Q3/2009Q1 with
40/49/34/21 units, simulated by :func:`kvk_analysis.did.simulate_staggered`).  Each library
runs the same specification (never-treated comparison group, varying base period, outcome
regression without covariates unless ``--covariates`` (then doubly robust with one covariate),
multiplier bootstrap with ``--biters`` draws, then the dynamic aggregation).  The best of
``--repeat`` runs is reported, the ratio to the faster reference, and the largest absolute
difference of the ATT(g,t) and event-study estimates from kvk's (they must agree).

``csdid`` and ``differences`` are optional (``pip install csdid differences``); a missing one
is reported and skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from kvk_analysis.did import aggte, att_gt, simulate_staggered

ROOT = Path(__file__).resolve().parents[1]


def _best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up (imports, caches)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_kvk(df: pd.DataFrame, spec: dict, biters: int) -> tuple[np.ndarray, np.ndarray]:
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


def run_csdid(df: pd.DataFrame, spec: dict, biters: int) -> tuple[np.ndarray, np.ndarray]:
    from csdid.att_gt import ATTgt  # noqa: PLC0415

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
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


def run_differences(df: pd.DataFrame, spec: dict, biters: int) -> tuple[np.ndarray, np.ndarray]:
    from differences import ATTgt  # noqa: PLC0415

    data = df.set_index([spec["id"], spec["t"]])
    data["cohort_col"] = data[spec["g"]].where(data[spec["g"]] != 0)
    formula = f"{spec['y']} ~ {spec['x']}" if spec["x"] else spec["y"]
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
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


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference (infinite when the shapes differ)."""
    return float(np.max(np.abs(a - b))) if a.shape == b.shape else np.inf


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per case (best is kept)")
    ap.add_argument("--biters", type=int, default=999, help="bootstrap draws")
    ap.add_argument("--covariates", action="store_true", help="DR with one covariate")
    ap.add_argument("--no-reference", action="store_true", help="time kvk only")
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for every library (default 1, as kvk uses internally: fair)",
    )
    args = ap.parse_args(argv)
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    mpdta = pd.read_csv(ROOT / "tests" / "reference" / "mpdta.csv")
    kvk = simulate_staggered(seed=20070328)
    method = "dr" if args.covariates else "reg"
    cases = {
        "mpdta (500 x 5 years)": (
            mpdta,
            {"y": "lemp", "t": "year", "id": "countyreal", "g": "first.treat"},
            "lpop",
        ),
        "KVK default (430 x 28 quarters)": (
            kvk,
            {"y": "y", "t": "period", "id": "id", "g": "gname"},
            "x",
        ),
    }
    runners: dict[str, Callable] = {"kvk": run_kvk}
    if not args.no_reference:
        runners["csdid"] = run_csdid
        runners["differences"] = run_differences

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"csdid {_version('csdid')}, differences {_version('differences')}"
    )
    print(
        f"spec: never treated, varying base, est_method={method}, "
        f"covariates={'yes' if args.covariates else 'no'}, {args.biters} bootstrap draws, "
        f"best of {args.repeat}, BLAS threads {args.blas_threads}\n"
    )
    ok = True
    for name, (df, spec, xcol) in cases.items():
        spec = {**spec, "x": xcol if args.covariates else None, "method": method}
        times: dict[str, float] = {}
        results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for lib, fn in runners.items():
            try:
                times[lib], results[lib] = _best_time(
                    lambda fn=fn, df=df, spec=spec: fn(df, spec, args.biters), args.repeat
                )
            except ImportError as exc:
                print(f"  {lib}: skipped ({exc})")
        print(name)
        base_att, base_dyn = results["kvk"]
        for lib, t in times.items():
            line = f"  {lib:<12} {t * 1000:9.1f} ms"
            if lib != "kvk":
                att, dyn = results[lib]
                d_att, d_dyn = _max_diff(att, base_att), _max_diff(dyn, base_dyn)
                same = d_att < 1e-8 and d_dyn < 1e-8
                ok &= same
                line += (
                    f"   kvk is {t / times['kvk']:6.1f}x faster;  max |diff| ATT(g,t) "
                    f"{d_att:.1e}, event study {d_dyn:.1e} {'(equal)' if same else '(DIFFERENT)'}"
                )
            print(line)
        refs = [t for lib, t in times.items() if lib != "kvk"]
        if refs:
            print(f"  ratio to the faster reference: {min(refs) / times['kvk']:.1f}x")
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
