"""Provenance of a report: input file hashes, parameters, package versions, git commit, date,
and whether each input is real or simulated.

Every rendered report ends with this table (the renderer appends it), so a reader can tell
exactly which data, code and settings produced the numbers.

Real or simulated (:func:`input_status`): an input is *simulated* when it lies in the demo
folder (``data/raw/demo``), its name says ``demo``, it is a cohort registry with
``membership_source = simulated`` rows, or the provenance note of its folder
(``PROVENANCE.md`` or ``README.md``) has a line ``status: simulated`` or ``status: synthetic``.
A file written by ``kvk data build`` (the manifest or an output it lists) is simulated when
any of the raw inputs its manifest names is.  Everything else is listed as *real* (as its
provenance note describes it).
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata
import platform
import re
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
    """Installed versions of :data:`PACKAGES` (``"not installed"`` when absent), read once per
    process (reading the metadata of every package took about 0.03 s per report of a batch;
    a process keeps the packages it imported)."""
    versions = installed_versions(tuple(dist for dist, _ in PACKAGES))
    return {name: versions[dist] for dist, name in PACKAGES}


def installed_versions(dists: tuple[str, ...]) -> dict[str, str]:
    """``{distribution: version}`` of the installed ``dists`` (``"not installed"`` when
    absent), read once per process and distribution list (also the results cache's key)."""
    return dict(_installed_versions(dists))


@functools.lru_cache(maxsize=8)
def _installed_versions(dists: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return tuple(out.items())


_STATUS_LINE = re.compile(r"^\s*[-*]?\s*status\s*:\s*(simulated|synthetic|real)\b", re.I | re.M)


def input_status(path: str | Path) -> tuple[str, str]:
    """``("simulated" | "real", reason)`` for an input file (see the module docstring)."""
    from .. import config

    p = Path(path)
    try:
        resolved = p.resolve()
    except OSError:
        resolved = p
    demo = config.DEMO_DIR.resolve()
    if resolved == demo or demo in resolved.parents:
        return "simulated", "in the simulated demo folder data/raw/demo"
    if "demo" in p.name.lower():
        return "simulated", "a demo file"
    if p.suffix.lower() in (".csv", ".xlsx") and p.is_file() and p.suffix.lower() == ".csv":
        try:
            head = p.read_text(encoding="utf-8", errors="replace")[:200_000]
        except OSError:
            head = ""
        first = head.split("\n", 1)[0].lower()
        if "membership_source" in first and re.search(r"(^|[,;])simulated([,;]|$)", head, re.M):
            return "simulated", "a cohort registry with simulated rows"
    built = _built_from(p)
    if built is not None:
        sims = [Path(x).name for x in built if input_status(x)[0] == "simulated"]
        if sims:
            return "simulated", "built from simulated inputs: " + ", ".join(sims[:3])
        return "real", "built by kvk data build from real inputs"
    for note in ("PROVENANCE.md", "README.md"):
        f = p.parent / note
        if f.is_file():
            m = _STATUS_LINE.search(f.read_text(encoding="utf-8", errors="replace"))
            if m:
                word = m.group(1).lower()
                if word in ("simulated", "synthetic"):
                    return "simulated", f"{note} of its folder says '{m.group(0).strip()}'"
                return "real", f"{note} of its folder says '{m.group(0).strip()}'"
    return "real", "not in the demo folder and not marked simulated in its folder's provenance note"


def _built_from(path: Path) -> list[Path] | None:
    """The raw inputs of a file written by ``kvk data build`` (the manifest itself or one of
    the outputs it lists), from the ``manifest.json`` beside it; ``None`` for other files."""
    import json

    from .. import config

    manifest = path.parent / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        m = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if path.name != "manifest.json" and path.name not in (m.get("outputs") or []):
        return None
    out = []
    for group in ("sickleave", "registry"):
        for name in (m.get("inputs") or {}).get(group) or {}:
            q = Path(name)
            q = q if q.is_absolute() else config.ROOT / q
            if q.resolve() != path.resolve():
                out.append(q)
    return out


def is_derived(path: str | Path) -> bool:
    """True for files ``kvk data build`` wrote (panel, manifest, ...), not raw inputs."""
    return _built_from(Path(path)) is not None


def inputs_status_table(paths: Iterable[str | Path], lang: str = "en") -> Any:
    """Each input (listed once) with ``real``/``simulated`` and why, as a DataFrame with
    columns ``input, status, reason`` (``fil, status, begrunnelse``/``ekte``/``simulert`` in nb)."""
    import pandas as pd

    rows, seen = [], set()
    for p in paths:
        key = Path(p).resolve()
        if key in seen:
            continue
        seen.add(key)
        status, why = input_status(p)
        rows.append((str(p), status, why))
    df = pd.DataFrame(rows, columns=["input", "status", "reason"])
    if lang == "nb":
        df["status"] = df["status"].map({"real": "ekte", "simulated": "simulert"})
        df = df.rename(columns={"input": "fil", "reason": "begrunnelse"})
    return df


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
    ``input_status`` (each input ``real`` or ``simulated`` with the reason, see
    :func:`input_status`), ``python``, ``git`` (commit or "not a git checkout") and ``date``
    (UTC, ISO 8601).

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
    listed: list[Path] = []
    for p in input_paths:
        path = Path(p)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        listed.append(path)
        rows.append(("input", show(path), sha256(path) if path.is_file() else "missing"))
    for p in listed:
        status, why = input_status(p)
        rows.append(("input_status", show(p), f"{status} ({why})"))
    for name, version in package_versions().items():
        rows.append(("package", name, version))
    rows.append(("python", "python", platform.python_version()))
    rows.append(("git", "commit", git_commit()))
    stamp = (now or _dt.datetime.now(_dt.UTC)).replace(microsecond=0)
    rows.append(("date", "created", stamp.isoformat()))
    return pd.DataFrame(rows, columns=["section", "item", "value"])
