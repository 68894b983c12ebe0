"""Quarters: parsing the many spellings found in sources, and the integer quarter index.

Estimators take integer periods (``tname``/``gname``).  For quarterly data kvk uses the
*quarter index* ``year * 4 + quarter - 1`` (2007Q1 -> 8028), which is consecutive across
years, so "one period before" is always ``index - 1`` and anticipation counts quarters.
``gname == 0`` marks never-treated units (as in R ``did``); real indices are far above 0.
"""

from __future__ import annotations

import re

import pandas as pd

_PATTERNS = [
    # 2007Q1, 2007-Q1, 2007 Q1, 2007K1, 2007k1
    (re.compile(r"^\s*(\d{4})\s*[-_ ]?\s*[QqKk]\s*([1-4])\s*$"), "yq"),
    # Q1-2007, K1 2007
    (re.compile(r"^\s*[QqKk]\s*([1-4])\s*[-_ ]?\s*(\d{4})\s*$"), "qy"),
    # "1. kvartal 2007", "1. kv. 2007", "1 kvartal 2007"
    (re.compile(r"^\s*([1-4])\.?\s*kv(?:artal|\.)?\s*(\d{4})\s*$", re.IGNORECASE), "qy"),
    # "2007 1. kvartal"
    (re.compile(r"^\s*(\d{4})\s+([1-4])\.?\s*kv(?:artal|\.)?\s*$", re.IGNORECASE), "yq"),
]
#: ``YYYY-N`` with ONE digit 1-4 (``2007-3``) is quarter N: sources that number quarters write
#: it so (``2007-1`` ... ``2007-4``), and it is not an ISO date, whose month has two digits.
_YEAR_DASH_QUARTER = re.compile(r"^\s*(\d{4})-([1-4])\s*$")
#: ``YYYY-N`` with one digit 5-9: neither a quarter nor an ISO month; refused as ambiguous.
_YEAR_DASH_DIGIT = re.compile(r"^\s*\d{4}-\d\s*$")
#: Dates read as "the quarter containing them": ISO ``YYYY-MM`` (two-digit month) or
#: ``YYYY-M-D``/``YYYY-MM-DD`` (a time may follow).  Other text pandas would take for a date
#: (``2007``, ``2007.3``, ``2007 3``) is refused: it would silently become the first quarter.
_ISO_DATE = re.compile(r"^\s*\d{4}-(?:\d{2}|\d{1,2}-\d{1,2}(?:[T ]\S+)?)\s*$")


def parse_quarter(value: object) -> pd.Period:
    """Parse one quarter label into ``pandas.Period`` with freq ``Q``.

    Accepts ``2007Q1``, ``2007K1``, ``2007-Q1``, ``Q1-2007``, ``1. kvartal 2007``, ``2007-3``
    (year, dash, ONE digit 1-4: the third quarter), a ``pd.Period`` or a date (``Timestamp``,
    ``2007-02-15``, ``2007-02``: the quarter containing it; an ISO month has two digits, so
    ``2007-03`` is March, in 2007Q1, while ``2007-3`` is 2007Q3).  Raises ``ValueError``
    otherwise: a bare year such as ``2007``, and ``2007-5`` ... ``2007-9`` (neither a quarter
    nor an ISO month).
    """
    if isinstance(value, pd.Period):
        return value.asfreq("Q")
    if isinstance(value, pd.Timestamp):
        return value.to_period("Q")
    text = str(value)
    for pattern, order in _PATTERNS:
        m = pattern.match(text)
        if m:
            a, b = m.group(1), m.group(2)
            year, q = (int(a), int(b)) if order == "yq" else (int(b), int(a))
            return pd.Period(year=year, quarter=q, freq="Q")
    m = _YEAR_DASH_QUARTER.match(text)
    if m:
        return pd.Period(year=int(m.group(1)), quarter=int(m.group(2)), freq="Q")
    if _YEAR_DASH_DIGIT.match(text):
        raise ValueError(
            f"not a quarter: {value!r} (year-digit is read as a quarter only for 1-4; "
            "write a month with two digits, e.g. 2007-05)"
        )
    if _ISO_DATE.match(text):
        try:
            return pd.Timestamp(text).to_period("Q")
        except ValueError:  # e.g. month 13
            pass
    raise ValueError(
        f"not a quarter: {value!r} (expected e.g. 2007Q1, 2007K1 or '1. kvartal 2007')"
    )


def quarter_index(period: pd.Period | pd.Series | pd.PeriodIndex) -> int | pd.Series:
    """Integer quarter index ``year * 4 + quarter - 1`` (2007Q1 -> 8028)."""
    if isinstance(period, pd.Series):
        return (period.dt.year * 4 + period.dt.quarter - 1).astype("int64")
    if isinstance(period, pd.PeriodIndex):
        return pd.Index(period.year * 4 + period.quarter - 1)
    return int(period.year * 4 + period.quarter - 1)


def index_to_quarter(index: int) -> pd.Period:
    """Inverse of :func:`quarter_index` (8028 -> Period('2007Q1'))."""
    index = int(index)
    return pd.Period(year=index // 4, quarter=index % 4 + 1, freq="Q")


def quarter_range(start: str | pd.Period, end: str | pd.Period) -> pd.PeriodIndex:
    """All quarters from ``start`` to ``end`` inclusive."""
    return pd.period_range(parse_quarter(start), parse_quarter(end), freq="Q")


def working_days(period: pd.Period) -> int:
    """Weekdays (Monday-Friday) in a quarter: the contracted days of one full-time employee.

    Public holidays are not removed; KS and SSB count *avtalte dagsverk* from agreed working
    time, and the holiday effect cancels in the rate.
    """
    days = pd.bdate_range(period.start_time, period.end_time.normalize())
    return int(len(days))
