"""A cache of :class:`~kvk_analysis.report.evaluation.EvaluationResults` shared between the
notebooks of a run (and between runs).

Notebooks 03 and 05 evaluate the same specification on the same panel; with the cache the
first computes and every other reads.  An entry is found by a key that names everything the
results depend on, so a changed panel, specification or code never reads a stale entry:

* the panel's content (:func:`panel_fingerprint`: every value, the row order, the column
  names and dtypes);
* the specification (:meth:`Specification.to_dict`);
* the kvk source (:func:`code_fingerprint`, every ``*.py`` of the package) and version, and the
  versions of Python and of the numerical packages the estimates come from
  (:data:`NUMERIC_PACKAGES`);
* :data:`CACHE_FORMAT`.

Entries are pickles ``<sha256 of the key>.<part>.pkl`` in the cache folder (by default
``data/processed/.evaluation-cache/``, see :func:`default_cache_dir`), each holding its full key
(checked on reading: an entry whose key differs, or that cannot be read, is recomputed and
replaced).  They are written atomically (:func:`kvk_analysis.fileio.atomic_path`), so a reader
never sees half a file.  A per-part lock (``flock`` on ``<sha256>.<part>.lock``) makes
concurrent callers with the same key compute each part once: a caller computes the parts no
one else is computing and waits for, then reads, the others (:func:`cached_parts`; the lock
goes with the process, so a killed computation never blocks the next).  The folder
keeps the :data:`MAX_ENTRIES` newest entries.  ``make clean`` removes it with the rest of
``data/processed``; a build leaves it alone (entries of an older panel are simply never
found again, and pruned).

Only results that are a function of the key are cached: a specification without a ``seed``
draws its bootstrap afresh on every call and is never cached.  Pickles are read only from the
project's own folder (or one the caller names), written by kvk itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import platform
import time
from collections.abc import Callable, Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

#: Version of the entry layout (bump when the pickled payload changes shape).
CACHE_FORMAT = 1

#: Entries kept in a cache folder (the newest by modification time); about 4 MB each on the
#: demo panel.
MAX_ENTRIES = 16

#: Name of the cache folder inside the processed-data folder.
CACHE_DIRNAME = ".evaluation-cache"

#: Distributions whose version is part of the key (their numbers enter the results).
NUMERIC_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "pyfixest", "pyarrow", "highspy")

#: Hidden temporary files of interrupted writes older than this (seconds) are removed.
_STALE_TEMPORARY = 3600.0


def default_cache_dir() -> Path:
    """``data/processed/.evaluation-cache`` of the project (:mod:`kvk_analysis.config`)."""
    from .. import config

    return config.PROCESSED_DIR / CACHE_DIRNAME


def panel_fingerprint(panel: pd.DataFrame) -> str:
    """SHA-256 (hex) of a data frame's content: column names and dtypes, the index and every
    value in row order (``pandas.util.hash_pandas_object``, 64-bit per row, plus the shape)."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in panel.dtypes.items()]).encode())
    h.update(json.dumps(list(panel.shape)).encode())
    rows = pd.util.hash_pandas_object(panel, index=True).to_numpy()
    h.update(rows.tobytes())
    return h.hexdigest()


@cache
def code_fingerprint() -> str:
    """SHA-256 (hex) over the source of the whole kvk package (every ``*.py``, with its path):
    any code change makes new keys.  Computed once per process."""
    from .. import config

    h = hashlib.sha256()
    root = config.PACKAGE_DIR
    for f in sorted(root.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(f.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@cache
def _versions() -> dict[str, str]:
    from .. import __version__

    out = {"kvk": __version__, "python": platform.python_version()}
    for name in NUMERIC_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def cache_key(panel: pd.DataFrame, spec: Any, *, fingerprint: str | None = None) -> dict[str, Any]:
    """The full key of ``evaluate(panel, spec)`` (JSON-serialisable); ``fingerprint``:
    :func:`panel_fingerprint` of ``panel`` when already known."""
    return {
        "format": CACHE_FORMAT,
        "panel": fingerprint or panel_fingerprint(panel),
        "specification": spec.to_dict(),
        "code": code_fingerprint(),
        "versions": _versions(),
    }


def key_digest(key: dict[str, Any]) -> str:
    """SHA-256 (hex) of a key (its canonical JSON)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _read(path: Path, key: dict[str, Any]) -> Any | None:
    """The results stored at ``path`` when it holds exactly ``key``, else ``None`` (missing,
    truncated, corrupt, another key, an unpicklable class of an older kvk)."""
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - any unreadable entry is recomputed, never trusted
        return None
    if not isinstance(payload, dict) or payload.get("key") != key or "results" not in payload:
        return None
    return payload["results"]


def _write(path: Path, key: dict[str, Any], results: Any) -> None:
    from ..fileio import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump({"key": key, "results": results}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _locked(lock_path: Path, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` on ``lock_path`` (created if needed); yields whether this
    caller holds it (``wait=False``: ``False`` at once when another process does).  Where
    the file system or platform has no locks it yields ``True`` (then two callers may both
    compute, never read half a file)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        except OSError:
            held = True  # no flock on this file system
        yield held
    finally:
        os.close(fd)  # releases the lock


def _prune(folder: Path, keep: int = MAX_ENTRIES) -> None:
    """Keep the ``keep`` newest entries (all files of a key: its parts and locks); remove
    temporaries of interrupted writes older than an hour."""
    now = time.time()
    groups: dict[str, list[tuple[float, Path]]] = {}
    for f in folder.iterdir():
        try:
            mtime = f.stat().st_mtime
        except FileNotFoundError:
            continue
        if f.name.startswith("."):
            if now - mtime > _STALE_TEMPORARY:
                with contextlib.suppress(OSError):
                    f.unlink()
            continue
        groups.setdefault(f.name.split(".")[0], []).append((mtime, f))
    newest = sorted(
        (
            (max(m for m, f in files if f.suffix == ".pkl"), digest)
            for digest, files in groups.items()
            if any(f.suffix == ".pkl" for _, f in files)
        ),
        reverse=True,
    )
    for _, digest in newest[keep:]:
        for _, f in groups[digest]:
            with contextlib.suppress(OSError):
                f.unlink()


def cached(
    panel: pd.DataFrame,
    spec: Any,
    compute: Callable[[], Any],
    cache_dir: str | Path,
    *,
    fingerprint: str | None = None,
) -> Any:
    """``compute()`` (the results of ``evaluate(panel, spec)``) through the cache in
    ``cache_dir``: read when an entry with this key exists, else computed once (concurrent
    callers with the same key wait for the first and read its entry), stored and returned.
    ``fingerprint``: :func:`panel_fingerprint` of ``panel`` when already known."""
    return cached_parts(
        panel,
        spec,
        {"results": compute},
        lambda parts: parts["results"],
        cache_dir,
        fingerprint=fingerprint,
    )


def cached_parts(
    panel: pd.DataFrame,
    spec: Any,
    parts: dict[str, Callable[[], Any]],
    combine: Callable[[dict[str, Any]], Any],
    cache_dir: str | Path,
    *,
    fingerprint: str | None = None,
) -> Any:
    """``combine({name: part() for name, part in parts.items()})`` through the cache, each
    part stored as its own entry ``<sha256>.<name>.pkl`` under its own lock.

    Concurrent callers with the same key share the work: a caller takes the first part no
    one is computing (non-blocking lock), so two notebooks that start together compute
    different parts at the same time on two cores, then each waits for the parts the other
    holds and reads them.  A part whose holder failed or was killed is computed by the
    waiting caller.  Parts must be independent of each other and deterministic (seeded)."""
    from ..fileio import ensure_dir

    folder = ensure_dir(cache_dir)
    key = cache_key(panel, spec, fingerprint=fingerprint)
    digest = key_digest(key)
    done: dict[str, Any] = {}

    def entry(name: str) -> tuple[Path, dict[str, Any]]:
        return folder / f"{digest}.{name}.pkl", {**key, "part": name}

    def attempt(name: str, wait: bool) -> bool:
        path, part_key = entry(name)
        with _locked(folder / f"{digest}.{name}.lock", wait=wait) as held:
            if not held:
                return False
            hit = _read(path, part_key)  # maybe computed while this caller waited
            if hit is None:
                hit = parts[name]()
                with contextlib.suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
                    _write(path, part_key, hit)  # an unwritable cache costs time, not results
            done[name] = hit
            return True

    for name in parts:  # stored parts first
        path, part_key = entry(name)
        hit = _read(path, part_key)
        if hit is not None:
            done[name] = hit
    for name in parts:  # then the parts nobody is computing
        if name not in done:
            attempt(name, wait=False)
    for name in parts:  # then wait for the others' parts
        if name not in done:
            attempt(name, wait=True)
    with contextlib.suppress(OSError):
        _prune(folder)
    return combine(done)


def build_panel_matches(
    panel: pd.DataFrame, processed_dir: str | Path | None = None, *, fingerprint: str | None = None
) -> bool:
    """Whether ``panel`` equals (same fingerprint) the built ``panel.parquet`` of
    ``processed_dir`` (default the project's ``data/processed``) whose manifest is present: the
    panel a notebook reads from the build.  ``fingerprint``: that of ``panel`` if known."""
    from .. import config

    folder = Path(processed_dir) if processed_dir is not None else config.PROCESSED_DIR
    built = folder / "panel.parquet"
    if not (built.is_file() and (folder / "manifest.json").is_file()):
        return False
    try:
        other = pd.read_parquet(built)
    except Exception:  # noqa: BLE001 - an unreadable build is simply not this panel
        return False
    if other.shape != panel.shape or list(other.columns) != list(panel.columns):
        return False
    return panel_fingerprint(other) == (fingerprint or panel_fingerprint(panel))


__all__ = [
    "CACHE_DIRNAME",
    "CACHE_FORMAT",
    "MAX_ENTRIES",
    "build_panel_matches",
    "cache_key",
    "cached",
    "cached_parts",
    "code_fingerprint",
    "default_cache_dir",
    "key_digest",
    "panel_fingerprint",
]
