"""``kvk data build``: raw files -> ``data/processed/`` (Parquet + manifest), no-op when unchanged.

A build is one transaction.  Every output and the manifest are first written into a fresh
hidden folder ``.build-XXXX`` inside the output folder; then the old manifest is removed, the
outputs are moved into place (``os.replace``) and the new manifest, which records the SHA-256
of every output (``output_hashes``), is moved in last.  An interruption (Ctrl-C, kill -9, power
loss) before the switch leaves the previous build whole; one during the switch leaves no
manifest, so the next build redoes it.  "Up to date" also re-hashes every output: a file that
does not match its manifest (changed by hand, or an interrupted build of an older kvk) is
rebuilt, and the message says which.  Builds into the same folder take a lock on it (one waits
for the other), and every build first removes leftovers of interrupted builds (the
``.build-*`` folders and ``.NAME.*`` temporary files of :mod:`kvk_analysis.fileio`).

Outputs:

- ``tidy_sickleave.parquet`` - every sick-leave input read into the tidy table (codes as read);
- ``registry.parquet`` - the validated cohort registry;
- ``panel.parquet`` - the analysis panel (:func:`kvk_analysis.panel.build_panel`);
- ``code_mapping.csv`` - which codes were mapped onto the 2008 frame by which rule;
- ``panel_missing.csv`` - unit x quarter x sector cells without a rate (balance report);
- ``data_quality.csv`` - suspicious but legal values
  (:func:`kvk_analysis.quality.data_quality_table`);
- ``manifest.json`` - SHA-256 of every input (the sick-leave files, the registry and the
  municipality reference files) and of every output (``output_hashes``), the parameters, package/Python/pandas versions, UTC time,
  the panel's balance and notes, and each sick-leave file's reader notes (``reader_notes``,
  from ``df.attrs["notes"]``; also in ``notes``, prefixed with the file name).

Every sick-leave file is validated with the codes of the 1994-2024 crosswalk
(:func:`crosswalk_codes`) and a plausibility window of quarters (:data:`PLAUSIBLE_PERIODS`):
a row with an unknown municipality number or an impossible quarter is an ``InputError`` naming
file and row.  Quarters that are plausible but outside the build's ``start``-``end`` window are
kept in ``tidy_sickleave.parquet`` and left out of the panel (a source may cover more years than
the analysis).

A rerun whose inputs (hashes), parameters and data-layer code (:func:`code_fingerprint`)
equal the manifest's does nothing and says
"up to date".  Raw files are only read.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, config
from .errors import InputError
from .fileio import ensure_dir, fsync_dir, sha256
from .municipalities import CROSSWALK_FILE, FRAME_FILE, POPULATION_FILE, _crosswalk_table
from .periods import parse_quarter

DEFAULT_SICKLEAVE = ("ks_sickleave_demo.csv",)
DEFAULT_REGISTRY = "cohort_registry_demo.csv"
REFERENCE_FILES = (FRAME_FILE, CROSSWALK_FILE, POPULATION_FILE)
DEFAULT_PARAMS: dict[str, object] = {
    "measure": "total",
    "rule": "programme_start",
    "level": "municipality",
    "start": config.DEFAULT_START,
    "end": config.DEFAULT_END,
    "vintage": "as_of_period",
    "source": "auto",
}
MANIFEST = "manifest.json"
OUTPUTS = (
    "tidy_sickleave.parquet",
    "registry.parquet",
    "panel.parquet",
    "code_mapping.csv",
    "panel_missing.csv",
    "data_quality.csv",
)


@dataclass
class BuildResult:
    """What :func:`build_data` did: ``up_to_date`` (nothing done) or the files written."""

    up_to_date: bool
    processed_dir: Path
    outputs: dict[str, Path]
    manifest: dict
    message: str
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class _NoProgress:
    """What :func:`_progress` returns when no bar is shown (tqdm not imported: ~15 ms)."""

    def set_postfix_str(self, s: str) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool, desc: str):
    if not (enabled and sys.stderr.isatty()):
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        file=sys.stderr,
        disable=not (enabled and sys.stderr.isatty()),
        leave=False,
    )


def _inputs(
    sickleave_paths: Sequence[str | Path] | None, registry_path: str | Path | None
) -> tuple[list[Path], Path]:
    paths = (
        [config.DEMO_DIR / name for name in DEFAULT_SICKLEAVE]
        if not sickleave_paths
        else [Path(p) for p in sickleave_paths]
    )
    registry = Path(registry_path) if registry_path else config.DEMO_DIR / DEFAULT_REGISTRY
    for p in [*paths, registry]:
        if not p.exists():
            hint = (
                " (run `kvk data demo` to write the simulated demo data)"
                if (p.parent == config.DEMO_DIR)
                else ""
            )
            raise InputError(f"input file not found{hint}", path=p, expected="an existing file")
    return paths, registry


#: Quarters a sick-leave source may plausibly contain: KS and SSB municipal series start in
#: the 1990s; anything outside this window is a typing or export error.
PLAUSIBLE_PERIODS = ("1990Q1", "2030Q4")


#: Modules whose code decides what the build writes: a change to any of them rebuilds.
_BUILD_MODULES = (
    "build.py",
    "panel.py",
    "municipalities.py",
    "cohorts.py",
    "numbers.py",
    "periods.py",
    "schema.py",
    "quality.py",
    "readers",
)


def code_fingerprint() -> str:
    """SHA-256 over the source of the data-layer modules (so a code change triggers a
    rebuild even when the package version is unchanged)."""
    h = hashlib.sha256()
    for name in _BUILD_MODULES:
        target = config.PACKAGE_DIR / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for f in files:
            h.update(f.relative_to(config.PACKAGE_DIR).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def crosswalk_codes(directory: str | Path | None = None) -> frozenset[str]:
    """Every municipality number of the 1994-2024 crosswalk (``kommune_crosswalk_1994_2024.csv``
    in ``directory``, default the project's municipality folder): the codes a sick-leave file
    may use, whatever its vintage."""
    folder = Path(directory) if directory is not None else config.MUNICIPALITIES_DIR
    cw = _crosswalk_table(folder.resolve())  # read once, shared with the code harmonisation
    return frozenset(cw["code"].str.strip()) - {""}


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.ROOT))
    except ValueError:
        return str(path.resolve())


def build_data(
    sickleave_paths: Sequence[str | Path] | None = None,
    registry_path: str | Path | None = None,
    processed_dir: str | Path = config.PROCESSED_DIR,
    params: dict | None = None,
    force: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build ``data/processed/`` from raw sick-leave files and a cohort registry.

    Parameters
    ----------
    sickleave_paths
        Sick-leave files in any format ``kvk_analysis.readers.read_sickleave`` reads
        (default: ``data/raw/demo/ks_sickleave_demo.csv``, written by ``kvk data demo``);
        validated against the crosswalk codes and :data:`PLAUSIBLE_PERIODS`.
    registry_path
        Cohort registry (default: ``data/raw/demo/cohort_registry_demo.csv``).
    processed_dir
        Output folder.
    params
        Overrides of :data:`DEFAULT_PARAMS`: ``measure``, ``rule``, ``level``, ``start``,
        ``end`` (quarters), ``vintage`` (codes), ``source`` (reader, ``auto`` detects).
    force
        Rebuild even when the manifest says the outputs are up to date.
    progress
        Show a progress bar on stderr (only when stderr is a terminal).

    Returns
    -------
    BuildResult
    """

    unknown = set(params or {}) - set(DEFAULT_PARAMS)
    if unknown:
        raise InputError(
            "unknown build parameter",
            column=sorted(unknown)[0],
            expected=", ".join(DEFAULT_PARAMS),
            found=sorted(unknown)[0],
        )
    p = {**DEFAULT_PARAMS, **(params or {})}
    _check_window(p)
    out_dir = Path(processed_dir)
    paths, registry = _inputs(sickleave_paths, registry_path)
    refs = [config.MUNICIPALITIES_DIR / name for name in REFERENCE_FILES]
    hashes = {
        "sickleave": {_relative(x): sha256(x) for x in paths},
        "registry": {_relative(registry): sha256(registry)},
        "reference": {_relative(x): sha256(x) for x in refs},
    }
    key = {"inputs": hashes, "params": p, "kvk_version": __version__, "code": code_fingerprint()}
    ensure_dir(out_dir)
    with _locked(out_dir):
        removed = _remove_leftovers(out_dir)
        cleaned = (
            [f"removed {len(removed)} temporary files of interrupted builds ({', '.join(removed)})"]
            if removed
            else []
        )
        if force:
            stale = None
        else:
            old, stale = _check_manifest(out_dir, key)
            if stale is None:
                return BuildResult(
                    True,
                    out_dir,
                    {name: out_dir / name for name in old["output_hashes"]},
                    old,
                    f"up to date: {out_dir} was built from the same inputs and parameters "
                    f"at {old.get('built_utc', '?')} (use --force to rebuild)",
                    cleaned,
                )
        result = _build(out_dir, paths, registry, p, key, progress)
    if stale:
        result.message = f"rebuilt because {stale}; {result.message}"
    result.notes[:0] = cleaned
    return result


def _locate_in_files(exc: InputError, tidy: pd.DataFrame, origins: pd.DataFrame) -> InputError:
    """Name the files and rows behind an error of the combined table that names none (an
    unknown code, rows counted twice after harmonising the codes of several files).

    The rows are those whose municipality number is one the error found (and, when the
    error names them, whose quarter and sector match); their file and line come from
    ``origins`` (one row per tidy row).  Errors that already name a file pass unchanged."""
    if exc.path is not None or exc.found is None or not len(tidy):
        return exc
    found = str(exc.found)
    codes = re.findall(r"(?<!\d)\d{4}(?!\d)", found)
    hit = tidy["kommunenummer"].astype(str).isin(codes)
    quarter = re.search(r"\b\d{4}Q[1-4]\b", found)
    if quarter:
        hit &= tidy["period"].astype(str) == quarter.group(0)
    sectors = [w for w in re.findall(r"[a-z_]+", found) if w in set(tidy["sector"].astype(str))]
    if sectors:
        hit &= tidy["sector"].astype(str).isin(sectors)
    rows = origins[hit.to_numpy()]
    if rows.empty:
        return exc
    places = []
    for (file, line), _ in rows.groupby(["file", "line"], sort=False, dropna=False):
        name = Path(file).name
        place = f"{name} row {int(line)}" if not pd.isna(line) else name
        if place not in places:
            places.append(place)
    listed = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    first_line = rows["line"].iloc[0]
    return InputError(
        f"{exc.message} (from {listed})",
        path=rows["file"].iloc[0],
        row=None if pd.isna(first_line) else int(first_line),
        column=exc.column,
        expected=exc.expected,
        found=exc.found,
    )


def _check_window(p: dict) -> None:
    """``start`` and ``end`` must be quarters, in order (one clear error, not a traceback)."""
    window = {}
    for name in ("start", "end"):
        try:
            window[name] = parse_quarter(p[name])
        except ValueError:
            raise InputError(
                f"the build parameter {name} (--{name}) is not a quarter",
                expected="a quarter such as 2005Q1 or 2005K1",
                found=p[name],
            ) from None
    if window["start"] > window["end"]:
        raise InputError(
            f"the build window is empty: start {window['start']} is after end {window['end']}",
            expected="start (--start) not after end (--end)",
        )


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder itself (``flock`` on its descriptor, so no
    lock file is left behind): a second build into the same folder waits for the first."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locking, builds must not overlap
        yield
        return
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a file system without flock: no lock, as before
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _leftover_pattern() -> re.Pattern[str]:
    names = [*OUTPUTS, MANIFEST]
    stems = [Path(n).stem for n in names]
    alternatives = "|".join(re.escape(x) for x in sorted({*names, *stems}, key=len, reverse=True))
    return re.compile(rf"^\.build-.+$|^\.(?:{alternatives})\..+$")


def _remove_leftovers(out_dir: Path) -> list[str]:
    """Remove what interrupted builds left in ``out_dir`` (called under the lock): staging
    folders ``.build-*`` and the hidden temporary files ``fileio.atomic_write``/``atomic_path``
    make beside an output (``.panel.XXXX.parquet``, ``.manifest.json.XXXX.tmp``)."""
    pattern = _leftover_pattern()
    removed = []
    for entry in sorted(out_dir.iterdir()):
        if not pattern.match(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry.name)
    return removed


def _check_manifest(out_dir: Path, key: dict) -> tuple[dict, str | None]:
    """``(manifest, None)`` when ``out_dir`` is a whole build for ``key``: the manifest's
    inputs, parameters and code equal ``key`` and every output it lists has the recorded
    SHA-256.  Otherwise ``(manifest or {}, reason)``; the reason is ``""`` when there is
    simply nothing built yet or something else changed, and a sentence when the outputs
    contradict their manifest (the caller says so)."""
    manifest_path = out_dir / MANIFEST
    if not manifest_path.exists():
        if any((out_dir / name).exists() for name in OUTPUTS):
            return {}, "the outputs have no manifest (an interrupted build)"
        return {}, ""
    try:
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}, f"{MANIFEST} is unreadable"
    if not isinstance(old, dict) or {k: old.get(k) for k in key} != key:
        return old if isinstance(old, dict) else {}, ""
    recorded = old.get("output_hashes")
    if not isinstance(recorded, dict) or set(OUTPUTS) - set(recorded):
        return old, "the manifest records no hash of its outputs (made by an older kvk)"
    for name, digest in recorded.items():
        path = out_dir / name
        if not path.is_file():
            return old, f"{name} is missing"
        if sha256(path) != digest:
            return old, (
                f"{name} does not match its manifest (changed after the build, or left by "
                "an interrupted build)"
            )
    return old, None


def _build(
    out_dir: Path, paths: list[Path], registry: Path, p: dict, key: dict, progress: bool
) -> BuildResult:
    """Read, build and write everything into a staging folder, then switch (see module doc)."""
    from .cohorts import read_registry
    from .panel import build_panel
    from .readers import read_sickleave

    valid_codes = crosswalk_codes()
    period_range = PLAUSIBLE_PERIODS
    bar = _progress(len(paths) + 3, progress, "kvk data build")
    frames = []
    reader_notes: dict[str, list[str]] = {}
    conflicts: list[dict] = []
    # file and line of each tidy row, for error messages (a frame only if one is needed)
    origins: list[tuple[str, np.ndarray]] = []
    try:
        for path in paths:
            bar.set_postfix_str(path.name)
            df = read_sickleave(
                path,
                source=str(p["source"]),
                valid_codes=valid_codes,
                period_range=period_range,
                keep_lines=True,
            )
            lines = df.pop("_line") if "_line" in df else pd.Series(pd.NA, index=df.index)
            origins.append((str(path), lines.to_numpy()))
            reader_notes[_relative(path)] = [str(n) for n in df.attrs.get("notes", []) or []]
            conflicts.extend(
                {**c, "file": path.name} for c in df.attrs.get("rate_conflicts", []) or []
            )
            frames.append(df)
            bar.update()
        tidy = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        reg = read_registry(registry)
        bar.update()
        try:
            panel = build_panel(
                tidy,
                reg,
                measure=str(p["measure"]),
                rule=str(p["rule"]),
                start=str(p["start"]),
                end=str(p["end"]),
                level=str(p["level"]),
                vintage=str(p["vintage"]),
            )
        except InputError as exc:
            where = pd.concat(
                [pd.DataFrame({"file": f, "line": ln}) for f, ln in origins], ignore_index=True
            )
            raise _locate_in_files(exc, tidy, where) from None
        bar.update()
    finally:
        bar.close()
    notes = [
        *(
            f"{Path(name).name}: {note}"
            for name, file_notes in reader_notes.items()
            for note in file_notes
        ),
        *panel.notes,
    ]
    manifest = {
        **key,
        "built_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "pyarrow": importlib.import_module("pyarrow").__version__,
        "outputs": sorted(OUTPUTS),
        "rows": {"tidy": len(tidy), "registry": len(reg), "panel": len(panel.data)},
        "balance": panel.balance.summary(),
        "mapping": panel.mapping.summary(),
        "definition": panel.definition,
        "reader_notes": reader_notes,
        "notes": notes,
    }
    stage = Path(tempfile.mkdtemp(prefix=".build-", dir=out_dir))
    try:
        written = _write_outputs(stage, tidy, reg, panel, conflicts)
        manifest["output_hashes"] = {name: sha256(stage / name) for name in sorted(written)}
        with open(stage / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        _switch(stage, out_dir, sorted(written))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    outputs = {name: out_dir / name for name in sorted(written)}
    msg = (
        f"built {out_dir}: panel {len(panel.data)} rows ({panel.balance.n_units} units x "
        f"{panel.balance.n_periods} quarters x {panel.balance.n_sectors} sectors), "
        f"{'balanced' if panel.balance.balanced else 'unbalanced'}"
    )
    return BuildResult(False, out_dir, outputs, manifest, msg, notes)


def _switch(stage: Path, out_dir: Path, names: list[str]) -> None:
    """Move the staged outputs and then the staged manifest into ``out_dir``.

    The old manifest goes first, so from then until the new one is in place the folder has
    outputs but no manifest, which the next build never calls up to date."""
    with contextlib.suppress(FileNotFoundError):
        (out_dir / MANIFEST).unlink()
    fsync_dir(out_dir)
    for name in names:
        os.replace(stage / name, out_dir / name)
    fsync_dir(out_dir)
    os.replace(stage / MANIFEST, out_dir / MANIFEST)
    fsync_dir(out_dir)


def _write_outputs(
    stage: Path, tidy: pd.DataFrame, reg: pd.DataFrame, panel, conflicts: list[dict]
) -> dict:
    """Write every output into the staging folder (each flushed to disk)."""
    from .quality import data_quality_table

    written: dict[str, Path] = {}

    def done(name: str) -> None:
        with open(stage / name, "rb") as fh:
            os.fsync(fh.fileno())
        written[name] = stage / name

    def parquet(df: pd.DataFrame, name: str) -> None:
        df.to_parquet(stage / name, index=False)
        done(name)

    def csv(df: pd.DataFrame, name: str) -> None:
        with open(stage / name, "w", encoding="utf-8", newline="") as fh:
            df.to_csv(fh, index=False, lineterminator="\n")
        done(name)

    parquet(tidy.drop(columns=["_line"], errors="ignore"), "tidy_sickleave.parquet")
    parquet(reg, "registry.parquet")
    parquet(panel.data, "panel.parquet")
    csv(panel.mapping.to_frame(), "code_mapping.csv")
    missing = panel.balance.missing.assign(period=lambda d: d["period"].astype(str))
    csv(missing, "panel_missing.csv")
    csv(data_quality_table(tidy, rate_conflicts=conflicts), "data_quality.csv")
    return written
