"""Benchmark the Rambachan-Roth (HonestDiD) port on this project's event study.

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/bench_honest.py [--n-units 430] [--repeat 3]

Simulates a KVK-sized staggered panel (``simulate_panel``), estimates ``att_gt`` with a
universal base period and the event study ``aggte(type="dynamic")``, then times

* ``honest_sensitivity`` (relative magnitudes, C-LF, Mbar 0, 0.5, ..., 2; ``refine`` and
  ``full`` grid search) for the first post period and the average of the post periods;
* ``honest_sensitivity(type="smoothness")`` (FLCI, R's default M grid);
* ``pretrend_power`` (sup-t, with the report's pre-test);
* all the calls the report makes (``report.evaluation._sensitivity``: relative magnitudes
  for the average on Mbar 0, 0.5, ..., 2 plus three single-Mbar bisection steps, smoothness
  for the average, the power);
* the PyPI ``honestdid`` port (torch) on the same inputs when it is installed (extra
  ``honest-check``), for the ratio.

Prints seconds per call (best of ``--repeat``) and the machine's load average (1 minute)
at each timing: on a shared machine the timings are only comparable at similar load.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings


def clear_memos() -> None:
    """Forget the exact-input memos of the LF critical values and MVN probabilities, so that
    every repetition computes (a repetition would otherwise read the first one's results)."""
    from kvk_analysis.did import power
    from kvk_analysis.evaluation import honest

    honest._LF_MEMO.clear()
    power._MVN_MEMO.clear()


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        clear_memos()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-units", type=int, default=430)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-e", type=int, default=8)
    args = parser.parse_args()

    import numpy as np

    from kvk_analysis.did import aggte, pretrend_power, pretrend_test
    from kvk_analysis.evaluation.honest import honest_sensitivity
    from kvk_analysis.evaluation.testing import fit_att_gt, simulate_panel

    warnings.simplefilter("ignore")
    panel = simulate_panel(n_units=args.n_units, effect=-0.5, seed=31)
    res = fit_att_gt(panel, base_period="universal")
    dyn = aggte(res, type="dynamic", bstrap=False, cband=False)
    kw = {"min_e": -8, "max_e": args.max_e}
    n_pre = int(np.sum((dyn.egt >= -8) & (dyn.egt < -1)))
    n_post = int(np.sum((dyn.egt >= 0) & (dyn.egt <= args.max_e)))
    print(f"event study: {n_pre} pre-periods, {n_post} post-periods, {args.n_units} units")
    pretest = pretrend_test(res, seed=1)

    def report_calls() -> None:
        # as kvk_analysis.report.evaluation._sensitivity: Mbar 0, 0.5, ..., 2 for the average
        # of the post periods, three bisection steps (one Mbar each), smoothness, power
        avg = {"l_vec": "average", **kw}
        honest_sensitivity(dyn, mbar_vec=[0, 0.5, 1, 1.5, 2], **avg)
        for mbar in (0.25, 0.125, 0.1875):
            honest_sensitivity(dyn, mbar_vec=[mbar], **avg)
        honest_sensitivity(dyn, type="smoothness", **avg)
        pretrend_power(dyn, pretest=pretest)

    rows = {
        "RM C-LF e=0 (refine)": lambda: honest_sensitivity(dyn, **kw),
        "RM C-LF e=0 (full grid)": lambda: honest_sensitivity(dyn, grid_search="full", **kw),
        "RM C-LF average (refine)": lambda: honest_sensitivity(dyn, l_vec="average", **kw),
        "SD FLCI e=0": lambda: honest_sensitivity(dyn, type="smoothness", **kw),
        "pretrend_power sup-t": lambda: pretrend_power(dyn, pretest=pretest),
        "report's set of calls": report_calls,
    }
    for name, fn in rows.items():
        seconds = best_of(fn, args.repeat)
        print(f"{name:36s} {seconds:8.2f} s   (load {os.getloadavg()[0]:.2f})")
    try:
        import honestdid as hd
    except ImportError:
        print("honestdid (PyPI port, torch) not installed: no ratio (pip install .[honest-check])")
        return
    keep = (dyn.egt >= -8) & (dyn.egt <= args.max_e) & (dyn.egt != -1)
    beta = dyn.att_egt[keep]
    sigma = dyn.vcov()[np.ix_(keep, keep)]
    l_vec = np.eye(n_post)[0]
    port = best_of(
        lambda: hd.createSensitivityResults_relativeMagnitudes(
            beta, sigma, n_pre, n_post, Mbarvec=np.arange(0, 2.01, 0.5), l_vec=l_vec
        ),
        1,
    )
    ours = best_of(rows["RM C-LF e=0 (full grid)"], 1)
    print(f"honestdid port RM C-LF           {port:8.2f} s  (ours/port = {ours / port:.2f})")


if __name__ == "__main__":
    main()
