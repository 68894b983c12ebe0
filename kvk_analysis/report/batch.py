"""Run many reports in parallel: profiles for many municipalities, or the notebooks of ``kvk run``.

Each job executes one notebook with papermill and renders it (:func:`~.execute.run_report`) in
a worker process.  A run is resumable: a job whose report files and done marker exist is
skipped.  A failed job leaves no report files, only a failure marker with the error, which the
run's ``index.html`` shows.
"""

from __future__ import annotations

import html
import json
import multiprocessing
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import atomic_write

DONE_SUFFIX = ".done.json"
FAILED_SUFFIX = ".failed.json"


@dataclass(frozen=True)
class Job:
    """One report: run ``notebook`` with ``params`` and write ``<out_dir>/<name>.html/.pdf``."""

    name: str
    notebook: Path
    params: Mapping[str, Any]
    out_dir: Path
    label: str = ""
    formats: tuple[str, ...] = ("html", "pdf")
    cwd: Path | None = None
    timeout: float | None = 900


@dataclass
class JobResult:
    """Outcome of one job: ``status`` is ``"done"``, ``"skipped"`` (finished earlier) or
    ``"failed"`` (``error`` says why)."""

    job: Job
    status: str
    seconds: float = 0.0
    error: str = ""
    files: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _marker(job: Job, suffix: str) -> Path:
    return job.out_dir / f".{job.name}{suffix}"


def is_done(job: Job) -> bool:
    """True when the job's report files and its done marker exist (then it is skipped)."""
    if not _marker(job, DONE_SUFFIX).is_file():
        return False
    return all((job.out_dir / f"{job.name}.{fmt}").is_file() for fmt in job.formats)


#: The kernel a worker process keeps between its jobs (see :func:`run_job`).
_KERNEL: dict[str, Any] = {}


def _worker_kernel(kernel: str, cwd: Path | None) -> Any:
    """This process's kernel manager for ``kernel`` in ``cwd``: started by the first notebook,
    reused by the next ones (saves the kernel start and the imports), replaced when it died."""
    import atexit

    from jupyter_client.manager import KernelManager

    key = f"{kernel}@{cwd}"
    km = _KERNEL.get(key)
    if km is not None and km.has_kernel and km.is_alive():
        return km
    if km is not None:
        _shutdown(km)
    km = KernelManager(kernel_name=kernel)
    _KERNEL[key] = km
    atexit.unregister(_shutdown_all)  # registered once, however often kernels are replaced
    atexit.register(_shutdown_all)
    return km


def _shutdown(km: Any) -> None:
    import contextlib

    with contextlib.suppress(Exception):
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def _shutdown_all() -> None:
    for km in list(_KERNEL.values()):
        _shutdown(km)
    _KERNEL.clear()


def run_job(job: Job, *, reuse_kernel: bool = False) -> JobResult:
    """Run one job in this process; never raises for a failing notebook (returns ``failed``).

    With ``reuse_kernel`` the notebook runs in this process's kept kernel (batch workers);
    after a failure that kernel is discarded, so the next job starts clean.
    """
    from ..errors import KvkError
    from .execute import LAST_TIMINGS, run_report

    km = _worker_kernel("python3", job.cwd) if reuse_kernel else None

    start = time.perf_counter()
    _marker(job, FAILED_SUFFIX).unlink(missing_ok=True)
    _marker(job, DONE_SUFFIX).unlink(missing_ok=True)
    try:
        files = run_report(
            job.notebook,
            job.params,
            job.out_dir,
            job.formats,
            name=job.name,
            cwd=job.cwd,
            timeout=job.timeout,
            km=km,
        )
    except (KvkError, OSError) as exc:
        if km is not None:  # discard this kernel (the next job gets a fresh one)
            _shutdown(km)
            for key in [k for k, v in _KERNEL.items() if v is km]:
                del _KERNEL[key]
        seconds = time.perf_counter() - start
        with atomic_write(_marker(job, FAILED_SUFFIX)) as fh:
            json.dump({"error": str(exc), "seconds": seconds}, fh, ensure_ascii=False)
        return JobResult(job, "failed", seconds, error=str(exc))
    seconds = time.perf_counter() - start
    result = JobResult(
        job,
        "done",
        seconds,
        files={k: str(v) for k, v in files.items()},
        timings=dict(LAST_TIMINGS),
    )
    with atomic_write(_marker(job, DONE_SUFFIX)) as fh:
        json.dump(
            {
                "seconds": seconds,
                "files": result.files,
                "timings": result.timings,
                "params": {k: repr(v) for k, v in job.params.items()},
            },
            fh,
            ensure_ascii=False,
        )
    return result


def _init_worker() -> None:
    import logging

    logging.getLogger("papermill").setLevel(logging.WARNING)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)


def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int = 2,
    resume: bool = True,
    progress: bool = True,
    desc: str = "reports",
    reuse_kernel: bool = False,
) -> list[JobResult]:
    """Run ``jobs`` on ``workers`` processes (1 = in this process) with a tqdm progress bar.

    With ``resume``, finished jobs (:func:`is_done`) are skipped.  With ``reuse_kernel`` each
    worker process keeps one kernel for all its jobs (for many runs of the same notebook).
    Results come back in the order of ``jobs``.
    """
    from tqdm import tqdm

    results: dict[int, JobResult] = {}
    todo: list[int] = []
    for i, job in enumerate(jobs):
        if resume and is_done(job):
            results[i] = JobResult(job, "skipped")
        else:
            todo.append(i)
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        desc=desc,
        disable=not progress,
        unit="report",
        dynamic_ncols=True,
    )
    try:
        if workers <= 1 or len(todo) <= 1:
            try:
                for i in todo:
                    results[i] = run_job(jobs[i], reuse_kernel=reuse_kernel)
                    bar.update(1)
            finally:
                if reuse_kernel:
                    _shutdown_all()
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_init_worker
            ) as pool:
                futures = {
                    pool.submit(run_job, jobs[i], reuse_kernel=reuse_kernel): i for i in todo
                }
                for fut in as_completed(futures):
                    i = futures[fut]
                    try:
                        results[i] = fut.result()
                    except Exception as exc:  # a crashed worker process
                        results[i] = JobResult(jobs[i], "failed", error=f"worker crashed: {exc}")
                    bar.update(1)
                    if results[i].status == "failed":
                        bar.write(f"failed: {jobs[i].name}: {results[i].error}")
    finally:
        bar.close()
    return [results[i] for i in range(len(jobs))]


def write_index(
    results: Iterable[JobResult],
    index_path: str | Path,
    *,
    title: str = "Reports",
    lang: str = "nb",
) -> Path:
    """Write an ``index.html`` linking every report, with its status; a failed job shows its
    error.  Written atomically."""
    from .render import REPORT_MODE
    from .text import check_lang

    lang = check_lang(lang)
    index_path = Path(index_path)
    words = {
        "nb": (
            "Rapport",
            "Status",
            "Filer",
            "Feil",
            "ferdig",
            "hoppet over (ferdig fra før)",
            "feilet",
            "sekunder",
        ),
        "en": (
            "Report",
            "Status",
            "Files",
            "Error",
            "done",
            "skipped (finished earlier)",
            "failed",
            "seconds",
        ),
    }[lang]
    status_word = {"done": words[4], "skipped": words[5], "failed": words[6]}
    rows = []
    n_failed = 0
    for r in results:
        job = r.job
        failed = r.status == "failed"
        n_failed += failed
        links = (
            ""
            if failed
            else " ".join(
                f'<a href="{html.escape(_rel(job.out_dir / f"{job.name}.{fmt}", index_path))}">'
                f"{fmt.upper()}</a>"
                for fmt in job.formats
            )
        )
        rows.append(
            f'<tr class="{r.status}"><td>{html.escape(job.label or job.name)}</td>'
            f"<td>{html.escape(status_word.get(r.status, r.status))}"
            + (f" ({r.seconds:.1f} {words[7]})" if r.seconds else "")
            + f"</td><td>{links}</td>"
            f'<td class="err">{html.escape(r.error)}</td></tr>'
        )
    total = len(rows)
    summary = f"{total - n_failed} / {total} OK" + (f", {n_failed} {words[6]}" if n_failed else "")
    page = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"/><title>{html.escape(title)}</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #1b1b1b; }}
h1 {{ color: #1f4e79; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }}
tr.failed td {{ background: #fdecee; }}
td.err {{ color: #7a0016; max-width: 50em; white-space: pre-wrap; overflow-wrap: anywhere; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="summary">{html.escape(summary)}</p>
<table><thead><tr><th>{words[0]}</th><th>{words[1]}</th><th>{words[2]}</th><th>{words[3]}</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
    with atomic_write(index_path, "w", encoding="utf-8") as fh:
        fh.write(page)
    index_path.chmod(REPORT_MODE)
    return index_path


def _rel(path: Path, index_path: Path) -> str:
    try:
        return str(path.resolve().relative_to(index_path.parent.resolve()))
    except ValueError:
        return path.resolve().as_uri()


def profile_jobs(
    notebook: str | Path,
    kommuner: Sequence[str],
    out_dir: str | Path,
    *,
    params: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    param_name: str = "kommunenummer",
    formats: tuple[str, ...] = ("html", "pdf"),
    cwd: str | Path | None = None,
) -> list[Job]:
    """One :class:`Job` per municipality: ``profile-<kommunenummer>`` under ``out_dir``."""
    out = Path(out_dir)
    names = names or {}
    return [
        Job(
            name=f"profile-{k}",
            notebook=Path(notebook),
            params={**dict(params or {}), param_name: k},
            out_dir=out,
            label=f"{k} {names.get(k, '')}".strip(),
            formats=formats,
            cwd=Path(cwd) if cwd is not None else None,
        )
        for k in kommuner
    ]


def run_batch(
    notebook: str | Path,
    kommuner: Sequence[str],
    out_dir: str | Path,
    *,
    params: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    workers: int = 2,
    formats: tuple[str, ...] = ("html", "pdf"),
    cwd: str | Path | None = None,
    progress: bool = True,
    lang: str = "nb",
    title: str | None = None,
    reuse_kernel: bool = True,
) -> list[JobResult]:
    """Run the profile ``notebook`` for each municipality in ``kommuner`` and write
    ``<out_dir>/index.html``.  Returns the results (check for ``status == "failed"``).

    Each worker keeps its kernel between municipalities (``reuse_kernel``), which saves the
    kernel start and the imports of every profile after its first."""
    jobs = profile_jobs(
        notebook, kommuner, out_dir, params=params, names=names, formats=formats, cwd=cwd
    )
    results = run_jobs(
        jobs, workers=workers, progress=progress, desc="profiles", reuse_kernel=reuse_kernel
    )
    default_title = "Kommuneprofiler" if lang == "nb" else "Municipality profiles"
    write_index(results, Path(out_dir) / "index.html", title=title or default_title, lang=lang)
    return results
