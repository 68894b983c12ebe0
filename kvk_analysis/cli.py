"""The ``kvk`` command.

Subcommands are registered by the modules that own them, so this file stays small and the
command starts fast (heavy libraries are imported inside each subcommand, not here).

    kvk data convert|build|codes|demo|calibration ...
    kvk report NOTEBOOK [-p name value ...] [-f params.yaml]
    kvk report --batch profiles ...
    kvk run                    # the main job on the embedded default
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

from . import __version__
from .errors import KvkError

#: Modules with a ``register(subparsers)`` function, for ``kvk data ...``.
_DATA_COMMANDS = ("kvk_analysis.cli_data", "kvk_analysis.simulate_cli")
#: Modules with a ``register(subparsers)`` function, for top-level commands.
_TOP_COMMANDS = ("kvk_analysis.report.cli",)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kvk`` with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="kvk",
        description="Analysis and evaluation suite for Kvalitetskommuneprogrammet (KVK).",
    )
    parser.add_argument("--version", action="version", version=f"kvk {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    data = top.add_parser("data", help="read, convert, harmonise and build data")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])
    for name in _DATA_COMMANDS:
        importlib.import_module(name).register(data_sub)
    for name in _TOP_COMMANDS:
        importlib.import_module(name).register(top)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kvk`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except KvkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return 141
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
