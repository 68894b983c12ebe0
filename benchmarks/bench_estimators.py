"""Benchmark: the estimators of ``compare_estimators`` against diff-diff on a KVK-sized panel.

Run on demand (not a test)::

    .venv/bin/python benchmarks/bench_estimators.py [--repeat 3] [--units 430]

Input: :func:`kvk_analysis.evaluation.testing.simulate_panel` with ``--units`` municipalities
x 28 quarters (2005Q1-2011Q4), four cohorts, growing effects.  For each estimator the best
of ``--repeat`` runs of kvk's implementation and of diff-diff's (if installed; the ``test``
extra) on the same specification (window -8..8), their ratio, and the largest absolute
difference of the event-study estimates (synthetic DiD: of the single-cohort ATT).  The
last line times the whole ``compare_estimators`` call of a report.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np

from kvk_analysis.evaluation import estimators as E
from kvk_analysis.evaluation.testing import simulate_panel

WIN = {"min_e": -8, "max_e": 8}
DD = {"outcome": "rate", "unit": "kommunenummer", "time": "tname", "first_treat": "gname"}


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    out = fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _diff(mine: E.EventStudy, effects: dict, shift: int = 0) -> float:
    theirs = {int(k) + shift: v["effect"] for k, v in effects.items()}
    d = [
        abs(est - theirs[int(e)])
        for e, est in zip(mine.event_time, mine.estimate, strict=True)
        if int(e) in theirs and int(e) != -1 and np.isfinite(est)
    ]
    return max(d) if d else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--units", type=int, default=430)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    panel = simulate_panel(
        n_units=args.units, share_treated=0.33, effect=-0.5, dynamic_slope=-0.05, seed=3
    )
    try:
        import diff_diff as dd
    except ImportError:
        dd = None
    d_panel = panel.assign(D=((panel["gname"] > 0) & (panel["tname"] >= panel["gname"])) * 1)
    one = panel[panel["gname"].isin([0, 8030])].assign(treat=lambda x: (x["gname"] > 0) * 1)
    post = sorted(t for t in one["tname"].unique() if t >= 8030)
    rows = [
        (
            "sun_abraham",
            lambda: E.sun_abraham(panel, **WIN),
            dd and (lambda: dd.SunAbraham(cluster="kommunenummer").fit(panel, **DD)),
            0,
        ),
        (
            "gardner_bjs",
            lambda: E.gardner_did2s(panel, **WIN),
            dd
            and (
                lambda: dd.TwoStageDiD(cluster="kommunenummer").fit(
                    panel, **DD, aggregate="event_study"
                )
            ),
            0,
        ),
        (
            "dcdh",
            lambda: E.dcdh_event_study(panel, **WIN),
            dd
            and (
                lambda: dd.ChaisemartinDHaultfoeuille(placebo=False).fit(
                    d_panel,
                    outcome="rate",
                    group="kommunenummer",
                    time="tname",
                    treatment="D",
                    L_max=9,
                )
            ),
            -1,
        ),
        (
            "stacked",
            lambda: E.stacked_did(panel, **WIN),
            dd
            and (
                lambda: dd.StackedDiD(kappa_pre=8, kappa_post=8).fit(
                    panel, **DD, aggregate="event_study"
                )
            ),
            0,
        ),
        (
            "sdid (one cohort, 50 bootstrap draws)",
            lambda: E.synthetic_did(one, replications=50),
            dd
            and (
                lambda: dd.SyntheticDiD(variance_method="bootstrap", n_bootstrap=50).fit(
                    one,
                    outcome="rate",
                    treatment="treat",
                    unit="kommunenummer",
                    time="tname",
                    post_periods=post,
                )
            ),
            None,
        ),
    ]
    print(f"panel: {panel['kommunenummer'].nunique()} units x {panel['tname'].nunique()} periods")
    print(f"{'estimator':40s} {'kvk s':>8s} {'diff-diff s':>12s} {'ratio':>6s} {'max |diff|':>11s}")
    for name, mine, theirs, shift in rows:
        t_m, r_m = _best(mine, args.repeat)
        if theirs is None:
            print(f"{name:40s} {t_m:8.3f} {'-':>12s}")
            continue
        t_t, r_t = _best(theirs, args.repeat)
        if shift is None:
            diff = abs(r_m.overall - r_t.att)
        else:
            diff = _diff(r_m, r_t.event_study_effects, shift)
        print(f"{name:40s} {t_m:8.3f} {t_t:12.3f} {t_m / t_t:6.2f} {diff:11.2e}")
    t_all, comp = _best(lambda: E.compare_estimators(panel, **WIN), 1)
    print(f"compare_estimators (all 8, report call): {t_all:.1f} s")
    for k, v in comp.seconds.items():
        print(f"  {k:20s} {v:6.2f} s")


if __name__ == "__main__":
    main()
