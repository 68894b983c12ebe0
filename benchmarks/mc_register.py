"""Monte Carlo on the simulated register: bias, RMSE and coverage of ``att_gt``/``aggte`` and
the bias of a static TWFE (issue 4, Validation).  Run on demand (not a test)::

    .venv/bin/python benchmarks/mc_register.py --reps 200 [--scenario default] [--sector all]
        [--control-group nevertreated] [--no-bootstrap] [--pre] [--csv draws.csv]

Each replication simulates the register (seed 1, 2, ...), writes the KS extract and the cohort
registry, reads them with the project's readers, builds the panel and estimates; see
:mod:`kvk_analysis.montecarlo`.  Prints the table (pp) and the seconds per replication.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kvk_analysis.montecarlo import register_monte_carlo


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the Monte Carlo, print the table; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=200, help="replications (default 200)")
    ap.add_argument("--first-seed", type=int, default=1, help="seed of the first replication")
    ap.add_argument("--scenario", default="default", help="simulation scenario name")
    ap.add_argument("--sector", default="all", choices=["all", "care", "education", "other"])
    ap.add_argument(
        "--control-group", default="nevertreated", choices=["nevertreated", "notyettreated"]
    )
    ap.add_argument("--est-method", default="reg", choices=["reg", "ipw", "dr"])
    ap.add_argument("--no-bootstrap", action="store_true", help="analytic standard errors only")
    ap.add_argument("--pre", action="store_true", help="also list pre-treatment event times")
    ap.add_argument("--csv", type=Path, help="write the per-replication draws to this CSV")
    args = ap.parse_args(argv)
    res = register_monte_carlo(
        scenario=args.scenario,
        sector=args.sector,
        control_group=args.control_group,
        est_method=args.est_method,
        seeds=range(args.first_seed, args.first_seed + args.reps),
        bootstrap=not args.no_bootstrap,
        progress=True,
    )
    print(res.summary(pre=args.pre))
    if args.csv is not None:
        res.draws.to_csv(args.csv, index=False)
        print(f"draws written to {args.csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
