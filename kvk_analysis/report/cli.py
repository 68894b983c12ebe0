"""``kvk report`` and ``kvk run``.

    kvk report NOTEBOOK [-p name value ...] [-f params.yaml] [--out DIR] [--no-pdf]
    kvk report --batch profiles [--all-participants | --kommuner 0101,0219,...] [--workers N]
               [--run NAME]
    kvk run [--quick] [--lang nb|en]

Heavy libraries are imported inside the command functions so that ``kvk --help`` stays fast.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ReportError

#: Notebooks of the main job, in order: (notebook stem, report name).
MAIN_NOTEBOOKS: tuple[tuple[str, str], ...] = (
    ("01-data-quality", "01-data-quality"),
    ("02-cohorts-and-trends", "02-cohorts-and-trends"),
    ("03-programme-effect", "03-programme-effect"),
    ("04-municipality-profile", "04-municipality-profile"),
    ("05-evaluation-report", "kvk-evaluation-report"),
)
#: Notebook names accepted by ``--batch``.
BATCH_NOTEBOOKS = {"profiles": "04-municipality-profile"}
#: Municipality of the profile made by ``kvk run`` (a documented participant: Bærum, pulje IV).
DEFAULT_PROFILE = "0219"
#: Bootstrap draws of ``kvk run --quick``.
QUICK_BOOTSTRAP = 99


def register(top_subparsers: Any) -> None:
    """Add the ``report`` and ``run`` subcommands to the ``kvk`` parser."""
    rep = top_subparsers.add_parser(
        "report",
        help="execute a notebook and render it to HTML and PDF (or a batch of profiles)",
        description="Execute a report notebook with papermill and render HTML and PDF "
        "(code hidden, A4, numbered figures and tables, provenance at the end).",
    )
    rep.add_argument(
        "notebook",
        nargs="?",
        help="notebook path or name in notebooks/ (e.g. 03 or 03-programme-effect)",
    )
    rep.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter (value parsed as YAML; codes like 0219 stay text)",
    )
    rep.add_argument(
        "-r",
        "--raw-parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter to a string, unparsed",
    )
    rep.add_argument("-f", "--parameters-file", type=Path, help="YAML file of parameters")
    rep.add_argument("--out", type=Path, help="output folder (default: reports/)")
    rep.add_argument("--name", help="file name of the report, without suffix")
    rep.add_argument("--no-pdf", action="store_true", help="write HTML only")
    rep.add_argument("--lang", choices=("nb", "en"), help="report language")
    rep.add_argument(
        "--batch",
        choices=sorted(BATCH_NOTEBOOKS),
        help="run a notebook for many municipalities in parallel",
    )
    who = rep.add_mutually_exclusive_group()
    who.add_argument(
        "--all-participants", action="store_true", help="batch: every participant in the panel"
    )
    who.add_argument("--kommuner", help="batch: comma-separated municipality numbers")
    rep.add_argument("--workers", type=int, default=2, help="batch: parallel processes (2)")
    rep.add_argument("--run", default="profiles", help="batch: run name, output reports/<run>/")
    rep.add_argument("--timeout", type=float, default=900, help="seconds allowed per cell")
    rep.set_defaults(func=cmd_report)

    run = top_subparsers.add_parser(
        "run",
        help="the main job: demo data if needed, build data, all notebooks, HTML + PDF",
        description="Generate the simulated demo data if missing, build the analysis data "
        "(no-op when unchanged), execute notebooks 01-05 and write HTML and PDF reports.",
    )
    run.add_argument(
        "--quick", action="store_true", help=f"fewer bootstrap draws ({QUICK_BOOTSTRAP})"
    )
    run.add_argument("--lang", choices=("nb", "en"), default="nb", help="report language (nb)")
    run.add_argument("--out", type=Path, help="output folder (default: reports/)")
    run.add_argument("--workers", type=int, default=2, help="parallel notebooks (2)")
    run.add_argument("--no-pdf", action="store_true", help="write HTML only")
    run.add_argument("--kommune", default=DEFAULT_PROFILE, help="municipality of the profile")
    run.set_defaults(func=cmd_run)


def parse_value(text: str) -> Any:
    """A ``-p`` value: YAML scalars and lists (``3``, ``0.5``, ``true``, ``[I, II]``), but
    digit strings with a leading zero (municipality numbers such as ``0219``) stay text."""
    import yaml

    if re.fullmatch(r"0\d+", text.strip()):
        return text.strip()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def resolve_notebook(name: str, folder: Path | None = None) -> Path:
    """A notebook from a path, or a name/prefix in ``notebooks/`` (``03``, ``03-programme-effect``)."""
    from .. import config

    path = Path(name)
    if path.is_file():
        return path
    folder = folder or config.NOTEBOOKS_DIR
    stem = path.name.removesuffix(".ipynb")
    exact = folder / f"{stem}.ipynb"
    if exact.is_file():
        return exact
    matches = sorted(folder.glob(f"{stem}*.ipynb"))
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(p.stem for p in sorted(folder.glob("*.ipynb"))) or "none"
    if matches:
        raise ReportError(
            f"notebook name {name!r} is ambiguous; matches {[p.stem for p in matches]}"
        )
    raise ReportError(f"no notebook {name!r} (in {folder}: {known})")


def parameter_types(notebook: Path) -> dict[str, str]:
    """The annotated types of the notebook's parameters cell (``name: str = ...`` -> ``str``)."""
    import ast
    import json

    from .render import parameters_cell

    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found = parameters_cell(nb.get("cells", []))
    if found is None:
        return {}
    return {
        node.target.id: ast.unparse(node.annotation)
        for node in found[1].body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


def collect_parameters(
    args: argparse.Namespace, types: dict[str, str] | None = None
) -> dict[str, Any]:
    """Parameters from ``-f`` (YAML), then ``-p``/``-r`` pairs, then ``--lang``.

    A ``-p`` value for a parameter annotated ``str`` in the notebook is kept as text (so
    ``-p kommunenummer 1149`` stays ``"1149"``); other values are parsed by :func:`parse_value`.
    """
    types = types or {}
    params: dict[str, Any] = {}
    if args.parameters_file:
        import yaml

        try:
            loaded = yaml.safe_load(args.parameters_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ReportError(f"cannot read parameters file {args.parameters_file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ReportError(f"{args.parameters_file}: expected a mapping of name: value")
        for name, value in loaded.items():
            # YAML reads 1149 as a number; a parameter annotated str gets text (quote codes
            # with a leading zero, "0219", in the file)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            params[name] = str(value) if types.get(name) == "str" and is_number else value
    for name, value in args.parameter:
        params[name] = value if types.get(name) == "str" else parse_value(value)
    for name, value in args.raw_parameter:
        params[name] = value
    if args.lang:
        params["lang"] = args.lang
    return params


def _participants(panel_path: Path) -> tuple[list[str], dict[str, str]]:
    import pandas as pd

    if not panel_path.is_file():
        raise ReportError(
            f"no analysis panel at {panel_path}; run 'kvk run' or 'kvk data build' first"
        )
    cols = ["kommunenummer", "kommune", "participant"]
    panel = pd.read_parquet(panel_path, columns=cols)
    part = panel.loc[panel["participant"].astype(bool)].drop_duplicates("kommunenummer")
    part = part.sort_values("kommunenummer")
    codes = part["kommunenummer"].astype(str).tolist()
    names = dict(zip(codes, part["kommune"].astype(str), strict=True))
    return codes, names


def cmd_report(args: argparse.Namespace) -> int:
    """``kvk report``: one notebook, or ``--batch profiles``."""
    from .. import config

    formats = ("html",) if args.no_pdf else ("html", "pdf")
    if args.batch:
        from .batch import run_batch

        notebook = resolve_notebook(args.notebook or BATCH_NOTEBOOKS[args.batch])
        params = collect_parameters(args, parameter_types(notebook))
        if args.kommuner:
            codes = [k.strip() for k in args.kommuner.split(",") if k.strip()]
            bad = [k for k in codes if not re.fullmatch(r"\d{4}", k)]
            if bad:
                raise ReportError(f"--kommuner: expected 4-digit municipality numbers, found {bad}")
            from ..municipalities import load_frame

            frame = load_frame(2008)
            names = dict(zip(frame["kommunenummer"], frame["kommune"].astype(str), strict=True))
        elif args.all_participants:
            panel_path = Path(params.get("panel_path") or config.PROCESSED_DIR / "panel.parquet")
            codes, names = _participants(panel_path)
        else:
            raise ReportError("--batch needs --all-participants or --kommuner 0101,0219,...")
        out = (args.out or config.REPORTS_DIR) / args.run
        t0 = time.perf_counter()
        results = run_batch(
            notebook,
            codes,
            out,
            params=params,
            names=names,
            workers=args.workers,
            formats=formats,
            cwd=config.ROOT,
            lang=params.get("lang", "nb"),
        )
        failed = [r for r in results if r.status == "failed"]
        skipped = sum(r.status == "skipped" for r in results)
        print(
            f"{len(results) - len(failed)} of {len(results)} profiles OK "
            f"({skipped} finished earlier) in {time.perf_counter() - t0:.0f} s; "
            f"index: {out / 'index.html'}"
        )
        for r in failed:
            print(f"failed: {r.job.name}: {r.error}", file=sys.stderr)
        return 1 if failed else 0
    if not args.notebook:
        raise ReportError("name a notebook (e.g. 'kvk report 03') or use --batch profiles")
    from .execute import LAST_TIMINGS, run_report

    notebook = resolve_notebook(args.notebook)
    params = collect_parameters(args, parameter_types(notebook))
    out = args.out or config.REPORTS_DIR
    t0 = time.perf_counter()
    files = run_report(
        notebook, params, out, formats, name=args.name, cwd=config.ROOT, timeout=args.timeout
    )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in LAST_TIMINGS.items())
    print(f"{notebook.name}: {time.perf_counter() - t0:.1f} s ({steps})")
    for kind in ("html", "pdf", "exports"):
        if kind in files:
            print(f"  {kind}: {files[kind]}")
    return 0


def _ensure_demo() -> list[str]:
    """Generate the simulated demo data when ``data/raw/demo`` lacks it; say what was done."""
    from .. import config

    needed = ("ks_sickleave_demo.csv", "cohort_registry_demo.csv")
    if all((config.DEMO_DIR / f).is_file() for f in needed):
        return [f"demo data: present in {config.DEMO_DIR}"]
    from ..simulate import generate_demo

    generate_demo(out_dir=config.DEMO_DIR)
    return [f"demo data: generated (simulated) in {config.DEMO_DIR}"]


def _build() -> list[str]:
    from ..build import build_data

    result = build_data(progress=False)
    return [f"data: {result.message}"]


def cmd_run(args: argparse.Namespace) -> int:
    """``kvk run``: the main job on the embedded default (simulated demo data)."""
    from .. import config
    from .batch import Job, run_jobs

    t0 = time.perf_counter()
    lines = _ensure_demo()
    t_data = time.perf_counter()
    lines += _build()
    t_build = time.perf_counter() - t_data
    out = args.out or config.REPORTS_DIR
    formats = ("html",) if args.no_pdf else ("html", "pdf")
    jobs = []
    for stem, name in MAIN_NOTEBOOKS:
        params: dict[str, Any] = {"lang": args.lang}
        if stem.startswith(("03", "05")) and args.quick:
            params["bootstrap_draws"] = QUICK_BOOTSTRAP
        if stem.startswith("04"):
            params["kommunenummer"] = args.kommune
        jobs.append(
            Job(
                name=name,
                notebook=resolve_notebook(stem),
                params=params,
                out_dir=out,
                label=name,
                formats=formats,
                cwd=config.ROOT,
            )
        )
    results = run_jobs(jobs, workers=args.workers, resume=False, desc="notebooks")
    failed = [r for r in results if r.status == "failed"]
    print(f"kvk run: {time.perf_counter() - t0:.0f} s (data {t_build:.1f} s)")
    for line in lines:
        print(f"  {line}")
    for r in results:
        if r.status == "failed":
            print(f"  FAILED {r.job.name}: {r.error}", file=sys.stderr)
        else:
            shown = ", ".join(str(Path(p)) for k, p in sorted(r.files.items()) if k != "ipynb")
            print(f"  {r.job.name} ({r.seconds:.0f} s): {shown}")
    return 1 if failed else 0
