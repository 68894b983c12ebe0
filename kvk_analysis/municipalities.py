"""Municipality frame (2007/2008), code crosswalk 1994-2024, population with flagged imputation.

The analysis vintage is 2008: 430 municipalities (431 in 2007, before Kristiansund 1503 and
Frei 1556 became 1505 Kristiansund on 1 January 2008).  Reference files live in
``data/raw/municipalities/`` (see its ``PROVENANCE.md``); they are read, never modified.

Public functions
----------------
- :func:`load_frame` - the municipalities of 2007 or 2008 with their county.
- :func:`load_population` - population on 1 January 2005-2009, long format, gaps imputed and flagged.
- :func:`harmonise_codes` - map codes of any vintage 1994-2024 onto the 2008 frame
  (or onto merged groups), summing counts and recomputing rates; returns a :class:`MappingReport`.
- :func:`merged_frame` - the units at merged level (2008 municipalities summed into the later
  merged groups); :func:`code_info` - what one code of any vintage covers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from .errors import InputError
from .numbers import STATUS_ORDER

FRAME_FILE = "kommuner_2007_2008.csv"
CROSSWALK_FILE = "kommune_crosswalk_1994_2024.csv"
POPULATION_FILE = "population_2005_2009.csv"

#: Population of Norway on 1 January 2008 (SSB), stated in data/raw/municipalities/PROVENANCE.md.
NATIONAL_POPULATION_2008 = 4_737_171
POPULATION_YEARS = (2005, 2006, 2007, 2008, 2009)

#: Codes merged on 1 January 2008 into 1505 Kristiansund (the only merger inside the programme).
KRISTIANSUND_PARTS = ("1503", "1556")
KRISTIANSUND_2008 = "1505"

#: Forsand (1129) was split between Sandnes and Strand in 2020; the crosswalk puts it in Sandnes
#: only, so the later units that took parts of it cannot be mapped back.
FORSAND = "1129"
FORSAND_SUCCESSORS_2024 = ("1108", "1130")
#: Name of the crosswalk group holding municipalities split between several successors.
SPLIT_GROUP = "Rest"


def _dir(directory: str | Path | None) -> Path:
    return Path(directory) if directory is not None else config.MUNICIPALITIES_DIR


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(
            "reference file missing", path=path, expected="the file shipped in data/raw"
        )
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _frame_table(directory: Path) -> pd.DataFrame:
    df = _read_csv(directory / FRAME_FILE)
    df["valid_2007"] = df["valid_2007"].eq("1")
    df["valid_2008"] = df["valid_2008"].eq("1")
    return df


@functools.lru_cache(maxsize=4)
def _crosswalk_table(directory: Path) -> pd.DataFrame:
    return _read_csv(directory / CROSSWALK_FILE)


def load_frame(year: int = 2008, directory: str | Path | None = None) -> pd.DataFrame:
    """The municipalities valid on 1 January of ``year`` (2007: 431 units, 2008: 430 units).

    Returns columns ``kommunenummer`` (str, 4 digits), ``kommune``, ``fylkesnr`` (str, 2 digits),
    ``fylke`` (county as of 2007/2008), one row per municipality, sorted by code.
    """
    if year not in (2007, 2008):
        raise InputError(
            "the municipality frame exists for 2007 and 2008 only",
            column="year",
            expected="2007 or 2008",
            found=year,
        )
    df = _frame_table(_dir(directory).resolve())
    keep = df[df[f"valid_{year}"]]
    out = keep.rename(columns={"kommunenr": "kommunenummer"})[
        ["kommunenummer", "kommune", "fylkesnr", "fylke"]
    ]
    return out.sort_values("kommunenummer").reset_index(drop=True)


def _all_frame_units(directory: Path) -> pd.DataFrame:
    df = _frame_table(directory)
    return df[df["valid_2007"] | df["valid_2008"]].rename(columns={"kommunenr": "kommunenummer"})


def load_population(impute: bool = True, directory: str | Path | None = None) -> pd.DataFrame:
    """Population on 1 January 2005-2009 for every code valid in 2007 or 2008 (432 codes).

    Returns a long table: ``kommunenummer`` (str), ``year`` (int, population on 1 January),
    ``population`` (float, persons), ``imputed`` (bool), ``imputation`` (method, ``""`` when
    observed).  With ``impute=False`` the gaps stay NaN (``imputation="missing"``).

    The source file (SSB table 07459) lacks nine units and has 1505 only from 2008 and 1160/1576
    only from 2006.  Gaps are filled openly, in this order, each row naming its method:

    1. ``backcast_county_growth``: a unit observed in later years only gets the value of its
       first observed year times the growth of its county's fully observed units
       (1505 for 2005-2007, 1160 and 1576 for 2005).
    2. ``national_residual_2008_county_mean_weights``: the seven wholly missing units outside
       Kristiansund (0706, 0719, 0720, 1723, 1729, 1901, 1915) share the 2008 national residual
       (4,737,171 persons minus the file's total) in proportion to the mean population of the
       observed units of their county; other years follow their county's growth.  No source
       gives the split, so these values are rough: use them for size groups and weights only.
    3. ``equal_split_of_1505``: 1503 Kristiansund and 1556 Frei get equal halves of the 1505
       territory in each year (no source gives the split), so 1503 + 1556 = 1505 always holds;
       1505 itself is observed from 2008 and back-cast before.
    """
    return _population_table(_dir(directory).resolve(), bool(impute)).copy()


@functools.lru_cache(maxsize=8)
def _population_table(directory: Path, impute: bool) -> pd.DataFrame:
    """:func:`load_population` read and imputed once per folder (callers get copies)."""
    units = _all_frame_units(directory)[["kommunenummer", "fylkesnr"]]
    raw = _read_csv(directory / POPULATION_FILE)
    wide = units.merge(
        raw.rename(columns={"kommunenr": "kommunenummer"}).drop(columns=["kommune"]),
        on="kommunenummer",
        how="left",
    ).set_index("kommunenummer")
    cols = [f"pop_{y}" for y in POPULATION_YEARS]
    for col in cols:
        wide[col] = pd.to_numeric(wide[col].replace("", np.nan), errors="raise").astype(float)
    values = wide[cols].copy()
    values.columns = list(POPULATION_YEARS)
    method = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    method[values.isna()] = "missing"
    if impute:
        _impute_population(values, method, wide["fylkesnr"])
    long = values.stack(future_stack=True).rename("population").reset_index()
    long.columns = ["kommunenummer", "year", "population"]
    meth = method.stack(future_stack=True).reset_index()
    long["imputation"] = meth.iloc[:, 2].astype(str).to_numpy()
    long["imputed"] = ~long["imputation"].isin(["", "missing"])
    long["year"] = long["year"].astype("int64")
    long["population"] = long["population"].astype(float)
    return long[["kommunenummer", "year", "population", "imputed", "imputation"]].sort_values(
        ["kommunenummer", "year"], ignore_index=True
    )


def _impute_population(values: pd.DataFrame, method: pd.DataFrame, county: pd.Series) -> None:
    """Fill ``values`` in place (see :func:`load_population` for the methods)."""
    years = list(values.columns)
    complete = values.notna().all(axis=1)
    county_totals = values[complete].groupby(county[complete]).sum()
    county_mean_2008 = values.loc[complete, 2008].groupby(county[complete]).mean()

    # 1. back-cast units observed only in later years.
    for code in values.index[values.notna().any(axis=1) & ~complete]:
        row = values.loc[code]
        first = next(y for y in years if pd.notna(row[y]))
        growth = county_totals.loc[county[code]]
        for y in years:
            if pd.isna(row[y]) and y < first:
                values.loc[code, y] = row[first] * growth[y] / growth[first]
                method.loc[code, y] = "backcast_county_growth"

    # 3 (before 2, so that 1503/1556 are not counted among the wholly missing units).
    parts = [c for c in KRISTIANSUND_PARTS if c in values.index]
    if KRISTIANSUND_2008 in values.index and parts:
        for code in parts:
            for y in years:
                if pd.isna(values.loc[code, y]):
                    values.loc[code, y] = values.loc[KRISTIANSUND_2008, y] / len(parts)
                    method.loc[code, y] = "equal_split_of_1505"

    # 2. wholly missing units share the national residual of 2008.
    missing = [c for c in values.index[values.isna().all(axis=1)]]
    if missing:
        observed_2008 = values.loc[~values.index.isin(KRISTIANSUND_PARTS), 2008].sum()
        residual = NATIONAL_POPULATION_2008 - observed_2008
        weights = county.loc[missing].map(county_mean_2008).astype(float)
        shares = weights / weights.sum()
        for code in missing:
            level = residual * shares[code]
            growth = county_totals.loc[county[code]]
            for y in years:
                values.loc[code, y] = level * growth[y] / growth[2008]
                method.loc[code, y] = "national_residual_2008_county_mean_weights"


# ---------------------------------------------------------------------------------------------
# Code harmonisation
# ---------------------------------------------------------------------------------------------

#: Rules of :func:`harmonise_codes`, as written in the mapping report.
RULES = {
    "identity": "code of the 2008 frame, kept",
    "merged_2008": "Kristiansund 1503 + Frei 1556 -> 1505 Kristiansund (merged 1 January 2008)",
    "predecessor": "code that ended before 2007, part of one 2008 municipality",
    "recoded": "later code whose territory is one 2008 municipality",
    "merged_group": "analysis at merged level: unit summed into its later merged group",
}

#: Intermediate codes whose territory the 2024 grouping cannot describe (a 2024 de-merger).
_DEMERGED = {"1507": "Haram (1534), split out of Ålesund again in 2024"}

_VALIDITY = re.compile(r"\s*\((?:-?\d{4}(?:-\d{4})?|-\d{4})\)\s*$")


def _name_keys(name: str) -> frozenset[str]:
    """Comparable forms of a municipality name: validity suffix removed, Sami/Norwegian parts."""
    base = _VALIDITY.sub("", name).strip()
    base = re.sub(r"\s*\((?:[^()]*)\)\s*$", "", base)  # county qualifier "(Østfold)"
    return frozenset(p.strip().casefold() for p in base.split(" - ") if p.strip())


def _year(value: str, default: int) -> int:
    if value.startswith("current"):
        return 2024
    return int(value) if value.strip() else default


@dataclass(frozen=True)
class CodeInfo:
    """What one code of any vintage 1994-2024 covers, in units of the 2007/2008 frame."""

    code: str
    label: str
    group: str  # 2024 group code ("Rest" for split municipalities)
    group_name: str
    territory: frozenset[str]  # 2008 codes it covers (empty: none cleanly)
    rule: str  # identity | merged_2008 | predecessor | recoded | merged | split | not_municipality
    current: bool  # code in use in 2024


@functools.lru_cache(maxsize=4)
def _code_table(directory: Path) -> dict[str, CodeInfo]:
    """Classify every code of the crosswalk (and of the frame) once.

    Hand-written because no library knows Norwegian municipality history: the crosswalk gives
    each code its 2024 group and validity years, and the territory of an intermediate code
    (e.g. 5004 Steinkjer 2018-2019 = Steinkjer only, 0715 Holmestrand 2018-2019 = Holmestrand
    + Hof) is found from which other members of its group had their own code at the same time.
    """
    frame = _frame_table(directory)
    cw = _crosswalk_table(directory)
    f08 = frame[frame["valid_2008"]]
    members: dict[str, list[str]] = {}
    for code, group in zip(f08["kommunenr"], f08["harmonized_2024_code"], strict=True):
        members.setdefault(group or SPLIT_GROUP, []).append(code)
    name08 = dict(zip(frame["kommunenr"], frame["kommune"], strict=True))
    frame_codes = set(frame["kommunenr"])
    table: dict[str, CodeInfo] = {}
    rows = list(cw.itertuples(index=False))
    by_group: dict[str, list] = {}  # the crosswalk's rows of each group, in file order
    for row in rows:
        by_group.setdefault(row.harmonized_2024_code, []).append(row)
    for row in rows:
        code, label, group = row.code, row.label_with_validity, row.harmonized_2024_code
        current = row.valid_to.startswith("current")
        start, end = _year(row.valid_from, 0), _year(row.valid_to, 2024)
        mem = members.get(group, [])
        if code in frame_codes:
            continue  # filled below from the frame itself
        if group in ("21-22", "23") or code == "9999":
            terr, rule = frozenset(), "not_municipality"
        elif end < 2007:
            cands = [m for m in mem if len(mem) == 1]
            if len(mem) > 1:
                starts = {r.code: r.valid_from for r in by_group[group]}
                cands = [m for m in mem if starts.get(m, "") == str(end + 1)]
            terr = frozenset(cands[:1]) if len(cands) == 1 else frozenset()
            rule = "predecessor" if terr else "split"
        elif group == SPLIT_GROUP:
            match = [m for m in mem if _name_keys(name08[m]) & _name_keys(label)]
            terr = frozenset(match) if (len(match) == 1 and not current) else frozenset()
            rule = "recoded" if terr else "split"
        elif group == "1108" or not mem or code in _DEMERGED:
            # successors of Forsand or of split municipalities; 1507 Ålesund (2020-2023)
            # included Haram, which the crosswalk (2024 groups) puts in a group of its own.
            terr, rule = frozenset(), "split"
        elif current or len(mem) == 1:
            terr = frozenset(mem)
            rule = "recoded" if len(mem) == 1 else "merged"
        else:
            keys_x = _name_keys(label)
            chosen = set()
            for m in mem:
                if _name_keys(name08[m]) & keys_x:
                    chosen.add(m)
                    continue
                separate = False
                for other in by_group[group]:
                    if other.code == code or not (
                        _name_keys(other.label_with_validity) & _name_keys(name08[m])
                    ):
                        continue
                    o_start, o_end = _year(other.valid_from, 0), _year(other.valid_to, 2024)
                    if o_start <= end and o_end >= start:
                        separate = True
                        break
                if not separate:
                    chosen.add(m)
            terr = frozenset(chosen)
            rule = "recoded" if len(terr) == 1 else "merged"
        table[code] = CodeInfo(code, label, group, row.harmonized_2024_name, terr, rule, current)
    cur = set(cw.loc[cw["valid_to"].str.startswith("current"), "code"])
    for r in frame.itertuples(index=False):
        code = r.kommunenr
        if code in KRISTIANSUND_PARTS:
            terr, rule = frozenset({KRISTIANSUND_2008}), "merged_2008"
        else:
            terr, rule = frozenset({code}), "identity"
        table[code] = CodeInfo(
            code,
            r.kommune,
            r.harmonized_2024_code or SPLIT_GROUP,
            r.harmonized_2024_name,
            terr,
            rule,
            code in cur,
        )
    return table


def code_info(code: str, directory: str | Path | None = None) -> CodeInfo | None:
    """What a municipality code of any vintage 1994-2024 covers (``None`` if unknown)."""
    return _code_table(_dir(directory).resolve()).get(str(code).strip().zfill(4))


def _split_names(directory: Path) -> list[str]:
    frame = _frame_table(directory)
    split = frame[(frame["harmonized_2024_code"] == "") & frame["valid_2008"]]
    names = [f"{c} {n}" for c, n in zip(split["kommunenr"], split["kommune"], strict=True)]
    return [*names, f"{FORSAND} Forsand"]


@functools.lru_cache(maxsize=4)
def _merged_targets(directory: Path) -> dict[str, str]:
    """2008 code -> its merged-level unit (the 2024 group code, or itself when not merged)."""
    frame = _frame_table(directory)
    f08 = frame[frame["valid_2008"]]
    sizes = f08["harmonized_2024_code"].value_counts()
    out: dict[str, str] = {}
    for code, group in zip(f08["kommunenr"], f08["harmonized_2024_code"], strict=True):
        clean = group not in ("", "1108") and sizes.get(group, 0) > 1
        out[code] = group if clean else code
    # a group code that is also the code of a 2008 municipality outside the group
    clash = {g for c, g in out.items() if g != c and g in out and out[g] != g}
    if clash:  # pragma: no cover - guards the reference files
        raise RuntimeError(f"merged group codes clash with 2008 codes: {sorted(clash)}")
    return out


def merged_frame(directory: str | Path | None = None) -> pd.DataFrame:
    """The analysis units at merged level: 2008 municipalities summed into their later groups.

    ``kommunenummer`` is the 2024 group code for groups of several 2008 municipalities and the
    2008 code otherwise; ``members`` lists the 2008 codes (``;``-separated).  A group spanning
    two counties gets the county of its member with the most inhabitants on 1 January 2008.
    Split municipalities (and Forsand, Sandnes) stay as their own units.
    """
    return _merged_frame(_dir(directory).resolve()).copy()


@functools.lru_cache(maxsize=4)
def _merged_frame(directory: Path) -> pd.DataFrame:
    """:func:`merged_frame` built once per folder (callers get copies)."""
    frame = load_frame(2008, directory)
    targets = _merged_targets(directory)
    pop = load_population(True, directory)
    pop08 = pop[pop["year"] == 2008].set_index("kommunenummer")["population"]
    info = _frame_table(directory).set_index("kommunenr")
    frame = frame.assign(
        unit=frame["kommunenummer"].map(targets),
        pop=frame["kommunenummer"].map(pop08),
    ).sort_values(["unit", "pop"], ascending=[True, False])
    rows = []
    for unit, sub in frame.groupby("unit", sort=True):
        if len(sub) == 1:
            name = sub["kommune"].iloc[0]
        else:
            name = info.loc[sub["kommunenummer"].iloc[0], "harmonized_2024_name"]
        rows.append(
            {
                "kommunenummer": unit,
                "kommune": name,
                "fylkesnr": sub["fylkesnr"].iloc[0],
                "fylke": sub["fylke"].iloc[0],
                "members": ";".join(sorted(sub["kommunenummer"])),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class MappingReport:
    """Which codes were mapped onto the analysis vintage, by which rule (for a data appendix).

    ``table`` has columns ``from_code, from_name, to_code, to_name, rule, n_rows``.
    """

    table: pd.DataFrame
    level: str
    target: str = "2008"
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The mapping table, one row per source code."""
        return self.table.copy()

    def summary(self) -> str:
        """A short text: how many codes and rows each rule touched."""
        t = self.table
        lines = [
            f"Municipality codes harmonised to the {self.target} frame "
            f"({self.level} level): {len(t)} codes, {int(t['n_rows'].sum())} rows."
        ]
        for rule, sub in t.groupby("rule", sort=False):
            changed = sub[sub["from_code"] != sub["to_code"]]
            text = f"- {rule}: {len(sub)} codes, {int(sub['n_rows'].sum())} rows"
            if len(changed) and rule != "identity":
                shown = ", ".join(
                    f"{a}->{b}"
                    for a, b in zip(changed["from_code"], changed["to_code"], strict=True)
                )
                if len(changed) > 12:
                    shown = ", ".join(shown.split(", ")[:12]) + ", ..."
                text += f" ({shown})"
            lines.append(text)
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def harmonise_codes(
    df: pd.DataFrame,
    code_column: str = "kommunenummer",
    target: str = "2008",
    level: str = "municipality",
    sum_columns: Sequence[str] = ("lost_days", "contracted_days", "employees"),
    *,
    rate_column: str | None = "rate",
    vintage: str = "as_of_period",
    path: str | Path | None = None,
    directory: str | Path | None = None,
) -> tuple[pd.DataFrame, MappingReport]:
    """Map municipality codes of any vintage 1994-2024 onto the 2008 frame.

    Parameters
    ----------
    df
        A table with a code column (e.g. the tidy sick-leave table).
    code_column
        The column holding 4-digit codes (integers and 3-digit strings are zero-padded).
    target
        The analysis vintage; only ``"2008"`` (430 municipalities) is supported.
    level
        ``"municipality"``: each row must map to one 2008 municipality (1503 Kristiansund and
        1556 Frei go to 1505; 3101 Halden -> 0101; 5004 Steinkjer (2018-2019) -> 1702);
        codes of later merged units (e.g. 3118 Indre Østfold) are refused.  ``"merged"``: every
        unit, 2008 municipalities included, is summed into its later merged group
        (see :func:`merged_frame`).
    sum_columns
        Count columns summed when several source codes fall into one unit (days, employees).
        A sum with a missing part is missing.  The rate (percent) is recomputed as
        ``lost_days / contracted_days * 100``; rates are never averaged.
    rate_column
        The rate column to recompute (``None``: none).
    vintage
        ``"as_of_period"`` (default): a code valid in 2007/2008 means that municipality (1103 =
        Stavanger of 2008).  ``"2024"``: codes still in use in 2024 mean their 2024 territory
        (1103 = Stavanger + Finnøy + Rennesøy), as in data extracted today.
    path
        The file the table came from, named in errors (row = position + 2, one header line).

    Returns
    -------
    (DataFrame, MappingReport)
        The table with harmonised codes (rows of one unit summed; other columns kept as grouping
        keys; ``status`` and ``source`` combined) and the report of the mapping applied.

    Raises
    ------
    InputError
        Unknown codes; codes of split municipalities' successors (naming the split
        municipalities and Forsand); merged codes at municipality level; overlapping territories
        in one period (e.g. 0101 and 3101 both present).
    """
    directory = _dir(directory).resolve()
    if target != "2008":
        raise InputError(
            "only the 2008 analysis vintage is supported",
            column="target",
            expected="'2008'",
            found=target,
        )
    if level not in ("municipality", "merged"):
        raise InputError(
            "unknown level", column="level", expected="'municipality' or 'merged'", found=level
        )
    if vintage not in ("as_of_period", "2024"):
        raise InputError(
            "unknown vintage", column="vintage", expected="'as_of_period' or '2024'", found=vintage
        )
    if code_column not in df.columns:
        raise InputError(
            "the code column is missing",
            path=path,
            column=code_column,
            expected=f"a column '{code_column}'",
            found=list(df.columns),
        )
    table = _code_table(directory)
    codes = _normalise_codes(df[code_column], path, code_column)
    uniq = pd.unique(codes)
    frame = _frame_table(directory)
    frame_names = dict(zip(frame["kommunenr"], frame["kommune"], strict=True))
    merged_to = _merged_targets(directory)

    def first_row(code: str) -> int | None:
        pos = int(np.flatnonzero((codes == code).to_numpy())[0])
        return pos + 2 if path is not None else None

    mapping: dict[str, tuple[str, str]] = {}
    problems: list[tuple[str, str]] = []
    later = False
    for code in uniq:
        info = table.get(code)
        if info is None:
            problems.append((code, "unknown code (not a Norwegian municipality code 1994-2024)"))
            continue
        terr, rule = info.territory, info.rule
        if vintage == "2024" and code in FORSAND_SUCCESSORS_2024:
            rule = "split"  # Strand and Sandnes of 2024 each hold part of Forsand
        elif vintage == "2024" and info.current and info.rule == "identity":
            grp = [c for c, g in merged_to.items() if g == merged_to.get(code, code)]
            if len(grp) > 1:
                terr, rule = frozenset(grp), "merged"
        if rule in ("recoded", "merged") and code not in frame_names:
            later = True
        if rule == "not_municipality":
            problems.append((code, f"{info.label} is not a municipality"))
        elif rule == "split":
            why = _DEMERGED.get(code)
            problems.append(
                (
                    code,
                    f"{info.label}: "
                    + (
                        why
                        or "its territory includes parts of "
                        "municipalities split between several successors"
                    ),
                )
            )
        elif level == "municipality":
            if rule == "merged":
                names = ", ".join(f"{c} {frame_names[c]}" for c in sorted(terr))
                problems.append(
                    (
                        code,
                        f"{info.label} covers several 2008 municipalities ({names});"
                        " use level='merged'",
                    )
                )
            else:
                (to,) = tuple(terr)
                mapping[code] = (to, rule)
        else:
            tos = {merged_to[t] for t in terr}
            if len(tos) != 1:  # pragma: no cover - guards the reference files
                problems.append((code, f"{info.label} spans several merged groups {sorted(tos)}"))
                continue
            (to,) = tuple(tos)
            mapping[code] = (to, "merged_group" if rule == "identity" and to != code else rule)
    if problems:
        split = "; ".join(_split_names(directory))
        listed = "; ".join(f"{c}: {why}" for c, why in problems)
        msg = f"cannot map {len(problems)} code(s) onto the 2008 frame: {listed}"
        if any("split" in why for _, why in problems):
            msg += f". Municipalities split between several successors (refused): {split}"
        raise InputError(
            msg,
            path=path,
            row=first_row(problems[0][0]),
            column=code_column,
            expected="a municipality code of 1994-2024 that maps onto the 2008 frame",
            found=problems[0][0],
        )
    if later and vintage == "as_of_period":
        ambiguous = [
            c
            for c in uniq
            if table[c].current
            and table[c].rule == "identity"
            and sum(1 for g in merged_to.values() if g == merged_to.get(c, c)) > 1
        ]
        if ambiguous:
            raise InputError(
                "the table mixes codes introduced after 2008 with codes whose territory changed "
                f"later ({', '.join(sorted(ambiguous))}); say which vintage the codes are "
                "(vintage='2024' for data extracted with today's codes)",
                path=path,
                column=code_column,
                expected="codes of one vintage",
                found=sorted(ambiguous)[0],
            )

    to_codes = codes.map({k: v[0] for k, v in mapping.items()})
    rules = codes.map({k: v[1] for k, v in mapping.items()})
    unit_names = (
        merged_frame(directory).set_index("kommunenummer")["kommune"].to_dict()
        if level == "merged"
        else frame_names
    )
    to_names = {v[0]: unit_names.get(v[0], "") for v in mapping.values()}
    report_table = (
        pd.DataFrame({"from_code": codes, "to_code": to_codes, "rule": rules})
        .groupby(["from_code", "to_code", "rule"], sort=True)
        .size()
        .rename("n_rows")
        .reset_index()
    )
    report_table.insert(1, "from_name", report_table["from_code"].map(lambda c: table[c].label))
    report_table.insert(3, "to_name", report_table["to_code"].map(to_names))
    report_table["n_rows"] = report_table["n_rows"].astype("int64")
    notes: list[str] = []
    if level == "merged":
        notes.append(
            "merged level: units are 2008 municipalities summed into their later merged "
            "groups; counts summed and rates recomputed"
        )
    report = MappingReport(report_table, level, target, notes)

    out = df.copy()
    out[code_column] = to_codes.to_numpy()
    if (to_codes == codes).all():
        return out, report
    members: dict[str, list[str]] = {}
    for c, g in merged_to.items():
        members.setdefault(g if level == "merged" else c, []).append(c)
    # Only units that receive rows from another code are aggregated; the rest pass through
    # (so only their expected territory is needed).
    touched = set(to_codes[to_codes != codes].unique())
    expected = {
        t: frozenset().union(*(_territory_parts(table[m], table) for m in members.get(t, [t])))
        for t in touched
    }
    mask = to_codes.isin(touched).to_numpy()
    positions = np.arange(len(out))
    merged, n_partial = _aggregate(
        out[mask].reset_index(drop=True),
        codes[mask].reset_index(drop=True),
        positions[mask],
        code_column,
        list(sum_columns),
        rate_column,
        path,
        table,
        expected,
    )
    rest = out[~mask].assign(_pos=positions[~mask])
    out = pd.concat([rest, merged], ignore_index=True) if len(rest) else merged
    out = out.sort_values("_pos", kind="stable").drop(columns="_pos").reset_index(drop=True)
    for c in df.columns:
        if c not in (*sum_columns, rate_column) and out[c].dtype != df[c].dtype:
            out[c] = out[c].astype(df[c].dtype)
    if n_partial:
        report.notes.append(
            f"{n_partial} rows cover only part of their unit (e.g. 1503 without 1556, or some "
            "members of a merged group missing): their counts and rate are set missing"
        )
    return out, report


def _normalise_codes(values: pd.Series, path: str | Path | None, column: str) -> pd.Series:
    text = values.astype("string").str.strip()
    text = text.str.replace(r"\.0$", "", regex=True)
    bad = text.isna() | ~text.str.fullmatch(r"\d{1,4}u?").fillna(False)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            "not a municipality code",
            path=path,
            row=pos + 2 if path is not None else None,
            column=column,
            expected="a 4-digit municipality code such as 0101",
            found=values.iloc[pos],
        )
    return text.str.zfill(4).astype(str)


def _aggregate(
    out: pd.DataFrame,
    source_codes: pd.Series,
    positions: np.ndarray,
    code_column: str,
    sum_columns: list[str],
    rate_column: str | None,
    path: str | Path | None,
    table: dict[str, CodeInfo],
    expected: dict[str, frozenset[str]],
) -> tuple[pd.DataFrame, int]:
    """Sum rows that now share a unit; recompute the rate; refuse overlapping territories.

    Returns the table and the number of rows whose parts do not cover their whole unit (their
    counts, rate are set missing and status ``missing``).
    """
    sums = [c for c in sum_columns if c in out.columns]
    skip = {*sums, *(c for c in (rate_column, "status", "source", "kommune") if c)}
    if out.empty:
        return out.assign(_pos=positions), 0
    keys = [c for c in out.columns if c not in skip]
    work = out.assign(_src=source_codes.to_numpy(), _pos=positions).reset_index(drop=True)
    grouped = work.groupby(keys, dropna=False, sort=False)
    gid = grouped.ngroup().to_numpy()
    n_parts = work["_src"].groupby(gid).nunique()
    # Two source codes whose territories overlap must not both appear in one unit and period.
    sets = work["_src"].groupby(gid).agg(lambda s: tuple(sorted(set(s))))
    if (n_parts > 1).any():
        for srcs in set(sets[n_parts > 1]):
            terr = [_territory_parts(table[s], table) for s in srcs]
            if sum(len(t) for t in terr) != len(frozenset().union(*terr)):
                gids = sets.index[sets.map(lambda x, srcs=srcs: x == srcs).to_numpy()]
                pos = int(work.loc[np.isin(gid, gids), "_pos"].iloc[1])
                raise InputError(
                    f"codes {', '.join(srcs)} cover the same territory and appear in the same "
                    "period: the rows would be counted twice",
                    path=path,
                    column=code_column,
                    expected="one code per territory and period",
                    found=", ".join(srcs),
                    row=pos + 2 if path is not None else None,
                )
    first = work.groupby(gid, sort=True).first()
    result = first[keys].copy()
    result["_pos"] = work["_pos"].groupby(gid).min()
    # Completeness: the parts present must cover the whole unit (predecessor codes: unknown).
    partial = pd.Series(False, index=sets.index)
    combos = pd.DataFrame({"srcs": sets.map("|".join), "target": first[code_column]})
    for (key, t), idx in combos.groupby(["srcs", "target"]).groups.items():
        srcs = key.split("|")
        if any(table[s].rule == "predecessor" for s in srcs):
            continue
        covered = frozenset().union(*(_territory_parts(table[s], table) for s in srcs))
        want = {p for p in expected.get(t, frozenset()) if not p.startswith("part:")}
        got = {p for p in covered if not p.startswith("part:")}
        if want and got != want:
            partial[idx] = True
    for c in sums:
        total = work[c].groupby(gid).sum(min_count=1)
        any_nan = work[c].isna().groupby(gid).any()
        result[c] = total.where(~any_nan & ~partial)  # a sum with a missing part is missing
    if "status" in work.columns:
        rank = {s: i for i, s in enumerate(STATUS_ORDER)}
        worst = work["status"].map(rank).fillna(0).astype(int).groupby(gid).min()
        result["status"] = worst.map(dict(enumerate(STATUS_ORDER))).where(~partial, "missing")
    if "source" in work.columns:
        result["source"] = (
            work["source"].astype(str).groupby(gid).agg(lambda s: "; ".join(sorted(set(s))))
        )
    if "kommune" in work.columns:
        result["kommune"] = first["kommune"]
    if rate_column and rate_column in work.columns:
        if {"lost_days", "contracted_days"} <= set(result.columns):
            con = result["contracted_days"]
            recomputed = result["lost_days"] / con.where(con > 0) * 100
        else:
            recomputed = pd.Series(np.nan, index=result.index)
        # one part: keep the rate as given; several parts: recomputed from the summed days
        rate = recomputed.where(n_parts > 1, first[rate_column]).astype(float)
        result[rate_column] = rate.where(~partial)
    result = result.reset_index(drop=True)
    for c in out.columns:
        if c in result.columns and c not in sums and c != rate_column:
            result[c] = result[c].astype(out[c].dtype)
    return result[[*(c for c in out.columns if c in result.columns), "_pos"]], int(partial.sum())


def _territory_parts(info: CodeInfo, table: dict[str, CodeInfo]) -> frozenset[str]:
    """Territory in the smallest units: 1505 = {1503, 1556}; 1160 = {1160, its predecessors}."""
    if info.rule == "predecessor":
        return frozenset({f"part:{info.code}"})
    if info.rule == "merged_2008":
        return frozenset({info.code})
    parts: set[str] = set()
    for code in info.territory:
        parts |= set(KRISTIANSUND_PARTS) if code == KRISTIANSUND_2008 else {code}
        parts |= {
            f"part:{c}" for c, i in table.items() if i.rule == "predecessor" and code in i.territory
        }
    return frozenset(parts)
