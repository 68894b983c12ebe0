"""What produced a report: the record that resume and "nothing changed" decisions compare.

A report's record holds the notebook's SHA-256, the parameters passed, the SHA-256 of every
input file the notebook reads (the raw sick-leave files and cohort registry the data build
uses, the municipality reference files, and any parameter naming an existing file), the kvk
version and a fingerprint of the kvk source code.  It is stored with the report (the hidden
``.<name>.done.json`` beside it, written after the report files); a report is "finished" only
when its stored record equals the record computed now and its files exist.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..fileio import sha256

#: Hashes by (path, size, mtime) so a run hashes each input once.
_HASHES: dict[tuple[str, int, int], str] = {}


def file_hash(path: str | Path) -> str:
    """SHA-256 of ``path`` (``"missing"`` when absent), cached by size and modification time."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return "missing"
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256(p)
    return _HASHES[key]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the kvk package source (``*.py``) and report templates: a code change
    re-runs the reports even when the version number is unchanged."""
    from .. import config

    h = hashlib.sha256()
    root = config.PACKAGE_DIR
    files = sorted(
        f
        for f in root.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.suffix not in {".pyc", ".pyo"}
    )
    for f in files:
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def input_files(params: Mapping[str, Any], cwd: str | Path | None = None) -> list[Path]:
    """The files a report with ``params`` reads: the sick-leave files (``sickleave_paths``,
    default the demo file), the cohort registry (``registry_path``, default the demo registry),
    the municipality reference files, and any other text parameter naming an existing file.
    Relative paths are taken from ``cwd`` (default the project root)."""
    from .. import config
    from ..build import DEFAULT_REGISTRY, DEFAULT_SICKLEAVE, REFERENCE_FILES

    base = Path(cwd) if cwd is not None else config.ROOT

    def at(p: Any) -> Path:
        path = Path(str(p))
        return path if path.is_absolute() else base / path

    sick = params.get("sickleave_paths") or []
    if isinstance(sick, str):
        sick = [sick]
    paths = [at(p) for p in sick] or [config.DEMO_DIR / n for n in DEFAULT_SICKLEAVE]
    reg = params.get("registry_path")
    paths.append(at(reg) if reg else config.DEMO_DIR / DEFAULT_REGISTRY)
    paths += [config.MUNICIPALITIES_DIR / n for n in REFERENCE_FILES]
    for name, value in params.items():
        if name in {"sickleave_paths", "registry_path"} or not isinstance(value, str):
            continue
        if value and len(value) < 500 and at(value).is_file():
            paths.append(at(value))
    seen: dict[str, Path] = {}
    for p in paths:
        seen.setdefault(str(p), p)
    return list(seen.values())


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def report_record(
    notebook: str | Path,
    params: Mapping[str, Any],
    *,
    cwd: str | Path | None = None,
    formats: tuple[str, ...] = ("html", "pdf"),
) -> dict[str, Any]:
    """The record of a report of ``notebook`` with ``params`` made now (see the module doc)."""
    from .. import __version__, config

    base = Path(cwd) if cwd is not None else config.ROOT

    def rel(p: Path) -> str:
        try:
            return p.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return str(p.resolve())

    return _plain(
        {
            "notebook": Path(notebook).name,
            "notebook_sha256": file_hash(notebook),
            "parameters": dict(params),
            "inputs": {rel(p): file_hash(p) for p in input_files(params, cwd)},
            "kvk_version": __version__,
            "code": code_fingerprint(),
            "formats": list(formats),
        }
    )


def differences(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """What changed between two records, in words (empty: nothing)."""
    if not old:
        return ["no record of an earlier run"]
    out = []
    words = {
        "notebook_sha256": "notebook changed",
        "parameters": "parameters changed",
        "inputs": "input data changed",
        "kvk_version": "kvk version changed",
        "code": "kvk code changed",
        "formats": "output formats changed",
        "notebook": "other notebook",
    }
    for key, word in words.items():
        if old.get(key) != new.get(key):
            out.append(word)
    return out
