"""Helpers shared by the readers: header matching, located number/label parsing, file access."""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..fileio import detect_encoding
from ..numbers import NumberFormatError, parse_number_series
from ..periods import parse_quarter
from .tidy import sector_code

#: Bytes read to guess the encoding of a file too large to decode whole.
SNIFF_BYTES = 1 << 20


def norm_header(name: object) -> str:
    """Compare headers case- and space-insensitively (and without a BOM)."""
    return " ".join(str(name).replace("\ufeff", "").strip().strip('"').lower().split())


def match_columns(
    header: Sequence[object],
    required: dict[str, str],
    optional: dict[str, str] | None = None,
    *,
    path: str | Path,
    row: int = 1,
) -> dict[str, int]:
    """Map canonical keys to column positions; ``required``/``optional`` map key -> header text.

    Raises :class:`InputError` naming the first required column that is missing.
    """
    index = {norm_header(h): i for i, h in enumerate(header)}
    found: dict[str, int] = {}
    for key, name in {**required, **(optional or {})}.items():
        i = index.get(norm_header(name))
        if i is not None:
            found[key] = i
        elif key in required:
            raise InputError(
                "the header line lacks a required column",
                path=path,
                row=row,
                column=name,
                expected=f"a column named {name!r}",
                found=";".join(str(h) for h in header),
            )
    return found


def read_delimited(
    path: str | Path, encoding: str | None, delimiter: str = ";"
) -> tuple[list[tuple[int, list[str]]], str]:
    """Read a small delimited text file into ``[(line_number, fields), ...]`` and its encoding.

    Blank lines are skipped but counted, so line numbers match an editor's.
    """
    text, enc = decode_located(path, encoding, delimiter)
    return split_delimited(text, delimiter, path=path), enc


def split_delimited(text: str, delimiter: str, *, path: str | Path) -> list[tuple[int, list[str]]]:
    """Delimited text -> ``[(line_number, fields), ...]``; blank lines skipped but counted.

    A row the ``csv`` module refuses (e.g. a field over its size limit) is an
    :class:`InputError` naming the line.  Text without quotes is split with ``str.split``
    (:func:`_split_plain`, about 2x faster), with the same result as the ``csv`` module.
    """
    with _gc_paused():
        plain = _split_plain(text, delimiter)
        if plain is not None:
            return plain
        rows: list[tuple[int, list[str]]] = []
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        line = 1
        try:
            for fields in reader:
                start, line = line, reader.line_num + 1
                if "".join(fields).strip():  # some field not blank (one C call per row)
                    rows.append((start, fields))
        except csv.Error as exc:
            raise InputError(
                f"malformed CSV ({exc})",
                path=path,
                row=reader.line_num,
                expected=f"{delimiter!r}-separated fields",
            ) from None
        return rows


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file becomes lists of strings.

    Each of the 100,000s of new lists counts towards a collection, and every collection walks
    the lists made so far (they all survive), which took about as long as the splitting.  Lists
    and tuples of strings cannot form reference cycles, so nothing is left for the collector;
    reference counting frees them as always.  The collector's state is restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _split_plain(text: str, delimiter: str) -> list[tuple[int, list[str]]] | None:
    """:func:`split_delimited` for text the ``csv`` module would split as plain fields: no
    quote character, no NUL, lines ending in ``\\n`` or ``\\r\\n`` (a lone ``\\r`` also ends a
    line for ``csv``) and no line over ``csv.field_size_limit()``.  ``None`` for other text."""
    if '"' in text or "\0" in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":  # a final line end opens no new line
        lines.pop()
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None
    rows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split(delimiter)
        if "".join(fields).strip():  # some field not blank
            rows.append((number, fields))
    return rows


def decode_located(path: str | Path, encoding: str | None, delimiter: str = ";") -> tuple[str, str]:
    """Decode a text file (BOM removed); bytes that do not decode give an :class:`InputError`
    naming the line and, for delimited text, the column (from the header line)."""
    raw = Path(path).read_bytes()
    enc = encoding or detect_encoding(raw)
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise undecodable_error(path, raw, exc, enc, delimiter) from None
    except LookupError:
        raise InputError(
            "unknown encoding", path=path, expected="an encoding such as utf-8 or cp1252", found=enc
        ) from None
    return text.lstrip("\ufeff"), enc


def undecodable_error(
    path: str | Path, raw: bytes, exc: UnicodeDecodeError, enc: str, delimiter: str | None
) -> InputError:
    """An :class:`InputError` for bytes that are not text in ``enc``, with line and column."""
    line = raw[: exc.start].count(b"\n") + 1
    column = None
    if delimiter:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        field = raw[start : exc.start].count(delimiter.encode())
        first_lines = raw.split(b"\n", 50)[:50]
        header_raw = next((ln for ln in first_lines if delimiter.encode() in ln), first_lines[0])
        header = header_raw.decode(enc, errors="replace").lstrip("\ufeff")
        names = [h.strip().strip('"') for h in header.rstrip("\r").split(delimiter)]
        column = names[field] if field < len(names) else f"field {field + 1}"
    return InputError(
        f"cannot decode the file as {enc}; give the right encoding (e.g. encoding='cp1252')",
        path=path,
        row=line,
        column=column,
        expected=f"text in {enc}",
        found=raw[exc.start : exc.end],
    )


def sniff_encoding(path: str | Path) -> str:
    """Guess the encoding from the start of a (possibly huge) file."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    # Do not let a multi-byte character cut at the end of the sample decide.
    cut = head.rfind(b"\n")
    end = cut + 1 if cut > 0 else len(head)
    if head.isascii():  # no BOM, valid UTF-8: only the zero-byte test reads (its first 4 kB)
        return detect_encoding(head[: min(end, 4096)])
    return detect_encoding(head[:end])


def parse_numbers_located(
    values: pd.Series, lines: np.ndarray, *, path: str | Path, column: str, decimal: str = ","
) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_number_series` that turns a bad cell into an :class:`InputError` with its line."""
    try:
        return parse_number_series(values, decimal=decimal)
    except NumberFormatError as exc:
        pos = exc.position or 0
        raise InputError(
            "a cell is not a number",
            path=path,
            row=_line_at(lines, pos),
            column=column,
            expected=exc.expected,
            found=exc.text,
        ) from None


def _first_pos(values: pd.Series, value: object) -> int:
    """Position of the first cell equal to ``value`` (an empty/NA cell matches NA)."""
    mask = values.isna() if value is None or pd.isna(value) else values == value
    return int(np.flatnonzero(mask.to_numpy())[0])


def _line_at(lines: np.ndarray, pos: int) -> int | None:
    value = lines[pos]
    return None if pd.isna(value) else int(value)


def parse_quarters_located(
    values: pd.Series, lines: np.ndarray, *, path: str | Path, column: str
) -> pd.Series:
    """Parse quarter labels (``2007K1``, ``2007Q1``, ``1. kvartal 2007``) into ``period[Q]``."""
    uniq = pd.unique(values.to_numpy(dtype=object))
    mapping: dict[object, pd.Period] = {}
    for label in uniq:
        try:
            mapping[label] = parse_quarter(str(label).strip())
        except ValueError:
            pos = _first_pos(values, label)
            raise InputError(
                "not a quarter",
                path=path,
                row=_line_at(lines, pos),
                column=column,
                expected="a quarter like 2007K1, 2007Q1 or '1. kvartal 2007'",
                found=label,
            ) from None
    # Built from ordinals (one per distinct label) rather than from one Period per cell.
    codes, labels = pd.factorize(values.to_numpy(dtype=object))
    ordinals = np.array([mapping[v].ordinal for v in labels], dtype=np.int64)[codes]
    return pd.Series(pd.PeriodIndex.from_ordinals(ordinals, freq="Q"), index=values.index)


def map_labels_located(
    values: pd.Series,
    lines: np.ndarray,
    mapper: Callable[[object], str | None],
    *,
    path: str | Path,
    column: str,
    expected: str,
) -> pd.Series:
    """Map labels through ``mapper`` (returning ``None`` for unknown) with a located error."""
    uniq = pd.unique(values.to_numpy(dtype=object))
    mapping = {v: mapper(v) for v in uniq}
    for v, code in mapping.items():
        if code is None:
            pos = _first_pos(values, v)
            raise InputError(
                "unknown label",
                path=path,
                row=_line_at(lines, pos),
                column=column,
                expected=expected,
                found=v,
            )
    return values.map(mapping).astype("str")


def sectors_located(
    values: pd.Series, lines: np.ndarray, *, path: str | Path, column: str
) -> pd.Series:
    """Norwegian sector labels -> ``care``/``education``/``other``/``all``."""
    return map_labels_located(
        values,
        lines,
        sector_code,
        path=path,
        column=column,
        expected="a sector: 'Pleie og omsorg', 'Oppvekst', 'Annet' or 'Alle'",
    )


_CODE_RE = re.compile(r"^\d{1,4}$")


def municipality_code(value: object) -> str | None:
    """``"0101"``, ``"101"``, ``101`` or ``101.0`` (Excel lost the zero) -> ``"0101"``."""
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        value = str(int(value))
    if not isinstance(value, str):
        return None
    s = value.strip()
    return s.zfill(4) if _CODE_RE.match(s) else None


def codes_located(
    values: pd.Series, lines: np.ndarray, *, path: str | Path, column: str
) -> pd.Series:
    """Municipality codes, zero-padded to four digits (Excel drops the leading zero)."""
    return map_labels_located(
        values,
        lines,
        municipality_code,
        path=path,
        column=column,
        expected="a municipality number of up to four digits, e.g. 0101",
    )


def iter_lines(path: str | Path, encoding: str) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` of a text file, streamed (for locating errors in huge files)."""
    with open(path, encoding=encoding, newline="") as fh:
        for i, line in enumerate(fh, start=1):
            yield i, line.rstrip("\r\n").lstrip("\ufeff")
