"""Import cost: kvk's modules against the peer packages' top-level imports (issue 13 item 5).

    .venv/bin/python benchmarks/bench_imports.py [--repeat 7]

Each import runs in a fresh interpreter (``python -c "import X"``), the candidates interleaved
round by round, and the best of ``--repeat`` rounds is kept (the minimum is the least noisy
estimate on a shared machine).  The interpreter start itself (``python -c pass``) is
subtracted.  For kvk's modules it also prints which heavy modules the import pulls in
(``scipy.stats``, ``statsmodels``, ``pyfixest``, ``seaborn``, ``matplotlib.pyplot``): a report
kernel pays for them once per notebook namespace it builds.

Peers (``bench`` and ``test`` extras; a peer that is not installed is reported and skipped):
``diff_diff``, ``csdid``, ``differences``, ``moderndid``, each imported the way its
documentation imports its Callaway-Sant'Anna estimator (:data:`PEERS`).  The ratio is peer / kvk for
``kvk_analysis.did`` (the estimator a user imports), so a ratio above 1 means kvk imports faster.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

KVK_MODULES = (
    "kvk_analysis.did",
    "kvk_analysis.evaluation",
    "kvk_analysis.plots",
    "kvk_analysis.report.evaluation",
)
#: What a user of each peer imports to get its Callaway-Sant'Anna estimator.
PEERS = {
    "diff_diff": "from diff_diff import CallawaySantAnna",
    "csdid": "from csdid.att_gt import ATTgt",
    "differences": "from differences import ATTgt",
    "moderndid": "from moderndid import att_gt",
}
HEAVY = ("scipy.stats", "statsmodels", "pyfixest", "seaborn", "matplotlib.pyplot")


def _seconds(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def heavy_modules(module: str) -> list[str]:
    """The modules of :data:`HEAVY` that ``import module`` loads, in a fresh interpreter."""
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="rounds (best of)")
    args = parser.parse_args()

    peers = [p for p in PEERS if importlib.util.find_spec(p) is not None]
    for p in sorted(set(PEERS) - set(peers)):
        print(f"peer {p}: not installed (pip install -e '.[bench]'), skipped")
    code = {"pass": "pass", **{m: f"import {m}" for m in KVK_MODULES}}
    code.update({p: PEERS[p] for p in peers})
    best = {c: float("inf") for c in code}
    for _ in range(args.repeat):
        for c in code:  # interleaved: every round times every candidate once
            best[c] = min(best[c], _seconds(code[c]))
    base = best.pop("pass")
    print(f"interpreter start (subtracted): {base:.3f} s; best of {args.repeat}, interleaved")
    print(f"{'import':34s} {'seconds':>8s}  heavy modules loaded")
    for m in KVK_MODULES:
        loaded = ", ".join(heavy_modules(m)) or "-"
        print(f"{m:34s} {best[m] - base:8.3f}  {loaded}")
    kvk = best["kvk_analysis.did"] - base
    for p in peers:
        t = best[p] - base
        print(f"{PEERS[p]:34s} {t:8.3f}  ratio peer/kvk_analysis.did = {t / kvk:.1f}x")
    if "scipy.stats" in heavy_modules("kvk_analysis.did"):
        sys.exit("import kvk_analysis.did loads scipy.stats")


if __name__ == "__main__":
    main()
