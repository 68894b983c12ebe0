"""KS payroll-register extracts (PAI register): aggregate and employee-level forms.

The format is fixed in docs/architecture.md ("KS payroll-register extract").  Aggregate rows
(municipality x quarter x sector) become three tidy rows each: ``self_certified`` (egenmeldt),
``doctor_certified`` (legemeldt) and ``total`` (their sum; missing if either part is).

The employee-level form (one row per employee x quarter) can hold tens of millions of rows.
It is aggregated by polars (an engine made for this: streamed CSV scan and hash group-by in
native code, flat memory, all cores) in one lazy query that parses what polars used directly
parses and computes per group only the three day sums and the row count: the checks ride on
the sums (an empty cell makes its sum ``+inf``, a negative or non-finite cell or a surplus
field ``NaN``), so only a file with such a cell or row is read again, to name its line
(details in :func:`_employee_polars`).  The keys are read as categoricals with their own
categories and grouped as one packed 64-bit key, which polars groups faster than the key
columns (:func:`_fast_sums`).  The tidy table is built straight from polars' small group
table (one row per municipality x quarter x sector) with numpy and Arrow buffers, each
distinct label parsed once (:func:`_employee_tidy_fast`).

Engine: polars rather than DuckDB, measured side by side in ``benchmarks/bench_readers.py``
(same files, same sums checked first, interleaved, best of N, each run in its own process,
2 threads each).  polars used directly was faster than DuckDB used directly in quiet runs,
and the checks a reader owes its user cost DuckDB more: its strict CSV mode (which refuses a
row with the wrong number of fields for free) plus per-group counts made the DuckDB query
about 1.3x slower than plain polars, while in polars they cost a few cheap arithmetic
kernels per day column and one sentinel column, paid back by reading the keys as
categoricals (hashed once per distinct label) and grouping one packed key.  The streaming engine, as for polars used
directly (its in-memory engine took twice as long at 8M rows and holds the whole file).
polars' price is that it reads a row with too few fields as empty trailing cells and (with
unused columns pruned) drops surplus fields silently; both are still true in polars 2.1 and
are detected cheaply (the sentinel column past the header's width, and a field-count pass
over the raw lines only when the last column has empty cells).  A non-empty surplus field
after an *empty* one (``...;2,0;;7``) leaves the sentinel empty, as the accepted trailing
``;`` does: it is refused on the first and the last data row (where an extract wider than
its header shows), not detected on the rows between.  polars reads only UTF-8 with LF line
ends, so other encodings and bare-CR line ends go through a transcoded temporary copy.

Measured on a 2-core machine shared with other jobs (best of 5-15 interleaved runs, each in
its own process, load averages 1.2-5.5; docs/architecture.md has the runs): against polars
used directly kvk took 0.99-1.01x the wall time (level within the noise) and 0.93-0.97x the
CPU seconds at 2M rows, 0.97-0.99x / 0.93-0.98x at 8M and 0.93x / 0.98x at 30M rows, and
0.7-0.85x DuckDB's; before the packed key and the numpy/Arrow tidy table, 2M rows took
0.96-1.13x polars' wall time (CPU 1.00-1.05x).  What kvk adds to a polars query is now about
20 ms of one thread per call (most of it the 12 MB tidy table) and the checks; the
categorical keys and the packed key pay for both against polars with string keys, not quite
against polars with categorical keys and no checks (kvk 1.02-1.04x its CPU seconds).
Memory is bounded: about 340 MB above the imports at 8M and at 30M rows (polars' CSV
buffers), not proportional to the file.

A national register, 500,000 employees x 40 quarters = 20 million rows, is about 0.9 GB of
CSV (45 bytes/row measured); at the measured 2.9-8.3 million rows/s (the least under a load
average of 4.5) that is 2.5-7 s here in the same bounded memory.  Beyond one machine, the sums and
counts add up across partitions: partition the extract by year or county (Parquet, read out
of core by polars or DuckDB), aggregate each, add the group tables; a distributed engine only
for hundreds of GB.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import _SPACES
from ..periods import parse_quarter
from . import _text
from .tidy import combine_status, finish, sector_code

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
    and column (surplus fields that are all empty, as a trailing ``;``, are ignored).  CSV files
    are aggregated by polars, streamed (see module docstring); xlsx files (at most about a
    million rows) are read whole.  ``_line`` is ``<NA>``: a sum has no single line, and bad
    cells are located by a second pass over the file when an error is raised.
    """
    if is_xlsx(path):
        sums, enc = _employee_xlsx(path, by_sex)
        return _employee_tidy(sums, path, enc, by_sex)
    return _employee_polars(path, encoding, by_sex)


def _employee_header(path: str | Path, encoding: str) -> tuple[list[str], int, str, int, str]:
    """The first non-blank line (streamed: the rest may be huge), its line number, the
    delimiter (``;``, or a tab when the header has tabs and no ``;``: Excel "Unicode text"),
    the number of the last line before the first data row (blank lines after the header
    skipped, since polars takes the file's width from its first row) and that first data
    row; that number is the last line of the file when no data row follows."""
    header, header_line, delimiter = None, 0, ";"
    try:
        for line_no, line in _text.iter_lines(path, encoding):
            if not line.strip():
                continue
            if header is not None:
                return header, header_line, delimiter, line_no - 1, line
            delimiter = "\t" if "\t" in line and ";" not in line else ";"
            header, header_line = next(csv.reader([line], delimiter=delimiter)), line_no
    except UnicodeDecodeError:
        raise _undecodable(path, encoding) from None
    if header is None:
        raise InputError("the file is empty", path=path, expected="a header line and data rows")
    raise InputError(
        "the file has no data rows", path=path, expected="one row per employee and quarter"
    )


def _cr_only(path: str | Path) -> bool:
    """True if the file's lines end in a bare CR (classic Mac OS): polars splits lines at
    LF only and would see a single line.  Judged from the first 64 kB (any encoding: CR and
    LF keep their byte in UTF-16/32)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    return b"\r" in head and b"\n" not in head


def _surplus_fields(line: str, width: int, delim: str) -> int | None:
    """The number of fields of a data line with a non-empty field past ``width`` (the rule
    of :func:`_bad_width`), else ``None`` (also for a line with a quote, which may be part
    of a record spanning lines: those are left to the full checks)."""
    if '"' in line:
        return None
    fields = line.split(delim)
    return len(fields) if any(fields[width:]) else None


def _last_line(source: str) -> str:
    """The last non-blank line of a UTF-8 file (read from its end: one small read)."""
    with open(source, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - (1 << 16)))
        tail = fh.read().decode("utf-8", errors="replace")
    lines = [ln for ln in tail.split("\n") if ln.strip()]
    return lines[-1].rstrip("\r") if len(lines) > 1 else ""


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


def _employee_polars(path: str | Path, encoding: str | None, by_sex: bool) -> pd.DataFrame:
    """The tidy table of a CSV employee-level extract, aggregated by polars (streaming engine,
    flat memory).

    Fast path (:func:`_fast_sums`): one query that parses what polars used directly parses
    (keys, as categoricals, each with its own categories; the three day columns as
    decimal-comma doubles), groups by one 64-bit key packed from the keys' codes and
    computes per group only the three sums and the row count.  The checks ride on the
    sums: each day value is summed as ``x + 0 * sqrt(x)`` with an empty cell filled with
    ``+inf`` afterwards, so a clean cell adds itself, a negative or non-finite cell
    (``NaN``, ``±inf``) adds ``NaN`` and an empty cell ``+inf``; a finite sum is a clean
    group, ``+inf`` a group with an empty cell (missing, as in the aggregate form) and
    ``NaN`` a group with a bad cell.  A surplus field makes one day value ``NaN`` too (see
    below).  Only when a sum is ``NaN``, or a cell does not parse at all, is the query rerun
    with every cell read as text and converted in the query (decimal comma; ``spaces``:
    thousands separators removed too), counting empty and non-number cells and the smallest
    value, and the bad line then found by scanning the file (:func:`_locate`).

    Rows with the wrong number of fields: polars reads a row with too few fields as empty
    trailing cells, and with the columns it does not need pruned it drops surplus fields
    silently (still so in polars 2.1; it refuses them only when every column is read, which
    costs more than the check).  So the schema has one sentinel column past the header's
    width, read as Boolean (empty in a good row: the cheapest to parse), and a day value is
    made ``NaN`` where it has a cell (a surplus cell that is no Boolean fails the fast path);
    a short row leaves the last column empty, so only if that column has empty cells is the
    file checked for its field counts (:func:`_bad_width`, one polars pass over the raw
    lines).  Blank lines become rows whose cells are all empty; they are dropped (as a CSV
    reader skips them) when that check counts exactly as many blank lines.  A non-empty
    surplus field after an empty one (``;2,0;;7``) leaves the sentinel empty: it is refused
    on the first and the last data row (where an extract wider than its header shows: the
    first row is read with the header anyway, the last one with one small read from the
    end), not on the rows between.  UTF-8 is read directly; other encodings (cp1252,
    UTF-16 ...) and lines ending in a bare CR (classic Mac OS; polars splits at LF only)
    through a temporary UTF-8 copy with LF (line numbers kept).  Threads: polars' pool
    (``POLARS_MAX_THREADS``, default all cores).
    """
    import polars as pl

    enc = encoding or _text.sniff_encoding(path)
    header, header_line, delim, skip, first_row = _employee_header(path, enc)
    required = dict(_EMP_REQUIRED)
    if by_sex:
        required["sex"] = "Kjonn"
    cols = _text.match_columns(header, required, _EMP_OPTIONAL, path=path, row=header_line)
    width = len(header)
    key_names = ["code", "quarter", "sector"] + (["sex"] if by_sex else [])
    num_names = ["contracted", "self", "doctor"]
    numeric = {cols[k] for k in num_names}
    last = width - 1
    norm = enc.replace("-", "").replace("_", "").lower()
    where = _Where(path, enc, header_line, cols, delim)
    # A surplus field after an empty one (";2,0;;7") escapes the sentinel below: checked on
    # the first data row here and on the last one after the query (no cost measurable)
    found = _surplus_fields(first_row, width, delim)
    if found is not None:
        raise _wrong_width(path, skip + 1, found, width, delim)
    with contextlib.ExitStack() as stack:
        cr_only = _cr_only(path)
        if norm in ("utf8", "utf8sig", "ascii") and not cr_only:
            source = str(path)
        else:
            source = stack.enter_context(_utf8_copy(path, enc, cr_only=cr_only))

        # extra_columns="ignore": polars takes the width of the first data row as the file's
        # and refused a first row with two or more empty surplus fields (";;"), which every
        # other row may have; a non-empty surplus field on that row is refused above
        def scan(schema: dict, typed: bool):
            return pl.scan_csv(
                source, separator=delim, has_header=False, skip_lines=skip, schema=schema,
                quote_char='"', decimal_comma=typed, raise_if_empty=False,
                missing_columns="insert", extra_columns="ignore",
            )  # fmt: skip

        keys = [pl.col(f"c{cols[k]}").alias(k) for k in key_names]
        try:
            groups = _fast_sums(scan, cols, width, key_names, num_names)
        except pl.exceptions.PolarsError:  # a cell that is not a number, or a malformed row
            groups = None
        if groups is not None:
            last_empty = (
                bool((groups.sums[next(k for k in num_names if cols[k] == last)] == math.inf).any())
                if last in numeric
                else groups.last_empty > 0
            )
            if last_empty:  # an empty last cell, a blank line or a row with too few fields
                line, found, blank_lines = _bad_width(source, path, enc, skip, width, delim)
                if line is not None:
                    raise _wrong_width(path, line, found, width, delim)
                blank = np.logical_and.reduce([groups.null(k) for k in key_names])
                if groups.n[blank].sum() == blank_lines:
                    groups = groups.select(~blank)
            if not len(groups.n):
                raise InputError(
                    "the file has no data rows",
                    path=path,
                    expected="one row per employee and quarter",
                )
            if _surplus_fields(_last_line(source), width, delim) is not None:
                line, found, _ = _bad_width(source, path, enc, skip, width, delim)
                if line is not None:
                    raise _wrong_width(path, line, found, width, delim)
            tidy = _employee_tidy_fast(groups, key_names, num_names, path, enc, header, cols, where)
            if tidy is not None:
                return tidy
            # labels with surrounding spaces, or two labels for one key: the general path
            sums = groups.frame(key_names, num_names)
            sums = _merge_padded_keys(sums, key_names, num_names)
            for k in num_names:  # +inf: a group with an empty cell (kept so by the merge)
                sums.loc[sums[k] == math.inf, k] = np.nan
        else:
            sums = _text_sums(pl, scan, keys, path, enc, skip, width, delim, source, cols,
                              header, key_names, num_names)  # fmt: skip
    sums = sums[key_names + num_names + ["n"]].reset_index(drop=True)
    sums.attrs.update(header=header, columns=cols, header_line=header_line, delimiter=delim)
    return _employee_tidy(sums, path, enc, by_sex)


class _Groups(NamedTuple):
    """Polars' group table as numpy arrays: per key the label code of each group (an index
    into ``labels[key]``, whose last entry is ``None``: an empty key cell), the raw day sums
    (``+inf``: a group with an empty cell), the row counts and the empty cells of the last
    column (when it is no day column)."""

    codes: dict
    labels: dict
    sums: dict
    n: np.ndarray
    last_empty: int

    def null(self, key: str) -> np.ndarray:
        return self.codes[key] == len(self.labels[key]) - 1

    def select(self, mask: np.ndarray) -> _Groups:
        return self._replace(
            codes={k: c[mask] for k, c in self.codes.items()},
            sums={k: s[mask] for k, s in self.sums.items()},
            n=self.n[mask],
        )

    def frame(self, key_names: list, num_names: list) -> pd.DataFrame:
        """A pandas group table with the raw labels, sorted by them (nulls last)."""
        data = {k: np.array(self.labels[k], dtype=object)[self.codes[k]] for k in key_names}
        data.update({k: self.sums[k] for k in num_names}, n=self.n)
        out = pd.DataFrame(data)
        return out.sort_values(key_names, na_position="last", kind="stable").reset_index(drop=True)


def _fast_sums(scan, cols: dict, width: int, key_names: list, num_names: list) -> _Groups | None:
    """The fast query (see :func:`_employee_polars`): the flagged day sums and ``n`` per
    group (and the empty cells of the last column if it is no day column), or ``None`` if a
    sum is ``NaN`` (a bad cell or a surplus field).

    Each key column is read as a categorical with its own, new set of categories: a label's
    physical code is then its index in that set (0, 1, ... in the order met), so the labels
    come back as one short list per key, and the process-wide categories of polars do not
    grow with every file read.  The group key is the key codes packed into one 64-bit
    integer (fields of ``64 // keys`` bits; an empty key cell the all-ones field), which
    polars groups faster than the separate key columns; should a key have more distinct
    labels than its field holds (millions: no valid extract), the key columns are grouped
    as they are."""
    import polars as pl

    numeric = {cols[k] for k in num_names}
    categories = {k: pl.Categories.random() for k in key_names}
    schema = {f"c{i}": pl.Float64 if i in numeric else pl.String for i in range(width)}
    for k in key_names:
        schema[f"c{cols[k]}"] = pl.Categorical(categories[k])
    schema[f"c{width}"] = pl.Boolean  # the sentinel for surplus fields
    aggs = []
    for k in num_names:
        x = pl.col(f"c{cols[k]}")
        value = (x + 0.0 * x.sqrt()).fill_null(math.inf)
        if k == num_names[-1]:
            value = pl.when(pl.col(f"c{width}").is_null()).then(value).otherwise(math.nan)
        aggs.append(value.sum().alias(k))
    last = width - 1
    if last not in numeric:
        aggs.append(pl.col(f"c{last}").null_count().alias("last_empty"))
    aggs.append(pl.len().alias("n"))
    bits = 64 // len(key_names)
    empty = (1 << bits) - 1  # the field of an empty key cell
    physical = [pl.col(f"c{cols[k]}").to_physical().cast(pl.UInt64) for k in key_names]
    packed = physical[0].fill_null(empty)
    for p in physical[1:]:
        packed = packed * (1 << bits) + p.fill_null(empty)
    # polars keeps a set of categories only while data of its type exists (documented,
    # with this way to keep it): the labels are read after the query
    keep = [pl.Series([], dtype=pl.Categorical(c)) for c in categories.values()]  # noqa: F841
    groups = scan(schema, True).group_by(packed.alias("key")).agg(aggs).collect(engine="streaming")
    labels = {k: list(categories[k]) for k in key_names}
    packed = groups["key"].to_numpy()
    codes, complete = {}, True
    for j, k in enumerate(reversed(key_names)):
        code = ((packed >> np.uint64(bits * j)) & np.uint64(empty)).astype(np.intp)
        null = code == empty
        # a label for every code, and no code that packing could have cut
        complete &= len(labels[k]) < empty and None not in labels[k]
        complete &= bool(code[~null].max(initial=-1) < len(labels[k]))
        code[null] = len(labels[k])
        codes[k] = code
    if not complete:
        groups = (
            scan(schema, True)
            .group_by([pl.col(f"c{cols[k]}").alias(k) for k in key_names])
            .agg(aggs)
            .collect(engine="streaming")
        )
        for k in key_names:
            codes[k], labels[k] = _label_codes(groups[k])
    sums = {k: groups[k].to_numpy() for k in num_names}
    if any(np.isnan(s).any() for s in sums.values()):
        return None
    for k in key_names:
        labels[k] = [*labels[k], None]
    last_empty = int(groups["last_empty"].sum()) if "last_empty" in groups.columns else 0
    return _Groups(codes, labels, sums, groups["n"].to_numpy().astype(np.int64), last_empty)


def _label_codes(column) -> tuple[np.ndarray, list]:
    """``(codes, labels)`` of a categorical polars column: each row's index into its
    distinct labels (in order of first appearance; an empty cell: ``len(labels)``)."""
    import polars as pl

    physical = column.to_physical().to_numpy()  # float with NaN if there are nulls
    codes, _ = pd.factorize(physical, use_na_sentinel=True)
    rows = np.flatnonzero(codes >= 0)
    first = np.zeros(int(codes.max()) + 1, np.intp)  # first row of each label
    first[codes[rows][::-1]] = rows[::-1]
    labels = column.gather(first).cast(pl.String).to_list()
    codes = codes.astype(np.intp)
    codes[codes < 0] = len(labels)
    return codes, labels


def _text_sums(pl, scan, keys, path, enc, skip, width, delim, source, cols, header,
               key_names, num_names) -> pd.DataFrame:  # fmt: skip
    """Group sums with every cell read as text and checked (the path of a file with a bad
    cell or row, or one polars cannot parse as typed): raises the located error, or returns
    the sums (pandas, string keys sorted, ``NaN`` for a group with an empty cell)."""
    last = width - 1

    def query(mode: str) -> pd.DataFrame:
        """``text`` and ``spaces``: cells read as text and converted in the query
        (``spaces`` also removes thousands separators), counting the cells that are not
        numbers."""
        schema = {
            f"c{i}": pl.Categorical if i in {cols[k] for k in key_names} else pl.String
            for i in range(width + 1)
        }
        values, aggs = [], []
        for k in num_names:
            text = pl.col(f"c{cols[k]}").str.strip_chars()
            cell = pl.when(text.str.len_bytes() > 0).then(text)
            text = cell.str.replace_all(",", ".", literal=True)
            if mode == "spaces":
                text = text.str.replace_all(f"[{_SPACES}]", "")
            value = text.cast(pl.Float64, strict=False)
            value = pl.when(value.is_finite()).then(value)  # inf, nan: not numbers
            values.append(value)
            aggs += [
                value.sum().alias(k),
                cell.count().alias(f"{k}_cells"),
                value.count().alias(f"{k}_numbers"),
            ]
        aggs += [
            pl.min_horizontal(values).min().alias("low"),
            pl.col(f"c{last}").null_count().alias("last_empty"),
            pl.col(f"c{width}").count().alias("surplus"),
            pl.len().alias("n"),
        ]
        return (
            scan(schema, False)
            .group_by(keys)
            .agg(aggs)
            .with_columns(pl.col(key_names).cast(pl.String))
            .sort(key_names, nulls_last=True, maintain_order=True)
            .collect(engine="streaming")
            .to_pandas()
        )

    try:
        sums = query("text")
        if any((sums[f"{k}_cells"] != sums[f"{k}_numbers"]).any() for k in num_names):
            sums = query("spaces")
    except pl.exceptions.PolarsError as exc:
        raise _employee_csv_error(exc, path, enc, skip, width, delim) from None
    if (sums["last_empty"] > 0).any() or (sums["surplus"] > 0).any():
        # An empty last cell, a blank line or a row with too few or too many fields.
        line, found, blank_lines = _bad_width(source, path, enc, skip, width, delim)
        if line is not None:
            raise _wrong_width(path, line, found, width, delim)
        blank = sums[key_names].isna().all(axis=1)
        if blank.any() and int(sums.loc[blank, "n"].sum()) == blank_lines:
            sums = sums[~blank]
    sums = _merge_padded_keys(
        sums.drop(columns=["last_empty", "surplus"]).reset_index(drop=True), key_names, num_names
    )
    if sums.empty:
        raise InputError(
            "the file has no data rows", path=path, expected="one row per employee and quarter"
        )
    if (sums["low"] < 0).any():
        positions = [cols[k] for k in num_names]
        line, fields = _locate(
            path, enc, skip, lambda f: any(_negative(f, i) for i in positions), delim
        )
        # None: the flag came from a non-finite cell ("nan"), found below
        if fields is not None:
            i = next(i for i in positions if _negative(fields, i))
            raise InputError(
                "days cannot be negative (they would be netted in the sums)",
                path=path,
                row=line,
                column=str(header[i]).replace("\ufeff", "").strip(),
                expected="a number >= 0",
                found=fields[i],
            )
    for k in num_names:
        column = str(header[cols[k]]).replace("\ufeff", "").strip()
        if (sums[f"{k}_cells"] != sums[f"{k}_numbers"]).any():
            line, fields = _locate(path, enc, skip, lambda f, i=cols[k]: _not_number(f, i), delim)
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
    return sums


class _Where:
    """Line of the first row whose ``key`` cell is ``value``: for a label error in a CSV
    extract, found by scanning the file (a sum has no single line)."""

    def __init__(self, path, enc: str, header_line: int, cols: dict, delim: str) -> None:
        self.path, self.enc, self.header_line = path, enc, header_line
        self.cols, self.delim = cols, delim

    def __call__(self, key: str, value: object) -> int | None:
        target = "" if value is None or pd.isna(value) else str(value)  # empty cell -> null key
        i = self.cols[key]
        line, _ = _locate(
            self.path, self.enc, self.header_line,
            lambda f: len(f) > i and f[i].strip() == target, self.delim,
        )  # fmt: skip
        return line


def _key_parsers(header: list, cols: dict, path: str | Path) -> dict:
    """Per key, ``fn(labels, lines)`` -> parsed labels (codes, periods, sector and sex codes),
    raising a located :class:`InputError` for a label it does not know."""
    name = {k: str(header[i]).replace("\ufeff", "").strip() for k, i in cols.items()}
    return {
        "code": lambda s, ln: _text.codes_located(s, ln, path=path, column=name["code"]),
        "quarter": lambda s, ln: _text.parse_quarters_located(
            s, ln, path=path, column=name["quarter"]
        ),
        "sector": lambda s, ln: _text.sectors_located(s, ln, path=path, column=name["sector"]),
        "sex": lambda s, ln: _text.map_labels_located(
            s,
            ln,
            lambda v: _SEX.get(str(v).strip().lower()),
            path=path,
            column=name.get("sex", "Kjonn"),
            expected="K or M (kvinne/mann)",
        ),  # fmt: skip
    }


def _parse_label(key: str, label: object) -> object:
    """One key label as the located parsers read it (``None`` if they would refuse it)."""
    if key == "code":
        return _text.municipality_code(label)
    if key == "sector":
        return sector_code(label)
    if key == "sex":
        return _SEX.get(str(label).strip().lower())
    try:
        return parse_quarter(str(label).strip())
    except ValueError:
        return None


def _parse_labels(key: str, labels: pd.Series, fn, where) -> pd.Series:
    """``fn`` applied to distinct labels without lines; on an error, again with the line of
    the offending label (``where(key, label)``) so that the error names it."""
    try:
        return fn(labels, np.full(len(labels), pd.NA, dtype=object))
    except InputError as exc:
        line = where(key, exc.found)
        return fn(labels, np.full(len(labels), pd.NA if line is None else line, dtype=object))


def _employee_tidy_fast(
    groups: _Groups, key_names: list, num_names: list, path, enc: str, header: list, cols: dict,
    where,
) -> pd.DataFrame | None:  # fmt: skip
    """The tidy table straight from polars' group table, in the tidy table's dtypes and
    order (the same frame :func:`_employee_tidy` and :func:`.tidy.finish` build, without
    converting 100,000s of cells through pandas): each key's distinct labels (few) are
    parsed once, the groups sorted by one integer key made of the labels' ranks, and the
    columns built with numpy and Arrow buffers (:func:`_str_take`, :func:`_str_tile`).
    ``None`` when a label has surrounding spaces or two labels map to one key (``"101"``,
    ``"0101"``): the general path handles those."""
    n_groups = len(groups.n)
    labels, codes = {}, {}
    for k in key_names:
        code, labels[k] = groups.codes[k], groups.labels[k]
        present = np.zeros(len(labels[k]), bool)
        present[code] = True
        if not present.all():  # only the labels of the groups left (blank lines dropped)
            remap = np.cumsum(present) - 1
            code = remap[code]
            labels[k] = [v for v, p in zip(labels[k], present, strict=True) if p]
        codes[k] = code
        if any(isinstance(v, str) and v != v.strip() for v in labels[k]):
            return None
    parsers = None
    parsed, key = {}, np.zeros(n_groups, np.int64)
    for k in key_names:
        values = [_parse_label(k, v) for v in labels[k]]  # plain Python: a few labels
        if any(v is None for v in values):  # an unknown label: the located error
            parsers = parsers or _key_parsers(header, cols, path)
            _parse_labels(k, pd.Series(labels[k], dtype=object), parsers[k], where)
        if len(set(values)) < len(values):
            return None
        parsed[k] = [v.ordinal for v in values] if k == "quarter" else values
        rank = np.empty(len(values), np.int64)
        rank[sorted(range(len(values)), key=parsed[k].__getitem__)] = np.arange(len(values))
        key = key * len(values) + rank[codes[k]]  # unique: distinct labels per key (above)
    # by code, quarter, sector (, sex): the tidy order; a product of the label counts, so
    # at most about 10,000 codes x 400 quarters x 4 sectors x 3 sexes: no int64 overflow
    order = np.argsort(key)
    size = 3 * n_groups
    rows = np.repeat(order, 3)
    sums = {}
    for k in num_names:
        s = groups.sums[k].astype(float, copy=True)
        s[s == math.inf] = np.nan  # a group with an empty cell: missing
        sums[k] = s
    lost = np.empty((n_groups, 3))
    np.take(sums["doctor"], order, out=lost[:, 0])
    np.take(sums["self"], order, out=lost[:, 1])
    np.add(lost[:, 0], lost[:, 1], out=lost[:, 2])
    lost = lost.ravel()
    contracted = sums["contracted"][rows]
    with np.errstate(divide="ignore", invalid="ignore"):  # as tidy.rate_from_days
        rate = np.divide(lost, contracted)
        rate *= 100.0
    rate[~np.isfinite(rate)] = np.nan
    n = groups.n
    data = {}
    data["kommunenummer"] = _str_take(parsed["code"], codes["code"][rows])
    quarters = np.array(parsed["quarter"], np.int64)[codes["quarter"][rows]]
    data["period"] = pd.arrays.PeriodArray(quarters, dtype=pd.PeriodDtype("Q-DEC"))
    data["sector"] = _str_take(parsed["sector"], codes["sector"][rows])
    data["measure"] = _str_tile(["doctor_certified", "self_certified", "total"], n_groups)
    if "sex" in parsed:
        data["sex"] = _str_take(parsed["sex"], codes["sex"][rows])
    data.update(lost_days=lost, contracted_days=contracted, employees=n.astype(float)[rows])
    data["rate"] = rate
    missing = np.isnan(lost) | np.isnan(contracted)
    if missing.any():
        data["status"] = _str_take(["ok", "missing"], missing.view(np.int8))
    else:
        data["status"] = _str_tile(["ok"], size)
    data["source"] = _str_tile([f"ks-employee:{Path(path).name}"], size)
    data["_line"] = pd.arrays.IntegerArray(np.zeros(size, np.int64), np.ones(size, bool))
    # copy=False: the arrays are new and the frame's own (no copy into one float block);
    # the column names set as an Arrow str array (from a list, pandas would convert them
    # through pyarrow's pandas shim, a few ms to load in a fresh process)
    tidy = pd.DataFrame(dict(enumerate(data.values())), copy=False)
    tidy.columns = pd.Index(_str_tile(list(data), 1))
    n_missing = int((np.isnan(sums["contracted"]) | np.isnan(sums["self"])
                     | np.isnan(sums["doctor"])).sum())  # fmt: skip
    _employee_attrs(tidy, path, enc, int(n.sum()), n_groups, n_missing)
    return tidy


#: The tidy table's string dtype (pandas' ``"str"``: Arrow ``large_string`` storage).
_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _arrow_strings(data: bytes, offsets: np.ndarray):
    """An Arrow ``large_string`` array from UTF-8 bytes and int64 offsets (the storage of
    pandas' ``str`` dtype; built from buffers, no per-cell Python objects)."""
    import pyarrow as pa

    return pa.Array.from_buffers(
        pa.large_string(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _str_labels(labels: list[str]) -> tuple[bytes, np.ndarray]:
    encoded = [s.encode("utf-8") for s in labels]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return b"".join(encoded), offsets


def _str_take(labels: list[str], idx: np.ndarray):
    """``labels[idx]`` as a pandas ``str`` array (few labels, many rows)."""
    if pd.api.types.pandas_dtype("str") != _STR:  # pandas without Arrow strings
        return pd.array(labels, dtype="str").take(idx)
    import pyarrow as pa

    idx = np.ascontiguousarray(idx, dtype=np.int64)
    # indices from their buffer: pa.array(numpy) would first load pyarrow's pandas shim
    indices = pa.Array.from_buffers(pa.int64(), len(idx), [None, pa.py_buffer(idx)])
    return pd.arrays.ArrowStringArray(
        _arrow_strings(*_str_labels(labels)).take(indices), dtype=_STR
    )


def _str_tile(labels: list[str], reps: int):
    """``labels`` repeated ``reps`` times (``[a, b, a, b, ...]``) as a pandas ``str`` array."""
    if pd.api.types.pandas_dtype("str") != _STR:
        return pd.array(labels * reps, dtype="str")
    data, offsets = _str_labels(labels)
    width = int(offsets[-1])
    tiled = np.empty(reps * len(labels) + 1, np.int64)
    starts = (
        np.arange(0, reps * width, width, dtype=np.int64)[:, None]
        if width
        else np.zeros((reps, 1), np.int64)
    )
    np.add(starts, offsets[:-1], out=tiled[:-1].reshape(reps, len(labels)))
    tiled[-1] = reps * width
    return pd.arrays.ArrowStringArray(_arrow_strings(data * reps, tiled), dtype=_STR)


def _employee_attrs(
    tidy: pd.DataFrame, path, enc: str, rows: int, groups: int, missing: int
) -> None:
    notes = [
        f"aggregated {rows:,} employee rows into {groups:,} groups (employees = rows per group)"
    ]
    if missing:
        notes.append(f"{missing} groups have an empty day cell and are missing")
    tidy.attrs.update(
        source="ks-employee",
        encoding=enc,
        path=str(path),
        notes=notes,
        source_columns={**SOURCE_COLUMNS, "employees": "(rows per group)"},
    )


def _merge_padded_keys(sums: pd.DataFrame, key_names: list, num_names: list) -> pd.DataFrame:
    """Key cells with surrounding spaces (``" 0101"``) form their own groups in the query;
    strip them and merge such groups (cheap: one row per group, not per employee)."""
    if not any(  # checked on the distinct labels (few), not on every group
        isinstance(u, str) and u != u.strip() for k in key_names for u in pd.unique(sums[k])
    ):
        return sums
    sums = sums.assign(**{k: sums[k].str.strip() for k in key_names})
    agg = {k: "sum" for k in num_names}
    for k in num_names:
        agg.update({f"{k}_cells": "sum", f"{k}_numbers": "sum"})
    agg.update(low="min", n="sum")
    agg = {c: how for c, how in agg.items() if c in sums}
    sums = sums.groupby(key_names, dropna=False, sort=False, as_index=False).agg(agg)
    return sums.sort_values(key_names, kind="stable", na_position="last")


@contextlib.contextmanager
def _utf8_copy(path: str | Path, encoding: str, *, cr_only: bool = False) -> Iterator[str]:
    """A temporary UTF-8 copy of a text file, transcoded in 16 MB blocks (flat memory; line
    numbers unchanged; bare CR line ends made LF if ``cr_only``), removed afterwards."""
    import codecs
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="kvk-employee-", suffix=".csv")
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            try:
                while block := src.read(1 << 24):
                    text = decoder.decode(block)
                    dst.write((text.replace("\r", "\n") if cr_only else text).encode("utf-8"))
                text = decoder.decode(b"", final=True)
                dst.write((text.replace("\r", "\n") if cr_only else text).encode("utf-8"))
            except UnicodeDecodeError:
                raise _undecodable(path, encoding) from None
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _bad_width(
    source: str, path: str | Path, enc: str, skip: int, width: int, delim: str
) -> tuple[int | None, int | None, int]:
    """``(line, fields, blank_lines)``: the first line after the header with fewer than
    ``width`` fields or a non-empty field past them (``None, None`` if there is none) and the
    number of blank lines.  Counted by polars over the raw lines of ``source`` (one streamed pass, fields
    counted by their delimiters); if a line has a quote, where that count is not exact, the
    lines of ``path`` are parsed in Python instead."""
    import polars as pl

    lines = pl.scan_csv(
        source, has_header=False, separator="\x1f", quote_char=None, skip_lines=skip,
        schema={"line": pl.String}, raise_if_empty=False,
    ).with_row_index("i")  # fmt: skip
    line = pl.col("line")
    empty = line.is_null() | (line.str.len_bytes() == 0)
    fields = line.str.count_matches(delim, literal=True) + 1
    # surplus fields that are all empty (a trailing ";") are no error, as in the reader
    filled = line.str.strip_chars_end(delim).str.count_matches(delim, literal=True) + 1
    bad = ~empty & ((fields < width) | (filled > width))
    try:
        out = lines.select(
            blank=empty.sum(),
            quoted=line.str.contains('"', literal=True).any(),
            first=pl.col("i").filter(bad).first(),
            found=fields.filter(bad).first(),
        ).collect(engine="streaming")
        exact = not out["quoted"][0]
    except pl.exceptions.PolarsError:  # a line holding the unit separator itself
        exact = False
    if exact:
        first = out["first"][0]
        line_no = None if first is None else skip + int(first) + 1
        found = None if first is None else int(out["found"][0])
        return line_no, found, int(out["blank"][0])
    blank = 0
    for line_no, text in _text.iter_lines(path, enc):
        if line_no <= skip:
            continue
        if not text:
            blank += 1
            continue
        fields = next(csv.reader([text], delimiter=delim))
        if len(fields) < width or any(fields[width:]):
            return line_no, len(fields), blank
    return None, None, blank


def _wrong_width(
    path: str | Path, line: int | None, found: int | None, width: int, delim: str
) -> InputError:
    return InputError(
        "wrong number of fields",
        path=path,
        row=line,
        expected=f"{width} {delim!r}-separated fields as in the header",
        found=found,
    )


def _employee_csv_error(exc, path, enc, header_line, width, delim) -> InputError:
    """An :class:`InputError` for a CSV polars refuses: undecodable bytes or a row with too
    many fields (its line found by scanning the file)."""
    text = str(exc)
    if "unicode" in text.lower() or "utf" in text.lower() or "decode" in text.lower():
        return _undecodable(path, enc)
    line, fields = _locate(path, enc, header_line, lambda f: len(f) != width, delim)
    return _wrong_width(path, line, len(fields) if fields is not None else None, width, delim)


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
    if not s:
        return None
    value = float(s)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {s}")
    return value


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
    """The tidy table from a pandas group table (xlsx, and CSV extracts whose labels need
    merging or collide); :func:`_employee_tidy_fast` builds the same frame for the rest."""
    header, cols = sums.attrs["header"], sums.attrs["columns"]
    first = sums.attrs.get("first_line")
    if first is None:  # CSV: lines by rescanning the file
        find = _Where(path, enc, sums.attrs["header_line"], cols, sums.attrs.get("delimiter", ";"))

        def where(key: str, value: object) -> np.ndarray:
            line = find(key, value)
            return np.full(len(sums), line if line is not None else pd.NA, dtype=object)
    else:  # xlsx: the first line of each group

        def where(key: str, value: object) -> np.ndarray:
            return first

    parsers = _key_parsers(header, cols, path)

    def located(key: str):
        values, fn = sums[key], parsers[key]
        if first is None:  # CSV: no lines per group, so parse each distinct label once
            codes, uniques = pd.factorize(values, use_na_sentinel=False)
            values = pd.Series([None if pd.isna(u) else u for u in uniques], dtype=object)
        try:
            out = fn(values, np.full(len(values), pd.NA, dtype=object))
        except InputError as exc:
            out = fn(values, where(key, exc.found)[: len(values)])
        if first is None:
            if out.dtype == object:  # labels: to the tidy table's string dtype while few
                out = out.astype("str")
            out = out.iloc[codes].reset_index(drop=True)
        return out

    code, period, sector = located("code"), located("quarter"), located("sector")
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
        base["sex"] = located("sex")
    self_days = sums["self"].to_numpy(dtype=float)
    doctor_days = sums["doctor"].to_numpy(dtype=float)
    dims = ["kommunenummer", "period", "sector"] + (["sex"] if by_sex else [])
    if base.duplicated(dims).any():  # labels that map to one key ("101", "0101"): kept apart
        parts = []
        for measure, lost in (
            ("self_certified", self_days),
            ("doctor_certified", doctor_days),
            ("total", self_days + doctor_days),
        ):
            parts.append(base.assign(measure=measure, lost_days=lost))
        out = pd.concat(parts, ignore_index=True).sort_values(dims + ["measure"], kind="stable")
    else:  # the same rows in the same order, without stacking and sorting three copies
        order = base.sort_values(dims, kind="stable").index.to_numpy()
        out = base.iloc[np.repeat(order, 3)].reset_index(drop=True)
        measures = pd.array(["doctor_certified", "self_certified", "total"], dtype="str")
        out["measure"] = measures.take(np.tile(np.arange(3), len(order)))
        lost = np.column_stack([doctor_days, self_days, self_days + doctor_days])[order]
        out["lost_days"] = lost.ravel()
    # ok/missing are the only statuses here (combine_status of the lost and contracted days)
    missing = np.isnan(out["lost_days"].to_numpy()) | out["contracted_days"].isna().to_numpy()
    out["status"] = pd.array(["ok", "missing"], dtype="str").take(missing.astype(np.intp))
    # built in the tidy table's dtypes, so that finish() has nothing to convert
    out["_line"] = pd.arrays.IntegerArray(np.zeros(len(out), np.int64), np.ones(len(out), bool))
    tidy = finish(out, f"ks-employee:{Path(path).name}")
    missing = int(sums[["contracted", "self", "doctor"]].isna().any(axis=1).sum())
    _employee_attrs(tidy, path, enc, int(sums["n"].sum()), len(sums), missing)
    return tidy
