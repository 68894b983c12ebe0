"""Validation of the tidy sick-leave table with pandera, reported as one clear InputError.

:func:`tidy_schema` builds a ``pandera`` ``DataFrameSchema``: column types, codes of four
digits, sector/measure/status vocabularies, days >= 0, 0 <= rate <= 100 (percent),
lost_days <= contracted_days, one row per key (municipality x quarter x sector x measure x
other dimensions), and optionally known municipality codes and a quarter range.

:func:`validate_tidy` runs it lazily (all failures at once) and turns pandera's failure cases
into a single :class:`~kvk_analysis.errors.InputError` naming the file, the row (the file line
kept by the readers in ``_line``), the column as written in the file (from
``df.attrs["source_columns"]``) and what was expected, listing the first few problems and
the count.  The ``_line`` column is dropped from the returned frame.

Speed: pandera takes about 0.25 s to import and 0.2 s to validate the demo table, all of it
overhead when the table is valid, as it almost always is.  :func:`validate_tidy` therefore
first runs :func:`_plainly_valid`, the same checks in plain pandas, only stricter (exact
dtypes, ASCII digits, no nulls where pandera allows none): when it passes pandera would pass
too, and pandera is neither imported nor run.  Anything it does not pass goes to pandera,
which decides and words the error exactly as before (tests/test_schema_fast.py checks that
the pre-check never passes a table pandera refuses).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError
from .periods import parse_quarter
from .readers.tidy import KEY_COLUMNS, MEASURES, SECTORS, STATUS_VALUES, dimension_columns

if TYPE_CHECKING:
    import pandera.pandas as pa

__all__ = ["tidy_schema", "validate_tidy"]

#: How many problems an error message lists before "... and N more".
MAX_LISTED = 5

_EXPECTED = {
    "code_format": "a four-digit municipality number, e.g. 0101 (two digits in a county table)",
    "known_code": "a municipality number from the list of valid codes",
    "sector_vocabulary": "a sector: all, care, education or other",
    "measure_vocabulary": "a measure: " + ", ".join(MEASURES),
    "status_vocabulary": "a status: " + ", ".join(STATUS_VALUES),
    "nonnegative": "a number >= 0",
    "rate_range": "a rate between 0 and 100 (percent)",
    "lost_le_contracted": "lost days <= contracted days",
    "period_range": "a quarter inside the data's range",
    "duplicate_key": "one row per municipality x quarter x sector x measure (a duplicate key)",
}


def tidy_schema(
    valid_codes: Iterable[str] | None = None,
    period_range: tuple[object, object] | None = None,
    key: list[str] | None = None,
) -> pa.DataFrameSchema:
    """The pandera schema of the tidy table (see module docstring).

    ``valid_codes``: accepted municipality numbers (e.g. the frame of 2008); ``period_range``:
    ``(first, last)`` quarters inclusive (``"2005Q1"``, ``pd.Period`` ...); ``key``: the key
    columns for the duplicate check (default: the four standard ones).
    """
    import pandera.pandas as pa

    # two-digit county numbers only come from county tables (region_level "county")
    code_checks = [pa.Check.str_matches(r"^(?:\d{4}|\d{2})$", name="code_format")]
    if valid_codes is not None:
        codes = frozenset(valid_codes)
        code_checks.append(
            pa.Check(lambda s: s.isin(codes) | (s.str.len() == 2), name="known_code")
        )
    period_checks = []
    if period_range is not None:
        lo, hi = (parse_quarter(p) for p in period_range)
        expected_range = f"a quarter between {lo} and {hi}"
        period_checks.append(
            pa.Check(lambda s: (s >= lo) & (s <= hi), name="period_range", error=expected_range)
        )
    days = dict(nullable=True, coerce=False)

    def nonneg() -> pa.Check:
        return pa.Check(lambda s: s.isna() | (s >= 0), name="nonnegative")

    return pa.DataFrameSchema(
        {
            "kommunenummer": pa.Column(str, code_checks),
            "period": pa.Column(pd.PeriodDtype("Q-DEC"), period_checks),
            "sector": pa.Column(str, pa.Check(lambda s: s.isin(SECTORS), name="sector_vocabulary")),
            "measure": pa.Column(
                str, pa.Check(lambda s: s.isin(MEASURES), name="measure_vocabulary")
            ),
            "lost_days": pa.Column(float, nonneg(), **days),
            "contracted_days": pa.Column(float, nonneg(), **days),
            "employees": pa.Column(float, nonneg(), **days),
            "rate": pa.Column(
                float,
                pa.Check(lambda s: s.isna() | ((s >= 0) & (s <= 100)), name="rate_range"),
                **days,
            ),
            "status": pa.Column(
                str, pa.Check(lambda s: s.isin(STATUS_VALUES), name="status_vocabulary")
            ),
            "source": pa.Column(str),
        },
        checks=[
            pa.Check(
                lambda d: ~(d["lost_days"] > d["contracted_days"]),
                name="lost_le_contracted",
            ),
            pa.Check(
                lambda d: ~d.duplicated(subset=key or KEY_COLUMNS, keep="first"),
                name="duplicate_key",
            ),
        ],
        strict=False,
        ordered=False,
    )


def validate_tidy(
    df: pd.DataFrame,
    path: str | Path | None = None,
    valid_codes: Iterable[str] | None = None,
    period_range: tuple[object, object] | None = None,
) -> pd.DataFrame:
    """Validate a tidy table; return it without ``_line`` or raise one :class:`InputError`.

    ``path`` defaults to ``df.attrs["path"]``.  Duplicate keys use all dimension columns
    (the standard four plus ``sex`` etc.).  The error's ``row``/``column``/``expected``/
    ``found`` describe the first problem (in file order); the message lists up to
    :data:`MAX_LISTED` and the total count.
    """
    path = path if path is not None else df.attrs.get("path")
    key = dimension_columns(df)
    if not _plainly_valid(df, valid_codes, period_range, key):
        import pandera.pandas as pa

        schema = tidy_schema(valid_codes, period_range, key=key)
        try:
            schema.validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            raise _to_input_error(exc.failure_cases, df, path, schema) from None
    out = df.drop(columns="_line", errors="ignore")
    out.attrs = dict(df.attrs)
    return out


#: The one string dtype the pre-check takes (pandas' default ``str``, Arrow-backed, NaN as
#: missing): what every reader writes, and a dtype pandera's ``str`` accepts.
_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
_STR_COLUMNS = ("kommunenummer", "sector", "measure", "status", "source")
_FLOAT_COLUMNS = ("lost_days", "contracted_days", "employees", "rate")


def _plainly_valid(
    df: pd.DataFrame,
    valid_codes: Iterable[str] | None,
    period_range: tuple[object, object] | None,
    key: list[str],
) -> bool:
    """True only if :func:`tidy_schema` would accept ``df``: its checks in plain pandas,
    stricter where that is simpler (a ``False`` only means "ask pandera")."""
    if not df.columns.is_unique:
        return False
    if any(c not in df.columns for c in (*_STR_COLUMNS, *_FLOAT_COLUMNS, "period")):
        return False
    if any(df[c].dtype != _STR_DTYPE or df[c].hasnans for c in _STR_COLUMNS):
        return False
    if any(df[c].dtype != np.float64 for c in _FLOAT_COLUMNS):
        return False
    period = df["period"]
    if period.dtype != pd.PeriodDtype("Q-DEC") or period.hasnans:
        return False
    code = df["kommunenummer"]
    if not code.str.isascii().all() or not code.str.fullmatch("[0-9]{4}|[0-9]{2}").all():
        return False
    if valid_codes is not None:
        codes = frozenset(valid_codes)
        if not (code.isin(codes) | (code.str.len() == 2)).all():
            return False
    if period_range is not None:
        lo, hi = (parse_quarter(p) for p in period_range)
        if not ((period >= lo) & (period <= hi)).all():
            return False
    for column, allowed in (("sector", SECTORS), ("measure", MEASURES), ("status", STATUS_VALUES)):
        if not df[column].isin(allowed).all():
            return False
    for column in ("lost_days", "contracted_days", "employees"):
        if (df[column].to_numpy() < 0).any():  # NaN compares False: allowed, as in pandera
            return False
    rate = df["rate"].to_numpy()
    if ((rate < 0) | (rate > 100)).any():
        return False
    if (df["lost_days"].to_numpy() > df["contracted_days"].to_numpy()).any():
        return False
    return not df.duplicated(subset=key or KEY_COLUMNS, keep="first").any()


def _file_column(df: pd.DataFrame, column: str, index: object) -> str:
    """The column name as written in the file, with the tidy name in parentheses.

    ``df.attrs["source_columns"]`` maps a tidy column to the file's column name, or to a dict
    keyed by measure or by quarter (``"2009Q1"``) when the file has one column per measure or
    per quarter.
    """
    mapping = df.attrs.get("source_columns", {}) or {}
    src = mapping.get(column)
    if isinstance(src, dict):
        known = index in df.index
        measure = df.at[index, "measure"] if known and "measure" in df else None
        period = str(df.at[index, "period"]) if known and "period" in df else None
        src = src.get(measure) or src.get(period)
    if src and src != column:
        return f"{src} ({column})"
    return column


def _plain(value: object) -> object:
    """numpy scalars and Periods as plain Python values/text for messages."""
    if isinstance(value, pd.Period):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def _to_input_error(cases: pd.DataFrame, df: pd.DataFrame, path, schema) -> InputError:
    problems = []
    for (check, idx), group in cases.groupby(["check", "index"], dropna=False, sort=False):
        check = str(check)
        name = next((k for k in _EXPECTED if check.startswith(k)), None)
        expected = _EXPECTED.get(name, check)
        if name == "period_range":
            expected = next(
                (c.error for c in schema.columns["period"].checks if c.name == "period_range"),
                expected,
            )
        cols = [c for c in group["column"].dropna().astype(str)]
        if name == "lost_le_contracted":
            column = "lost_days"
            found = (
                f"lost {df.at[idx, 'lost_days']:g} > contracted {df.at[idx, 'contracted_days']:g}"
                if pd.notna(idx) and idx in df.index
                else None
            )
        elif name == "duplicate_key":
            column = "kommunenummer"
            found = (
                " ".join(str(df.at[idx, c]) for c in dimension_columns(df))
                if pd.notna(idx) and idx in df.index
                else None
            )
        else:
            column = cols[0] if cols else None
            found = _plain(group["failure_case"].iloc[0])
        if pd.isna(idx) or idx not in df.index:
            line, where = None, ""
        else:
            raw = df.at[idx, "_line"] if "_line" in df else pd.NA
            line = None if pd.isna(raw) else int(raw)
            where = (
                ""
                if line is not None
                else " at " + " ".join(str(df.at[idx, c]) for c in KEY_COLUMNS if c in df)
            )
        file_col = _file_column(df, column, idx) if column else None
        problems.append(
            (
                line if line is not None else 10**12,
                line,
                file_col,
                expected,
                found,
                where,
                name,
                idx,
            )
        )
    # A rate computed from bad days is a consequence, not a second problem: drop rate
    # failures of rows that have another failure.
    other = {p[-1] for p in problems if p[-2] != "rate_range"}
    problems = [p for p in problems if not (p[-2] == "rate_range" and p[-1] in other)]
    order = {name: i for i, name in enumerate(_EXPECTED)}
    problems.sort(key=lambda p: (p[0], order.get(p[-2], len(order)), str(p[2])))
    problems = [p[:-2] for p in problems]
    _, line, column, expected, found, where = problems[0]
    # One file cell can fail for several tidy rows (the three KS measures): list it once.
    unique, seen = [], set()
    for p in problems:
        sig = (p[1], p[2], p[3], str(p[4])) if p[1] is not None else id(p)
        if sig not in seen:
            seen.add(sig)
            unique.append(p)
    problems = unique
    n = len(problems)
    listed = []
    for _, ln, col, exp, fnd, wh in problems[:MAX_LISTED]:
        loc = f"row {ln}" if ln is not None else (wh.strip() or "(no row)")
        listed.append(f"  - {loc}, column '{col}': expected {exp}, found {fnd!r}")
    more = f"\n  ... and {n - MAX_LISTED} more" if n > MAX_LISTED else ""
    message = (
        f"{n} problem{'s' if n != 1 else ''} in the sick-leave table{where}:\n"
        + "\n".join(listed)
        + more
    )
    return InputError(message, path=path, row=line, column=column, expected=expected, found=found)
