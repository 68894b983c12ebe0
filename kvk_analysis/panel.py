"""The analysis panel: municipality x quarter x sector with outcome, cohort and covariates.

:func:`build_panel` takes the tidy sick-leave table (any reader's output) and the cohort
registry and returns a :class:`Panel`: the DataFrame (columns of the "Analysis panel" table in
``docs/architecture.md``), a :class:`Balance` report and notes on every choice made.

Conventions (documented once here):

- ``gname`` is the integer quarter index (``year * 4 + quarter - 1``) of the first treated
  quarter; **0 = never treated**; ``<NA>`` = participant whose cohort is unknown (never
  guessed; estimators must drop or bound these units).
- ``event_time = tname - gname`` in quarters; ``<NA>`` for never-treated and unknown cohorts.
- Units that left the programme stay treated from their first treated quarter on
  (intention to treat); the date is kept in the extra column ``left``.
- Units not listed in the registry: with a *complete* registry (simulated, or at least
  :data:`EXPECTED_PARTICIPANTS` participants listed, like KS's own list) they are never treated
  (``membership_source = "not_listed"``, ``gname = 0``).  With an *incomplete* registry (the 33
  documented participants of about 140) an unlisted municipality may have participated, so its
  status is unknown: ``never_treated = False``, ``participant = False``, ``gname = <NA>``, and it
  is left out of both groups (never a control; :func:`kvk_analysis.report.tables.analysis_sample`
  keeps only never-treated units and participants with a known cohort).  The exception are the
  municipalities in ``data/raw/cohorts/known_non_participants.csv`` (a source says they did not
  take part): never treated, ``membership_source = "known_non_participant"``.
- Definition (:attr:`Panel.definition`, also in the build manifest): ``unit_basis``
  (``employer`` for KS, ``residence``/``workplace`` for SSB's published tables, from the tidy
  column ``unit_basis`` or the source), the measure, who is counted and whether self-certified
  leave is included; inputs with different unit bases are never mixed in one panel (an error).
  Published SSB tables overlap (each repeats the year before): duplicate rows of such tables are
  combined first (:func:`kvk_analysis.readers.ssb_table.combine_tables`).  County tables
  (``region_level = "county"``) cannot enter a municipality panel (an error).
- Oslo boroughs in the registry do not make Oslo a participant (sick leave is reported for the
  municipality); they are listed in the notes.
- At ``level="merged"`` a group is a participant when any member is; its first treated quarter
  is the earliest of its members' (noted as partially treated when some members are not).
- Sector ``all`` rows are made by summing days over the sectors where the source lacks them.
- ``population`` is the population on 1 January 2007 (before the programme; imputed values
  flagged by :func:`kvk_analysis.municipalities.load_population` are listed in the notes).
  ``pre_level`` is the rate of the pre-programme quarters 2005Q1-2006Q4 computed from summed
  days (the contracted-days-weighted mean rate, percent); ``pre_trend`` is the OLS slope of
  the quarterly rate over the same quarters, in percentage points per year.

Extra columns after the contract's: ``status`` (of the outcome), ``left`` (date or NaT),
``unit_basis`` (see above) and ``preliminary`` (True for quarters a source marks preliminary).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import config
from .cohorts import first_treated_period
from .errors import InputError
from .municipalities import (
    KRISTIANSUND_2008,
    KRISTIANSUND_PARTS,
    MappingReport,
    _merged_targets,
    code_info,
    harmonise_codes,
    load_frame,
    load_population,
    merged_frame,
)
from .periods import parse_quarter, quarter_index
from .readers.tidy import ATTRIBUTE_COLUMNS, KEY_COLUMNS, STATUS_ORDER, TAIL_COLUMNS, VALUE_COLUMNS

PANEL_COLUMNS = [
    "kommunenummer",
    "kommune",
    "fylkesnr",
    "fylke",
    "period",
    "tname",
    "year",
    "quarter",
    "sector",
    "measure",
    "lost_days",
    "contracted_days",
    "employees",
    "rate",
    "weight",
    "participant",
    "pulje",
    "cohort_known",
    "membership_source",
    "first_treated",
    "gname",
    "event_time",
    "never_treated",
    "population",
    "log_pop",
    "size_group",
    "pre_level",
    "pre_trend",
]
EXTRA_COLUMNS = ["status", "left", "unit_basis", "preliminary"]
#: A registry listing at least this many participants (non-borough units) is taken as complete.
EXPECTED_PARTICIPANTS = 138
#: Who is counted and what leave is included, by unit basis (for :attr:`Panel.definition`).
UNIT_BASES = {
    "employer": ("municipal employees, counted at their employing municipality (KS's register)",),
    "residence": ("all employees, counted at their municipality of residence (SSB)",),
    "workplace": ("all employees, counted at the municipality of their workplace (SSB)",),
    "unknown": ("not stated by the source",),
}
SUM_COLUMNS = ("lost_days", "contracted_days", "employees")
SIZE_BREAKS = (5_000, 20_000)
SIZE_LABELS = ("<5k", "5-20k", ">=20k")
PRE_PERIOD = ("2005Q1", "2006Q4")
POPULATION_YEAR = 2007
#: Columns of the tidy table that are not extra dimensions (``sex`` etc.).
_STANDARD = {*KEY_COLUMNS, *VALUE_COLUMNS, *TAIL_COLUMNS, *ATTRIBUTE_COLUMNS, "kommune", "_line"}


@dataclass
class Balance:
    """Whether the panel is balanced, and which unit x quarter x sector cells lack a rate.

    ``missing`` has columns ``kommunenummer, period, sector`` (cells without a rate among
    the units present); ``units_absent`` lists frame units with no data at all.
    """

    balanced: bool
    n_units: int
    n_periods: int
    n_sectors: int
    n_rows: int
    expected_rows: int
    missing: pd.DataFrame
    units_absent: list[str]

    def summary(self) -> str:
        """One paragraph for a report's data section."""
        head = "balanced" if self.balanced else "unbalanced"
        text = (
            f"Panel {head}: {self.n_units} units x {self.n_periods} quarters x "
            f"{self.n_sectors} sectors = {self.expected_rows} cells, {self.n_rows} with a rate."
        )
        if len(self.missing):
            units = self.missing["kommunenummer"].nunique()
            text += f" {len(self.missing)} cells lack a rate, in {units} units."
        if self.units_absent:
            shown = ", ".join(self.units_absent[:10]) + (
                ", ..." if len(self.units_absent) > 10 else ""
            )
            text += f" {len(self.units_absent)} units of the frame have no data ({shown})."
        return text


@dataclass
class Panel:
    """The analysis panel with its balance report, code mapping and notes."""

    data: pd.DataFrame
    balance: Balance
    mapping: MappingReport
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    #: What the outcome measures and for whom (see the module docstring); JSON-serialisable.
    definition: dict = field(default_factory=dict)

    def summary(self) -> str:
        """Balance, mapping and notes as text."""
        return "\n".join([self.balance.summary(), self.mapping.summary(), *self.notes])


def _check_tidy(tidy: pd.DataFrame) -> pd.DataFrame:
    need = [*KEY_COLUMNS, "lost_days", "contracted_days"]
    missing = [c for c in need if c not in tidy.columns]
    if missing:
        raise InputError(
            "the sick-leave table lacks columns",
            column=missing[0],
            expected="the tidy table of docs/architecture.md",
            found=list(tidy.columns),
        )
    tidy = tidy.drop(columns=["_line"], errors="ignore").copy()
    if not isinstance(tidy["period"].dtype, pd.PeriodDtype):
        try:
            tidy["period"] = pd.PeriodIndex([parse_quarter(v) for v in tidy["period"]], freq="Q")
        except ValueError as exc:
            raise InputError(str(exc), column="period", expected="quarters") from None
    for col in ("employees", "rate"):
        if col not in tidy.columns:
            tidy[col] = np.nan
    if "status" not in tidy.columns:
        tidy["status"] = np.where(tidy["lost_days"].notna(), "ok", "missing")
    for col in SUM_COLUMNS + ("rate",):
        tidy[col] = pd.to_numeric(tidy[col], errors="raise").astype(float)
    return tidy


def _collapse_dimensions(tidy: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Keep the ``all`` level of extra dimensions (e.g. sex), or sum over them."""
    for dim in [c for c in tidy.columns if c not in _STANDARD]:
        if (tidy[dim] == "all").any():
            tidy = tidy[tidy[dim] == "all"].drop(columns=[dim])
            notes.append(f"dimension '{dim}': the 'all' rows are used")
        else:
            keys = [c for c in tidy.columns if c not in {dim, *SUM_COLUMNS, "rate", "status"}]
            tidy = _sum_rows(tidy.drop(columns=[dim]), keys)
            notes.append(f"dimension '{dim}': days summed over its levels")
    return tidy


def _sum_rows(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum days/employees within ``keys`` (a sum with a missing part is missing); recompute rate."""
    g = df.groupby(keys, dropna=False, sort=False)
    out = g[list(SUM_COLUMNS)].sum(min_count=1)
    nan = (
        df[list(SUM_COLUMNS)].isna().groupby([df[k] for k in keys], dropna=False, sort=False).any()
    )
    out = out.mask(nan.to_numpy())
    if "status" in df.columns:
        rank = df["status"].map({s: i for i, s in enumerate(STATUS_ORDER)}).fillna(0).astype(int)
        worst = rank.groupby([df[k] for k in keys], dropna=False, sort=False).min()
        out["status"] = worst.map(dict(enumerate(STATUS_ORDER))).to_numpy()
    if "source" in df.columns:
        out["source"] = _joined_sources(g.ngroup().to_numpy(), df["source"], len(out))
    con = out["contracted_days"]
    out["rate"] = out["lost_days"] / con.where(con > 0) * 100
    return out.reset_index()


def _joined_sources(group: np.ndarray, source: pd.Series, n_groups: int) -> np.ndarray:
    """``"; "``-joined sorted distinct sources per group (``group``: 0-based group numbers).

    Vectorised: a Python join runs only for the groups with more than one source (rare:
    overlapping inputs), not once per group.
    """
    pairs = pd.DataFrame({"g": group, "s": source.astype(str).to_numpy(dtype=object)})
    pairs = pairs.drop_duplicates().sort_values(["g", "s"], kind="stable")
    out = np.empty(n_groups, dtype=object)
    counts = np.bincount(pairs["g"].to_numpy(), minlength=n_groups)
    single = pairs[counts[pairs["g"].to_numpy()] == 1]
    out[single["g"].to_numpy()] = single["s"].to_numpy()
    multi = pairs[counts[pairs["g"].to_numpy()] > 1]
    for g, s in multi.groupby("g", sort=False)["s"]:
        out[g] = "; ".join(s)
    return out


def _add_sector_all(tidy: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Create sector ``all`` rows by summing the sectors where the source lacks them."""
    keys = [
        c for c in tidy.columns if c not in {"sector", *SUM_COLUMNS, "rate", "status", "source"}
    ]
    has_all = tidy[tidy["sector"] == "all"][keys].drop_duplicates()
    parts = tidy[tidy["sector"] != "all"]
    if parts.empty:
        return tidy
    if has_all.empty:  # no 'all' rows at all (e.g. KS): every unit-quarter needs its sum
        todo = parts
    else:
        marker = parts.merge(has_all.assign(_has=True), on=keys, how="left")["_has"]
        todo = parts[~marker.fillna(False).to_numpy().astype(bool)]
    if todo.empty:
        return tidy
    summed = _sum_rows(todo, keys).assign(sector="all")
    # a unit-quarter lacking a sector's row gets no 'all' total (it would be too small)
    n_sectors = parts["sector"].nunique()
    count = todo.groupby(keys, dropna=False, sort=False)["sector"].nunique().rename("_n")
    summed = summed.merge(count.reset_index(), on=keys, how="left")
    short = (summed["_n"] < n_sectors).to_numpy()
    if short.any():
        summed.loc[short, [*SUM_COLUMNS, "rate"]] = np.nan
        summed.loc[short, "status"] = "missing"
        notes.append(
            f"{int(short.sum())} unit-quarters lack a sector row: their sector 'all' is missing"
        )
    summed = summed.drop(columns="_n")
    notes.append(
        f"sector 'all' made by summing days over sectors for {len(summed)} unit-quarters "
        "(the source has no 'all' rows there)"
    )
    return pd.concat([tidy, summed[tidy.columns.intersection(summed.columns)]], ignore_index=True)


def _registry_units(
    registry: pd.DataFrame, level: str, rule: str, notes: list[str]
) -> pd.DataFrame:
    """One row per panel unit that participates: pulje, first treated, membership, left."""
    reg = registry.copy()
    reg["first_treated"] = first_treated_period(reg, rule)
    boroughs = reg[reg["is_borough"]]
    if len(boroughs):
        notes.append(
            "Oslo boroughs in the registry ("
            + ", ".join(
                f"{c} {n}"
                for c, n in zip(boroughs["kommunenummer"], boroughs["kommune"], strict=True)
            )
            + ") do not make Oslo a participant: sick leave is reported per municipality"
        )
    reg = reg[~reg["is_borough"]].copy()
    targets = _merged_targets(config.MUNICIPALITIES_DIR.resolve())

    def unit(code: str) -> str:
        info = code_info(code)
        (to,) = tuple(info.territory) if info is not None and len(info.territory) == 1 else (code,)
        return targets.get(to, to) if level == "merged" else to

    reg["unit"] = reg["kommunenummer"].map(unit)
    # Per unit in plain Python over column lists (a registry has ~150 rows; pandas calls per
    # group cost 1 ms each): the same values and types as the pandas reductions they replace.
    members: dict[str, list[int]] = {}
    for i, u in enumerate(reg["unit"].tolist()):
        members.setdefault(u, []).append(i)
    codes = reg["kommunenummer"].tolist()
    first = list(reg["first_treated"].array)
    pulje = reg["pulje"].tolist()
    membership = reg["membership_source"].tolist()
    left = list(reg["left"].array)
    rows = []
    for u in sorted(members):
        pos = members[u]
        ft = [first[i] for i in pos if not pd.isna(first[i])]
        puljer = list(dict.fromkeys(pulje[i] for i in pos if not pd.isna(pulje[i])))
        if len(pos) > 1:
            what = "merged group" if level == "merged" else "unit"
            notes.append(
                f"registry rows {', '.join(codes[i] for i in pos)} form one {what} {u}: "
                "treated from the earliest first treated quarter"
            )
        if len(puljer) > 1 and level == "municipality":
            raise InputError(
                f"registry rows {', '.join(codes[i] for i in pos)} become one municipality {u} "
                f"but have different puljer ({', '.join(map(str, puljer))})",
                column="pulje",
                expected="one pulje per 2008 municipality",
            )
        lefts = [left[i] for i in pos]
        rows.append(
            {
                "kommunenummer": u,
                "pulje": sorted(puljer, key=["I", "II", "III", "IV"].index)[0]
                if len(puljer)
                else pd.NA,
                "first_treated": min(ft) if len(ft) else pd.NaT,
                "membership_source": "simulated"
                if any(membership[i] == "simulated" for i in pos)
                else "documented",
                "left": max(lefts) if not any(pd.isna(x) for x in lefts) else pd.NaT,
            }
        )
    out = pd.DataFrame(
        rows, columns=["kommunenummer", "pulje", "first_treated", "membership_source", "left"]
    )
    out["first_treated"] = out["first_treated"].astype("period[Q-DEC]")
    out["left"] = pd.to_datetime(out["left"]).astype("datetime64[ns]")
    return out


def _population(level: str, population: pd.DataFrame | None, notes: list[str]) -> pd.Series:
    pop = load_population(impute=True) if population is None else population
    pop = pop[pop["year"] == POPULATION_YEAR]
    series = pop.set_index("kommunenummer")["population"].astype(float)
    imputed = (
        sorted(pop.loc[pop["imputed"].astype(bool), "kommunenummer"]) if "imputed" in pop else []
    )
    # the 2008 unit 1505 is 1503 + 1556 (its own value before 2008 is a back-cast)
    parts = [c for c in KRISTIANSUND_PARTS if c in series.index]
    if parts:
        series[KRISTIANSUND_2008] = series[parts].sum()
    if level == "merged":
        targets = _merged_targets(config.MUNICIPALITIES_DIR.resolve())
        series = series[series.index.isin(list(targets))].groupby(lambda c: targets[c]).sum()
    if imputed:
        notes.append(
            f"population 1 January {POPULATION_YEAR} imputed (flagged in load_population) for "
            + ", ".join(imputed)
        )
    return series


def _pre_covariates(data: pd.DataFrame, pre: tuple[str, str]) -> pd.DataFrame:
    lo, hi = parse_quarter(pre[0]), parse_quarter(pre[1])
    window = data[(data["period"] >= lo) & (data["period"] <= hi)]
    keys = ["kommunenummer", "sector"]
    if window.empty:
        return pd.DataFrame(columns=[*keys, "pre_level", "pre_trend"])
    ok = window[window["lost_days"].notna() & window["contracted_days"].notna()]
    sums = ok.groupby(keys)[["lost_days", "contracted_days"]].sum()
    level = (
        sums["lost_days"] / sums["contracted_days"].where(sums["contracted_days"] > 0) * 100
    ).rename("pre_level")
    w = window[window["rate"].notna()].assign(t=lambda d: d["tname"] / 4.0)
    g = w.groupby(keys)
    n = g["t"].count()
    tm, ym = g["t"].transform("mean"), g["rate"].transform("mean")
    cov = ((w["t"] - tm) * (w["rate"] - ym)).groupby([w[k] for k in keys]).sum()
    var = ((w["t"] - tm) ** 2).groupby([w[k] for k in keys]).sum()
    trend = (cov / var.where((var > 0) & (n >= 2))).rename("pre_trend")
    return pd.concat([level, trend], axis=1).reset_index()


def build_panel(
    tidy: pd.DataFrame,
    registry: pd.DataFrame,
    *,
    measure: str = "total",
    rule: str = "programme_start",
    start: str = config.DEFAULT_START,
    end: str = config.DEFAULT_END,
    level: str = "municipality",
    population: pd.DataFrame | None = None,
    frame: pd.DataFrame | None = None,
    vintage: str = "as_of_period",
    pre_period: tuple[str, str] = PRE_PERIOD,
) -> Panel:
    """Build the analysis panel from the tidy sick-leave table and the cohort registry.

    Parameters
    ----------
    tidy
        The tidy table (``kvk_analysis.readers.read_sickleave``); codes of any vintage.
    registry
        Output of :func:`kvk_analysis.cohorts.read_registry`.
    measure
        ``total``, ``self_certified`` or ``doctor_certified``.
    rule
        How dates give the first treated quarter (see
        :func:`kvk_analysis.cohorts.first_treated_period`).
    start, end
        First and last quarter kept (inclusive).
    level
        ``municipality`` (2008 frame, 430 units) or ``merged`` (see
        :func:`kvk_analysis.municipalities.harmonise_codes`).
    population
        Long population table as :func:`~kvk_analysis.municipalities.load_population` returns
        (default: that function's output with imputation).
    frame
        Unit frame with ``kommunenummer, kommune, fylkesnr, fylke`` (default: the 2008 frame or
        the merged frame).
    vintage
        Passed to :func:`~kvk_analysis.municipalities.harmonise_codes`.
    pre_period
        Quarters for ``pre_level`` and ``pre_trend``.

    Returns
    -------
    Panel
        ``data`` (one row per unit x quarter x sector present in the data, sector ``all``
        included; rates in percent), ``balance``, ``mapping`` and ``notes``.
    """
    notes: list[str] = []
    tidy = _check_tidy(tidy)
    if "source" in tidy and tidy["source"].astype(str).str.startswith("ssb-table:").any():
        from .readers.ssb_table import combine_tables  # only published tables overlap

        tidy, overlap_notes = combine_tables(tidy)
        notes.extend(overlap_notes)
    tidy = tidy.assign(unit_basis=unit_basis_of(tidy))
    measures = sorted(set(tidy["measure"].astype(str).unique()))
    if measure not in measures:
        raise InputError(
            "the measure is not in the sick-leave table",
            column="measure",
            expected=" | ".join(measures),
            found=measure,
        )
    lo, hi = parse_quarter(start), parse_quarter(end)
    data = tidy[(tidy["measure"] == measure) & (tidy["period"] >= lo) & (tidy["period"] <= hi)]
    if data.empty:
        raise InputError(
            f"no rows for measure '{measure}' between {lo} and {hi}",
            column="period",
            expected=f"quarters between {lo} and {hi}",
            found=f"{tidy['period'].min()} to {tidy['period'].max()}",
        )
    if "region_level" in data and (data["region_level"].astype(str) == "county").any():
        src = sorted(set(data.loc[data["region_level"].astype(str) == "county", "source"]))
        raise InputError(
            "a county table cannot enter the municipality panel: "
            + ", ".join(src[:3])
            + " (convert it on its own with `kvk data convert` for county figures)",
            column="region_level",
            expected="tables by municipality",
            found="county",
        )
    bases = sorted(set(data["unit_basis"].astype(str).unique()))
    if len(bases) > 1:
        by_basis = {
            b: sorted(set(data.loc[data["unit_basis"] == b, "source"].astype(str)))[:2]
            for b in bases
        }
        raise InputError(
            "sick-leave inputs with different unit bases cannot be mixed in one panel: "
            + "; ".join(f"{b}: {', '.join(v)}" for b, v in by_basis.items()),
            column="unit_basis",
            expected="inputs counted the same way (all by employer, or all by residence)",
            found=", ".join(bases),
        )
    unit_basis = bases[0]
    prelim = (
        sorted(set(data.loc[data["preliminary"].astype(bool), "period"]))
        if "preliminary" in data
        else []
    )
    sources = sorted({str(x).split(":")[0] for x in data["source"].astype(str).unique()})
    data = data.drop(columns=[c for c in ATTRIBUTE_COLUMNS if c in data])
    data = _collapse_dimensions(data, notes)
    data, mapping = harmonise_codes(data, level=level, vintage=vintage)
    data = _add_sector_all(data, notes)
    dup = data.duplicated(["kommunenummer", "period", "sector"])
    if dup.any():
        r = data[dup].iloc[0]
        raise InputError(
            "more than one row per unit, quarter and sector after harmonising codes",
            column="kommunenummer",
            expected="one row per kommunenummer x period x sector x measure",
            found=f"{r['kommunenummer']} {r['period']} {r['sector']}",
        )

    if frame is None:
        frame = load_frame(2008) if level == "municipality" else merged_frame()
    frame = frame[["kommunenummer", "kommune", "fylkesnr", "fylke"]]
    data = data.drop(columns=["kommune", "source"], errors="ignore").merge(
        frame, on="kommunenummer", how="left"
    )
    if data["kommune"].isna().any():
        bad = sorted(set(data.loc[data["kommune"].isna(), "kommunenummer"]))
        raise InputError(
            "units not in the analysis frame",
            column="kommunenummer",
            expected="units of the 2008 frame",
            found=", ".join(bad[:10]),
        )
    data["period"] = data["period"].astype("period[Q-DEC]")
    data["tname"] = quarter_index(data["period"])
    data["year"] = data["period"].dt.year.astype("int64")
    data["quarter"] = data["period"].dt.quarter.astype("int64")
    data["weight"] = data["contracted_days"]
    approx = data["weight"].isna() & data["lost_days"].notna() & (data["rate"] > 0)
    if approx.any():
        # published tables give lost days and a rate rounded to 0.1, not contracted days:
        # lost/rate*100 is then a weight good to about 1 % (never used as an outcome)
        data.loc[approx, "weight"] = data.loc[approx, "lost_days"] / data.loc[approx, "rate"] * 100
        notes.append(
            f"weight (contracted days) not in the source for {int(approx.sum())} rows: taken as "
            "lost days / published rate x 100, accurate to about 1 % (the rate is rounded)"
        )

    units = _registry_units(registry, level, rule, notes)
    n_part = int(units["kommunenummer"].nunique())
    complete = registry_complete(registry, n_part)
    data = data.merge(units, on="kommunenummer", how="left")
    data["participant"] = data["membership_source"].notna()
    non_part = known_non_participants(level) if not complete else set()
    listed_non = data["kommunenummer"].isin(non_part) & ~data["participant"]
    data["membership_source"] = (
        data["membership_source"]
        .where(~listed_non, "known_non_participant")
        .fillna("not_listed")
        .astype(str)
    )
    data["pulje"] = data["pulje"].astype("string")
    data["cohort_known"] = data["first_treated"].notna()
    g = pd.Series(pd.NA, index=data.index, dtype="Int64")
    known = data["cohort_known"].to_numpy()
    # never treated: unlisted units of a complete registry, or known non-participants
    never = ~data["participant"].to_numpy() & (complete | listed_non.to_numpy())
    g[never] = 0
    g[known] = quarter_index(data.loc[known, "first_treated"]).to_numpy()
    data["gname"] = g
    data["event_time"] = (data["tname"].astype("Int64") - data["gname"]).where(known)
    data["event_time"] = data["event_time"].astype("Int64")
    data["never_treated"] = never
    if level == "merged" and len(units):
        targets = _merged_targets(config.MUNICIPALITIES_DIR.resolve())
        groups = pd.Series(targets).value_counts()
        multi = [u for u in units["kommunenummer"] if groups.get(u, 1) > 1]
        if multi:
            notes.append(
                "merged groups with at least one participant are treated as participants "
                f"(possibly partially treated): {', '.join(multi)}"
            )
    no_data = sorted(set(units["kommunenummer"]) - set(data["kommunenummer"].unique()))
    if no_data:
        notes.append(f"registry units without sick-leave data: {', '.join(no_data)}")
    if not complete:
        unknown_units = sorted(
            set(data.loc[~data["participant"] & ~data["never_treated"], "kommunenummer"])
        )
        notes.append(
            f"the registry lists {n_part} participants of about 138-140 (incomplete): the "
            f"{len(unknown_units)} units it does not list may have participated, so their status "
            "is unknown (gname <NA>, never_treated False) and they are in neither group; "
            f"{int(listed_non.groupby(data['kommunenummer']).any().sum())} known "
            "non-participants (known_non_participants.csv) are never treated"
        )
    unknown = units.loc[units["first_treated"].isna(), "kommunenummer"].tolist()
    if unknown:
        notes.append(f"{len(unknown)} participants have an unknown cohort (gname <NA>)")
    left = units.loc[units["left"].notna(), "kommunenummer"].tolist()
    if left:
        notes.append(
            f"{len(left)} units left the programme ({', '.join(left)}): kept treated "
            "from their first treated quarter (intention to treat); see column 'left'"
        )

    pop = _population(level, population, notes)
    data["population"] = data["kommunenummer"].map(pop).astype(float)
    data["log_pop"] = np.log(data["population"])
    size = pd.cut(
        data["population"],
        bins=[-np.inf, SIZE_BREAKS[0], SIZE_BREAKS[1], np.inf],
        labels=list(SIZE_LABELS),
        right=False,
    )
    data["size_group"] = size.astype("str")  # NaN where the population is unknown
    pre = _pre_covariates(data, pre_period)
    data = data.merge(pre, on=["kommunenummer", "sector"], how="left")
    if data["pre_level"].isna().all():
        has_rates = (
            data.loc[
                data["period"].between(parse_quarter(pre_period[0]), parse_quarter(pre_period[1])),
                "rate",
            ]
            .notna()
            .any()
        )
        notes.append(
            f"no contracted days in {pre_period[0]}-{pre_period[1]}: pre_level is NaN"
            + (" (pre_trend uses the published rates)" if has_rates else " and so is pre_trend")
        )

    data["measure"] = data["measure"].astype(str)
    data["sector"] = data["sector"].astype(str)
    data["unit_basis"] = unit_basis
    data["preliminary"] = data["period"].isin(prelim)
    if prelim:
        notes.append(
            "preliminary figures (marked so by the source) in "
            + ", ".join(str(p) for p in prelim)
            + ": see column 'preliminary'"
        )
    data = data[PANEL_COLUMNS + EXTRA_COLUMNS].sort_values(
        ["kommunenummer", "sector", "period"], ignore_index=True
    )
    balance = panel_balance(data, frame)
    params = {
        "measure": measure,
        "rule": rule,
        "start": str(lo),
        "end": str(hi),
        "level": level,
        "vintage": vintage,
        "pre_period": list(pre_period),
        "population_year": POPULATION_YEAR,
    }
    params["unit_basis"] = unit_basis
    definition = {
        "measure": measure,
        "unit_basis": unit_basis,
        "population": UNIT_BASES.get(unit_basis, UNIT_BASES["unknown"])[0],
        "sources": sources,
        "preliminary_quarters": [str(p) for p in prelim],
        "registry_complete": bool(complete),
        "participants_listed": n_part,
        "participants_cohort_known": int(units["first_treated"].notna().sum()),
        "known_non_participants": sorted(
            set(data.loc[data["membership_source"] == "known_non_participant", "kommunenummer"])
        ),
        "units_unknown_status": int(
            data.loc[~data["participant"] & ~data["never_treated"], "kommunenummer"].nunique()
        ),
    }
    return Panel(data, balance, mapping, notes, params, definition)


def unit_basis_of(tidy: pd.DataFrame) -> pd.Series:
    """Per row: ``employer`` (KS), ``residence``/``workplace`` (the ``unit_basis`` column a
    reader wrote, e.g. SSB's published tables) or ``unknown`` (SSB StatBank files, whose
    region definition the file does not state)."""
    src = tidy["source"].astype(str) if "source" in tidy else pd.Series("", index=tidy.index)
    guess = pd.Series("unknown", index=tidy.index, dtype=object)
    guess[src.str.startswith("ks")] = "employer"
    guess[src.str.startswith("ssb-table")] = "residence"
    if "unit_basis" in tidy:
        given = tidy["unit_basis"].astype(object)
        given = given.where(given.notna() & (given.astype(str) != "nan"))
        return given.fillna(guess).astype(str)
    return guess.astype(str)


def registry_complete(registry: pd.DataFrame, n_participants: int | None = None) -> bool:
    """True when the registry can be taken as the full participant list: it has simulated
    rows (a demo completes the list) or lists at least :data:`EXPECTED_PARTICIPANTS` units."""
    if (registry["membership_source"].astype(str) == "simulated").any():
        return True
    n = (
        n_participants
        if n_participants is not None
        else int(registry.loc[~registry["is_borough"], "kommunenummer"].nunique())
    )
    return n >= EXPECTED_PARTICIPANTS


def known_non_participants(level: str = "municipality") -> set[str]:
    """Municipalities a source documents as *not* participating
    (``data/raw/cohorts/known_non_participants.csv``), as panel units."""
    path = config.COHORTS_DIR / "known_non_participants.csv"
    if not path.is_file():
        return set()
    codes = pd.read_csv(path, dtype=str)["kommunenr"].str.strip().str.zfill(4)
    if level == "merged":
        targets = _merged_targets(config.MUNICIPALITIES_DIR.resolve())
        return {targets.get(c, c) for c in codes}
    return set(codes)


def panel_balance(data: pd.DataFrame, frame: pd.DataFrame | None = None) -> Balance:
    """Balance of a panel: cells (unit x quarter x sector) without a rate, units absent.

    The expected grid is every unit present x every quarter from the first to the last
    present x every sector present.
    """
    units = sorted(set(data["kommunenummer"].unique()))
    periods = pd.period_range(data["period"].min(), data["period"].max(), freq="Q")
    sectors = sorted(set(data["sector"].unique()))
    grid = pd.MultiIndex.from_product(
        [units, periods, sectors], names=["kommunenummer", "period", "sector"]
    )
    have = data.loc[data["rate"].notna(), ["kommunenummer", "period", "sector"]]
    have_idx = pd.MultiIndex.from_frame(have)
    missing = grid.difference(have_idx).to_frame(index=False)
    absent = sorted(set(frame["kommunenummer"]) - set(units)) if frame is not None else []
    return Balance(
        balanced=missing.empty and not absent,
        n_units=len(units),
        n_periods=len(periods),
        n_sectors=len(sectors),
        n_rows=len(have_idx.unique()),
        expected_rows=len(grid),
        missing=missing,
        units_absent=absent,
    )
