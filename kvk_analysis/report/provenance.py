"""Provenance of a report: input file hashes, parameters, package versions, git commit, date.

Every rendered report ends with this table (the renderer appends it), so a reader can tell
exactly which data, code and settings produced the numbers.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..fileio import sha256

#: Distributions whose versions are listed (distribution name, label).
PACKAGES: tuple[tuple[str, str], ...] = (
    ("kvk-analysis", "kvk"),
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("scipy", "scipy"),
    ("statsmodels", "statsmodels"),
    ("matplotlib", "matplotlib"),
    ("papermill", "papermill"),
    ("nbconvert", "nbconvert"),
    ("weasyprint", "weasyprint"),
)

NOT_GIT = "not a git checkout"


def git_commit(cwd: str | Path | None = None) -> str:
    """The commit of the checkout holding the package (``git rev-parse HEAD``), with
    ``" (modified)"`` when tracked files differ from it; :data:`NOT_GIT` when there is none."""
    from .. import config

    where = Path(cwd) if cwd is not None else config.PACKAGE_DIR
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return NOT_GIT
        commit = head.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if dirty.returncode == 0 and dirty.stdout.strip():
            commit += " (modified)"
        return commit
    except (OSError, subprocess.SubprocessError):
        return NOT_GIT


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` (``"not installed"`` when absent)."""
    out: dict[str, str] = {}
    for dist, name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provenance_table(
    input_paths: Iterable[str | Path],
    params: Mapping[str, Any],
    *,
    notebook: str | Path | None = None,
    root: str | Path | None = None,
    now: _dt.datetime | None = None,
) -> Any:
    """The provenance of a report as a DataFrame with columns ``section, item, value``.

    Sections: ``notebook``, ``parameter`` (one row per parameter), ``input`` (path and
    SHA-256 of each file; ``missing`` when it does not exist), ``package`` (versions),
    ``python``, ``git`` (commit or "not a git checkout") and ``date`` (UTC, ISO 8601).

    Parameters
    ----------
    input_paths
        Files the report read; duplicates are listed once.
    params
        The effective parameters of the run.
    notebook
        The source notebook (listed with its hash).
    root
        Paths under ``root`` are shown relative to it (default: the project root).
    now
        The time stamp (default: now, UTC).
    """
    import pandas as pd

    from .. import config

    base = Path(root) if root is not None else config.ROOT

    def show(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            return str(path)

    rows: list[tuple[str, str, str]] = []
    if notebook is not None:
        nb = Path(notebook)
        digest = sha256(nb) if nb.is_file() else "missing"
        rows.append(("notebook", show(nb), digest))
    for name, value in params.items():
        rows.append(("parameter", str(name), _short(value)))
    seen: set[Path] = set()
    for p in input_paths:
        path = Path(p)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        rows.append(("input", show(path), sha256(path) if path.is_file() else "missing"))
    for name, version in package_versions().items():
        rows.append(("package", name, version))
    rows.append(("python", "python", platform.python_version()))
    rows.append(("git", "commit", git_commit()))
    stamp = (now or _dt.datetime.now(_dt.UTC)).replace(microsecond=0)
    rows.append(("date", "created", stamp.isoformat()))
    return pd.DataFrame(rows, columns=["section", "item", "value"])
