"""Execute report notebooks with papermill (in-process) and turn them into HTML/PDF reports.

:func:`execute_notebook` runs one notebook with parameters; a failing cell becomes a
:class:`~kvk_analysis.errors.ReportError` naming the notebook, the cell and the error.
:func:`run_report` executes and renders; the report files appear (atomically) only when
everything succeeded, so a failed run never leaves a report that looks complete.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ReportError
from ..fileio import atomic_path

FORMATS = ("html", "pdf")

#: Seconds spent in each step of the last :func:`run_report` call in this process.
LAST_TIMINGS: dict[str, float] = {}


#: Temporary folders of the reports being made in this process (removed by an interrupt).
ACTIVE_TEMP: set[Path] = set()
#: Marks this package's temporary report folders: ``.<name>.kvk-<pid>-<random>``.
TEMP_MARK = "kvk-"
_TEMP_NEW = re.compile(r"^\.(?P<stem>.+)\.kvk-(?P<pid>\d+)-[a-z0-9_]{8}$")
#: made before the process id was in the name (tempfile's 8 random characters, or any short tag)
_TEMP_OLD = re.compile(r"^\.(?P<stem>[^.].*)\.[A-Za-z0-9_]{4,12}$")
#: an atomic write cut short: ``.<name>.<8 random>.<report or export suffix>``
_TEMP_FILE = re.compile(
    r"^\.(?P<stem>.+)\.[a-z0-9_]{8}"
    r"\.(?:tmp|html|pdf|ipynb|csv|xlsx|png|svg|json|docx|zip|parquet)$"
)
#: Seconds after which a leftover hidden temporary *file* (from an atomic write) counts as stale.
STALE_FILE_SECONDS = 600


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(out_dir: str | Path) -> list[Path]:
    """Remove hidden temporary folders and files that earlier, interrupted runs left in
    ``out_dir`` (e.g. ``reports/.03-programme-effect.kvk-4242-abcd1234/``) and return them.

    A folder belongs to a run that is over when the process id in its name is gone; folders
    of the older naming (no id) are always over.  Hidden ``.<name>.<random>.<ext>`` files of
    interrupted atomic writes are removed when older than :data:`STALE_FILE_SECONDS` (a
    concurrent run may be writing a fresh one).  Nothing else is touched.
    """
    out = Path(out_dir)
    removed: list[Path] = []
    if not out.is_dir():
        return removed
    now = time.time()
    for entry in out.iterdir():
        name = entry.name
        if not name.startswith("."):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                m = _TEMP_NEW.match(name)
                if m:
                    stale = not _pid_alive(int(m.group("pid")))
                else:
                    m = _TEMP_OLD.match(name)
                    # the old naming: only folders holding nothing but that report's files
                    stale = bool(m) and all(
                        f.is_file() and f.name.startswith(m.group("stem") + ".")
                        for f in entry.iterdir()
                    )
                if stale:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
            elif entry.is_file() and _TEMP_FILE.match(name) and not name.endswith(".json"):
                if now - entry.stat().st_mtime > STALE_FILE_SECONDS:
                    entry.unlink(missing_ok=True)
                    removed.append(entry)
        except OSError:
            continue
    return removed


def remove_partial_files(out_dir: str | Path, stem: str) -> list[Path]:
    """Remove the hidden temporary files of report ``stem`` in ``out_dir`` (an atomic write
    cut short: ``.<stem>.<random>.<ext>``) whatever their age: call it only when no process is
    writing that report any more."""
    out = Path(out_dir)
    removed = []
    if out.is_dir():
        for entry in out.glob(f".{glob_escape(stem)}.*"):
            m = _TEMP_FILE.match(entry.name)
            own = m is not None and (
                m.group("stem") == stem or m.group("stem").startswith(stem + ".")
            )
            if entry.is_file() and own and not entry.name.endswith(".json"):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with the glob wildcards escaped."""
    import glob

    return glob.escape(text)


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _source_cell_number(executed: Path, exc: Any) -> int:
    """1-based number of the failing cell in the notebook as written (papermill's injected
    parameters cell and its error banner cells do not count)."""
    try:
        import nbformat

        nb = nbformat.read(str(executed), as_version=4)
        # exc.cell_index counts the cells as executed: with the injected parameters cell,
        # before papermill added its error banners.
        run = [
            c
            for c in nb.cells
            if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
        ]
        added = sum(
            "injected-parameters" in c.get("metadata", {}).get("tags", [])
            for c in run[: exc.cell_index]
        )
        return exc.cell_index - added + 1
    except Exception:  # the executed notebook may be unreadable; the index is still useful
        return int(exc.cell_index) + 1


def _heading(cell: Mapping[str, Any]) -> str:
    for line in str(cell.get("source", "")).splitlines():
        m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and m.group(1):
            return re.sub(r"[*_`]", "", m.group(1))
    return ""


def _step_of(nb_path: Path, cell_number: int, parameters: Mapping[str, Any] | None) -> str:
    """The step a cell belongs to, in the analyst's terms: the nearest markdown heading
    before it (in the report language), else the cell's leading comment, else its number.
    ``cell_number`` is 1-based in the notebook as written.  Never the cell's code."""
    import json

    try:
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return f"cell {cell_number}"
    lang = str((parameters or {}).get("lang", "")) or None
    idx = min(max(cell_number - 1, 0), len(cells) - 1)
    for c in cells:
        if isinstance(c.get("source"), list):
            c["source"] = "".join(c["source"])
    for cell in reversed(cells[: idx + 1]):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if lang and any(t.startswith("lang-") and t != f"lang-{lang}" for t in tags):
            continue
        if cell.get("cell_type") == "markdown":
            head = _heading(cell)
            if head:
                return f'"{head}" (cell {cell_number})'
    own = cells[idx] if cells else {}
    first = str(own.get("source", "")).lstrip().splitlines()[:1]
    if first and first[0].startswith("#"):
        return f'"{first[0].lstrip("# ").strip()}" (cell {cell_number})'
    return f"cell {cell_number}"


def _shown_parameters(parameters: Mapping[str, Any] | None) -> str:
    if not parameters:
        return "default parameters"
    return "parameters " + ", ".join(f"{k}={v!r}" for k, v in parameters.items())


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " ".join(lines) if len(lines) <= 3 else lines[-1]


def _timed_out_cell(nb_path: Path, message: str) -> int:
    """1-based number (as written) of the cell that timed out, found from the preview of its
    source in nbclient's message (0 when not found)."""
    import json

    preview = message.split("-------------------")
    if len(preview) < 3:
        return 0
    import ast

    lines: list[str] = []
    for ln in preview[1].splitlines():
        if ln.strip().startswith("["):  # nbclient shows the first and last lines as lists
            try:
                lines += [str(x) for x in ast.literal_eval(ln.strip())]
                continue
            except (ValueError, SyntaxError):
                pass
        lines.append(ln)
    lines = [ln for ln in lines if ln.strip() and ln.strip() != "..."]
    if not lines:
        return 0
    try:
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return 0
    for i, cell in enumerate(cells, start=1):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "code" and all(ln in source for ln in lines[:2]):
            return i
    return 0


#: Run in a kept kernel before the next notebook: a clean namespace and no open figures, while
#: the imported modules stay (which is what reusing the kernel saves).
RESET_CODE = (
    "get_ipython().run_line_magic('reset', '-f')\n"
    "import sys as _s\n"
    "if 'matplotlib.pyplot' in _s.modules: _s.modules['matplotlib.pyplot'].close('all')\n"
    "del _s"
)


#: Kept kernels (by ``id`` of their manager): the client kept open between notebooks (``kc``)
#: and the id of the reset request sent after the last notebook (``reset``, or ``None``).
#: A client kept open saves connecting a new one for every notebook (jupyter_client's
#: ``wait_for_ready`` waits about 0.2 s for the IOPub channel of a new client), twice per
#: notebook before (reset, then papermill).
_KEPT: dict[int, dict[str, Any]] = {}
#: Name under which :func:`_kept_client_engine` is registered with papermill.
KEPT_CLIENT_ENGINE = "kvk-kept-client"
_ENGINE_REGISTERED: list[str] = []


def _kept_client_engine() -> str:
    """Register (once) and name the papermill engine that runs a notebook on a kept kernel
    client: papermill's own nbclient engine, except that the client of the previous notebook
    in the same kernel is used instead of a new one, and the client is handed back after the
    run.  (Papermill's documented extension point for execution is an engine; nbclient skips
    connecting when its ``kc`` is set.)"""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    if _ENGINE_REGISTERED:
        return KEPT_CLIENT_ENGINE

    class KeptClientEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            kvk_kept: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, **final_kwargs)
            if kvk_kept is not None:
                client.kc = kvk_kept.get("kc")
            try:
                return client.execute()
            finally:
                if kvk_kept is not None:
                    kvk_kept["kc"] = client.kc

    papermill_engines.register(KEPT_CLIENT_ENGINE, KeptClientEngine)
    _ENGINE_REGISTERED.append(KEPT_CLIENT_ENGINE)
    return KEPT_CLIENT_ENGINE


def _kernel_running(km: Any) -> bool:
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    return proc is not None and proc.poll() is None


def forget_kernel(km: Any) -> None:
    """Close and forget the client kept for ``km`` (call when its kernel is stopped)."""
    entry = _KEPT.pop(id(km), None)
    kc = (entry or {}).get("kc")
    if kc is not None:
        with contextlib.suppress(Exception):
            kc.stop_channels()


def schedule_reset(km: Any) -> bool:
    """Send the reset (:data:`RESET_CODE`) to the kept kernel of ``km`` without waiting: it
    runs in the kernel while this process renders the report, and the next
    :func:`execute_notebook` on ``km`` waits for its reply before it starts.  Returns False
    (nothing sent) when ``km`` has no kept client."""
    entry = _KEPT.get(id(km))
    if not entry or entry.get("kc") is None or not _kernel_running(km):
        return False
    entry["reset"] = entry["kc"].execute(RESET_CODE, store_history=False)
    return True


def _await_reply(kc: Any, msg_id: str, timeout: float) -> dict[str, Any]:
    """The shell reply to request ``msg_id`` on client ``kc`` (earlier replies are skipped)."""
    from queue import Empty

    from jupyter_core.utils import run_sync

    async def wait() -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"no reply from the kernel within {timeout:.0f} s")
            try:
                msg = await kc.shell_channel.get_msg(timeout=min(left, 1.0))
            except Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg

    return run_sync(wait)()


def reset_kernel(km: Any, timeout: float = 60) -> None:
    """Clear the user namespace of the running kernel of ``km`` (an ``AsyncKernelManager``)
    so the next notebook starts as in a fresh kernel, imports excepted.

    With a kept client (see :func:`execute_notebook`), a reset sent earlier by
    :func:`schedule_reset` is awaited (usually long finished), else one is sent on that client;
    without one, a client is connected for the reset."""
    entry = _KEPT.get(id(km))
    if entry and entry.get("kc") is not None:
        msg_id = entry.pop("reset", None) or entry["kc"].execute(RESET_CODE, store_history=False)
        reply = _await_reply(entry["kc"], msg_id, timeout)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"kernel reset failed: {reply['content'].get('evalue')}")
        return

    import asyncio

    async def run() -> None:
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
            reply = await kc.execute_interactive(
                RESET_CODE, store_history=False, timeout=timeout, output_hook=lambda msg: None
            )
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"kernel reset failed: {reply['content'].get('evalue')}")
        finally:
            kc.stop_channels()

    asyncio.run(run())


def execute_notebook(
    nb_path: str | Path,
    out_ipynb: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel: str = "python3",
    cwd: str | Path | None = None,
    timeout: float | None = 600,
    km: Any = None,
) -> Path:
    """Execute ``nb_path`` with papermill and write the executed notebook to ``out_ipynb``.

    Parameters
    ----------
    nb_path
        The notebook (with a cell tagged ``parameters``).
    out_ipynb
        Where the executed notebook goes (written atomically; on failure nothing is written).
    parameters
        Overrides of the parameters cell.
    kernel
        Jupyter kernel name.
    cwd
        Working folder of the kernel (default: the notebook's folder).
    timeout
        Seconds allowed per cell (``None``: no limit).
    km
        A ``jupyter_client`` kernel manager to run in (started on first use and left running,
        so a batch saves the kernel start and the imports; the caller shuts it down, and calls
        :func:`forget_kernel`).  Its client is kept open for the next notebook, and after a
        successful run the namespace reset is sent at once (:func:`schedule_reset`): it runs
        in the kernel while this process renders, and the next notebook on ``km`` waits for
        it, so every notebook starts from a clean namespace (imports excepted).

    Raises
    ------
    ReportError
        The notebook is missing or a cell failed: the message names the notebook, the cell
        (index and first source line) and the error.
    """
    nb_path = Path(nb_path)
    if not nb_path.is_file():
        raise ReportError(f"notebook not found: {nb_path}")
    import papermill
    from papermill.exceptions import PapermillException, PapermillExecutionError

    # papermill logs (at ERROR) what the ReportError below says again
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    # The kernel inherits this; it silences debugpy's "frozen modules" note on the terminal.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    out = Path(out_ipynb)
    work = Path(cwd) if cwd is not None else nb_path.parent
    if km is not None and _kernel_running(km):  # a kept kernel: start from a clean namespace
        try:
            reset_kernel(km)
        except Exception as exc:  # a kernel that cannot be reset is not used
            raise ReportError(f"notebook {nb_path.name} could not run: {exc}") from exc
    elif km is not None:  # not started yet (or died): no client of an earlier kernel
        forget_kernel(km)
    kept: dict[str, Any] | None = None
    engine: dict[str, Any] = {}
    if km is not None:
        kept = _KEPT.setdefault(id(km), {"kc": None})
        engine = {"engine_name": _kept_client_engine(), "kvk_kept": kept}
    with atomic_path(out) as tmp:
        try:
            papermill.execute_notebook(
                str(nb_path),
                str(tmp),
                parameters=dict(parameters or {}),
                kernel_name=kernel,
                cwd=str(work),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                # papermill takes whole seconds
                execution_timeout=None if timeout is None else max(1, math.ceil(timeout)),
                # kernel log lines (TCP warning at start, KeyboardInterrupt at shutdown) are noise here;
                # errors in cells reach the notebook outputs and the ReportError
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                **({"km": km} if km is not None else {}),
                **engine,
            )
        except PapermillExecutionError as exc:
            cell = _source_cell_number(tmp, exc)
            raise ReportError(
                f"{nb_path.name} failed at step {_step_of(nb_path, cell, parameters)} "
                f"({_shown_parameters(parameters)}): "
                f"{exc.ename}: {_last_line(_strip_ansi(str(exc.evalue)))}"
            ) from None
        except PapermillException as exc:
            raise ReportError(f"notebook {nb_path.name}: {exc}") from None
        except TimeoutError as exc:  # nbclient's CellTimeoutError
            cell = _timed_out_cell(nb_path, str(exc))
            step = _step_of(nb_path, cell, parameters) if cell else "?"
            raise ReportError(
                f"{nb_path.name} stopped at step {step} ({_shown_parameters(parameters)}): "
                f"a cell ran longer than the timeout of {max(1, math.ceil(timeout or 0))} s "
                "per cell "
                "(raise it with --timeout SECONDS)"
            ) from None
        except (OSError, RuntimeError, ValueError) as exc:
            raise ReportError(f"notebook {nb_path.name} could not run: {exc}") from exc
    if km is not None:
        schedule_reset(km)
    return out


def run_report(
    notebook: str | Path,
    params: Mapping[str, Any] | None,
    out_dir: str | Path,
    formats: Iterable[str] = FORMATS,
    *,
    name: str | None = None,
    cwd: str | Path | None = None,
    kernel: str = "python3",
    timeout: float | None = 600,
    keep_ipynb: bool = True,
    km: Any = None,
) -> dict[str, Path]:
    """Execute a notebook and render it: ``<out_dir>/<name>.html``, ``.pdf`` and the exports
    folder ``<out_dir>/<name>/`` (:func:`~kvk_analysis.report.render.render_report`).

    The executed notebook is kept as ``<out_dir>/executed/<name>.ipynb`` (``keep_ipynb``).
    Returns ``{"ipynb", "html", "pdf", "exports", "json", "xlsx", "docx"}`` for what was
    written.  Files are written only after execution succeeded, all together; the PDF is
    printed from the final HTML.  Time spent per step is stored in :data:`LAST_TIMINGS`.  ``km``: see
    :func:`execute_notebook`.

    Raises
    ------
    ReportError
        Execution or rendering failed (no report file is left behind by this call).
    """
    from .render import remove_report_outputs, render_report

    fmts = tuple(formats)
    unknown = set(fmts) - set(FORMATS)
    if unknown:
        raise ReportError(f"unknown report format(s) {sorted(unknown)}; use html and/or pdf")
    notebook = Path(notebook)
    out_dir = Path(out_dir)
    stem = name or notebook.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    written: dict[str, Path] = {}
    clean_stale_temporaries(out_dir)
    # A report from an earlier run of the same name must not survive a failed run.
    remove_report_outputs(out_dir, stem)
    (out_dir / "executed" / f"{stem}.ipynb").unlink(missing_ok=True)
    tmpdir = tempfile.mkdtemp(prefix=f".{stem}.{TEMP_MARK}{os.getpid()}-", dir=out_dir)
    ACTIVE_TEMP.add(Path(tmpdir))
    try:
        executed = Path(tmpdir) / f"{stem}.ipynb"
        t0 = time.perf_counter()
        execute_notebook(notebook, executed, params, kernel=kernel, cwd=cwd, timeout=timeout, km=km)
        timings["execute"] = time.perf_counter() - t0
        # HTML, PDF and exports appear together (render_report stages and publishes them)
        written.update(
            render_report(
                executed,
                out_dir,
                stem,
                fmts,
                source_notebook=notebook,
                cwd=cwd if cwd is not None else notebook.parent,
                timings=timings,
            )
        )
        if keep_ipynb:
            kept = out_dir / "executed" / f"{stem}.ipynb"
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(executed, kept)
            written["ipynb"] = kept
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        ACTIVE_TEMP.discard(Path(tmpdir))
    LAST_TIMINGS.clear()
    LAST_TIMINGS.update(timings)
    return written
