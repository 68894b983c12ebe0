"""SSB JSON-stat (PxWebApi v2 and v1 output) -> tidy table.

Parsed generically: the cube has dimensions ``id`` with ``size``; ``value`` is a flat array in
row-major order (last dimension fastest) or a sparse ``{"index": value}`` object; ``status``
is a string, an array or an ``{"index": symbol}`` object.  JSON-stat 2.0 datasets
(``"class": "dataset"``) and 1.x bundles (``{"dataset": {...}}`` with ``id``/``size`` inside
``dimension``) are accepted.

The ``pyjstat`` package was considered but not used: it converts through pandas with
per-cell Python loops, drops the ``status`` symbols we need (``..`` ``:`` ``-``), and has
had long gaps between releases; the index arithmetic is a few lines of numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import SYMBOLS
from ..periods import parse_quarter
from . import _ssb, _text

__all__ = ["read_ssb_jsonstat"]

_TIME_NAMES = {"tid", "kvartal", "time", "quarter"}
_GEO_NAMES = {"region", "kommune", "kommunenr"}
_METRIC_NAMES = {"contentscode", "statistikkvariabel", "contents"}


def _dataset(obj: object, path: str | Path) -> dict:
    if isinstance(obj, dict) and "dimension" in obj and "value" in obj:
        return obj
    if isinstance(obj, dict):
        for v in obj.values():  # 1.x bundle: {"dataset": {...}} or {"name": {...}}
            if isinstance(v, dict) and "dimension" in v and "value" in v:
                return v
    raise InputError(
        "not a JSON-stat dataset", path=path, expected="an object with 'dimension' and 'value'"
    )


def _categories(dim: dict, name: str, size: int, path: str | Path) -> tuple[list[str], list[str]]:
    """Category codes in index order and their labels."""
    cat = dim.get("category", {})
    index = cat.get("index")
    labels = cat.get("label", {})
    if index is None:
        codes = list(labels)
    elif isinstance(index, list):
        codes = list(index)
    else:
        codes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
    if len(codes) != size:
        raise InputError(
            "dimension size does not match its categories",
            path=path,
            column=name,
            expected=f"{size} categories",
            found=len(codes),
        )
    return codes, [str(labels.get(c, c)) for c in codes]


def read_ssb_jsonstat(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read an SSB JSON-stat 2.0 (or 1.x bundle) file into the tidy table.

    Region categories with four-digit codes (``0101`` or ``K-0101``) become municipalities;
    the time dimension (role ``time`` or named ``Tid``/``Kvartal``) gives quarters; the
    metric dimension (role ``metric`` or ``ContentsCode``) gives the variables.  Nulls in
    ``value`` take their status from ``status`` (``..`` missing, ``:`` confidential, ...).
    ``_line`` is ``<NA>``: error messages give the value's position and category instead.
    """
    text, enc = _text.decode_located(path, encoding, None)
    try:
        obj = json.loads(text)  # decode_located removed any BOM
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON ({exc.msg})",
            path=path,
            row=exc.lineno,
            expected="JSON-stat",
            found=exc.doc[exc.pos : exc.pos + 20],
        ) from None
    ds = _dataset(obj, path)
    dimension = ds["dimension"]
    ids = ds.get("id") or dimension.get("id")
    sizes = ds.get("size") or dimension.get("size")
    if not ids or not sizes or len(ids) != len(sizes):
        raise InputError(
            "missing or inconsistent 'id'/'size'",
            path=path,
            expected="equal-length 'id' and 'size' arrays",
        )
    if not isinstance(dimension, dict):
        raise InputError(
            "'dimension' is not an object",
            path=path,
            column="dimension",
            expected="an object with one entry per dimension id",
            found=type(dimension).__name__,
        )
    for d in ids:
        if not isinstance(dimension.get(d), dict):
            raise InputError(
                f"dimension {d!r} is listed in 'id' but not described in 'dimension'",
                path=path,
                column=f"dimension.{d}",
                expected=f"an entry {d!r} with its categories under 'dimension'",
                found=sorted(k for k in dimension if k not in ("id", "size", "role")),
            )
    role = ds.get("role") or dimension.get("role") or {}
    n = int(np.prod(sizes))

    def find(role_name: str, names: set[str]) -> str | None:
        for d in role.get(role_name, []) or []:
            if d in ids:
                return d
        return next((d for d in ids if d.lower() in names), None)

    time_dim, geo_dim, metric_dim = (
        find("time", _TIME_NAMES),
        find("geo", _GEO_NAMES),
        find("metric", _METRIC_NAMES),
    )
    for dim, what in ((time_dim, "time (Tid)"), (geo_dim, "region (Region)")):
        if dim is None:
            raise InputError(
                f"no {what} dimension",
                path=path,
                column="dimension",
                expected=f"a {what} dimension",
                found=ids,
            )

    raw = ds["value"]
    if not isinstance(raw, dict) and len(raw) != n:
        raise InputError(
            "value array has the wrong length",
            path=path,
            column="value",
            expected=f"{n} values (product of size)",
            found=len(raw),
        )
    values = np.full(n, np.nan)
    for k, v in raw.items() if isinstance(raw, dict) else enumerate(raw):
        try:
            i = int(k)
            if not 0 <= i < n:
                raise IndexError(i)
            values[i] = np.nan if v is None else float(v)
        except (TypeError, ValueError, IndexError):
            raise InputError(
                "a value is not a number or lies outside the cube",
                path=path,
                column="value",
                expected=f"a number or null at a position 0-{n - 1}",
                found=f"{k}: {v!r}",
            ) from None
    status = np.where(np.isnan(values), "missing", "ok").astype(object)
    raw_status = ds.get("status")
    symbols: dict[int, str] = {}
    if isinstance(raw_status, str):
        symbols = dict.fromkeys(range(n), raw_status)
    elif isinstance(raw_status, list):
        symbols = {i: s for i, s in enumerate(raw_status) if s}
    elif isinstance(raw_status, dict):
        symbols = {int(k): s for k, s in raw_status.items() if s}
    for i, sym in symbols.items():
        if sym.strip() in SYMBOLS and sym.strip():
            v, st = SYMBOLS[sym.strip()]
            status[i] = st
            values[i] = v
    # Row-major cube: position -> category index per dimension.
    positions = np.unravel_index(np.arange(n), tuple(int(s) for s in sizes))
    long = pd.DataFrame({"value": values, "status": status})
    long["_line"] = pd.NA
    dims: dict[str, str] = {}
    for d, size, pos in zip(ids, sizes, positions, strict=True):
        codes, labels = _categories(dimension[d], d, int(size), path)
        if d == geo_dim:
            col = [
                c if _ssb.region_code(c) else f"{c} {lab}"
                for c, lab in zip(codes, labels, strict=True)
            ]
            long["region"] = np.array(col, dtype=object)[pos]
        elif d == time_dim:
            periods = []
            for c in codes:
                try:
                    periods.append(parse_quarter(c))
                except ValueError:
                    raise InputError(
                        "not a quarter",
                        path=path,
                        column=d,
                        expected="a quarter code like 2009K1",
                        found=c,
                    ) from None
            long["period"] = pd.PeriodIndex(periods, freq="Q")[pos]
        elif d == metric_dim:
            long["variable"] = np.array(labels, dtype=object)[pos]
        else:
            col_label = dimension[d].get("label", d)
            long[col_label] = np.array(labels, dtype=object)[pos]
            dims[col_label] = _ssb.dimension_name(col_label, long[col_label])
    if metric_dim is None:
        long["variable"] = ds.get("label", "")
    title = str(ds.get("label", ""))
    ds_notes = ds.get("note") or []
    ds_notes = [ds_notes] if isinstance(ds_notes, str) else [str(n) for n in ds_notes]
    out, notes = _ssb.to_tidy(
        long,
        dims,
        path=path,
        source="ssb-jsonstat",
        default_measure=_ssb.measure_from_text(title) or "total",
        column_names={"region": geo_dim, "variable": metric_dim or "label", "value": "value"},
    )
    tidy = _ssb.finish_ssb(out, "ssb-jsonstat", path)
    tidy.attrs.update(
        source="ssb-jsonstat",
        encoding=enc,
        path=str(path),
        notes=[*([f"title: {title}"] if title else []), *notes, *(f"note: {n}" for n in ds_notes)],
        source_columns={"kommunenummer": geo_dim, "period": time_dim},
    )
    return tidy
