"""``kvk data demo`` and ``kvk data calibration``: the simulated register and its checks.

    kvk data demo [--seed N] [--scenario NAME] [--out DIR] [--force]
    kvk data calibration [--seed N] [--scenario NAME] [--out DIR]

Heavy modules (numpy, pandas, matplotlib) are imported inside the command functions.
"""

from __future__ import annotations

import argparse
import time

#: Scenario names and the default seed, kept here so ``--help`` does not import the simulator
#: (numpy, pandas); tests/test_simulate.py checks they equal ``simulate.SCENARIOS`` and
#: ``simulate.DEFAULT_SEED``.
SCENARIO_NAMES = (
    "default",
    "anticipation",
    "pretrends",
    "regression_to_mean",
    "heterogeneous_size",
    "dropouts",
    "missing_quarters",
    "suppressed_cells",
    "recoded_2024",
    "no_effect",
)
DEFAULT_SEED = 20070328


def _add_seed_and_scenario(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--scenario", default="default", choices=SCENARIO_NAMES, help="preset configuration"
    )


def register(data_subparsers) -> None:
    """Add ``demo`` and ``calibration`` to the ``kvk data`` subcommands."""
    demo = data_subparsers.add_parser(
        "demo",
        help="regenerate the simulated demo register (data/raw/demo)",
        description=(
            "Simulate the KVK sick-leave register (SIMULATED data with a planted, known effect) and "
            "write the KS extract, the completed cohort registry, the truth tables and a README. "
            "The default scenario and seed write the shipped files in data/raw/demo. Another seed "
            "or scenario needs --out DIR (or --force to overwrite the shipped folder)."
        ),
    )
    _add_seed_and_scenario(demo)
    demo.add_argument("--out", default=None, help="output folder (default data/raw/demo)")
    demo.add_argument(
        "--force",
        action="store_true",
        help="allow a non-default seed/scenario to overwrite the shipped data/raw/demo",
    )
    demo.set_defaults(func=_demo)

    cal = data_subparsers.add_parser(
        "calibration",
        help="figure and table checking the simulated register against its calibration facts",
        description=(
            "Simulate (in memory) and write calibration_national.png (simulated national path vs "
            "SSB x 1.4), calibration_national.csv and participants_vs_others.csv (like KS's "
            "Q4 2008 -> Q3 2009 comparison, also printed)."
        ),
    )
    _add_seed_and_scenario(cal)
    cal.add_argument("--out", default=None, help="output folder (default reports/calibration)")
    cal.set_defaults(func=_calibration)


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import config
    from .errors import InputError
    from .simulate import generate_demo
    from .simulate.output import cohort_counts

    shipped = config.DEMO_DIR.resolve()
    out = Path(args.out).resolve() if args.out else shipped
    non_default = args.seed != DEFAULT_SEED or args.scenario != "default"
    if out == shipped and non_default and not args.force:
        raise InputError(
            "refusing to overwrite the shipped demo data with a non-default seed or scenario; "
            "give --out DIR (or --force)",
            column="--out",
            expected="an output folder other than data/raw/demo",
            found=str(out),
        )
    t0 = time.perf_counter()
    result, written = generate_demo(seed=args.seed, scenario_name=args.scenario, out_dir=out)
    elapsed = time.perf_counter() - t0
    n_adm = len(result.registry)
    sizes, n_left = cohort_counts(result.registry)
    print(f"SIMULATED data, scenario '{args.scenario}', seed {args.seed} -> {out}")
    for path in written.values():
        print(f"  {path.name}")
    print(
        f"  {n_adm} admitted ({', '.join(f'{p}: {n}' for p, n in sizes.items())}), "
        f"{n_left} left, {n_adm - n_left} remain; {len(result.extract)} extract rows; {elapsed:.1f} s"
    )
    return 0


def _calibration(args: argparse.Namespace) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import config
    from .fileio import atomic_path, atomic_write
    from .simulate import (
        calibration_figure,
        national_comparison,
        participants_table,
        scenario,
        simulate,
    )

    out = Path(args.out) if args.out else config.REPORTS_DIR / "calibration"
    result = simulate(scenario(args.scenario, seed=args.seed))
    nat = national_comparison(result)
    table = participants_table(result)
    fig = calibration_figure(result)
    png = out / "calibration_national.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    nat_out = nat.assign(period=nat["period"].astype(str))
    with atomic_write(out / "calibration_national.csv") as fh:
        nat_out.to_csv(fh, index=False, float_format="%.4f", lineterminator="\n")
    with atomic_write(out / "participants_vs_others.csv") as fh:
        table.to_csv(fh, float_format="%.4f", lineterminator="\n")
    dev = nat["deviation"].abs().max()
    dev_e = nat["deviation_from_expected"].abs().max()
    print(f"SIMULATED data, scenario '{args.scenario}', seed {args.seed}")
    print(
        f"national path: max |simulated - target| = {dev:.3f} pp "
        f"(of which noise: max |simulated - expected| = {dev_e:.3f} pp; the rest is the planted effect)"
    )
    print("participants vs others, all sectors (percent; KS: 10.4 vs 9.7 in 2008Q4):")
    print(table.round(2).to_string())
    print(f"wrote {png}, {out / 'calibration_national.csv'}, {out / 'participants_vs_others.csv'}")
    return 0
