"""KS payroll-register extracts (PAI register): aggregate and employee-level forms.

The format is fixed in docs/architecture.md ("KS payroll-register extract").  Aggregate rows
(municipality x quarter x sector) become three tidy rows each: ``self_certified`` (egenmeldt),
``doctor_certified`` (legemeldt) and ``total`` (their sum; missing if either part is).

The employee-level form (one row per employee x quarter) can hold tens of millions of rows.
It is aggregated by DuckDB (an engine made for this: streamed CSV scan and hash group-by in
native code, flat memory, all cores), in one SQL query that also counts empty, non-numeric and
negative cells per group; only when such a cell exists is the file scanned again in Python to
name its line.  DuckDB was chosen over polars (measured side by side in
``benchmarks/bench_readers.py``): polars reads a row with too few fields as empty trailing
cells and reads only UTF-8, while DuckDB's strict CSV mode refuses the short row and it reads
UTF-16 (Excel "Unicode text") natively, so the reader keeps refusing a truncated row instead
of turning it into missing days.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import _SPACES
from . import _text
from .tidy import combine_status, finish

__all__ = ["read_ks", "read_ks_employee", "KS_AGGREGATE_HEADER", "KS_EMPLOYEE_HEADER"]

KS_AGGREGATE_HEADER = [
    "Kommunenr", "Kommune", "Kvartal", "Sektor", "Antall ansatte", "Avtalte dagsverk",
    "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt",
]  # fmt: skip
KS_EMPLOYEE_HEADER = [
    "Kommunenr", "Kvartal", "Sektor", "Ansattnr", "Kjonn", "Stillingsprosent",
    "Avtalte dagsverk", "Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt",
]  # fmt: skip

_AGG_REQUIRED = {
    "code": "Kommunenr",
    "quarter": "Kvartal",
    "sector": "Sektor",
    "employees": "Antall ansatte",
    "contracted": "Avtalte dagsverk",
    "self": "Tapte dagsverk egenmeldt",
    "doctor": "Tapte dagsverk legemeldt",
}
_EMP_REQUIRED = {
    "code": "Kommunenr",
    "quarter": "Kvartal",
    "sector": "Sektor",
    "contracted": "Avtalte dagsverk",
    "self": "Tapte dagsverk egenmeldt",
    "doctor": "Tapte dagsverk legemeldt",
}
_EMP_OPTIONAL = {"sex": "Kjonn", "employee": "Ansattnr", "fte": "Stillingsprosent"}

#: Where each tidy value column comes from, for error messages (``df.attrs["source_columns"]``).
SOURCE_COLUMNS = {
    "lost_days": {
        "self_certified": "Tapte dagsverk egenmeldt",
        "doctor_certified": "Tapte dagsverk legemeldt",
        "total": "Tapte dagsverk egenmeldt + Tapte dagsverk legemeldt",
    },
    "contracted_days": "Avtalte dagsverk",
    "employees": "Antall ansatte",
    "rate": "(computed from the days)",
    "kommunenummer": "Kommunenr",
    "period": "Kvartal",
    "sector": "Sektor",
}

_SEX = {"k": "female", "kvinne": "female", "kvinner": "female", "f": "female",
        "m": "male", "mann": "male", "menn": "male",
        "alle": "all", "begge kjønn": "all"}  # fmt: skip


def is_xlsx(path: str | Path) -> bool:
    """True if the file is a zip container (xlsx), whatever its extension."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def xlsx_rows(path: str | Path) -> list[tuple[int, list[object]]]:
    """Rows of the first sheet as ``[(spreadsheet_row, values), ...]``, blank rows skipped."""
    from openpyxl import load_workbook

    # Opened as a file object: openpyxl refuses a *name* that does not end in .xlsx, but the
    # content decides (an xlsx saved as "export.csv" is still a workbook).
    fh = open(path, "rb")  # noqa: SIM115 - closed below, after the read-only workbook
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        fh.close()
        raise InputError(
            f"cannot open the workbook ({exc})", path=path, expected="an xlsx file"
        ) from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            vals = ["" if v is None else v for v in values]
            if any(str(v).strip() for v in vals):
                rows.append((i, vals))
        return rows
    finally:
        wb.close()
        fh.close()


def _table(
    path: str | Path, encoding: str | None
) -> tuple[list[object], pd.DataFrame, np.ndarray, str]:
    """Header, body (object columns) and line numbers of a KS CSV or xlsx file."""
    delimiter = ";"
    if is_xlsx(path):
        rows, enc = xlsx_rows(path), "xlsx"
    else:
        text, enc = _text.decode_located(path, encoding, ";")
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        if "\t" in first and ";" not in first:  # Excel "Unicode text": tab-separated UTF-16
            delimiter = "\t"
        rows = _text.split_delimited(text, delimiter, path=path)
    if not rows:
        raise InputError("the file is empty", path=path, expected="a header line and data rows")
    header_line, header = rows[0]
    if len(rows) == 1:
        raise InputError(
            "the file has a header but no data rows",
            path=path,
            row=header_line,
            expected="data rows",
        )
    width = len(header)
    body = []
    for line, fields in rows[1:]:
        if len(fields) != width:
            # Trailing empty cells (xlsx) are harmless; anything else is a broken row.
            if len(fields) > width and not any(str(f).strip() for f in fields[width:]):
                fields = fields[:width]
            else:
                raise InputError(
                    "wrong number of fields",
                    path=path,
                    row=line,
                    expected=f"{width} {delimiter!r}-separated fields as in the header",
                    found=len(fields),
                )
        body.append(fields)
    frame = pd.DataFrame(body, columns=range(width), dtype=object)
    lines = np.array([line for line, _ in rows[1:]], dtype=np.int64)
    return header, frame, lines, enc


def read_ks(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read a KS aggregate extract (CSV ``;`` with decimal commas, or xlsx) into the tidy table.

    One tidy row per municipality x quarter x sector x measure (``self_certified``,
    ``doctor_certified``, ``total``); ``lost_days``/``contracted_days`` in days, ``employees``
    a head count, ``rate`` in percent computed from the days.  Empty cells are ``missing``,
    ``:`` is ``confidential``.  The frame keeps ``_line`` (see :mod:`.tidy`).
    """
    header, body, lines, enc = _table(path, encoding)
    cols = _text.match_columns(header, _AGG_REQUIRED, {"name": "Kommune"}, path=path)
    name = {k: str(header[i]).replace("\ufeff", "").strip() for k, i in cols.items()}

    def num(key: str) -> tuple[pd.Series, pd.Series]:
        return _text.parse_numbers_located(body[cols[key]], lines, path=path, column=name[key])

    code = _text.codes_located(body[cols["code"]], lines, path=path, column=name["code"])
    period = _text.parse_quarters_located(
        body[cols["quarter"]], lines, path=path, column=name["quarter"]
    )
    sector = _text.sectors_located(body[cols["sector"]], lines, path=path, column=name["sector"])
    employees, _ = num("employees")
    contracted, st_c = num("contracted")
    self_days, st_s = num("self")
    doctor_days, st_d = num("doctor")
    base = pd.DataFrame(
        {
            "kommunenummer": code,
            "period": period,
            "sector": sector,
            "contracted_days": contracted,
            "employees": employees,
            "_line": lines,
        }
    )
    total = self_days + doctor_days  # NaN if either is missing
    parts = []
    for measure, lost, status in (
        ("self_certified", self_days, combine_status(st_s, st_c)),
        ("doctor_certified", doctor_days, combine_status(st_d, st_c)),
        ("total", total, combine_status(st_s, st_d, st_c)),
    ):
        status = status.where(~((status == "zero") & (lost > 0)), "ok")
        parts.append(base.assign(measure=measure, lost_days=lost, status=status))
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_line", "measure"], kind="stable")
    tidy = finish(out, f"ks:{Path(path).name}")
    notes = []
    raw_codes = body[cols["code"]].astype(str).str.strip()
    padded = int((raw_codes.str.len() < 4).sum())
    if padded:
        notes.append(
            f"{padded} municipality numbers had fewer than four digits (a spreadsheet drops the "
            "leading zero) and were padded with zeros, e.g. 101 -> 0101"
        )
    tidy.attrs.update(
        source="ks", encoding=enc, path=str(path), notes=notes, source_columns=SOURCE_COLUMNS
    )

    return tidy


# --------------------------------------------------------------------------- employee level


def read_ks_employee(
    path: str | Path,
    encoding: str | None = None,
    *,
    by_sex: bool = False,
) -> pd.DataFrame:
    """Aggregate a KS employee-level extract (one row per employee x quarter) to the tidy table.

    Sums contracted and lost days per municipality x quarter x sector (x sex if ``by_sex``;
    ``Kjonn`` ``K``/``M`` -> ``female``/``male``); ``employees`` counts rows.  A group with any
    empty day cell gets NaN for that sum and status ``missing``; a negative or non-numeric
    day cell, or a row with the wrong number of fields, is an ``InputError`` naming its line
    and column.  CSV files are aggregated by DuckDB (see module docstring); xlsx files (at
    most about a million rows) are read whole.  ``_line`` is ``<NA>``: a sum has no single line, and bad
    cells are located by a second pass over the file when an error is raised.
    """
    if is_xlsx(path):
        sums, enc = _employee_xlsx(path, by_sex)
    else:
        sums, enc = _employee_duckdb(path, encoding, by_sex)
    return _employee_tidy(sums, path, enc, by_sex)


def _employee_header(path: str | Path, encoding: str) -> tuple[list[str], int, str]:
    """The first non-blank line (streamed: the rest may be huge), its line number and the
    delimiter: ``;``, or a tab when the header has tabs and no ``;`` (Excel "Unicode text")."""
    try:
        for line_no, line in _text.iter_lines(path, encoding):
            if line.strip():
                delimiter = "\t" if "\t" in line and ";" not in line else ";"
                return next(csv.reader([line], delimiter=delimiter)), line_no, delimiter
    except UnicodeDecodeError:
        raise _undecodable(path, encoding) from None
    raise InputError("the file is empty", path=path, expected="a header line and data rows")


def _locate(
    path: str | Path, encoding: str, skip: int, test, delimiter: str = ";"
) -> tuple[int | None, list[str] | None]:
    """First ``(line, fields)`` after the header for which ``test(fields)`` is true."""
    for line_no, line in _text.iter_lines(path, encoding):
        if line_no <= skip or not line.strip():
            continue
        fields = next(csv.reader([line], delimiter=delimiter))
        if test(fields):
            return line_no, fields
    return None, None


def _employee_duckdb(
    path: str | Path, encoding: str | None, by_sex: bool
) -> tuple[pd.DataFrame, str]:
    """Group-by sums of a CSV employee-level extract in DuckDB (streamed, flat memory).

    Every cell is read as text; numbers are converted in the query (decimal comma, space
    thousands separators removed only when the fast conversion leaves cells unconverted).
    The same query counts, per group and column, the empty cells, the cells that are not
    numbers and the smallest value, so a bad or negative cell costs no second pass unless it
    exists; then the file is scanned in Python only to name its line (:func:`_locate`).
    DuckDB's strict CSV mode refuses rows with the wrong number of fields (line located the
    same way).  Encodings DuckDB reads natively (UTF-8, UTF-16) are read directly; others
    (cp1252 ...) are transcoded line by line to a temporary UTF-8 copy (line numbers kept).
    """
    import duckdb

    enc = encoding or _text.sniff_encoding(path)
    header, header_line, delim = _employee_header(path, enc)
    required = dict(_EMP_REQUIRED)
    if by_sex:
        required["sex"] = "Kjonn"
    cols = _text.match_columns(header, required, _EMP_OPTIONAL, path=path, row=header_line)
    width = len(header)
    key_names = ["code", "quarter", "sector"] + (["sex"] if by_sex else [])
    num_names = ["contracted", "self", "doctor"]
    norm = enc.replace("-", "").replace("_", "").lower()
    with contextlib.ExitStack() as stack:
        if norm in ("utf8", "utf8sig", "ascii"):
            source, duck_enc = str(path), "utf-8"
        elif norm in ("utf16", "utf16le"):
            source, duck_enc = str(path), "utf-16"
        else:
            source, duck_enc = stack.enter_context(_utf8_copy(path, enc)), "utf-8"
        con = stack.enter_context(duckdb.connect())
        numeric = {cols[k] for k in num_names}

        def scan(typed: bool) -> str:
            kinds = [("DOUBLE" if typed and i in numeric else "VARCHAR") for i in range(width)]
            columns = ", ".join(f"'c{i}': '{t}'" for i, t in enumerate(kinds))
            quoted = source.replace("'", "''")
            return (
                f"read_csv('{quoted}', delim='{delim}', header=false, skip={header_line}, "
                f"columns={{{columns}}}, quote='\"', escape='\"', strict_mode=true, "
                f"null_padding=false, auto_detect=false, encoding='{duck_enc}'"
                + (", decimal_separator=','" if typed else "")
                + ")"
            )

        def query(mode: str) -> pd.DataFrame:
            """``typed``: DuckDB parses the decimal commas itself (fast path); ``text`` and
            ``spaces``: cells read as text and converted in SQL (``spaces`` also removes
            thousands separators), counting the cells that are not numbers."""
            keys = ", ".join(f"c{cols[k]} AS {k}" for k in key_names)
            parts, values = [], []
            for k in num_names:
                if mode == "typed":
                    cell = value = f"c{cols[k]}"
                else:
                    cell = f"nullif(trim(c{cols[k]}), '')"
                    text = f"replace({cell}, ',', '.')"
                    if mode == "spaces":
                        text = f"regexp_replace({text}, '[{_SPACES}]', '', 'g')"
                    value = f"TRY_CAST({text} AS DOUBLE)"
                values.append(value)
                parts += [f"sum({value}) AS {k}", f"count({cell}) AS {k}_cells"]
                # typed: every non-empty cell is a number (else DuckDB raised)
                parts.append(f"count({value}) AS {k}_numbers" if mode != "typed" else "")
            parts.append(f"min(least({', '.join(values)})) AS low")  # negatives, any column
            parts = [x for x in parts if x]
            group = ", ".join(f"c{cols[k]}" for k in key_names)
            sql = (
                f"SELECT {keys}, {', '.join(parts)}, count(*) AS n "
                f"FROM {scan(mode == 'typed')} GROUP BY {group}"
            )
            out = con.execute(sql).df()
            for k in num_names:
                if mode == "typed":
                    out[f"{k}_numbers"] = out[f"{k}_cells"]
            return out

        try:
            sums = query("typed")
        except duckdb.Error:  # a cell DuckDB cannot parse as a number, or a malformed row
            try:
                sums = query("text")
                if any((sums[f"{k}_cells"] != sums[f"{k}_numbers"]).any() for k in num_names):
                    sums = query("spaces")
            except duckdb.Error as exc:
                raise _employee_csv_error(exc, path, enc, header_line, width, delim) from None
    sums = _merge_padded_keys(sums, key_names, num_names)
    if sums.empty:
        raise InputError(
            "the file has no data rows", path=path, expected="one row per employee and quarter"
        )
    if (sums["low"] < 0).any():
        numeric = [cols[k] for k in num_names]
        line, fields = _locate(
            path, enc, header_line, lambda f: any(_negative(f, i) for i in numeric), delim
        )
        i = next((i for i in numeric if fields and _negative(fields, i)), numeric[0])
        raise InputError(
            "days cannot be negative (they would be netted in the sums)",
            path=path,
            row=line,
            column=str(header[i]).replace("\ufeff", "").strip(),
            expected="a number >= 0",
            found=fields[i] if fields else float(sums["low"].min()),
        )
    for k in num_names:
        column = str(header[cols[k]]).replace("\ufeff", "").strip()
        if (sums[f"{k}_cells"] != sums[f"{k}_numbers"]).any():
            line, fields = _locate(
                path, enc, header_line, lambda f, i=cols[k]: _not_number(f, i), delim
            )
            raise InputError(
                "a cell is not a number",
                path=path,
                row=line,
                column=column,
                expected="a number with decimal comma, e.g. 61,5",
                found=fields[cols[k]] if fields else None,
            )
        # A group with an empty cell has no sum (as in the aggregate form: missing).
        sums.loc[sums[f"{k}_cells"] < sums["n"], k] = np.nan
    sums = sums[key_names + num_names + ["n"]].sort_values(key_names, kind="stable")
    sums = sums.reset_index(drop=True)
    sums.attrs.update(header=header, columns=cols, header_line=header_line, delimiter=delim)
    return sums, enc


def _merge_padded_keys(sums: pd.DataFrame, key_names: list, num_names: list) -> pd.DataFrame:
    """Key cells with surrounding spaces (``" 0101"``) form their own groups in the query;
    strip them and merge such groups (cheap: one row per group, not per employee)."""
    stripped = {k: sums[k].str.strip() for k in key_names}
    if all(stripped[k].equals(sums[k]) for k in key_names):
        return sums
    sums = sums.assign(**stripped)
    agg = {k: "sum" for k in num_names}
    for k in num_names:
        agg.update({f"{k}_cells": "sum", f"{k}_numbers": "sum"})
    agg.update(low="min", n="sum")
    return sums.groupby(key_names, dropna=False, sort=False, as_index=False).agg(agg)


@contextlib.contextmanager
def _utf8_copy(path: str | Path, encoding: str) -> Iterator[str]:
    """A temporary UTF-8 copy of a text file, transcoded line by line (flat memory; line
    numbers unchanged), removed afterwards."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="kvk-employee-", suffix=".csv")
    try:
        with (
            open(path, encoding=encoding, newline="") as src,
            os.fdopen(fd, "w", encoding="utf-8", newline="") as dst,
        ):
            try:
                for line in src:
                    dst.write(line)
            except UnicodeDecodeError:
                raise _undecodable(path, encoding) from None
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _employee_csv_error(exc, path, enc, header_line, width, delim) -> InputError:
    """An :class:`InputError` for a CSV DuckDB refuses: undecodable bytes or a row with the
    wrong number of fields (its line found by scanning the file)."""
    text = str(exc)
    if "unicode" in text.lower() or "utf" in text.lower() or "decode" in text.lower():
        return _undecodable(path, enc)
    line, fields = _locate(path, enc, header_line, lambda f: len(f) != width, delim)
    first = next((ln for ln in text.splitlines() if ln.strip()), text)
    return InputError(
        f"malformed row ({first.strip()})",
        path=path,
        row=line,
        expected=f"{width} {delim!r}-separated fields as in the header",
        found=len(fields) if fields is not None else None,
    )


def _not_number(fields: list[str], col_index: int) -> bool:
    try:
        _cell_number(fields, col_index)
    except ValueError:
        return True
    return False


def _negative(fields: list[str], col_index: int) -> bool:
    try:
        value = _cell_number(fields, col_index)
    except ValueError:
        return False
    return value is not None and value < 0


def _undecodable(path: str | Path, enc: str) -> InputError:
    """Find the first line that does not decode, streaming the raw bytes."""
    with open(path, "rb") as fh:
        offset = 0
        for raw_line in fh:
            try:
                raw_line.decode(enc)
            except UnicodeDecodeError as exc:
                fh.seek(0)
                head = fh.read(offset + len(raw_line))
                shifted = UnicodeDecodeError(
                    exc.encoding, exc.object, offset + exc.start, offset + exc.end, exc.reason
                )
                return _text.undecodable_error(path, head, shifted, enc, ";")
            offset += len(raw_line)
    return InputError(f"cannot decode the file as {enc}", path=path, expected=f"text in {enc}")


def _cell_number(fields: list[str], col_index: int) -> float | None:
    """The number in one cell as the DuckDB query reads it (``None`` if empty); ValueError if
    it is not a number."""
    s = fields[col_index].strip().replace(",", ".") if len(fields) > col_index else ""
    for sp in _SPACES:
        s = s.replace(sp, "")
    return float(s) if s else None


def _employee_xlsx(path: str | Path, by_sex: bool) -> tuple[pd.DataFrame, str]:
    header, body, lines, _ = _table(path, None)
    required = dict(_EMP_REQUIRED)
    if by_sex:
        required["sex"] = "Kjonn"
    cols = _text.match_columns(header, required, _EMP_OPTIONAL, path=path)
    key_names = ["code", "quarter", "sector"] + (["sex"] if by_sex else [])
    frame = pd.DataFrame({k: body[cols[k]].astype(str).str.strip() for k in key_names})
    for k in ["contracted", "self", "doctor"]:
        frame[k], _ = _text.parse_numbers_located(
            body[cols[k]], lines, path=path, column=str(header[cols[k]])
        )
        negative = np.flatnonzero((frame[k] < 0).to_numpy())
        if len(negative):
            i = int(negative[0])
            raise InputError(
                "days cannot be negative (they would be netted in the sums)",
                path=path,
                row=int(lines[i]),
                column=str(header[cols[k]]),
                expected="a number >= 0",
                found=body[cols[k]].iloc[i],
            )
    frame["_line"] = lines
    g = frame.groupby(key_names, sort=True)
    sums = g[["contracted", "self", "doctor"]].sum(min_count=1)
    for k in ["contracted", "self", "doctor"]:
        sums.loc[g[k].count() < g.size(), k] = np.nan
    sums["n"] = g.size()
    sums = sums.reset_index()
    first_line = g["_line"].min().reset_index(drop=True)
    sums.attrs.update(header=header, columns=cols, header_line=1, first_line=first_line.to_numpy())
    return sums, "xlsx"


def _employee_tidy(sums: pd.DataFrame, path: str | Path, enc: str, by_sex: bool) -> pd.DataFrame:
    header, cols = sums.attrs["header"], sums.attrs["columns"]
    header_line = sums.attrs["header_line"]
    first = sums.attrs.get("first_line")

    def where(key: str, value: object) -> np.ndarray:
        """Line numbers for label errors: from the xlsx rows, or by rescanning the CSV."""
        if first is not None:
            return first
        target = "" if value is None or pd.isna(value) else str(value)  # empty cell -> null key
        line, _ = _locate(
            path, enc, header_line,
            lambda f: len(f) > cols[key] and f[cols[key]].strip() == target,
            sums.attrs.get("delimiter", ";"),
        )  # fmt: skip
        return np.full(len(sums), line if line is not None else pd.NA, dtype=object)

    def located(key: str, fn):
        try:
            return fn(sums[key], np.full(len(sums), pd.NA, dtype=object))
        except InputError as exc:
            lines = where(key, exc.found)
            return fn(sums[key], lines)

    name = {k: str(header[i]).replace("\ufeff", "").strip() for k, i in cols.items()}
    code = located("code", lambda s, ln: _text.codes_located(s, ln, path=path, column=name["code"]))
    period = located(
        "quarter",
        lambda s, ln: _text.parse_quarters_located(s, ln, path=path, column=name["quarter"]),
    )
    sector = located(
        "sector", lambda s, ln: _text.sectors_located(s, ln, path=path, column=name["sector"])
    )
    base = pd.DataFrame(
        {
            "kommunenummer": code,
            "period": period,
            "sector": sector,
            "contracted_days": sums["contracted"].astype(float),
            "employees": sums["n"].astype(float),
        }
    )
    if by_sex:
        base["sex"] = located(
            "sex",
            lambda s, ln: _text.map_labels_located(
                s, ln, lambda v: _SEX.get(str(v).strip().lower()), path=path, column=name["sex"],
                expected="K or M (kvinne/mann)",
            ),
        )  # fmt: skip
    st_c = pd.Series(np.where(base["contracted_days"].isna(), "missing", "ok"), dtype="str")
    self_days = sums["self"].astype(float)
    doctor_days = sums["doctor"].astype(float)
    parts = []
    for measure, lost in (
        ("self_certified", self_days),
        ("doctor_certified", doctor_days),
        ("total", self_days + doctor_days),
    ):
        st = pd.Series(np.where(lost.isna(), "missing", "ok"), dtype="str")
        parts.append(base.assign(measure=measure, lost_days=lost, status=combine_status(st, st_c)))
    out = pd.concat(parts, ignore_index=True)
    keys = ["kommunenummer", "period", "sector"] + (["sex"] if by_sex else []) + ["measure"]
    out = out.sort_values(keys, kind="stable")
    tidy = finish(out, f"ks-employee:{Path(path).name}")
    notes = [
        f"aggregated {int(sums['n'].sum()):,} employee rows into {len(sums):,} groups"
        " (employees = rows per group)"
    ]
    missing = int(sums[["contracted", "self", "doctor"]].isna().any(axis=1).sum())
    if missing:
        notes.append(f"{missing} groups have an empty day cell and are missing")
    tidy.attrs.update(
        source="ks-employee",
        encoding=enc,
        path=str(path),
        notes=notes,
        source_columns={**SOURCE_COLUMNS, "employees": "(rows per group)"},
    )
    return tidy
