"""Benchmark of the report pipeline: ``kvk run`` end to end and the batch of all profiles.

Runs in a fresh temporary project root (``KVK_ROOT``) holding copies of the notebooks and the
reference data, so nothing in the checkout is touched and the data build is really measured:

    .venv/bin/python benchmarks/bench_report.py            # both benchmarks
    .venv/bin/python benchmarks/bench_report.py --skip-batch
    .venv/bin/python benchmarks/bench_report.py --json out.json

Targets (2 cores, issue 13): ``kvk run`` after install < 12 s (in the checkout after
``make clean``; the fresh root here also generates the demo data, so it takes longer);
profiles for all participants with 2 workers < 60 s (issue 13; ``benchmarks/bench_batch.py`` breaks the batch down by step).
Besides wall times it reports where the time goes: ``import papermill``, kernel start, per
notebook the kernel start + imports + data loading, the estimation cells, HTML and PDF.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KVK = Path(sys.executable).with_name("kvk")
#: Per-report seconds shown (keys of :func:`notebook_breakdown` rows).
BREAKDOWN_KEYS = (
    "total",
    "execute",
    "outside cells (kernel start etc.)",
    "set-up cell (imports + data)",
    "other cells (estimation, figures)",
    "html",
    "pdf",
    "exports",
)


def _time_cmd(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def adopt_orphans() -> bool:
    """Make this process a child subreaper (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``), so that
    descendants whose parent exits or never waits for them are reparented here.  kvk's report
    workers are children of multiprocessing's fork server, which nobody waits for: without
    this their CPU seconds (and their kernels') are missing from ``RUSAGE_CHILDREN``.  False
    where the call is not available (then the CPU figures count only waited-for processes)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER = 36
    except (OSError, AttributeError):
        return False


def run_counted(
    cmd: list[str], env: dict[str, str], *, linger: float = 60.0
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``cmd``: ``(wall seconds, CPU seconds (user + system) of the command and all its
    descendants, the completed process)``.  After the command exits, waits up to ``linger``
    seconds for descendants still running (a fork server, a kernel shutting down) and reaps
    them, so their CPU counts too (:func:`adopt_orphans` must have been called)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    deadline = time.monotonic() + linger
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no descendants left
            break
        if pid == 0:  # some still running
            time.sleep(0.05)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def measure_startup() -> dict[str, float]:
    """Seconds for ``import papermill``, ``import nbconvert, weasyprint``, ``kvk --help``, a
    kernel start and the imports a report kernel makes (pandas, matplotlib, kvk)."""
    out: dict[str, float] = {}
    for name, code in {
        "import papermill": "import papermill",
        "import nbconvert+weasyprint": "import nbconvert, weasyprint",
        "kvk --help": None,
    }.items():
        cmd = [str(KVK), "--help"] if code is None else [sys.executable, "-c", code]
        t, _ = _time_cmd(cmd, dict(os.environ))
        out[name] = t
    code = (
        "import time; from jupyter_client.manager import start_new_kernel; t=time.perf_counter(); "
        "km, kc = start_new_kernel(kernel_name='python3', extra_arguments="
        "['--IPKernelApp.log_level=CRITICAL']); "
        "print(time.perf_counter()-t); kc.stop_channels(); km.shutdown_kernel(now=True)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    out["kernel start"] = float(proc.stdout.strip().splitlines()[-1])
    code = (
        "import time; t=time.perf_counter(); import pandas, matplotlib.pyplot; "
        "import kvk_analysis.did, kvk_analysis.plots, kvk_analysis.report; "
        "print(time.perf_counter()-t)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    out["kernel imports (pandas, matplotlib, kvk)"] = float(proc.stdout.strip().splitlines()[-1])
    return out


def make_root() -> Path:
    """A fresh project root: notebooks and reference data, no demo data, nothing built."""
    root = Path(tempfile.mkdtemp(prefix="kvk-bench-"))
    shutil.copytree(
        REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    for sub in ("municipalities", "cohorts", "calibration"):
        src = REPO / "data" / "raw" / sub
        if src.is_dir():
            shutil.copytree(src, root / "data" / "raw" / sub)
    (root / "data" / "processed").mkdir(parents=True)
    return root


def notebook_breakdown(reports: Path) -> list[dict[str, object]]:
    """Per report: execute/html/pdf seconds (done markers) and, from the executed notebook,
    the time outside cells (kernel start, papermill), the set-up cell (imports + data) and the
    remaining cells (estimation, figures, tables)."""
    import nbformat

    rows = []
    for marker in sorted(reports.glob(".*.done.json")):
        name = marker.name[1 : -len(".done.json")]
        done = json.loads(marker.read_text())
        row: dict[str, object] = {"report": name, "total": done["seconds"], **done["timings"]}
        executed = reports / "executed" / f"{name}.ipynb"
        if executed.is_file():
            nb = nbformat.read(str(executed), as_version=4)
            durations = [
                (c.metadata.get("papermill", {}).get("duration") or 0.0, c)
                for c in nb.cells
                if c.cell_type == "code"
            ]
            tags = [set(c.metadata.get("tags", [])) for _, c in durations]
            body = [
                d
                for (d, _), t in zip(durations, tags, strict=True)
                if not t & {"parameters", "injected-parameters"}
            ]
            cells = sum(d for d, _ in durations)
            row["outside cells (kernel start etc.)"] = done["timings"].get("execute", 0) - cells
            row["set-up cell (imports + data)"] = body[0] if body else 0.0
            row["other cells (estimation, figures)"] = sum(body[1:])
        rows.append(row)
    return rows


def _print_rows(rows: list[dict[str, object]]) -> None:
    print(f"  {'report':34s}" + "".join(f"{k[:14]:>15s}" for k in BREAKDOWN_KEYS))
    for r in rows:
        vals = "".join(f"{float(r.get(k, 0) or 0):15.1f}" for k in BREAKDOWN_KEYS)
        print(f"  {str(r['report'])[:34]:34s}{vals}")


def bench_run(root: Path, env: dict[str, str]) -> dict[str, object]:
    """``kvk run`` in a fresh root: demo data, data build, five notebooks, HTML + PDF."""
    seconds, cpu, proc = run_counted([str(KVK), "run"], env)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit("kvk run failed")
    rows = notebook_breakdown(root / "reports")
    build_line = next((ln for ln in proc.stdout.splitlines() if "(data " in ln), "")
    # the same run again: nothing changed, so every report is kept (records compared)
    again, proc2 = _time_cmd([str(KVK), "run"], env)
    if proc2.returncode != 0 or "nothing changed" not in proc2.stdout:
        print(proc2.stdout, proc2.stderr, file=sys.stderr)
        raise SystemExit("kvk run with nothing changed did not say so")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stdout_head": build_line,
        "reports": rows,
        "again_seconds": again,
    }


def bench_batch(root: Path, env: dict[str, str], workers: int) -> dict[str, object]:
    """All participants' profiles with ``workers`` processes."""
    cmd = [
        str(KVK),
        "report",
        "--batch",
        "profiles",
        "--all-participants",
        "--workers",
        str(workers),
        "--run",
        "bench-profiles",
    ]
    seconds, cpu, proc = run_counted(cmd, env)
    rows = notebook_breakdown(root / "reports" / "bench-profiles")
    summary: dict[str, object] = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "exit": proc.returncode,
        "n": len(rows),
        "last_line": proc.stdout.strip().splitlines()[-1:],
    }
    for key in BREAKDOWN_KEYS:
        vals = [float(r[key]) for r in rows if key in r]
        if vals:
            summary[f"median {key}"] = statistics.median(vals)
            summary[f"max {key}"] = max(vals)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the temporary root")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)

    results: dict[str, object] = {"cpus": os.cpu_count(), "all_cpu_counted": adopt_orphans()}
    print("start-up costs (s):")
    results["startup"] = measure_startup()
    for k, v in results["startup"].items():
        print(f"  {k:45s}{v:6.2f}")
    root = make_root()
    env = {**os.environ, "KVK_ROOT": str(root)}
    try:
        if not args.skip_run:
            res = bench_run(root, env)
            results["kvk_run"] = res
            print(
                f"\nkvk run (fresh root, demo data + build + 5 notebooks + HTML + PDF): "
                f"{res['seconds']:.1f} s, CPU of all processes {res['cpu_seconds']:.1f} s "
                "(issue 13's goal, for kvk run after install in the checkout: < 12 s; this root "
                "also generates the demo data)"
            )
            print(f"  {res['stdout_head'].strip()}")
            _print_rows(res["reports"])
            print(
                f"kvk run again, nothing changed: {res['again_seconds']:.1f} s "
                f"(ratio first/again {res['seconds'] / res['again_seconds']:.1f}x)"
            )
        if not args.skip_batch:
            if args.skip_run:
                subprocess.run([str(KVK), "run", "--no-pdf"], env=env, capture_output=True)
            res = bench_batch(root, env, args.workers)
            results["batch_profiles"] = res
            print(
                f"\nprofiles for all participants, {args.workers} workers: "
                f"{res['seconds']:.1f} s for {res['n']} reports, CPU of all processes "
                f"{res['cpu_seconds']:.0f} s (target < 60 s); exit "
                f"{res['exit']}"
            )
            for k, v in res.items():
                if k.startswith(("median", "max")):
                    print(f"  {k:50s}{float(v):6.2f}")
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
