"""``kvk data build``: raw files -> ``data/processed/`` (Parquet + manifest), no-op when unchanged.

Outputs (each written atomically; the manifest last, so an interrupted build is redone):

- ``tidy_sickleave.parquet`` - every sick-leave input read into the tidy table (codes as read);
- ``registry.parquet`` - the validated cohort registry;
- ``panel.parquet`` - the analysis panel (:func:`kvk_analysis.panel.build_panel`);
- ``code_mapping.csv`` - which codes were mapped onto the 2008 frame by which rule;
- ``panel_missing.csv`` - unit x quarter x sector cells without a rate (balance report);
- ``data_quality.csv`` - suspicious but legal values
  (:func:`kvk_analysis.quality.data_quality_table`);
- ``manifest.json`` - SHA-256 of every input (the sick-leave files, the registry and the
  municipality reference files), the parameters, package/Python/pandas versions, UTC time,
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

import hashlib
import importlib
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from . import __version__, config
from .errors import InputError
from .fileio import atomic_path, atomic_write, sha256
from .municipalities import CROSSWALK_FILE, FRAME_FILE, POPULATION_FILE, _crosswalk_table

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


def _progress(total: int, enabled: bool, desc: str):
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
    from .cohorts import read_registry
    from .panel import build_panel

    unknown = set(params or {}) - set(DEFAULT_PARAMS)
    if unknown:
        raise InputError(
            "unknown build parameter",
            column=sorted(unknown)[0],
            expected=", ".join(DEFAULT_PARAMS),
            found=sorted(unknown)[0],
        )
    p = {**DEFAULT_PARAMS, **(params or {})}
    out_dir = Path(processed_dir)
    paths, registry = _inputs(sickleave_paths, registry_path)
    refs = [config.MUNICIPALITIES_DIR / name for name in REFERENCE_FILES]
    hashes = {
        "sickleave": {_relative(x): sha256(x) for x in paths},
        "registry": {_relative(registry): sha256(registry)},
        "reference": {_relative(x): sha256(x) for x in refs},
    }
    key = {"inputs": hashes, "params": p, "kvk_version": __version__, "code": code_fingerprint()}
    manifest_path = out_dir / "manifest.json"
    if not force and manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        outputs = {name: out_dir / name for name in old.get("outputs", [])}
        if (
            {k: old.get(k) for k in key} == key
            and outputs
            and all(x.exists() for x in outputs.values())
        ):
            return BuildResult(
                True,
                out_dir,
                outputs,
                old,
                f"up to date: {out_dir} was built from the same inputs and parameters "
                f"at {old.get('built_utc', '?')} (use --force to rebuild)",
            )

    from .readers import read_sickleave

    valid_codes = crosswalk_codes()
    period_range = PLAUSIBLE_PERIODS
    bar = _progress(len(paths) + 3, progress, "kvk data build")
    frames = []
    reader_notes: dict[str, list[str]] = {}
    try:
        for path in paths:
            bar.set_postfix_str(path.name)
            df = read_sickleave(
                path,
                source=str(p["source"]),
                valid_codes=valid_codes,
                period_range=period_range,
            )
            reader_notes[_relative(path)] = [str(n) for n in df.attrs.get("notes", []) or []]
            frames.append(df)
            bar.update()
        tidy = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        reg = read_registry(registry)
        bar.update()
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
        bar.update()
        written = _write_outputs(out_dir, tidy, reg, panel)
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
        "outputs": sorted(written),
        "rows": {"tidy": len(tidy), "registry": len(reg), "panel": len(panel.data)},
        "balance": panel.balance.summary(),
        "mapping": panel.mapping.summary(),
        "definition": panel.definition,
        "reader_notes": reader_notes,
        "notes": notes,
    }
    with atomic_write(manifest_path) as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    outputs = {name: out_dir / name for name in sorted(written)}
    msg = (
        f"built {out_dir}: panel {len(panel.data)} rows ({panel.balance.n_units} units x "
        f"{panel.balance.n_periods} quarters x {panel.balance.n_sectors} sectors), "
        f"{'balanced' if panel.balance.balanced else 'unbalanced'}"
    )
    return BuildResult(False, out_dir, outputs, manifest, msg, notes)


def _write_outputs(out_dir: Path, tidy: pd.DataFrame, reg: pd.DataFrame, panel) -> dict:
    from .quality import data_quality_table

    written: dict[str, Path] = {}

    def parquet(df: pd.DataFrame, name: str) -> None:
        with atomic_path(out_dir / name) as tmp:
            df.to_parquet(tmp, index=False)
        written[name] = out_dir / name

    def csv(df: pd.DataFrame, name: str) -> None:
        with atomic_write(out_dir / name) as fh:
            df.to_csv(fh, index=False, lineterminator="\n")
        written[name] = out_dir / name

    parquet(tidy.drop(columns=["_line"], errors="ignore"), "tidy_sickleave.parquet")
    parquet(reg, "registry.parquet")
    parquet(panel.data, "panel.parquet")
    csv(panel.mapping.to_frame(), "code_mapping.csv")
    missing = panel.balance.missing.assign(period=lambda d: d["period"].astype(str))
    csv(missing, "panel_missing.csv")
    csv(data_quality_table(tidy), "data_quality.csv")
    return written
