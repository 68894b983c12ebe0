"""SSB StatBank (Statistikkbanken / PxWeb) CSV exports.

Handles the layouts StatBank writes: optional title lines above the table (kept as notes),
quoted ``;``-separated fields (``,`` and tab also recognised, ``,`` meaning a decimal point),
region labels like ``"0101 Halden"``, quarters like ``2009K1`` and the symbols ``..`` ``.``
``:`` ``-``.  Three shapes:

* long with a ``statistikkvariabel`` column and one value column;
* long with a ``kvartal`` column and one column per variable (``Sykefraværsprosent``);
* wide, one column per variable and quarter (``"Sykefraværsprosent 2009K1"``), with the
  variable in the header or in a ``statistikkvariabel`` column.

Footnote lines below the table are kept as notes.  Regions that are not municipalities
(``0 Hele landet``, counties) are left out and counted in the notes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import NumberFormatError, parse_cell
from . import _ssb, _text

__all__ = ["read_ssb_csv"]

_QUARTER_IN_HEADER = re.compile(r"^(.*?)[\s_]*(\d{4})\s*[KkQq]([1-4])\s*$")
_REGION_HEADERS = {"region", "kommune", "bostedskommune", "arbeidsstedskommune", "kommuner"}
_QUARTER_HEADERS = {"kvartal", "tid", "quarter", "periode", "time", "tidsperiode"}
_VARIABLE_HEADERS = {"statistikkvariabel", "contents", "statistic", "statistikkvariabel (contents)"}
_VALUE_HEADERS = {"value", "verdi", "values"}


def _guess_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()][:50]
    best = max((";", "\t", ","), key=lambda d: sum(ln.count(d) for ln in lines))
    return best


def read_ssb_csv(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read an SSB StatBank CSV export into the tidy table (rates in percent as published).

    Days and rates are taken as published; where both lost and contracted days are present
    the rate is recomputed from them.  Sector is ``all`` unless the table has a sector
    dimension with KS-like labels; other dimensions (``sex``, ``industry``, ...) are kept.
    """
    text, enc = _text.decode_located(path, encoding, ";")  # BOM removed
    delimiter = _guess_delimiter(text)
    decimal = "." if delimiter == "," else ","
    rows = [
        (line, [f.strip() for f in fields])
        for line, fields in _text.split_delimited(text, delimiter, path=path)
    ]
    # The header is the first row with two or more non-empty fields.
    start = next((i for i, (_, f) in enumerate(rows) if sum(bool(x) for x in f) >= 2), None)
    if start is None:
        raise InputError(
            "no table found",
            path=path,
            expected=f"a header line of {delimiter!r}-separated columns",
        )
    titles = [" ".join(x for x in f if x) for _, f in rows[:start]]
    header_line, header = rows[start]
    width = len(header)
    body, footer = [], []
    for line, fields in rows[start + 1 :]:
        if len(fields) == width:
            body.append((line, fields))
        elif sum(bool(x) for x in fields) <= 1 and body:
            footer.append(" ".join(x for x in fields if x))
        else:
            raise InputError(
                "wrong number of fields",
                path=path,
                row=line,
                expected=f"{width} {delimiter!r}-separated fields as in the header",
                found=len(fields),
            )
    if not body:
        raise InputError(
            "the table has no data rows", path=path, row=header_line, expected="data rows"
        )
    frame = pd.DataFrame([f for _, f in body], columns=range(width), dtype=object)
    decimal = _guess_decimal(frame, decimal)
    lines = np.array([ln for ln, _ in body], dtype=np.int64)
    norm = [_text.norm_header(h) for h in header]

    region = next(
        (i for i, h in enumerate(norm) if h in _REGION_HEADERS or h.startswith("region")), None
    )
    if region is None:
        # A column whose values look like "0101 Halden".
        region = next(
            (i for i in range(width) if frame[i].map(_ssb.region_code).notna().mean() > 0.5), None
        )
    if region is None:
        raise InputError(
            "no region column",
            path=path,
            row=header_line,
            column=None,
            expected="a column 'region' with values like '0101 Halden'",
            found=";".join(header),
        )
    quarter = next((i for i, h in enumerate(norm) if h in _QUARTER_HEADERS), None)
    variable = next((i for i, h in enumerate(norm) if h in _VARIABLE_HEADERS), None)
    value = next((i for i, h in enumerate(norm) if h in _VALUE_HEADERS), None)
    if value is None and variable is not None and quarter is not None:
        # PxWeb names the value column after the table ("12441: Sykefravær for ..."):
        # take the last column whose cells are all numbers or symbols.
        numeric = [
            i for i in range(width)
            if i not in (region, quarter, variable) and frame[i].map(_is_number).all()
        ]  # fmt: skip
        value = numeric[-1] if numeric else None
    wide = {i: _QUARTER_IN_HEADER.match(header[i]) for i in range(width)}
    wide = {i: m for i, m in wide.items() if m and i not in (region, quarter, variable)}
    title = " ".join(titles)
    default_measure = _ssb.measure_from_text(title) or "total"

    pieces = []
    if quarter is not None and variable is not None and value is not None:
        shape = "long"
        value_cols = {value: None}
    elif quarter is not None:
        shape = "long-by-variable"
        value_cols = {
            i: header[i]
            for i in range(width)
            if i not in (region, quarter, variable) and _ssb.classify_variable(header[i])
        }
        if variable is not None and value is None:
            value_cols = {}
    elif wide:
        shape = "wide"
        value_cols = dict.fromkeys(wide)
    else:
        raise InputError(
            "no quarter column and no quarter in the column names",
            path=path,
            row=header_line,
            expected="a column 'kvartal' or columns like 'Sykefraværsprosent 2009K1'",
            found=";".join(header),
        )
    if not value_cols:
        raise InputError(
            "no value column",
            path=path,
            row=header_line,
            expected="a column of values (e.g. 'Sykefraværsprosent' or 'value')",
            found=";".join(header),
        )
    used = {region, quarter, variable, *value_cols} - {None}
    dim_cols = [i for i in range(width) if i not in used]
    dims = {header[i]: _ssb.dimension_name(header[i], frame[i]) for i in dim_cols}

    if shape == "wide":
        for i in value_cols:
            m = wide[i]
            label = m.group(1).strip()
            var = (
                frame[variable]
                if variable is not None
                else pd.Series(label or title, index=frame.index)
            )
            per = pd.Period(year=int(m.group(2)), quarter=int(m.group(3)), freq="Q")
            pieces.append(
                _piece(
                    frame,
                    lines,
                    region,
                    var,
                    pd.Series(per, index=frame.index),
                    i,
                    dim_cols,
                    header,
                )
            )
    else:
        period = _text.parse_quarters_located(
            frame[quarter], lines, path=path, column=header[quarter]
        )
        for i, label in value_cols.items():
            var = frame[variable] if label is None else pd.Series(label, index=frame.index)
            pieces.append(_piece(frame, lines, region, var, period, i, dim_cols, header))
    long = pd.concat(pieces, ignore_index=True)
    out, notes = _ssb.to_tidy(
        long,
        dims,
        path=path,
        source="ssb-csv",
        default_measure=default_measure,
        column_names={
            "region": header[region],
            "variable": header[variable] if variable is not None else "(column names)",
            "value": "value",
        },
        decimal=decimal,
    )
    tidy = _ssb.finish_ssb(out, "ssb-csv", path)
    tidy.attrs.update(
        source="ssb-csv",
        encoding=enc,
        path=str(path),
        notes=[
            *(f"title: {t}" for t in titles),
            f"layout: {shape}",
            *notes,
            *(f"footnote: {f}" for f in footer),
        ],
        source_columns=_source_columns(shape, header, value_cols, wide, variable, region, quarter),
    )
    return tidy


def _source_columns(shape, header, value_cols, wide, variable, region, quarter) -> dict:
    """Tidy column -> file column (per quarter for the wide layout), for error messages."""
    out: dict = {
        "kommunenummer": header[region],
        "period": header[quarter] if quarter is not None else "(column names)",
    }
    for i, label in value_cols.items():
        if shape == "wide":
            target = _ssb.classify_variable(wide[i].group(1)) if wide[i].group(1).strip() else None
            if target:
                per = f"{wide[i].group(2)}Q{wide[i].group(3)}"
                out.setdefault(target[0], {})[per] = header[i]
        elif label is not None and _ssb.classify_variable(label):
            out[_ssb.classify_variable(label)[0]] = header[i]
        elif label is None:
            for target in ("lost_days", "contracted_days", "employees", "rate"):
                out.setdefault(target, f"{header[i]} ({header[variable]})")
    return out


_COMMA_DECIMAL = re.compile(r"^[+\-]?[\d \u00a0.]*\d,\d+$")
_POINT_DECIMAL = re.compile(r"^[+\-]?\d*\.(?:\d{1,2}|\d{4,})$")


def _guess_decimal(frame: pd.DataFrame, default: str) -> str:
    """Decimal mark of the value cells: ``5,3`` -> comma; ``5.3`` or ``5.3000`` (never a
    thousands group) and no comma decimals -> point; otherwise ``default``."""
    cells = pd.Series(frame.to_numpy().ravel(), dtype="str").str.strip()
    if cells.str.match(_COMMA_DECIMAL).any():
        return ","
    if cells.str.match(_POINT_DECIMAL).any():
        return "."
    return default


def _is_number(cell: object) -> bool:
    for decimal in (",", "."):
        try:
            parse_cell(cell, decimal=decimal)
        except NumberFormatError:
            continue
        return True
    return False


def _piece(frame, lines, region, var, period, value_col, dim_cols, header) -> pd.DataFrame:
    piece = pd.DataFrame(
        {
            "region": frame[region].astype(str),
            "period": period,
            "variable": var.astype(str),
            "value": frame[value_col],
            "_line": lines,
            "_column": header[value_col],
        }
    )
    for i in dim_cols:
        piece[header[i]] = frame[i]
    return piece
