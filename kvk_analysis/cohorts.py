"""The cohort (pulje) registry of KVK participants: reading, validation, first treated quarter.

A registry file (CSV or xlsx, extra columns kept) has the columns ``kommunenr`` (or
``kommunenummer``), ``kommune``, ``pulje`` (I-IV, also ``1``-``4`` or ``Pulje II``; empty =
unknown), ``admitted`` and ``programme_start`` (``YYYY-MM`` or ``YYYY-MM-DD``), optional ``left``,
``source``, ``membership_source`` (``documented`` | ``simulated``, default documented) and
``unit_type`` (``municipality`` | ``borough``).  Unknown cohort membership stays unknown
(``<NA>``): it is never guessed.

Oslo boroughs (bydeler) could participate.  They are written with a 6-digit code ``0301xx``
or, when the code is empty, a name such as ``Bydel Frogner``; they get ``is_borough=True``.
Sick-leave data are per municipality, so the analysis panel cannot treat a borough alone: see
:mod:`kvk_analysis.panel` for how they are handled.

Month-only dates are read as the first day of the month (``2009-01`` -> 1 January 2009).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError
from .fileio import read_text

if TYPE_CHECKING:
    import pandera.pandas as pa

PULJER = ("I", "II", "III", "IV")
MEMBERSHIP_SOURCES = ("documented", "simulated")
RULES = ("programme_start", "admitted", "first_full_quarter")
DATE_MIN, DATE_MAX = pd.Timestamp("2006-01-01"), pd.Timestamp("2010-12-31")
OUTPUT_COLUMNS = [
    "kommunenummer",
    "kommune",
    "pulje",
    "admitted",
    "programme_start",
    "left",
    "source",
    "membership_source",
    "is_borough",
]

#: Oslo's boroughs (bydeler) with their 6-digit codes (0301 + two digits).
OSLO_BOROUGHS = {
    "030101": "Gamle Oslo",
    "030102": "Grünerløkka",
    "030103": "Sagene",
    "030104": "St. Hanshaugen",
    "030105": "Frogner",
    "030106": "Ullern",
    "030107": "Vestre Aker",
    "030108": "Nordre Aker",
    "030109": "Bjerke",
    "030110": "Grorud",
    "030111": "Stovner",
    "030112": "Alna",
    "030113": "Østensjø",
    "030114": "Nordstrand",
    "030115": "Søndre Nordstrand",
    "030116": "Sentrum",
    "030117": "Marka",
}
_BOROUGH_BY_NAME = {v.casefold(): k for k, v in OSLO_BOROUGHS.items()}

_ROMAN = {
    "1": "I",
    "2": "II",
    "3": "III",
    "4": "IV",
    "i": "I",
    "ii": "II",
    "iii": "III",
    "iv": "IV",
}
_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\s*$")
_COLUMN_ALIASES = {
    "kommunenummer": "kommunenr",
    "kommunenr.": "kommunenr",
    "start": "programme_start",
}


def _read_table(path: Path, encoding: str | None) -> pd.DataFrame:
    if not path.exists():
        raise InputError("file not found", path=path, expected="a registry file (CSV or xlsx)")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # openpyxl raises many types for broken files
            raise InputError(
                f"cannot read the spreadsheet ({exc})", path=path, expected="an xlsx file"
            ) from None
    text, _ = read_text(path, encoding)
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if not first:
        raise InputError("the file is empty", path=path, row=1, expected="a header line")
    try:
        sep = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    try:
        return pd.read_csv(
            io.StringIO(text.lstrip("\ufeff")), sep=sep, dtype=str, keep_default_na=False
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"malformed CSV ({exc})",
            path=path,
            row=int(m.group(1)) if m else None,
            expected=f"the same number of '{sep}'-separated fields as the header",
        ) from None


def _parse_date(value: str, path: Path, row: int, column: str) -> pd.Timestamp | None:
    value = value.strip()
    if not value:
        return None
    m = _DATE.match(value)
    ts = None
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        try:
            ts = pd.Timestamp(year=y, month=mo, day=d)
        except ValueError:
            ts = None
    if ts is None:
        raise InputError(
            "not a date",
            path=path,
            row=row,
            column=column,
            expected="YYYY-MM or YYYY-MM-DD",
            found=value,
        )
    return ts


def _parse_pulje(value: str, path: Path, row: int, column: str) -> str | None:
    text = re.sub(r"^\s*pulje\s*", "", value.strip(), flags=re.IGNORECASE).strip().rstrip(".")
    if not text:
        return None
    out = _ROMAN.get(text.casefold())
    if out is None:
        raise InputError(
            "unknown pulje",
            path=path,
            row=row,
            column=column,
            expected="I, II, III, IV (or 1-4), or empty for unknown",
            found=value,
        )
    return out


def _schema() -> pa.DataFrameSchema:
    import pandera.pandas as pa

    in_window = pa.Check.in_range(DATE_MIN, DATE_MAX, error="within 2006-2010")
    date = pa.Column("datetime64[ns]", in_window, nullable=True)
    return pa.DataFrameSchema(
        {
            "kommunenummer": pa.Column(
                str,
                pa.Check.str_matches(r"^\d{4}(\d{2})?$", error="a 4-digit code"),
                unique=True,
            ),
            "kommune": pa.Column(str),
            "pulje": pa.Column(
                object, pa.Check.isin(PULJER, error="I, II, III or IV"), nullable=True
            ),
            "admitted": date,
            "programme_start": date,
            "left": date,
            "membership_source": pa.Column(
                str, pa.Check.isin(MEMBERSHIP_SOURCES, error="documented or simulated")
            ),
            "is_borough": pa.Column(bool),
        },
        strict=False,
        coerce=False,
    )


def read_registry(
    path: str | Path,
    encoding: str | None = None,
    *,
    frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Read and validate a cohort registry (CSV or xlsx); one row per unit.

    Parameters
    ----------
    path
        The registry file.  CSV separator (``,``/``;``/tab) and encoding (UTF-8, UTF-8 with
        BOM, cp1252) are detected unless ``encoding`` is given.
    frame
        The municipality frame names are checked against (default: codes valid in 2007 or
        2008, from :func:`kvk_analysis.municipalities.load_frame`).

    Returns
    -------
    DataFrame
        ``kommunenummer`` (str; 6 digits for Oslo boroughs), ``kommune``, ``pulje`` (``I``-``IV``
        or ``<NA>`` = unknown), ``admitted``, ``programme_start``, ``left`` (``datetime64``,
        NaT when empty), ``source``, ``membership_source``, ``is_borough``, then the file's
        extra columns (e.g. ``pulje_known_range``, ``evidence``).

    Raises
    ------
    InputError
        Missing columns, duplicate units, unknown pulje, malformed dates or dates outside
        2006-2010, unknown municipality codes; naming file, row and column.  A name that
        differs from the frame's gives a ``UserWarning`` only.
    """
    path = Path(path)
    raw = _read_table(path, encoding)
    renames = {c: _COLUMN_ALIASES.get(c.strip().casefold(), c.strip().casefold()) for c in raw}
    file_column = {v: k for k, v in renames.items()}  # output name -> as written in the file
    file_column["kommunenummer"] = file_column.get("kommunenr", "kommunenr")
    raw = raw.rename(columns=renames)
    if raw.columns.duplicated().any():
        dup = raw.columns[raw.columns.duplicated()][0]
        raise InputError(
            "duplicate column", path=path, row=1, column=dup, expected="each column once"
        )
    for col in ("kommunenr", "kommune", "pulje"):
        if col not in raw.columns:
            raise InputError(
                "required column missing",
                path=path,
                row=1,
                column=col,
                expected="columns kommunenr, kommune, pulje, admitted, programme_start, source",
                found=list(raw.columns),
            )
    for col in ("admitted", "programme_start", "left", "source", "membership_source", "unit_type"):
        if col not in raw.columns:
            raw[col] = ""
    raw = raw.fillna("").astype(str)
    # drop fully empty lines (trailing separators in spreadsheets' CSV exports)
    raw = raw[raw.apply(lambda r: any(v.strip() for v in r), axis=1)]

    rows = []
    for pos, rec in zip(raw.index, raw.to_dict("records"), strict=True):
        line = int(pos) + 2  # header is line 1 (also the spreadsheet's row 1)
        code = rec["kommunenr"].strip()
        name = rec["kommune"].strip()
        unit_type = rec["unit_type"].strip().casefold()
        if unit_type not in ("", "municipality", "borough", "kommune", "bydel"):
            raise InputError(
                "unknown unit type",
                path=path,
                row=line,
                column=file_column.get("unit_type", "unit_type"),
                expected="municipality or borough",
                found=rec["unit_type"],
            )
        if code.isdigit() and len(code) in (3, 5):
            code = code.zfill(len(code) + 1)  # leading zero lost by a spreadsheet
        borough_name = re.sub(r"^\s*bydel\s+", "", name, flags=re.IGNORECASE).casefold()
        is_borough = (
            unit_type in ("borough", "bydel")
            or len(code) == 6
            or (not code and name.casefold().startswith("bydel"))
        )
        if is_borough and not code:
            code = _BOROUGH_BY_NAME.get(borough_name, "")
            if not code:
                raise InputError(
                    "unknown Oslo borough",
                    path=path,
                    row=line,
                    column=file_column["kommune"],
                    expected="an Oslo borough name, e.g. 'Bydel Frogner'",
                    found=name,
                )
        if is_borough and code not in OSLO_BOROUGHS:
            raise InputError(
                "unknown Oslo borough code",
                path=path,
                row=line,
                column=file_column["kommunenummer"],
                expected="a borough code 030101-030117",
                found=code,
            )
        membership = rec["membership_source"].strip().casefold() or "documented"
        rows.append(
            {
                "file_row": line,
                "kommunenummer": code,
                "kommune": name,
                "pulje": _parse_pulje(rec["pulje"], path, line, file_column["pulje"]),
                "admitted": _parse_date(
                    rec["admitted"], path, line, file_column.get("admitted", "admitted")
                ),
                "programme_start": _parse_date(
                    rec["programme_start"],
                    path,
                    line,
                    file_column.get("programme_start", "programme_start"),
                ),
                "left": _parse_date(rec["left"], path, line, file_column.get("left", "left")),
                "source": rec["source"].strip(),
                "membership_source": membership,
                "is_borough": bool(is_borough),
            }
        )
    if not rows:
        raise InputError("the registry has no rows", path=path, row=2, expected="one row per unit")
    out = pd.DataFrame(rows)
    for col in ("admitted", "programme_start", "left"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    out["pulje"] = out["pulje"].astype(object).where(out["pulje"].notna(), None)
    if not _plainly_valid(out):  # pandera decides and words the error (see _plainly_valid)
        import pandera.pandas as pa

        try:
            _schema().validate(out, lazy=True)
        except pa.errors.SchemaErrors as exc:
            raise _schema_error(exc, out, path, file_column) from None
    _check_dates_order(out, path, file_column)
    _check_frame(out, path, file_column, frame)

    out["pulje"] = out["pulje"].astype("string")
    for col in ("kommunenummer", "kommune", "source", "membership_source"):
        out[col] = out[col].astype(str)
    extras = [c for c in raw.columns if c not in {"kommunenr", "unit_type", *OUTPUT_COLUMNS}]
    for col in extras:
        out[col] = raw[col].to_numpy()
    return out[OUTPUT_COLUMNS + extras].reset_index(drop=True)


_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default str, as in schema.py
_DATE_COLUMNS = ("admitted", "programme_start", "left")


def _plainly_valid(out: pd.DataFrame) -> bool:
    """True only if :func:`_schema` would accept ``out``: its checks in plain pandas, stricter
    where that is simpler (exact dtypes, ASCII digits).  pandera costs about 0.25 s to import
    and is then overhead for a valid registry; a ``False`` only means "ask pandera"."""
    need = ("kommunenummer", "kommune", "pulje", *_DATE_COLUMNS, "membership_source", "is_borough")
    if not out.columns.is_unique or any(c not in out.columns for c in need):
        return False
    for column in ("kommunenummer", "kommune", "membership_source"):
        if out[column].dtype != _STR_DTYPE or out[column].hasnans:
            return False
    code = out["kommunenummer"]
    if not (code.str.isascii().all() and code.str.fullmatch("[0-9]{4}(?:[0-9]{2})?").all()):
        return False
    if not code.is_unique or not out["membership_source"].isin(MEMBERSHIP_SOURCES).all():
        return False
    pulje = out["pulje"]
    if pulje.dtype != object or not (pulje.isna() | pulje.isin(PULJER)).all():
        return False
    for column in _DATE_COLUMNS:
        dates = out[column]
        if dates.dtype != np.dtype("datetime64[ns]"):
            return False
        if not (dates.isna() | ((dates >= DATE_MIN) & (dates <= DATE_MAX))).all():
            return False
    return out["is_borough"].dtype == np.dtype(bool)


def _schema_error(
    exc: pa.errors.SchemaErrors, out: pd.DataFrame, path: Path, file_column: dict[str, str]
) -> InputError:
    """The first pandera failure case as an InputError naming file, row and column."""
    cases = exc.failure_cases.copy()
    cases = cases[cases["column"].notna()] if "column" in cases else cases
    cases["_idx"] = pd.to_numeric(cases["index"], errors="coerce")
    cases = cases.sort_values("_idx", na_position="last")
    case = cases.iloc[0]
    column = str(case["column"])
    idx = case["_idx"]
    row = int(out.loc[int(idx), "file_row"]) if pd.notna(idx) else None
    check = str(case["check"])
    if "unique" in check or "duplicate" in check:
        dup = out[out["kommunenummer"] == case["failure_case"]]["file_row"].tolist()
        return InputError(
            f"the unit appears more than once (lines {', '.join(map(str, dup))})",
            path=path,
            row=dup[-1] if dup else row,
            column=file_column.get(column, column),
            expected="each unit once",
            found=case["failure_case"],
        )
    found = case["failure_case"]
    if isinstance(found, pd.Timestamp):
        found = found.strftime("%Y-%m-%d")
    return InputError(
        "invalid value",
        path=path,
        row=row,
        column=file_column.get(column, column),
        expected=check,
        found=found,
    )


def _check_dates_order(out: pd.DataFrame, path: Path, file_column: dict[str, str]) -> None:
    bad = (
        out["left"].notna()
        & out["programme_start"].notna()
        & (out["left"] < out["programme_start"])
    )
    if bad.any():
        r = out[bad].iloc[0]
        raise InputError(
            "the unit left before its programme started",
            path=path,
            row=int(r["file_row"]),
            column=file_column.get("left", "left"),
            expected="a date after programme_start",
            found=r["left"].strftime("%Y-%m-%d"),
        )


def _check_frame(
    out: pd.DataFrame, path: Path, file_column: dict[str, str], frame: pd.DataFrame | None
) -> None:
    from .municipalities import _name_keys, load_frame

    if frame is None:
        frame = pd.concat([load_frame(2007), load_frame(2008)]).drop_duplicates("kommunenummer")
    names = dict(zip(frame["kommunenummer"], frame["kommune"], strict=True))
    for r in out.itertuples(index=False):
        if r.is_borough:
            expected_name = OSLO_BOROUGHS[r.kommunenummer]
            ok = re.sub(r"^\s*bydel\s+", "", r.kommune, flags=re.IGNORECASE).casefold()
            if r.kommune and ok != expected_name.casefold():
                warnings.warn(
                    f"{path}, row {r.file_row}: borough {r.kommunenummer} is {expected_name!r} in "
                    f"the borough list, the registry says {r.kommune!r}",
                    UserWarning,
                    stacklevel=3,
                )
            continue
        if r.kommunenummer not in names:
            raise InputError(
                "unknown municipality code (not in the 2007/2008 frame)",
                path=path,
                row=r.file_row,
                column=file_column["kommunenummer"],
                expected="a municipality code valid in 2007 or 2008",
                found=r.kommunenummer,
            )
        # case and a county qualifier "(Østfold)" ignored; either part of "Snåase - Snåsa"
        if r.kommune and not _name_keys(r.kommune) & _name_keys(names[r.kommunenummer]):
            warnings.warn(
                f"{path}, row {r.file_row}: {r.kommunenummer} is {names[r.kommunenummer]!r} in the "
                f"municipality frame, the registry says {r.kommune!r}",
                UserWarning,
                stacklevel=3,
            )


def first_treated_period(
    registry: pd.DataFrame,
    rule: str = "programme_start",
    *,
    fill_from_pulje: bool = True,
) -> pd.Series:
    """The first treated quarter of each unit, from its dates.

    Parameters
    ----------
    registry
        Output of :func:`read_registry`.
    rule
        ``"programme_start"`` (default): the quarter containing the programme start;
        ``"admitted"``: the quarter containing the admission date; ``"first_full_quarter"``:
        the first quarter that begins on or after the programme start (the start quarter itself
        when the programme started on its first day).  Anticipation is handled by the
        estimators, not here.
    fill_from_pulje
        A unit with a known pulje but no date of the chosen kind takes the earliest date of
        that kind among units of the same pulje (the puljer started together).  Units whose
        pulje is unknown are never filled.

    Returns
    -------
    Series
        ``period[Q-DEC]`` named ``first_treated``, aligned with ``registry`` (NaT = unknown).
    """
    if rule not in RULES:
        raise InputError(
            "unknown rule for the first treated quarter",
            column="rule",
            expected=" | ".join(RULES),
            found=rule,
        )
    column = "admitted" if rule == "admitted" else "programme_start"
    dates = registry[column].copy()
    if fill_from_pulje:
        known = registry["pulje"].notna()
        by_pulje = dates[known].groupby(registry.loc[known, "pulje"].astype(str)).min()
        fill = registry["pulje"].astype("string").map(by_pulje)
        dates = dates.where(dates.notna() | ~known, fill)
    periods = dates.dt.to_period("Q")
    if rule == "first_full_quarter":
        starts_quarter = dates.notna() & (dates == periods.dt.start_time)
        periods = periods.where(starts_quarter, periods + 1)
    return periods.astype("period[Q-DEC]").rename("first_treated")


def registry_summary(registry: pd.DataFrame) -> pd.DataFrame:
    """Counts of units by pulje (I-IV, ``unknown``, ``total``) and membership source.

    Columns ``documented``, ``simulated``, ``total``, ``boroughs``; for a report's data section.
    """
    pulje = registry["pulje"].astype("string").fillna("unknown")
    src = registry["membership_source"].astype(str)
    table = pd.crosstab(pulje, src).reindex(
        index=[*PULJER, "unknown"], columns=list(MEMBERSHIP_SOURCES), fill_value=0
    )
    table["total"] = table.sum(axis=1)
    table["boroughs"] = registry["is_borough"].groupby(pulje).sum().reindex(table.index).fillna(0)
    table.loc["total"] = table.sum(axis=0)
    table.index.name = "pulje"
    table.columns.name = None
    return table.astype("int64")
