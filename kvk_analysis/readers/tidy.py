"""The tidy sick-leave table shared by all readers: construction, aggregation, missing counts.

Columns (docs/architecture.md): ``kommunenummer, period, sector, measure, <extra dims>,
lost_days, contracted_days, employees, rate, status, source`` and, until validation, ``_line``
(the 1-based line of the file the row came from, or the spreadsheet row; ``<NA>`` where a row
has no single line, e.g. JSON-stat or employee-level aggregates).  :func:`read_sickleave`
drops ``_line`` after :func:`kvk_analysis.schema.validate_tidy` has used it for messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..numbers import STATUS_ORDER, STATUSES

__all__ = [
    "KEY_COLUMNS",
    "MEASURES",
    "SECTORS",
    "STATUS_ORDER",
    "STATUS_VALUES",
    "TAIL_COLUMNS",
    "VALUE_COLUMNS",
    "ATTRIBUTE_COLUMNS",
    "aggregate",
    "combine_status",
    "dimension_columns",
    "finish",
    "missing_summary",
    "sector_code",
]

KEY_COLUMNS = ["kommunenummer", "period", "sector", "measure"]
VALUE_COLUMNS = ["lost_days", "contracted_days", "employees", "rate"]
TAIL_COLUMNS = ["status", "source"]
SECTORS = ("all", "care", "education", "other")
MEASURES = (
    "total",
    "self_certified",
    "doctor_certified",
    "doctor_certified_over3",
    "persons_doctor_certified",
)
#: Optional per-row attributes (not dimensions), kept by :func:`finish` when a reader sets them:
#: ``persons`` (persons with sick leave), ``preliminary`` (figures marked preliminary),
#: ``unit_basis`` (residence/workplace/employer), ``region_level`` (municipality/county).
ATTRIBUTE_COLUMNS = {
    "persons": "float64",
    "preliminary": "bool",
    "unit_basis": "str",
    "region_level": "str",
}
#: Cell statuses and their precedence in combined rows, from :mod:`kvk_analysis.numbers`.
STATUS_VALUES = STATUSES

#: Norwegian (and English) sector labels -> sector code.
SECTOR_LABELS = {
    "pleie og omsorg": "care",
    "helse og omsorg": "care",
    "helse, pleie og omsorg": "care",
    "pleie- og omsorg": "care",
    "oppvekst": "education",
    "oppvekst og utdanning": "education",
    "skole og barnehage": "education",
    "undervisning": "education",
    "annet": "other",
    "andre": "other",
    "øvrige": "other",
    "alle": "all",
    "alle sektorer": "all",
    "i alt": "all",
    "totalt": "all",
    "care": "care",
    "education": "education",
    "other": "other",
    "all": "all",
}


def sector_code(label: object) -> str | None:
    """Map a sector label (``Pleie og omsorg``, ``Oppvekst``, ``Annet``, ``Alle``) to its code."""
    if not isinstance(label, str):
        return None
    return SECTOR_LABELS.get(" ".join(label.strip().lower().split()))


def combine_status(*statuses: pd.Series) -> pd.Series:
    """Row status from several cell statuses: the first of confidential, missing,
    not_applicable, zero, ok that occurs (a zero numerator with a known denominator is
    ``zero``; any suppressed or missing cell makes the row suppressed/missing)."""
    out = pd.Series("ok", index=statuses[0].index, dtype="str")
    for status in reversed(STATUS_ORDER):
        hit = np.zeros(len(out), dtype=bool)
        for s in statuses:
            hit |= (s == status).to_numpy()
        out[hit] = status
    return out


def dimension_columns(df: pd.DataFrame) -> list[str]:
    """The key columns of a tidy table: the four standard ones plus any extra dimension."""
    fixed = set(KEY_COLUMNS + VALUE_COLUMNS + TAIL_COLUMNS + ["_line", *ATTRIBUTE_COLUMNS])
    extra = [c for c in df.columns if c not in fixed]
    return KEY_COLUMNS + extra


def rate_from_days(lost: pd.Series, contracted: pd.Series) -> pd.Series:
    """Sick-leave rate in percent, lost/contracted*100 (NaN where a part is missing or 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = lost.to_numpy(dtype=float) / contracted.to_numpy(dtype=float) * 100.0
    rate[~np.isfinite(rate)] = np.nan
    return pd.Series(rate, index=lost.index, dtype="float64")


#: A published rate contradicts its days when it differs from lost/contracted*100 by more than
#: this many percentage points AND by more than :data:`RATE_CONFLICT_REL` of the computed rate
#: (so rates rounded to one decimal, or days rounded to whole days, are no conflict).
RATE_CONFLICT_PP = 0.15
RATE_CONFLICT_REL = 0.02


def rate_conflicts(
    published: pd.Series, computed: pd.Series, frame: pd.DataFrame
) -> list[dict[str, object]]:
    """Rows whose published rate (percent) contradicts the rate computed from their days.

    Returns plain records (kept in ``df.attrs["rate_conflicts"]``, so they survive pandas
    copying the attrs): the dimension columns, ``line`` (file line or ``None``),
    ``published`` and ``from_days`` (both percent)."""
    diff = (published - computed).abs()
    bad = (diff > RATE_CONFLICT_PP) & (diff > RATE_CONFLICT_REL * computed.abs())
    bad &= published.notna() & computed.notna()
    if not bad.any():
        return []
    dims = [c for c in dimension_columns(frame) if c in frame]
    rows = frame.loc[bad, dims]
    lines = frame["_line"][bad] if "_line" in frame else pd.Series(pd.NA, index=rows.index)
    out = []
    for i, (idx, row) in enumerate(rows.iterrows()):
        rec: dict[str, object] = {c: str(row[c]) for c in dims}
        line = lines.iloc[i]
        rec["line"] = None if pd.isna(line) else int(line)
        rec["published"] = float(published[idx])
        rec["from_days"] = float(computed[idx])
        out.append(rec)
    return out


def rate_conflict_note(conflicts: list[dict[str, object]]) -> str:
    """One reader note about published rates that contradict their days."""
    first = conflicts[0]
    where = f"line {first['line']}, " if first.get("line") is not None else ""
    n = len(conflicts)
    return (
        f"{n} row{'s' if n != 1 else ''}: the published rate contradicts the days (first: "
        f"{where}{first['kommunenummer']} {first['period']} {first['sector']} "
        f"{first['measure']}: {first['published']:g} % published, {first['from_days']:.2f} % "
        "from the days); the rate is computed from the days, and each such row is listed in "
        "the data-quality table (check 'rate_conflict')"
    )


def finish(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Put a reader's frame into tidy form: column order, dtypes, rate from days.

    ``rate`` is recomputed from the days wherever both lost and contracted days are known;
    elsewhere the published rate (if any) is kept.  A published rate that contradicts its
    days (:func:`rate_conflicts`) is not replaced silently: the rows are kept in
    ``attrs["rate_conflicts"]`` for the reader's notes and the data-quality table.
    """
    out = df.copy()
    for col in VALUE_COLUMNS:
        if col not in out:
            out[col] = np.nan
        out[col] = out[col].astype("float64")
    computed = rate_from_days(out["lost_days"], out["contracted_days"])
    has_days = out["lost_days"].notna() & out["contracted_days"].notna()
    conflicts = rate_conflicts(out["rate"].where(has_days), computed, out)
    out["rate"] = computed.where(has_days, out["rate"])
    if "status" not in out:
        out["status"] = "ok"
    out["source"] = source
    if "_line" not in out:
        out["_line"] = pd.NA
    out["_line"] = out["_line"].astype("Int64")
    for col in ["kommunenummer", "sector", "measure", "status", "source"]:
        out[col] = out[col].astype("str")
    out["period"] = out["period"].astype("period[Q-DEC]")
    dims = dimension_columns(out)
    for col in dims[len(KEY_COLUMNS) :]:
        out[col] = out[col].astype("str")
    attrs = [c for c in ATTRIBUTE_COLUMNS if c in out]
    for col in attrs:
        out[col] = out[col].astype(ATTRIBUTE_COLUMNS[col])
    out = out[dims + VALUE_COLUMNS + attrs + TAIL_COLUMNS + ["_line"]].reset_index(drop=True)
    if conflicts:  # only then: clean data keep the attrs (and Parquet metadata) they had
        out.attrs["rate_conflicts"] = conflicts
    return out


def aggregate(
    tidy: pd.DataFrame, by: Sequence[str] = ("kommunenummer", "period", "sector")
) -> pd.DataFrame:
    """Sum days and employees over the dimensions not in ``by``; recompute the rate (percent).

    ``period`` and ``measure`` are always kept (days of different quarters or of overlapping
    measures are never added).  A collapsed dimension is set to ``"all"`` (``kommunenummer``
    to ``"0000"``, the national total); rows that already are ``"all"`` in a collapsed
    dimension are left out of the sum to avoid double counting, and used as they are only
    where a group has no parts (a dimension that is ``"all"`` in every row, like ``sector``
    of an SSB table, simply has nothing to collapse).  A group with any missing or
    suppressed part gets NaN days and that part's status: percentages are never averaged
    and gaps never silently dropped.  ``employees`` are summed like days (meaningful across
    units of one quarter, which is all this function adds up).
    """
    if "_line" in tidy:
        tidy = tidy.drop(columns="_line")
    dims = dimension_columns(tidy)
    keep = [c for c in dims if c in set(by) | {"period", "measure"}]
    unknown = set(by) - set(dims)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}: not a dimension of the table")
    collapse = [c for c in dims if c not in keep]
    total_label = {c: ("0000" if c == "kommunenummer" else "all") for c in collapse}
    if not collapse:
        return tidy.reset_index(drop=True).copy()
    is_total = np.zeros(len(tidy), dtype=bool)
    for c in collapse:
        marks = (tidy[c] == total_label[c]).to_numpy()
        if not marks.all():  # a dimension that is "all" everywhere has no parts to sum
            is_total |= marks
    parts = tidy[~is_total]
    sums = (
        parts.groupby(keep, observed=True, sort=True)[["lost_days", "contracted_days", "employees"]]
        .sum(min_count=1)
        .reset_index()
    )
    # NaN if any part is NaN: compare with the count of non-missing parts.
    counts = parts.groupby(keep, observed=True, sort=True).agg(
        n=("lost_days", "size"),
        n_lost=("lost_days", "count"),
        n_contracted=("contracted_days", "count"),
        n_employees=("employees", "count"),
    )
    counts = counts.reset_index(drop=True)
    sums.loc[counts["n_lost"] < counts["n"], "lost_days"] = np.nan
    sums.loc[counts["n_contracted"] < counts["n"], "contracted_days"] = np.nan
    sums.loc[counts["n_employees"] < counts["n"], "employees"] = np.nan
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    worst = (
        parts.assign(_rank=parts["status"].map(rank))
        .groupby(keep, observed=True, sort=True)["_rank"]
        .min()
        .reset_index(drop=True)
    )
    # "zero" only if every part is zero; otherwise a zero part is just ok.
    all_zero = (
        parts.assign(_z=parts["status"] == "zero")
        .groupby(keep, observed=True, sort=True)["_z"]
        .all()
        .reset_index(drop=True)
    )
    status = worst.map(dict(enumerate(STATUS_ORDER)))
    status = status.where(~((status == "zero") & ~all_zero), "ok")
    sums["status"] = status.to_numpy()
    sources = parts.groupby(keep, observed=True, sort=True)["source"].agg(
        lambda s: ";".join(sorted(set(s)))
    )
    sums["source"] = sources.to_numpy()
    sums["rate"] = rate_from_days(sums["lost_days"], sums["contracted_days"])
    for c in collapse:
        sums[c] = total_label[c]
    # Groups that only have ready-made totals.
    totals = tidy[is_total]
    if len(totals):
        totals = totals.copy()
        for c in collapse:
            totals[c] = total_label[c]
        have = pd.MultiIndex.from_frame(sums[keep]) if len(sums) else None
        if have is not None:
            totals = totals[~pd.MultiIndex.from_frame(totals[keep]).isin(have)]
        totals = totals.drop_duplicates(subset=keep)
        sums = pd.concat([sums, totals[sums.columns]], ignore_index=True)
    out = sums[dims + VALUE_COLUMNS + TAIL_COLUMNS]
    out = out.astype({c: tidy[c].dtype for c in out.columns if c in tidy})
    return out.sort_values(keep, kind="stable").reset_index(drop=True)


def missing_summary(tidy: pd.DataFrame, by: Iterable[str] = ("measure",)) -> pd.DataFrame:
    """Count rows by status (ok, missing, not_applicable, confidential, zero) per ``by`` group.

    Returns one row per group with a column per status, ``n`` (rows) and ``share_missing``
    (rows without a usable value: missing, not applicable or confidential, as a fraction).
    """
    by = list(by)
    counts = pd.crosstab(
        [tidy[c] for c in by] if by else pd.Series("all", index=tidy.index, name="group"),
        pd.Categorical(tidy["status"], categories=STATUS_VALUES),
        dropna=False,
    )
    counts.columns = [str(c) for c in counts.columns]
    counts = counts.reindex(columns=list(STATUS_VALUES), fill_value=0)
    counts["n"] = counts.sum(axis=1)
    unusable = counts[["missing", "not_applicable", "confidential"]].sum(axis=1)
    counts["share_missing"] = unusable / counts["n"].where(counts["n"] > 0)
    counts = counts.reset_index()
    counts.columns.name = None
    return counts
