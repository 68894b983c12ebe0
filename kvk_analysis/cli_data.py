"""``kvk data convert | build | codes``: the data subcommands (heavy imports inside each).

kvk data convert INPUT [--source auto|ks|ks-employee|ssb-csv|ssb-jsonstat|ssb-table] [--encoding ENC] -o OUT.csv
kvk data build [--sickleave PATH ...] [--registry PATH] [--measure M] [--rule R] [--level L] [--force]
kvk data codes INPUT -o OUT.csv [--level municipality|merged] [--column kommunenummer]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Copies of readers.SOURCES, readers.tidy.MEASURES and cohorts.RULES, so that ``kvk --help``
# imports no pandas (tests/test_cli_data.py checks that they agree).
SOURCES = ("auto", "ks", "ks-employee", "ssb-csv", "ssb-jsonstat", "ssb-table")
MEASURES = (
    "total",
    "self_certified",
    "doctor_certified",
    "doctor_certified_over3",
    "persons_doctor_certified",
)
RULES = ("programme_start", "admitted", "first_full_quarter")
LEVELS = ("municipality", "merged")
VINTAGES = ("as_of_period", "2024")


def register(data_subparsers: argparse._SubParsersAction) -> None:
    """Add ``convert``, ``build`` and ``codes`` under ``kvk data``."""
    conv = data_subparsers.add_parser(
        "convert",
        help="read a sick-leave file (KS or SSB) and write the tidy table as CSV",
        description="Read a sick-leave file and write the tidy long table (docs/architecture.md).",
    )
    conv.add_argument("input", type=Path, help="the sick-leave file")
    conv.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="file format (default: detect it and say which)",
    )
    conv.add_argument("--encoding", default=None, help="text encoding (default: detect)")
    conv.add_argument("-o", "--output", type=Path, required=True, help="output CSV")
    conv.set_defaults(func=_convert)

    build = data_subparsers.add_parser(
        "build",
        help="build data/processed/ (analysis panel, Parquet + manifest)",
        description="Build the analysis panel from raw files; does nothing when up to date.",
    )
    build.add_argument(
        "--sickleave",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help="sick-leave files (default: data/raw/demo/ks_sickleave_demo.csv)",
    )
    build.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="cohort registry (default: data/raw/demo/cohort_registry_demo.csv)",
    )
    build.add_argument("--measure", choices=MEASURES, default="total")
    build.add_argument(
        "--rule",
        choices=RULES,
        default="programme_start",
        help="dates -> first treated quarter (default: quarter of programme start)",
    )
    build.add_argument(
        "--level",
        choices=LEVELS,
        default="municipality",
        help="analysis units: 2008 municipalities or later merged groups",
    )
    build.add_argument("--start", default=None, help="first quarter (default 2005Q1)")
    build.add_argument("--end", default=None, help="last quarter (default 2011Q4)")
    build.add_argument(
        "--vintage",
        choices=VINTAGES,
        default="as_of_period",
        help="how to read codes still in use today (default: as of the data)",
    )
    build.add_argument("--source", choices=SOURCES, default="auto", help="reader of the files")
    build.add_argument(
        "--processed-dir", type=Path, default=None, help="output folder (default data/processed)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=_build)

    codes = data_subparsers.add_parser(
        "codes",
        help="map municipality codes of any vintage onto the 2008 frame",
        description="Harmonise the codes of a tidy CSV onto the 2008 municipalities "
        "(or merged groups), summing counts and recomputing rates; prints the mapping.",
    )
    codes.add_argument("input", type=Path, help="tidy CSV (e.g. from kvk data convert)")
    codes.add_argument("-o", "--output", type=Path, required=True, help="output CSV")
    codes.add_argument("--level", choices=LEVELS, default="municipality")
    codes.add_argument("--column", default="kommunenummer", help="the code column")
    codes.add_argument("--vintage", choices=VINTAGES, default="as_of_period")
    codes.add_argument(
        "--mapping", type=Path, default=None, help="also write the mapping table (CSV) here"
    )
    codes.set_defaults(func=_codes)


def _write_csv(df, path: Path) -> None:
    from .fileio import atomic_write

    with atomic_write(path) as fh:
        df.to_csv(fh, index=False, lineterminator="\n")


def _tidy_for_csv(df):
    out = df.drop(columns=["_line"], errors="ignore").copy()
    if "period" in out.columns:
        out["period"] = out["period"].astype(str)
    return out


def _convert(args: argparse.Namespace) -> int:
    from .fileio import check_encoding
    from .readers import read_sickleave
    from .readers.detect import detect_source_reason

    check_encoding(args.encoding)
    source = args.source
    if source == "auto":
        source, why = detect_source_reason(args.input, encoding=args.encoding)
        print(f"source: {source} (detected: {why})", file=sys.stderr)
    tidy = read_sickleave(args.input, source=source, encoding=args.encoding)
    if tidy.attrs.get("layout"):
        print(f"layout: {tidy.attrs['layout']}", file=sys.stderr)
    _write_csv(_tidy_for_csv(tidy), args.output)
    for note in tidy.attrs.get("notes", []) or []:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output}: {len(tidy)} rows", file=sys.stderr)
    return 0


def _build(args: argparse.Namespace) -> int:
    from . import config
    from .build import build_data

    params = {
        "measure": args.measure,
        "rule": args.rule,
        "level": args.level,
        "vintage": args.vintage,
        "source": args.source,
    }
    if args.start:
        params["start"] = args.start
    if args.end:
        params["end"] = args.end
    result = build_data(
        sickleave_paths=args.sickleave,
        registry_path=args.registry,
        processed_dir=args.processed_dir or config.PROCESSED_DIR,
        params=params,
        force=args.force,
        progress=not args.no_progress,
    )
    print(result.message)
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _codes(args: argparse.Namespace) -> int:
    import io

    import pandas as pd

    from .errors import InputError
    from .fileio import read_text
    from .municipalities import harmonise_codes

    text, _ = read_text(args.input)
    try:
        df = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype={args.column: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"cannot read the CSV ({exc})",
            path=args.input,
            expected="a tidy CSV with a header line",
        ) from None
    out, report = harmonise_codes(
        df, code_column=args.column, level=args.level, vintage=args.vintage, path=args.input
    )
    _write_csv(out, args.output)
    if args.mapping:
        _write_csv(report.to_frame(), args.mapping)
    print(report.summary())
    print(f"wrote {args.output}: {len(out)} rows (from {len(df)})", file=sys.stderr)
    return 0
