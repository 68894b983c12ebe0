"""``kvk report`` and ``kvk run``.

    kvk report NOTEBOOK [-p name value ...] [-f params.yaml] [--out DIR] [--no-pdf]
    kvk report --batch profiles [--all-participants | --kommuner 0101,0219,...] [--workers N]
               [--run NAME]
    kvk run [--quick] [--lang nb|en]

Parameters are checked against the notebook's parameters cell before any kernel starts
(:mod:`.params`); report file names say what distinguishes them (:func:`.params.report_name`);
a report whose record (:mod:`.records`) is unchanged is not made again (``--force`` does);
Ctrl-C stops everything within a few seconds and exits 130 (:mod:`.batch`).

A profile needs a participant: a non-participant stops with a message listing the
participants of its county (the profile notebook estimates the programme's effect, which a
municipality that did not take part has none of).

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
#: Seconds a notebook of ``kvk run`` took (job time: notebook, HTML, PDF, exports; 2 cores),
#: for the order of a first run, e.g. after ``make clean`` (longest first); later runs use
#: the times recorded by the previous run.  (03 right after 05: the two evaluate the same
#: specification and share that work.  Of the short ones 02 goes first: the worker that
#: finishes 03 takes it while the other still renders 05.)
TYPICAL_SECONDS = {
    "01-data-quality": 0.7,
    "02-cohorts-and-trends": 1.2,
    "03-programme-effect": 9.6,
    "04-municipality-profile": 0.6,
    "05-evaluation-report": 10.7,
}
#: Exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def _seconds(text: str) -> float:
    """``--timeout``: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, found {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, found {text}")
    return value


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
    rep.add_argument(
        "--name",
        help="tag in the report's file name instead of the automatic specification tag "
        "(the same --name with other parameters replaces that report)",
    )
    rep.add_argument(
        "--force", action="store_true", help="make the report even when nothing changed"
    )
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
    rep.add_argument(
        "--timeout",
        type=_seconds,
        default=900,
        help="seconds allowed per cell, rounded up to whole seconds (900)",
    )
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
    run.add_argument(
        "--force", action="store_true", help="make every report even when nothing changed"
    )
    run.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="a new kernel for every notebook (default: each worker keeps its kernel and "
        "clears its namespace between notebooks, which saves the start and the imports)",
    )
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


def _base_name(notebook: Path) -> str:
    """The report name of a notebook before the parts that distinguish parameters."""
    return dict(MAIN_NOTEBOOKS).get(notebook.stem, notebook.stem)


def _is_profile(notebook: Path) -> bool:
    return notebook.stem in BATCH_NOTEBOOKS.values()


def _checked(notebook: Path, params: dict[str, Any], *, participant: bool = True) -> dict[str, Any]:
    """``params`` validated against the notebook (notes printed); for the profile notebook
    the municipality must be a participant.  Raises before any kernel starts."""
    from .params import check_participant, parameter_specs, validate_parameters

    params, notes = validate_parameters(notebook, params)
    for note in notes:
        print(f"note: {note}")
    specs = parameter_specs(notebook)
    if participant and _is_profile(notebook) and "kommunenummer" in specs:
        check_participant(
            params.get("kommunenummer", specs["kommunenummer"].default),
            params.get("registry_path"),
        )
    return params


def _interrupted(exc: BaseException) -> int:
    print(str(exc) if str(exc) else "interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def cmd_report(args: argparse.Namespace) -> int:
    """``kvk report``: one notebook, or ``--batch profiles``."""
    from .. import config
    from .batch import Interrupted, Job, run_jobs

    formats = ("html",) if args.no_pdf else ("html", "pdf")
    if args.batch:
        from .batch import run_batch, start_worker_server

        start_worker_server()  # the workers' imports, while the parameters are checked
        from .params import check_participants, resolve_municipality

        notebook = resolve_notebook(args.notebook or BATCH_NOTEBOOKS[args.batch])
        params = collect_parameters(args, parameter_types(notebook))
        if "kommunenummer" in params:
            raise ReportError(
                "--batch sets kommunenummer itself: name the municipalities with --kommuner"
            )
        params = _checked(notebook, params, participant=False)
        if args.kommuner:
            codes = []
            for k in (k.strip() for k in args.kommuner.split(",")):
                if not k:
                    continue
                m = resolve_municipality(k, "--kommuner")
                if m.note:
                    print(f"note: {m.note}")
                if m.code not in codes:
                    codes.append(m.code)
            from ..municipalities import load_frame

            frame = load_frame(2008)
            names = dict(zip(frame["kommunenummer"], frame["kommune"].astype(str), strict=True))
            if _is_profile(notebook):
                check_participants(codes, params.get("registry_path"))
        elif args.all_participants:
            panel_path = Path(
                params.get("panel_path")
                or Path(params.get("processed_dir") or config.PROCESSED_DIR) / "panel.parquet"
            )
            if not panel_path.is_absolute():
                panel_path = config.ROOT / panel_path
            codes, names = _participants(panel_path)
        else:
            raise ReportError("--batch needs --all-participants or --kommuner 0101,0219,...")
        out = (args.out or config.REPORTS_DIR) / args.run
        t0 = time.perf_counter()
        try:
            results = run_batch(
                notebook,
                codes,
                out,
                params=params,
                names=names,
                workers=max(1, args.workers),
                formats=formats,
                cwd=config.ROOT,
                lang=params.get("lang", "nb"),
                timeout=args.timeout,
                tag=args.name,
            )
        except Interrupted as exc:
            return _interrupted(exc)
        failed = [r for r in results if r.status == "failed"]
        skipped = sum(r.status == "skipped" for r in results)
        print(
            f"{len(results) - len(failed)} of {len(results)} profiles OK "
            f"({skipped} finished earlier with the same record) in "
            f"{time.perf_counter() - t0:.0f} s; index: {out / 'index.html'}"
        )
        for r in failed:
            print(f"failed: {r.job.name}: {r.error}", file=sys.stderr)
        return 1 if failed else 0
    if not args.notebook:
        raise ReportError("name a notebook (e.g. 'kvk report 03') or use --batch profiles")
    from .params import report_name

    notebook = resolve_notebook(args.notebook)
    params = _checked(notebook, collect_parameters(args, parameter_types(notebook)))
    out = args.out or config.REPORTS_DIR
    name = report_name(notebook, params, base=_base_name(notebook), tag=args.name)
    job = Job(
        name=name,
        notebook=notebook,
        params=params,
        out_dir=Path(out),
        label=name,
        formats=formats,
        cwd=config.ROOT,
        timeout=args.timeout,
    )
    t0 = time.perf_counter()
    try:
        (result,) = run_jobs([job], workers=1, resume=not args.force, desc=name)
    except Interrupted as exc:
        return _interrupted(exc)
    if result.status == "failed":
        raise ReportError(result.error)
    if result.status == "skipped":
        print(
            f"{name}: nothing changed (same notebook, parameters, input data and kvk code); "
            "the report is up to date (--force makes it again)"
        )
    else:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        print(f"{notebook.name}: {time.perf_counter() - t0:.1f} s ({steps})")
    for kind, path in sorted(result.files.items()):
        if kind != "ipynb":
            print(f"  {kind}: {path}")
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


def _previous_seconds(job: Any) -> float:
    from .batch import DONE_SUFFIX, FAILED_SUFFIX

    for suffix in (DONE_SUFFIX, FAILED_SUFFIX):
        try:
            import json

            marker = json.loads((job.out_dir / f".{job.name}{suffix}").read_text(encoding="utf-8"))
            return float(marker.get("seconds", 0))
        except (OSError, ValueError, TypeError):
            continue
    return float(TYPICAL_SECONDS.get(job.notebook.stem, 0))


def _all_marked(out: Path) -> bool:
    """Whether ``out`` holds a done marker of some report of every notebook of ``kvk run``
    (whatever its parameters): a cheap guess, before anything is checked or hashed, that the
    run may have nothing to make."""
    from .batch import DONE_SUFFIX
    from .execute import glob_escape

    return all(any(out.glob(f".{glob_escape(base)}*{DONE_SUFFIX}")) for _, base in MAIN_NOTEBOOKS)


def cmd_run(args: argparse.Namespace) -> int:
    """``kvk run``: the main job on the embedded default (simulated demo data).

    Reports whose record is unchanged are kept (nothing changed: a no-op that says so);
    notebooks start longest first (by the times of the previous run), each worker keeps its
    kernel between notebooks (namespace cleared, see :func:`.execute.reset_kernel`);
    ``reports/index.html`` lists every report."""
    from .. import config
    from .batch import Interrupted, Job, run_jobs, start_worker_server, write_index
    from .params import report_name

    t0 = time.perf_counter()
    out = Path(args.out or config.REPORTS_DIR)
    if args.force or not _all_marked(out):
        # Reports to make: the workers' fork server imports its modules (about 1.2 CPU-s)
        # while this process checks the parameters and hashes the inputs, instead of this
        # process waiting for it before the data build (the kernels wait for that build).
        # A rerun with every report marked done is most likely a no-op: no server for it
        # (run_jobs starts one if something is to be made after all).
        start_worker_server()
    lines = _ensure_demo()
    formats = ("html",) if args.no_pdf else ("html", "pdf")
    jobs = []
    for stem, base in MAIN_NOTEBOOKS:
        notebook = resolve_notebook(stem)
        params: dict[str, Any] = {"lang": args.lang}
        if stem.startswith(("03", "05")) and args.quick:
            params["bootstrap_draws"] = QUICK_BOOTSTRAP
        if stem.startswith("04"):
            params["kommunenummer"] = args.kommune
        params = _checked(notebook, params)
        name = report_name(notebook, params, base=base)
        jobs.append(
            Job(
                name=name,
                notebook=notebook,
                params=params,
                out_dir=out,
                label=name,
                formats=formats,
                cwd=config.ROOT,
            )
        )
    order = sorted(range(len(jobs)), key=lambda i: -_previous_seconds(jobs[i]))
    built: list[str] = []
    t_build = 0.0

    build_failed: list[bool] = []

    def build_while_kernels_start(pool: Any) -> None:
        # The data are built here, in the main process, while the workers start (and wait
        # for the fork server's imports), start their kernels and import: every notebook's
        # first cell calls build_data, which waits for the lock of this build and then finds
        # the data up to date.  A failed build stops the workers (run_jobs; no notebook runs
        # on data that could not be built).
        nonlocal t_build
        t = time.perf_counter()
        try:
            built.extend(_build())
        except Exception:
            build_failed.append(True)
            raise
        t_build = time.perf_counter() - t

    try:
        ran = run_jobs(
            [jobs[i] for i in order],
            workers=max(1, args.workers),
            resume=not args.force,
            desc="notebooks",
            reuse_kernel=not args.fresh_kernels,
            on_start=build_while_kernels_start,
        )
    except Interrupted as exc:
        return _interrupted(exc)
    except Exception:
        if build_failed:  # the workers are stopped: remove what they were making
            from .execute import clean_stale_temporaries, remove_partial_files

            clean_stale_temporaries(out)
            for job in jobs:
                remove_partial_files(job.out_dir, job.name)
        raise
    if not built:  # nothing to run (or no worker processes): build (or check) the data now
        t = time.perf_counter()
        built.extend(_build())
        t_build = time.perf_counter() - t
    lines += built
    results = sorted(ran, key=lambda r: [j.name for j in jobs].index(r.job.name))
    title = "KVK-rapporter" if args.lang == "nb" else "KVK reports"
    index = write_index(
        results, out / "index.html", title=title, lang=args.lang, seconds=time.perf_counter() - t0
    )
    failed = [r for r in results if r.status == "failed"]
    if all(r.status == "skipped" for r in results):
        print(
            f"kvk run: nothing changed (same notebooks, parameters, input data and kvk code): "
            f"{len(results)} reports in {out} are up to date; checked in "
            f"{time.perf_counter() - t0:.1f} s (--force makes them again); index: {index}"
        )
        return 0
    print(f"kvk run: {time.perf_counter() - t0:.0f} s (data {t_build:.1f} s); index: {index}")
    for line in lines:
        print(f"  {line}")
    for r in results:
        if r.status == "failed":
            print(f"  FAILED {r.job.name}: {r.error}", file=sys.stderr)
        elif r.status == "skipped":
            print(f"  {r.job.name}: unchanged, kept")
        else:
            shown = ", ".join(str(Path(p)) for k, p in sorted(r.files.items()) if k != "ipynb")
            print(f"  {r.job.name} ({r.seconds:.0f} s): {shown}")
    return 1 if failed else 0
