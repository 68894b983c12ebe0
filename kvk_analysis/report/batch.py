"""Run many reports in parallel: profiles for many municipalities, or the notebooks of ``kvk run``.

Each job executes one notebook with papermill and renders it (:func:`~.execute.run_report`) in
a worker process.  A run is resumable: a job is skipped when its done marker holds the same
record (:mod:`.records`: notebook, parameters, input hashes, kvk version and code) as the job
now and its files exist, so new parameters or new raw data run it again.  A failed job leaves
no report files, only a failure marker with the error, which the run's ``index.html`` shows.

Interrupts: Ctrl-C (SIGINT) in the main process stops scheduling, tells every worker to stop
(SIGUSR1: the worker kills its kernel's process group, removes its temporary folder and exits
at once, without the event-loop shutdown that could hang), waits a few seconds, kills what is
left and raises :class:`Interrupted`; finished reports stay.  Workers run in their own
session (a terminal's Ctrl-C reaches only the main process) and die with it: Linux sends them
SIGUSR1 when the main process dies (``PR_SET_PDEATHSIG``), elsewhere a watchdog thread
notices the parent is gone.  Kernels exit when their worker is gone (ipykernel polls its
parent).
"""

from __future__ import annotations

import contextlib
import html
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import KvkError
from ..fileio import atomic_write

DONE_SUFFIX = ".done.json"
FAILED_SUFFIX = ".failed.json"
#: Seconds the main process waits for interrupted workers before killing them.
STOP_GRACE_SECONDS = 5.0
#: Signal the main process (or the kernel, when the main process dies) sends a worker to stop.
STOP_SIGNAL = signal.SIGUSR1
#: Third-party modules every worker imports (papermill, HTML, PDF, exports): with the
#: ``forkserver`` start method they are imported once, by the fork server, and every worker
#: starts with them (about 1.6 CPU-s per worker, which each spawned worker paid on its first
#: report).  No kvk module: those read the project root and settings when imported and are
#: imported by each worker itself, as with ``spawn``.
WORKER_PRELOAD = (
    "pandas",
    "jupyter_client",
    "papermill",
    "nbconvert",
    "nbconvert.exporters",
    "bs4",
    "weasyprint",
    "PIL.Image",
    "docx",
    "openpyxl",
)


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C: ``done`` reports finished (kept), ``not_run`` never finished.
    (A ``KeyboardInterrupt``: callers that do not catch it stop as on any Ctrl-C.)"""

    def __init__(self, done: int, not_run: int) -> None:
        self.done = done
        self.not_run = not_run
        super().__init__(
            f"interrupted: {done} of {done + not_run} reports finished and kept, {not_run} not "
            "made; kernels stopped, temporary files removed"
        )


@dataclass(frozen=True)
class Job:
    """One report: run ``notebook`` with ``params`` and write ``<out_dir>/<name>.html/.pdf``.

    ``record`` is what produced the report (see :func:`.records.report_record`), filled by
    :func:`run_jobs` when empty."""

    name: str
    notebook: Path
    params: Mapping[str, Any]
    out_dir: Path
    label: str = ""
    formats: tuple[str, ...] = ("html", "pdf")
    cwd: Path | None = None
    timeout: float | None = 900
    record: Mapping[str, Any] | None = field(default=None, compare=False)


@dataclass
class JobResult:
    """Outcome of one job: ``status`` is ``"done"``, ``"skipped"`` (finished earlier with the
    same record) or ``"failed"`` (``error`` says why)."""

    job: Job
    status: str
    seconds: float = 0.0
    error: str = ""
    files: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    finished_utc: str = ""


def _marker(job: Job, suffix: str) -> Path:
    return job.out_dir / f".{job.name}{suffix}"


def with_record(job: Job) -> Job:
    """``job`` with its :func:`~.records.report_record` computed now (when it has none)."""
    if job.record is not None:
        return job
    from .records import report_record

    return replace(
        job, record=report_record(job.notebook, job.params, cwd=job.cwd, formats=job.formats)
    )


def read_marker(job: Job) -> dict[str, Any]:
    """The done marker of ``job`` (empty when missing or unreadable)."""
    try:
        return json.loads(_marker(job, DONE_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_done(job: Job) -> bool:
    """True when ``job`` finished earlier with the same record (notebook, parameters, inputs,
    kvk version and code) and its report files still exist; then it is skipped."""
    marker = read_marker(job)
    if not marker:
        return False
    if marker.get("record") != with_record(job).record:
        return False
    files = [job.out_dir / f"{job.name}.{fmt}" for fmt in job.formats]
    files += [Path(p) for k, p in marker.get("files", {}).items() if k != "ipynb"]
    return all(p.exists() for p in files)


#: The kernels this process keeps (see :func:`run_job`), by kernel name and folder.
_KERNEL: dict[str, Any] = {}
#: Every kernel manager this process started (killed on an interrupt).
_STARTED: list[Any] = []


def _worker_kernel(kernel: str, cwd: Path | None, *, reuse: bool = True) -> Any:
    """A kernel manager for ``kernel`` in ``cwd``; with ``reuse`` this process's kept one:
    started by the first notebook, reused by the next ones (saves the kernel start and the
    imports), replaced when it died."""
    import atexit

    # the async manager: with the blocking one nbclient never applies the per-cell timeout
    from jupyter_client.manager import AsyncKernelManager

    key = f"{kernel}@{cwd}"
    if reuse:
        km = _KERNEL.get(key)
        if km is not None and _alive(km):
            return km
        if km is not None:
            kill_kernel(km)
    km = AsyncKernelManager(kernel_name=kernel)
    _STARTED.append(km)
    if reuse:
        _KERNEL[key] = km
    atexit.unregister(_shutdown_all)  # registered once, however often kernels are replaced
    atexit.register(_shutdown_all)
    return km


def _alive(km: Any) -> bool:
    """The kernel of ``km`` was started and its process still runs."""
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    return proc is not None and proc.poll() is None


def kill_kernel(km: Any, *, close_client: bool = True) -> None:
    """Stop a kernel at once: SIGKILL to its process group and its connection file removed;
    with ``close_client`` the client kept for it (:func:`.execute.forget_kernel`) is closed.

    Used instead of ``shutdown_kernel`` because that needs an event loop, which at exit or in
    a signal handler may already be closed (the hang of issue 11)."""
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    pid = getattr(proc, "pid", None)
    if pid:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=2)
    conn = getattr(km, "connection_file", "")
    if conn:
        with contextlib.suppress(OSError):
            Path(conn).unlink()
    if km in _STARTED:
        _STARTED.remove(km)
    if close_client:
        from .execute import forget_kernel

        forget_kernel(km)


def _shutdown(km: Any) -> None:
    kill_kernel(km)


def _shutdown_all() -> None:
    for km in list(_STARTED):
        kill_kernel(km)
    _KERNEL.clear()


def _stop_now(*_: Any) -> None:
    """Worker: stop at once (interrupt, or the main process died): kill the kernels, remove
    the temporary folders of the reports in progress, exit 130 without any cleanup that could
    wait."""
    import shutil

    from .execute import ACTIVE_TEMP

    for km in list(_STARTED):
        with contextlib.suppress(Exception):
            kill_kernel(km, close_client=False)  # nothing that could wait in a signal handler
    for tmp in list(ACTIVE_TEMP):
        shutil.rmtree(tmp, ignore_errors=True)
    os._exit(130)


def _pid_alive(pid: int) -> bool:
    """Process ``pid`` exists and is not a zombie (a killed main process stays a zombie
    until its parent reaps it, which may wait for this worker to close its output)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[0] not in {"Z", "X"}
    return True


def _watch_parent(parent: int, direct: int) -> None:
    while True:
        if os.getppid() != direct or not _pid_alive(parent):
            _stop_now()
        time.sleep(0.5)


def _die_with_parent(parent: int) -> None:
    """Make this worker stop when process ``parent`` (the main process) dies:
    ``PR_SET_PDEATHSIG`` on Linux (via ctypes: no dependency), and a watchdog thread
    everywhere.  A worker forked by the fork server (:func:`worker_context`) has that server
    as its direct parent, which exits when the main process dies: either ending stops it."""
    direct = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(STOP_SIGNAL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    threading.Thread(target=_watch_parent, args=(parent, direct), daemon=True).start()
    if direct == 1 or not _pid_alive(parent):  # died before the above took effect
        _stop_now()


#: The environment the fork server was started with by :func:`worker_context` (``None``:
#: not started by it).  Forked workers inherit the server's environment, not the main
#: process's current one, so a changed environment (``KVK_ROOT``, settings) means ``spawn``.
_SERVER_ENV: dict[str, str] | None = None


def worker_context() -> Any:
    """The multiprocessing context of the workers: ``forkserver`` with :data:`WORKER_PRELOAD`
    where the platform has it, else ``spawn``.  The server is started once per process (by
    the first call, e.g. :func:`start_worker_server` while the main process still checks
    parameters) and used while this process's environment is the one it started with;
    otherwise (a changed environment, or a server started by other code) ``spawn``.  Never
    ``fork``: a worker must not inherit the main process's threads and state."""
    global _SERVER_ENV
    spawn = multiprocessing.get_context("spawn")
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return spawn
    from multiprocessing import forkserver

    env = dict(os.environ)
    if _SERVER_ENV is None:
        server = getattr(forkserver, "_forkserver", None)
        if server is None or getattr(server, "_forkserver_pid", 1) is not None:
            return spawn  # another module's server (or another multiprocessing): not ours
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(WORKER_PRELOAD))
        forkserver.ensure_running()
        _SERVER_ENV = env
        return ctx
    return multiprocessing.get_context("forkserver") if _same_env(env, _SERVER_ENV) else spawn


#: Environment variables that libraries kvk imports set for themselves when they are missing
#: (pandera, for pyspark, when imported): a process that started the fork server before that
#: import has them and the server not, and a worker sets them again on the same import, so
#: they do not make the server's environment another one.
ENV_SET_BY_IMPORTS = ("SPARK_LOCAL_IP", "PYARROW_IGNORE_TIMEZONE")


def _same_env(env: Mapping[str, str], server: Mapping[str, str]) -> bool:
    """``env`` (this process's now) is the environment the fork server started with, apart
    from :data:`ENV_SET_BY_IMPORTS` added since."""
    ignored = {k for k in ENV_SET_BY_IMPORTS if k not in server}
    return {k: v for k, v in env.items() if k not in ignored} == dict(server)


def start_worker_server() -> None:
    """Start the workers' fork server now, so that it imports :data:`WORKER_PRELOAD` in its
    own process while this one goes on (e.g. checking parameters); see
    :func:`worker_context`."""
    worker_context()


def _init_worker(parent: int | None = None) -> None:
    import logging

    # own session: a terminal's Ctrl-C goes to the main process, which stops the workers
    with contextlib.suppress(OSError):
        os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(STOP_SIGNAL, _stop_now)
    if parent is not None:
        _die_with_parent(parent)
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    if os.environ.get("KVK_TEST_WORKER_STARTED"):  # tests: where to say "worker ready"
        Path(os.environ["KVK_TEST_WORKER_STARTED"], str(os.getpid())).touch()


def _recorded_files(job: Job) -> list[Path]:
    """Files an earlier run of ``job`` wrote (from its done marker)."""
    return [Path(p) for p in read_marker(job).get("files", {}).values()]


def run_job(job: Job, *, reuse_kernel: bool = False, own_kernel: bool = False) -> JobResult:
    """Run one job in this process; never raises for a failing notebook (returns ``failed``).

    With ``reuse_kernel`` the notebook runs in this process's kept kernel (batch workers);
    after a failure that kernel is discarded, so the next job starts clean.  With
    ``own_kernel`` (workers) a fresh kernel is started for this job and killed after it.
    The done marker holds the job's record and the files written (listed by the render step).
    """
    from .execute import LAST_TIMINGS, run_report

    job = with_record(job)
    km = None
    if reuse_kernel or own_kernel:
        km = _worker_kernel("python3", job.cwd, reuse=reuse_kernel)

    start = time.perf_counter()
    # files of an earlier run of this name that this run may not write again must go too
    old_files = _recorded_files(job)
    _marker(job, FAILED_SUFFIX).unlink(missing_ok=True)
    _marker(job, DONE_SUFFIX).unlink(missing_ok=True)
    # (the export folder <name>/ is replaced whole by run_report: deleting single files from
    # it would leave a folder that no longer looks like an export folder)
    exports = (job.out_dir / job.name).resolve()
    for p in old_files:
        with contextlib.suppress(OSError):
            target = p.resolve()
            if (
                p.is_file()
                and target.is_relative_to(job.out_dir.resolve())
                and not target.is_relative_to(exports)
            ):
                p.unlink()
    try:
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
        finally:
            if km is not None and not reuse_kernel:
                kill_kernel(km)
    except (KvkError, OSError) as exc:
        if km is not None:  # discard this kernel (the next job gets a fresh one)
            kill_kernel(km)
            for key in [k for k, v in _KERNEL.items() if v is km]:
                del _KERNEL[key]
        seconds = time.perf_counter() - start
        with atomic_write(_marker(job, FAILED_SUFFIX)) as fh:
            json.dump(
                {"error": str(exc), "seconds": seconds, "record": job.record},
                fh,
                ensure_ascii=False,
            )
        return JobResult(job, "failed", seconds, error=str(exc))
    seconds = time.perf_counter() - start
    result = JobResult(
        job,
        "done",
        seconds,
        files={k: str(v) for k, v in _flatten(files).items()},
        timings=dict(LAST_TIMINGS),
    )
    with atomic_write(_marker(job, DONE_SUFFIX)) as fh:
        json.dump(
            {
                "record": job.record,
                "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "seconds": seconds,
                "files": result.files,
                "timings": result.timings,
            },
            fh,
            ensure_ascii=False,
            indent=1,
        )
    return result


def _run_in_worker(job: Job, *, reuse_kernel: bool, own_kernel: bool) -> JobResult:
    """:func:`run_job` in a worker process, then that job's garbage collected and everything
    still alive (modules, the HTML exporter, font subsets: what the next jobs use) moved into
    the collector's permanent generation (:func:`gc.freeze`), so the collections during the
    next jobs no longer walk it (about 0.03 s per profile)."""
    import gc

    try:
        return run_job(job, reuse_kernel=reuse_kernel, own_kernel=own_kernel)
    finally:
        gc.collect()
        gc.freeze()


def _flatten(files: Mapping[str, Any]) -> dict[str, str]:
    """``run_report``'s answer as ``{key: path}`` (lists of paths get ``key[i]`` keys)."""
    out: dict[str, str] = {}
    for k, v in files.items():
        if isinstance(v, str | Path):
            out[k] = str(v)
        elif isinstance(v, Mapping):
            out.update({f"{k}.{kk}": str(vv) for kk, vv in v.items()})
        elif isinstance(v, Iterable):
            out.update({f"{k}[{i}]": str(p) for i, p in enumerate(v)})
    return out


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Tell every worker of ``pool`` to stop, wait up to :data:`STOP_GRACE_SECONDS`, kill the
    rest.  (``_processes`` is the executor's own table of its processes: the public API has
    no way to stop a running task.)"""
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            os.kill(p.pid, STOP_SIGNAL)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            with contextlib.suppress(Exception):
                p.kill()
                p.join(1)
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is not None:
        # With its workers gone the executor's manager thread ends at once.  Waiting for it
        # here keeps Python 3.11's exit hook (concurrent.futures' _python_exit) from waking a
        # pipe that thread is closing, which printed a "Bad file descriptor" traceback after
        # Ctrl-C now and then.
        manager.join(STOP_GRACE_SECONDS)


def _submit_while(
    pool: ProcessPoolExecutor,
    todo: Sequence[int],
    jobs: Sequence[Job],
    futures: dict[Any, int],
    reuse_kernel: bool,
    on_start: Any,
) -> None:
    """Submit ``jobs[i]`` for ``i`` in ``todo`` to ``pool`` (filling ``futures``) and run
    ``on_start(pool)`` meanwhile.

    Submitting starts the worker processes, and a worker comes from the fork server only once
    the server has imported :data:`WORKER_PRELOAD` (about 1.2 CPU-s; ``kvk run`` starts it
    first, so it is often still importing): the submitting runs in a thread while
    ``on_start`` (``kvk run``'s data build) runs here, instead of after it.  When ``on_start``
    fails (or Ctrl-C), the workers are stopped (:func:`_stop_workers`) once every one was
    started, and the error goes on."""
    failed: list[BaseException] = []

    def submit_all() -> None:
        try:
            for i in todo:
                fut = pool.submit(
                    _run_in_worker, jobs[i], reuse_kernel=reuse_kernel, own_kernel=not reuse_kernel
                )
                futures[fut] = i
        except BaseException as exc:  # noqa: BLE001 - raised again below, in this thread
            failed.append(exc)

    if on_start is None:
        submit_all()
    else:
        submitter = threading.Thread(target=submit_all, name="kvk-submit", daemon=True)
        submitter.start()
        try:
            on_start(pool)
        except Exception:
            submitter.join()  # every worker started: then all can be stopped
            _stop_workers(pool)
            raise
        except BaseException:  # Ctrl-C: the caller stops the workers, once all are started
            submitter.join()
            raise
        submitter.join()
    if failed:
        raise failed[0]


def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int = 2,
    resume: bool = True,
    progress: bool = True,
    desc: str = "reports",
    reuse_kernel: bool = False,
    on_start: Any = None,
) -> list[JobResult]:
    """Run ``jobs`` on ``workers`` worker processes (``0``: in this process, for tests and
    library use) with a tqdm progress bar (on a terminal).

    With ``resume``, jobs finished earlier with the same record (:func:`is_done`) are skipped.
    With ``reuse_kernel`` each worker keeps one kernel for all its jobs.  Jobs are handed out
    in the order given.  Results come back in the order of ``jobs``.  ``on_start(pool)`` runs
    in this process while the workers start (see :func:`_submit_while`); when it raises, the
    workers are stopped and its error is raised.

    Raises
    ------
    Interrupted
        Ctrl-C: workers stopped, their kernels and temporary files gone, finished reports kept.
    """
    from tqdm import tqdm

    from .execute import clean_stale_temporaries

    jobs = [with_record(j) for j in jobs]
    for out in sorted({j.out_dir for j in jobs}):  # what interrupted runs left, even if
        clean_stale_temporaries(out)  # nothing is to be made now
    results: dict[int, JobResult] = {}
    todo: list[int] = []
    for i, job in enumerate(jobs):
        if resume and is_done(job):
            marker = read_marker(job)
            results[i] = JobResult(
                job,
                "skipped",
                files=dict(marker.get("files", {})),
                timings=dict(marker.get("timings", {})),
                finished_utc=str(marker.get("finished_utc", "")),
            )
        else:
            todo.append(i)
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        desc=desc,
        disable=not (progress and sys.stderr.isatty()),
        unit="report",
        dynamic_ncols=True,
    )
    try:
        if workers <= 0:
            try:
                for i in todo:
                    results[i] = run_job(jobs[i], reuse_kernel=reuse_kernel)
                    bar.update(1)
            finally:
                if reuse_kernel:
                    _shutdown_all()
        elif todo:
            ctx = worker_context()
            pool = ProcessPoolExecutor(
                max_workers=min(workers, len(todo)),
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
            futures: dict[Any, int] = {}
            try:
                _submit_while(pool, todo, jobs, futures, reuse_kernel, on_start)
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i = futures[fut]
                        try:
                            results[i] = fut.result()
                        except Exception as exc:  # a crashed worker process
                            results[i] = JobResult(
                                jobs[i], "failed", error=f"worker crashed: {exc}"
                            )
                        bar.update(1)
                        if results[i].status == "failed" and not bar.disable:
                            bar.write(f"failed: {jobs[i].name}: {results[i].error}")
            except KeyboardInterrupt:
                old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C waits
                try:
                    _stop_workers(pool)
                    from .execute import clean_stale_temporaries, remove_partial_files

                    for out in {j.out_dir for j in jobs}:
                        clean_stale_temporaries(out)
                    for i in todo:
                        if i not in results:
                            remove_partial_files(jobs[i].out_dir, jobs[i].name)
                finally:
                    signal.signal(signal.SIGINT, old)
                # a worker may have finished a report the main process had not collected yet
                done = sum(1 for j in jobs if is_done(j))
                raise Interrupted(done, len(jobs) - done) from None
            pool.shutdown(wait=True)
    finally:
        bar.close()
    return [results[i] for i in range(len(jobs))]


def report_files(result: JobResult) -> list[Path]:
    """Every file of a finished report: those the render step returned (HTML, PDF and any
    exports), the files named ``<name>.*`` beside it, and the files in a folder named
    ``<name>`` or ``<name>_*``/``<name>.*`` next to it; not the executed notebook."""
    job = result.job
    found: dict[str, Path] = {}
    for key, p in result.files.items():
        if key != "ipynb":
            found[str(Path(p).resolve())] = Path(p)
    if job.out_dir.is_dir():
        from .execute import glob_escape

        stem = glob_escape(job.name)
        for p in [*job.out_dir.glob(f"{stem}.*"), *job.out_dir.glob(f"{stem}_*")]:
            if p.is_file():
                found.setdefault(str(p.resolve()), p)
        for d in [
            job.out_dir / job.name,
            *job.out_dir.glob(f"{stem}_*"),
            *job.out_dir.glob(f"{stem}.*"),
        ]:
            if d.is_dir():
                for p in d.rglob("*"):
                    if p.is_file() and not p.name.startswith("."):
                        found.setdefault(str(p.resolve()), p)
    order = {"html": 0, "pdf": 1}
    return sorted(found.values(), key=lambda p: (order.get(p.suffix.lstrip("."), 2), p.name))


def write_index(
    results: Iterable[JobResult],
    index_path: str | Path,
    *,
    title: str = "Reports",
    lang: str = "nb",
    seconds: float | None = None,
) -> Path:
    """Write an ``index.html`` linking every report and its exports, with its status, the
    parameters it was made with (those differing from the notebook's defaults) and its
    language; a failed job shows its error.  ``seconds``: how long the run took.  Written
    atomically."""
    from .params import parameter_specs
    from .render import REPORT_MODE
    from .text import check_lang

    lang = check_lang(lang)
    results = list(results)
    index_path = Path(index_path)
    words = {
        "nb": (
            "Rapport",
            "Status",
            "Filer",
            "Feil",
            "ferdig",
            "hoppet over (ferdig fra før, uendret)",
            "feilet",
            "sekunder",
            "Parametere",
            "Språk",
            "standard",
            "Kjøringen tok",
            "sum over rapportene",
            "kjøring av notatboken",
            "eksport",
        ),
        "en": (
            "Report",
            "Status",
            "Files",
            "Error",
            "done",
            "skipped (finished earlier, unchanged)",
            "failed",
            "seconds",
            "Parameters",
            "Language",
            "defaults",
            "The run took",
            "summed over the reports",
            "running the notebook",
            "exports",
        ),
    }[lang]
    status_word = {"done": words[4], "skipped": words[5], "failed": words[6]}
    rows = []
    n_failed = 0
    specs_cache: dict[Path, dict] = {}
    for r in results:
        job = r.job
        failed = r.status == "failed"
        n_failed += failed
        links = (
            ""
            if failed
            else " ".join(
                f'<a href="{html.escape(_rel(p, index_path))}">{html.escape(_short(p, job.name))}</a>'
                for p in report_files(r)
            )
        )
        if job.notebook not in specs_cache:
            try:
                specs_cache[job.notebook] = parameter_specs(job.notebook)
            except KvkError:
                specs_cache[job.notebook] = {}
        specs = specs_cache[job.notebook]
        shown = [
            f"{k} = {v}"
            for k, v in job.params.items()
            if k != "lang" and (k not in specs or specs[k].default != v)
        ]
        job_lang = job.params.get("lang", specs["lang"].default if "lang" in specs else "nb")
        rows.append(
            f'<tr class="{r.status}"><td>{html.escape(job.label or job.name)}</td>'
            f"<td>{html.escape(status_word.get(r.status, r.status))}"
            + (f" ({r.seconds:.1f} {words[7]}{_stage_text(r.timings, words)})" if r.seconds else "")
            + (f" {html.escape(r.finished_utc.replace('T', ' '))}" if r.finished_utc else "")
            + f"</td><td>{html.escape('; '.join(shown) or words[10])}</td>"
            f"<td>{html.escape(str(job_lang))}</td><td>{links}</td>"
            f'<td class="err">{html.escape(r.error)}</td></tr>'
        )
    total = len(rows)
    summary = f"{total - n_failed} / {total} OK" + (f", {n_failed} {words[6]}" if n_failed else "")
    if seconds is not None:
        made = [r for r in results if r.status == "done" and r.seconds]
        summed: dict[str, float] = {}
        for r in made:
            for k, v in r.timings.items():
                summed[k] = summed.get(k, 0.0) + v
        summary += f". {words[11]} {seconds:.0f} {words[7]}"
        if made:
            summary += (
                f" ({len(made)} × {sum(r.seconds for r in made) / len(made):.1f} {words[7]};"
                f" {words[12]}{_stage_text(summed, words)})"
            )
        summary += "."
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
<table><thead><tr><th>{words[0]}</th><th>{words[1]}</th><th>{words[8]}</th><th>{words[9]}</th><th>{words[2]}</th><th>{words[3]}</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
    with atomic_write(index_path, "w", encoding="utf-8") as fh:
        fh.write(page)
    index_path.chmod(REPORT_MODE)
    return index_path


#: Steps of a report as the index names them: (timing key, index of the word in ``words``).
_STAGES = (("execute", 13), ("html", None), ("pdf", None), ("exports", 14))


def _stage_text(timings: Mapping[str, float], words: Sequence[str]) -> str:
    """``": running the notebook 1.2, HTML 0.1, PDF 0.4, exports 0.1"`` (seconds) for the
    steps in ``timings``; empty when there are none."""
    parts = [
        f"{words[i] if i is not None else key.upper()} {timings[key]:.1f}"
        for key, i in _STAGES
        if key in timings
    ]
    return ": " + ", ".join(parts) if parts else ""


def _short(path: Path, name: str) -> str:
    """Link text of a report file: its suffix in capitals for ``<name>.<ext>``, else the
    file name."""
    if path.name.startswith(name + ".") and path.name.count(".") == name.count(".") + 1:
        return path.suffix.lstrip(".").upper()
    return path.name


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
    timeout: float | None = 900,
    tag: str | None = None,
) -> list[Job]:
    """One :class:`Job` per municipality under ``out_dir``: ``profile-<kommunenummer>``, then
    the language when not the default and a specification tag (or ``tag``) when the other
    parameters differ from the defaults (:func:`.params.report_name`), so batches with other
    parameters never overwrite each other."""
    from .params import report_name

    out = Path(out_dir)
    names = names or {}
    jobs = []
    for k in kommuner:
        p = {**dict(params or {}), param_name: k}
        jobs.append(
            Job(
                name=report_name(notebook, p, base="profile", tag=tag)
                if Path(notebook).is_file()
                else f"profile-{k}",
                notebook=Path(notebook),
                params=p,
                out_dir=out,
                label=f"{k} {names.get(k, '')}".strip(),
                formats=formats,
                cwd=Path(cwd) if cwd is not None else None,
                timeout=timeout,
            )
        )
    return jobs


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
    timeout: float | None = 900,
    tag: str | None = None,
) -> list[JobResult]:
    """Run the profile ``notebook`` for each municipality in ``kommuner`` and write
    ``<out_dir>/index.html``.  Returns the results (check for ``status == "failed"``).

    Each worker keeps its kernel between municipalities (``reuse_kernel``), which saves the
    kernel start and the imports of every profile after its first.  ``timeout``: seconds
    allowed per cell.  Profiles finished earlier with the same record are skipped."""
    jobs = profile_jobs(
        notebook,
        kommuner,
        out_dir,
        params=params,
        names=names,
        formats=formats,
        cwd=cwd,
        timeout=timeout,
        tag=tag,
    )
    t0 = time.perf_counter()
    results = run_jobs(
        jobs, workers=workers, progress=progress, desc="profiles", reuse_kernel=reuse_kernel
    )
    default_title = "Kommuneprofiler" if lang == "nb" else "Municipality profiles"
    write_index(
        results,
        Path(out_dir) / "index.html",
        title=title or default_title,
        lang=lang,
        seconds=time.perf_counter() - t0,
    )
    return results
