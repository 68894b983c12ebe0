"""Sick-leave readers: every source into one tidy long table (docs/architecture.md).

>>> from kvk_analysis.readers import read_sickleave
>>> tidy = read_sickleave("data/raw/demo/ks_sickleave_demo.csv")      # doctest: +SKIP
>>> tidy.attrs["source"], tidy.attrs["encoding"], tidy.attrs["notes"]  # doctest: +SKIP

Per-source readers return the table *with* the ``_line`` column (file line of each row, for
error messages); :func:`read_sickleave` validates with :func:`kvk_analysis.schema.validate_tidy`
and drops it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

from .detect import SOURCES, detect_source
from .ks import read_ks, read_ks_employee
from .tidy import aggregate, missing_summary, rate_conflict_note

__all__ = [
    "SOURCES",
    "aggregate",
    "detect_source",
    "missing_summary",
    "read_ks",
    "read_ks_employee",
    "read_sickleave",
    "read_ssb_csv",
    "read_ssb_jsonstat",
    "read_ssb_table",
]

#: The SSB readers are imported on first use (``ssb_table`` alone is 1,500 lines): a build of
#: KS files does not need them.
_LAZY = {
    "read_ssb_csv": "ssb_csv",
    "read_ssb_jsonstat": "ssb_jsonstat",
    "read_ssb_table": "ssb_table",
}
_READERS = {
    "ks": "read_ks",
    "ks-employee": "read_ks_employee",
    "ssb-csv": "read_ssb_csv",
    "ssb-jsonstat": "read_ssb_jsonstat",
    "ssb-table": "read_ssb_table",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_sickleave(
    path: str | Path,
    source: str = "auto",
    encoding: str | None = None,
    *,
    validate: bool = True,
    valid_codes: set[str] | None = None,
    period_range: tuple[object, object] | None = None,
    keep_lines: bool = False,
    **options: object,
) -> pd.DataFrame:
    """Read any sick-leave source into the tidy table (rates in percent, days in days).

    ``source``: ``auto`` (detected from the content, see :func:`detect_source`) or one of
    :data:`SOURCES`.  ``encoding``: ``None`` detects UTF-8 (with or without BOM) or cp1252.
    With ``validate`` the table is checked (:func:`kvk_analysis.schema.validate_tidy`, with
    ``valid_codes`` and ``period_range`` if given) and ``_line`` is dropped unless
    ``keep_lines`` (the build keeps it to name the file row of an error found later, e.g. a
    duplicate after harmonising codes).  ``df.attrs``
    holds ``source``, ``detected`` (True if chosen by ``auto``), ``encoding``, ``path`` and
    ``notes`` (title, left-out rows, footnotes, data-quality remarks) and ``rate_conflicts``
    (rows whose published rate contradicts their days, see ``tidy.rate_conflicts``; the
    rate is computed from the days and a note says so).  Other keyword
    ``options`` go to the source's reader (e.g. ``by_sex=True`` for ``ks-employee``).
    """
    from ..errors import InputError
    from ..fileio import check_encoding
    from ..schema import validate_tidy

    check_encoding(encoding)
    detected = source == "auto"
    why = ""
    if detected:
        from .detect import detect_source_reason

        source, why = detect_source_reason(path, encoding=encoding)
    if source not in _READERS:
        raise InputError(
            "unknown source", path=path, expected="one of auto, " + ", ".join(SOURCES), found=source
        )
    name = _READERS[source]
    reader = globals()[name] if name in globals() else __getattr__(name)
    df = reader(path, encoding=encoding, **options)
    df.attrs["detected"] = detected
    conflicts = df.attrs.get("rate_conflicts") or []
    if conflicts:
        df.attrs["notes"] = [*(df.attrs.get("notes") or []), rate_conflict_note(conflicts)]
    if detected:  # say what auto chose and why
        df.attrs["notes"] = [*(df.attrs.get("notes") or []), f"source {source} detected: {why}"]
    if validate:
        lines = df["_line"].to_numpy() if "_line" in df else None
        df = validate_tidy(df, path=path, valid_codes=valid_codes, period_range=period_range)
        if keep_lines and lines is not None:
            df["_line"] = pd.array(lines, dtype="Int64")
    return df
