"""Norwegian number parsing and formatting, with the symbols of Statistics Norway (SSB).

Norwegian sources write ``12 345,6``: a space (often a no-break space U+00A0, a thin space
U+2009 or a narrow no-break space U+202F) between thousands and a decimal comma.  Some
spreadsheets write ``1.234,5``.  SSB tables use symbols instead of numbers:

======  ==================  ==============  =========
symbol  meaning             value           status
======  ==================  ==============  =========
``..``  not available       NaN             missing
``.``   not applicable      NaN             not_applicable
``:``   confidential        NaN             confidential
``-``   nil (zero)          0.0             zero
(empty) missing             NaN             missing
======  ==================  ==============  =========

Everything else must be a number or :class:`NumberFormatError` (a ``ValueError``) is raised;
readers turn it into an :class:`~kvk_analysis.errors.InputError` naming file, row and column.

Python's own ``float()`` does not read these forms, ``locale`` is process-global and needs
the ``nb_NO`` locale installed, and Babel's ``parse_decimal`` knows no SSB symbols; the
grammar is small, so it is written here with regular expressions (vectorised through
pandas' string methods in :func:`parse_number_series`).
"""

from __future__ import annotations

import math
import re
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "STATUSES",
    "STATUS_ORDER",
    "NumberFormatError",
    "format_number",
    "parse_cell",
    "parse_number",
    "parse_number_series",
]

#: Status values of a cell (the ``status`` column of the tidy table).
STATUSES = ("ok", "missing", "not_applicable", "confidential", "zero")
#: Status precedence when several cells make one value (the first present wins).
STATUS_ORDER = ("confidential", "missing", "not_applicable", "zero", "ok")

#: SSB symbol -> (value, status).
SYMBOLS: dict[str, tuple[float, str]] = {
    "": (math.nan, "missing"),
    "..": (math.nan, "missing"),
    "...": (math.nan, "missing"),
    ".": (math.nan, "not_applicable"),
    ":": (math.nan, "confidential"),
    "-": (0.0, "zero"),
    "\u2013": (0.0, "zero"),  # en dash, as typeset in published tables
    "\u2212": (0.0, "zero"),  # minus sign used as a dash
}

# Spaces used as thousands separators: space, no-break, thin, narrow no-break, figure space.
_SPACES = " \u00a0\u2009\u202f\u2007"
_SPACE_RE = re.compile(f"[{_SPACES}]")
_MINUSES = "-\u2212\u2013"

_SP = f"[{_SPACES}]"
# Comma-decimal numbers ("nb"): groups of three separated by spaces or dots, decimal comma.
_NB_RE = re.compile(
    rf"^[+\-]?(?:\d+|\d{{1,3}}(?:{_SP}\d{{3}})+|\d{{1,3}}(?:\.\d{{3}})+)(?:,\d*)?$|^[+\-]?,\d+$"
)
# Point-decimal numbers ("en"): groups of three separated by commas or spaces, decimal point.
_EN_RE = re.compile(
    rf"^[+\-]?(?:\d+|\d{{1,3}}(?:{_SP}\d{{3}})+|\d{{1,3}}(?:,\d{{3}})+)(?:\.\d*)?$|^[+\-]?\.\d+$"
)
_EXP_RE = re.compile(r"^[+\-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)[eE][+\-]?\d+$")


class NumberFormatError(ValueError):
    """A cell that is neither a number nor an SSB symbol."""

    def __init__(self, text: object, expected: str, position: int | None = None) -> None:
        self.text = text
        self.expected = expected
        #: 0-based position of the offending cell in a Series (``parse_number_series``).
        self.position = position
        super().__init__(f"not a number: {text!r} (expected {expected})")


def _expected(decimal: str) -> str:
    if decimal == ",":
        return "a number like 12 345,6 or an SSB symbol (.. . : -)"
    return "a number like 12,345.6 or an SSB symbol (.. . : -)"


def _normalise(text: str, decimal: str) -> str | None:
    """Return a Python float literal for ``text`` or ``None`` if it is not a number."""
    s = text.strip()
    if s and s[0] in "\u2212\u2013":
        s = "-" + s[1:]
    if _EXP_RE.match(s):
        return s.replace(",", ".")
    if decimal == ",":
        if not _NB_RE.match(s):
            return None
        return _SPACE_RE.sub("", s).replace(".", "").replace(",", ".")
    if not _EN_RE.match(s):
        return None
    return _SPACE_RE.sub("", s).replace(",", "")


def parse_cell(text: object, *, decimal: Literal[",", "."] = ",") -> tuple[float, str]:
    """Parse one cell into ``(value, status)``.

    ``value`` is a float (NaN for missing, suppressed or not-applicable cells; 0.0 for ``-``),
    ``status`` one of :data:`STATUSES`.  Numbers (int/float) pass through; ``None``/NaN give
    ``(nan, "missing")``.  ``decimal=","`` reads ``12 345,6`` and ``1.234,5``; ``decimal="."``
    reads ``12,345.6``.  Raises :class:`NumberFormatError` for anything else.
    """
    if text is None or text is pd.NA:
        return math.nan, "missing"
    if isinstance(text, bool):
        raise NumberFormatError(text, _expected(decimal))
    if isinstance(text, (int, float, np.integer, np.floating)):
        value = float(text)
        if math.isnan(value):
            return math.nan, "missing"
        if math.isinf(value):
            raise NumberFormatError(text, _expected(decimal))
        return value, "ok"
    s = str(text).strip().strip(_SPACES)
    if s in SYMBOLS:
        return SYMBOLS[s]
    literal = _normalise(s, decimal)
    if literal is None:
        raise NumberFormatError(text, _expected(decimal))
    value = float(literal)
    if math.isinf(value):
        raise NumberFormatError(text, _expected(decimal))
    return value, "ok"


def parse_number(text: object, *, decimal: Literal[",", "."] = ",") -> float:
    """Parse a Norwegian number (``"12 345,6"`` -> 12345.6); SSB ``-`` is 0, missing is NaN.

    See :func:`parse_cell` for the accepted forms; use it when the status matters.
    """
    return parse_cell(text, decimal=decimal)[0]


def parse_number_series(
    series: pd.Series, *, decimal: Literal[",", "."] = ","
) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`parse_cell`: return ``(values float64, status str)`` with ``series``' index.

    Accepts strings, numbers or a mix (object dtype, e.g. from xlsx).  Raises
    :class:`NumberFormatError` for the first bad cell, with ``.position`` its 0-based position
    (a cell that is not a string is checked first, then the strings: the first cell that is
    not a number, else the first that overflows to infinity).
    """
    n = len(series)
    values = np.full(n, np.nan)
    status = np.full(n, "missing", dtype=object)
    raw = series.to_numpy(dtype=object, na_value=None)
    if isinstance(series.dtype, pd.StringDtype):  # every non-missing cell is a str
        is_str = series.notna().to_numpy()
    elif pd.api.types.infer_dtype(raw, skipna=False) == "string":  # C loop: all str
        is_str = np.ones(n, dtype=bool)
    else:
        is_str = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=n)
    # Non-string cells (numbers, None): one by one is fine, they are rare outside xlsx.
    for i in np.flatnonzero(~is_str):
        try:
            values[i], status[i] = parse_cell(raw[i], decimal=decimal)
        except NumberFormatError as exc:
            exc.position = int(i)
            raise
    if is_str.any():
        idx = np.flatnonzero(is_str)
        num, stat, bad, inf = _parse_texts(raw[idx], decimal)
        for mask in (bad, inf):  # a malformed cell anywhere first, then an overflow
            if mask.any():
                pos = int(idx[np.flatnonzero(mask)[0]])
                raise NumberFormatError(raw[pos], _expected(decimal), position=pos)
        values[idx] = num
        status[idx] = stat
    return (
        pd.Series(values, index=series.index, dtype="float64"),
        pd.Series(status, index=series.index, dtype="str"),
    )


# The fast path of _parse_texts runs in Arrow's compute kernels (RE2 regular expressions,
# Arrow's correctly rounded string -> double cast).  RE2 and Python's re differ on non-ASCII
# digits (Python's \d matches any Unicode digit) and on "$" before a newline, so it takes only
# cells made of the characters below, on which both engines agree; every other cell goes the
# general way (pandas' string methods with Python's re semantics), as all cells did before.
_FAST_CHARS = "^[0-9+.,eE" + _SPACES + "\u2212\u2013\\-]+$"
_SYMBOL_KEYS = list(SYMBOLS)
_SYMBOL_VALUES = np.array([v for v, _ in SYMBOLS.values()], dtype=float)
_SYMBOL_STATUS = np.array([s for _, s in SYMBOLS.values()], dtype=object)


def _ascii_digits(pattern: re.Pattern[str]) -> str:
    return pattern.pattern.replace(r"\d", "[0-9]")


def _parse_texts(
    texts: np.ndarray, decimal: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse an object array of ``str`` cells: ``(values, status, bad, inf)``; ``bad`` marks
    cells that are neither a number nor a symbol, ``inf`` numbers that overflow (their
    values are NaN).  Element by element the same as :func:`_parse_texts_general`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(texts)
    try:
        arr = pa.array(texts, type=pa.large_string())
    except (pa.ArrowException, UnicodeError, TypeError):  # e.g. a lone surrogate
        return _parse_texts_general(texts, decimal)
    text = pc.utf8_trim(pc.utf8_trim_whitespace(arr), characters=_SPACES)
    code = pc.fill_null(pc.index_in(text, value_set=pa.array(_SYMBOL_KEYS)), -1).to_numpy()
    is_sym = code >= 0
    values = np.full(n, np.nan)
    status = np.full(n, "ok", dtype=object)
    bad = np.zeros(n, dtype=bool)
    inf = np.zeros(n, dtype=bool)
    values[is_sym] = _SYMBOL_VALUES[code[is_sym]]
    status[is_sym] = _SYMBOL_STATUS[code[is_sym]]
    rest = np.flatnonzero(~is_sym)
    if not len(rest):
        return values, status, bad, inf
    s = text.take(pa.array(rest))
    fast = pc.match_substring_regex(s, _FAST_CHARS).to_numpy(zero_copy_only=False)
    slow = rest[~fast]
    if len(slow):  # rare: letters, other digits, ... (usually a bad cell)
        v, st, b, f = _parse_texts_general(texts[slow], decimal)
        values[slow], status[slow], bad[slow], inf[slow] = v, st, b, f
    if not fast.all():
        s = s.filter(pa.array(fast))
    rest = rest[fast]
    if not len(rest):
        return values, status, bad, inf
    ascii_only = pc.all(pc.string_is_ascii(s)).as_py()  # then only " " can be a space
    if not ascii_only:
        s = pc.replace_substring_regex(s, "^[\u2212\u2013]", "-")
    plain = pc.match_substring_regex(s, _ascii_digits(_NB_RE if decimal == "," else _EN_RE))
    expo = pc.match_substring_regex(s, _ascii_digits(_EXP_RE))
    good = pc.or_(plain, expo).to_numpy(zero_copy_only=False)
    bad[rest[~good]] = True
    if not good.all():
        s, expo, rest = s.filter(good), expo.filter(good), rest[good]
    s = pc.replace_substring(s, " ", "")
    if not ascii_only:
        s = pc.replace_substring_regex(s, f"[{_SPACES}]", "")
    group = "." if decimal == "," else ","  # the thousands separator that is not a space
    lit = pc.replace_substring(pc.if_else(expo, s, pc.replace_substring(s, group, "")), ",", ".")
    try:
        num = pc.cast(lit, pa.float64()).to_numpy(zero_copy_only=False, writable=True)
    except pa.ArrowInvalid:  # not expected for these shapes; Python's float decides
        num = np.array([float(x) for x in lit.to_pylist()], dtype=float)
    _store_numbers(num, rest, values, inf)
    return values, status, bad, inf


def _store_numbers(num: np.ndarray, at: np.ndarray, values: np.ndarray, inf: np.ndarray) -> None:
    """Put the parsed numbers ``num`` into ``values`` at positions ``at``; numbers that
    overflowed to infinity are marked in ``inf`` and stored as NaN (both parse paths)."""
    over = np.isinf(num)
    inf[at[over]] = True
    num[over] = np.nan
    values[at] = num


def _parse_texts_general(
    texts: np.ndarray, decimal: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_parse_texts` with pandas' string methods (Python's ``re`` semantics), for any
    ``str`` cells."""
    n = len(texts)
    values = np.full(n, np.nan)
    status = np.full(n, "ok", dtype=object)
    bad = np.zeros(n, dtype=bool)
    inf = np.zeros(n, dtype=bool)
    text = pd.Series(texts, dtype="str").str.strip().str.strip(_SPACES)
    is_sym = text.isin(_SYMBOL_KEYS).to_numpy()
    if is_sym.any():
        sym = text[is_sym].map(SYMBOLS)
        values[is_sym] = sym.map(lambda t: t[0]).to_numpy(dtype=float)
        status[is_sym] = sym.map(lambda t: t[1]).to_numpy()
    rest_pos = np.flatnonzero(~is_sym)
    if not len(rest_pos):
        return values, status, bad, inf
    s = text[~is_sym].str.replace(r"^[\u2212\u2013]", "-", regex=True)
    plain = s.str.match(_NB_RE if decimal == "," else _EN_RE)
    expo = s.str.match(_EXP_RE)
    good = (plain | expo).to_numpy()
    bad[rest_pos[~good]] = True
    s, expo, rest_pos = s[good], expo[good], rest_pos[good]
    if not len(s):
        return values, status, bad, inf
    s = s.str.replace(_SPACE_RE, "", regex=True)
    group = "." if decimal == "," else ","
    lit = s.where(expo, s.str.replace(group, "", regex=False)).str.replace(",", ".", regex=False)
    num = lit.astype("float64").to_numpy(copy=True)
    _store_numbers(num, rest_pos, values, inf)
    return values, status, bad, inf


def format_number(
    x: float | int | None,
    decimals: int = 1,
    lang: Literal["nb", "en"] = "nb",
    *,
    thousands: str | None = None,
    minus: str = "-",
    na_rep: str = "",
) -> str:
    """Format a number for Norwegian (``nb``) or English (``en``) text.

    ``nb``: no-break space (U+00A0) between thousands and a decimal comma, ``12 345,6``;
    ``en``: ``12,345.6``.  ``thousands`` overrides the separator (e.g. ``"\\u202f"`` narrow
    no-break space, or ``""`` for none); ``minus`` the sign (``"\\u2212"`` for typeset text).
    Rounds half to even on the binary value, like Python's ``format``; a result that rounds to
    zero never shows a sign.  NaN/None give ``na_rep``; infinity raises ``ValueError``.
    The output of ``format_number`` is read back by :func:`parse_number` (``decimal=","`` for
    nb, ``"."`` for en).
    """
    if decimals < 0:
        raise ValueError("decimals must be >= 0")
    if x is None or x is pd.NA:
        return na_rep
    value = float(x)
    if math.isnan(value):
        return na_rep
    if math.isinf(value):
        raise ValueError(f"cannot format {value}")
    text = f"{abs(value):,.{decimals}f}"  # "12,345.6"
    negative = value < 0 and any(c not in "0,." for c in text)
    int_part, _, frac = text.partition(".")
    if lang == "nb":
        sep = "\u00a0" if thousands is None else thousands
        dec = ","
    elif lang == "en":
        sep = "," if thousands is None else thousands
        dec = "."
    else:
        raise ValueError(f"lang must be 'nb' or 'en', not {lang!r}")
    out = int_part.replace(",", sep)
    if decimals:
        out += dec + frac
    return (minus + out) if negative else out
