"""Execute report notebooks with papermill (in-process) and turn them into HTML/PDF reports.

:func:`execute_notebook` runs one notebook with parameters; a failing cell becomes a
:class:`~kvk_analysis.errors.ReportError` naming the notebook, the cell and the error.
:func:`run_report` executes and renders; the report files appear (atomically) only when
everything succeeded, so a failed run never leaves a report that looks complete.
"""

from __future__ import annotations

import logging
import os
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


def _strip_ansi(text: str) -> str:
    import re

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
        so a batch saves the kernel start and the imports; the caller shuts it down).  Its
        namespace then carries over between notebooks, which assign all names they use.

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

    logging.getLogger("papermill").setLevel(logging.WARNING)
    # The kernel inherits this; it silences debugpy's "frozen modules" note on the terminal.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    out = Path(out_ipynb)
    work = Path(cwd) if cwd is not None else nb_path.parent
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
                execution_timeout=timeout,
                # kernel log lines (TCP warning at start, KeyboardInterrupt at shutdown) are noise here;
                # errors in cells reach the notebook outputs and the ReportError
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                **({"km": km} if km is not None else {}),
            )
        except PapermillExecutionError as exc:
            first = next((ln for ln in str(exc.source).splitlines() if ln.strip()), "")
            raise ReportError(
                f"notebook {nb_path.name} failed in cell {_source_cell_number(tmp, exc)} "
                f"(In [{exc.exec_count}]: {first.strip()[:80]}): "
                f"{exc.ename}: {_strip_ansi(str(exc.evalue))}"
            ) from None
        except PapermillException as exc:
            raise ReportError(f"notebook {nb_path.name}: {exc}") from None
        except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
            raise ReportError(f"notebook {nb_path.name} could not run: {exc}") from exc
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
    # A report from an earlier run of the same name must not survive a failed run.
    remove_report_outputs(out_dir, stem)
    with tempfile.TemporaryDirectory(prefix=f".{stem}.", dir=out_dir) as tmpdir:
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
    LAST_TIMINGS.clear()
    LAST_TIMINGS.update(timings)
    return written
