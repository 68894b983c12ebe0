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
draws its bootstrap afresh on every call and is never cached.  Entries are signed with a
per-user key kept outside the project (:func:`_secret`), and a pickle is loaded only when its
signature checks, so an entry that kvk did not write for this user is never unpickled.
Pruning touches only the cache's own file names.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import pickle
import platform
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import cache
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

#: Names of the files the cache owns (entries, locks) and of its temporaries: pruning never
#: touches anything else in the folder.
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9_]+\.(pkl|lock)$")
_TEMP_NAME = re.compile(r"^\.[0-9a-f]{64}\.")


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


def _code_digest() -> str:
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
def code_fingerprint() -> str:
    """SHA-256 (hex) over the source of the whole kvk package (every ``*.py``, with its path):
    any code change makes new keys.  Computed once per process; taken again before an entry is
    written, and the entry is not written when the source changed since (the process may run
    the older code)."""
    return _code_digest()


def _secret() -> bytes | None:
    """This user's key for signing entries (32 random bytes in ``~/.cache/kvk/``, or the
    ``XDG_CACHE_HOME`` equivalent, mode 0600; a private folder in the temporary directory where
    the home folder is not writable); ``None`` when neither can be used (no caching).

    Entries are pickles, and unpickling runs code: an entry is read only when its signature
    was made with this key, so a cache folder that arrived with a copied or unzipped project,
    or that someone else can write to, is never loaded (it is recomputed instead)."""
    homes = [
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kvk",
        Path(tempfile.gettempdir()) / f"kvk-{os.getuid() if hasattr(os, 'getuid') else 'user'}",
    ]
    for folder in homes:
        path = folder / "evaluation-cache.key"
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                st = path.stat()
                if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
                    continue  # not this user's private key
                key = path.read_bytes()
                if len(key) == 32:
                    return key
                continue
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
            return path.read_bytes()
    return None


def _sign(body: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def _versions() -> dict[str, str]:
    from .. import __version__
    from .provenance import installed_versions

    return {
        "kvk": __version__,
        "python": platform.python_version(),
        **installed_versions(NUMERIC_PACKAGES),
    }


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
    """The results stored at ``path`` when it holds exactly ``key`` under this user's signature
    (:func:`_secret`), else ``None`` (missing, truncated, corrupt, unsigned or signed by another
    key, another key, an unpicklable class of an older kvk)."""
    secret = _secret()
    if secret is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mac, body = data[:32], data[32:]
    if len(mac) < 32 or not hmac.compare_digest(mac, _sign(body, secret)):
        return None
    try:
        payload = pickle.loads(body)
    except Exception:  # noqa: BLE001 - any unreadable entry is recomputed, never trusted
        return None
    if not isinstance(payload, dict) or payload.get("key") != key or "results" not in payload:
        return None
    return payload["results"]


def _write(path: Path, key: dict[str, Any], results: Any) -> None:
    """Store ``results`` under ``key``, signed; nothing is written without a signing key or
    when the package source changed since the key was made (:func:`code_fingerprint`)."""
    from ..fileio import atomic_path

    secret = _secret()
    if secret is None or key.get("code") != _code_digest():
        return
    body = pickle.dumps({"key": key, "results": results}, protocol=pickle.HIGHEST_PROTOCOL)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(_sign(body, secret))
        fh.write(body)
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
        if _TEMP_NAME.match(f.name):
            if now - mtime > _STALE_TEMPORARY:
                with contextlib.suppress(OSError):
                    f.unlink()
            continue
        if not _ENTRY_NAME.match(f.name):
            continue  # not the cache's: never touched
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


class SharedEntry:
    """Something derived from cached results (a drawn figure) that every caller with the
    same key shares: stored beside the results' parts as ``<sha256 of key>.<part>.pkl``
    (so it is pruned with them), signed and checked like them, under the results' key plus
    a name and parameters that say what was derived (made by
    :meth:`kvk_analysis.report.evaluation.EvaluationResults.shared`).

    The caller promises that what it computes is a function of the results, the name and
    the parameters alone (e.g. a figure drawn from the results in the language given): two
    notebooks of a run evaluating the same specification then make it once."""

    def __init__(self, folder: str | Path, key: dict[str, Any], name: str, **params: Any):
        self.folder = Path(folder)
        self.digest = key_digest(key)
        self.key = key
        self.name = name
        self.params = params

    def part(self, **extra: Any) -> tuple[str, dict[str, Any]]:
        """``(part, full key)`` of the entry with the ``extra`` parameters added."""
        key = {**self.key, "shared": self.name, "params": {**self.params, **extra}}
        tag = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        return f"shared_{tag[:24]}", key

    def get(self, compute: Callable[[], Any], **extra: Any) -> Any:
        """The stored value, else ``compute()``, stored.  Concurrent callers wait for the
        one computing (a ``flock``, as for the parts of :func:`cached_parts`) and read its
        entry; a caller that finds no entry after the wait (the other failed) computes.  A
        cache folder that cannot be written costs time, never results."""
        part, key = self.part(**extra)
        path = self.folder / f"{self.digest}.{part}.pkl"
        hit = _read(path, key)
        if hit is not None:
            return hit
        with _locked(self.folder / f"{self.digest}.{part}.lock", wait=True):
            hit = _read(path, key)  # made while this caller waited
            if hit is None:
                hit = compute()
                with contextlib.suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
                    _write(path, key, hit)
        return hit


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
    "SharedEntry",
    "build_panel_matches",
    "cache_key",
    "cached",
    "cached_parts",
    "code_fingerprint",
    "default_cache_dir",
    "key_digest",
    "panel_fingerprint",
]
