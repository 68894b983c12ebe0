"""The data-generating process of the simulated KVK register.

:func:`simulate` turns a :class:`~kvk_analysis.simulate.scenarios.SimulationConfig` into a
:class:`SimulationResult`: the municipalities with their latent levels, the completed cohort
registry, one row per reporting unit x quarter x sector with employees, contracted days,
expected rates and drawn lost days, the rows of the KS extract as written, and the planted truth.

The model, for municipality *i* (2008 frame), sector *s*, quarter *t* (rates in percent):

    Y0_ist = N_t + L_i + gamma_s + sigma_{s,q(t)} + trend_c(i) * (t - 2008Q1) / 4
             + pretrend * participant_i * (t - start) / 4 + v_i * 1[year(t) = rtm_year]
    Y_ist  = Y0_ist + tau_ist                                  (expected rate)
    lost   ~ Poisson-Gamma around contracted_days * (Y_ist + u_it) / 100

``L_i`` = county level + size slope x (log population - mean) + idiosyncratic level;
``N_t`` is solved so that the contracted-days-weighted mean of ``Y0`` over all municipalities
equals the calibration target ``1.4 x SSB_t + (municipal extra Q3 trough)`` exactly; ``u_it``
is an AR(1) shock; ``tau`` is the planted effect (see :func:`effect_multiplier`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import config as paths
from ..errors import InputError
from ..periods import quarter_index, quarter_range, working_days
from .scenarios import PULJER, SECTORS, SimulationConfig

#: Standard admission and programme-start dates per pulje (docs: data/raw/cohorts/PROVENANCE.md).
PULJE_DATES: dict[str, tuple[str, str]] = {
    "I": ("2007-03-28", "2007-04"),
    "II": ("2007-10-17", "2007-11"),
    "III": ("2008-06", "2008-08-28"),
    "IV": ("2008-11-04", "2009-01"),
}
#: Kristiansund (1503) and Frei (1556) became 1505 Kristiansund on 1 January 2008.
MERGER_PARTS = ("1503", "1556")
MERGED_UNIT = "1505"
MERGER_QUARTER = pd.Period("2008Q1", freq="Q")
#: Names of the random streams (children of ``SeedSequence(seed)``), in spawn order.
STREAMS = ("levels", "shares", "selection", "pulje", "shocks", "counts", "output", "employees")


@dataclass
class SimulationResult:
    """Everything one simulation run produces (all in memory; see ``output.write_demo``).

    Attributes
    ----------
    config : SimulationConfig
    units : DataFrame
        One row per municipality of the 2008 frame: ``kommunenummer, kommune, fylkesnr, fylke,
        population_2008, z_log_pop, employee_share, share_care/education/other, level_pp``
        (``L_i``, pp), ``rtm_shock_pp``, ``participant``, ``pulje``, ``first_treated``
        (``period[Q]``), ``left_period``.
    registry : DataFrame
        The completed cohort registry as written (strings).
    cells : DataFrame
        One row per reporting code x quarter x sector: ``kommunenummer`` (code valid at the
        time), ``unit`` (2008 code), ``period``, ``sector``, ``employees``,
        ``contracted_days``, ``expected_rate_y0``, ``true_effect_pp``, ``expected_rate``
        (percent), ``lost_self``, ``lost_doctor`` (days).
    extract : DataFrame
        The KS extract rows as written (strings, KS column names).
    truth_att : DataFrame
        True ATT by pulje x quarter x sector (pp), see :func:`truth_table`.
    truth_aggregates : DataFrame
        Aggregated truths (simple, dynamic, group, calendar), see :func:`aggregate_truth`.
    national : DataFrame
        Per quarter: ``target`` (percent), ``ssb`` (SSB national, percent), ``baseline``
        (``N_t``), simulated days-weighted national rate (``simulated``) and its expectation
        (``expected``) and its expectation without effect (``expected_y0``).
    diagnostics : dict
        Calibration results: selection strength used, achieved expected gap, clipped cells.
    """

    config: SimulationConfig
    units: pd.DataFrame
    registry: pd.DataFrame
    cells: pd.DataFrame
    extract: pd.DataFrame
    truth_att: pd.DataFrame
    truth_aggregates: pd.DataFrame
    national: pd.DataFrame
    diagnostics: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# inputs


def _read_reference(path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(
            "reference file missing", path=path, expected="the file shipped in data/raw"
        )
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def national_target(config: SimulationConfig, periods: pd.PeriodIndex) -> pd.DataFrame:
    """The calibration target per quarter (percent of contracted days).

    ``target = national_scale x SSB total + sum_s sector_share_s x extra_{s,q}`` where the
    municipal extra seasonality is ``sector_q3_extra_pp`` in Q3 and minus a third of it in the
    other quarters.  Quarters missing in the SSB file (it ends in 2011Q3) take the value of the
    same quarter of the nearest year present.  Returns columns ``period, ssb, ssb_self,
    target, target_self`` (all percent).
    """
    ssb = _read_reference(paths.CALIBRATION_DIR / "ssb_national_sickleave_quarterly_2000_2011.csv")
    ssb["period"] = pd.PeriodIndex(
        [
            pd.Period(year=int(y), quarter=int(q), freq="Q")
            for y, q in zip(ssb["year"], ssb["q"], strict=True)
        ]
    )
    ssb = ssb.set_index("period")
    total = ssb["total_pct"].astype(float)
    self_ = ssb["egenmeldt_pct"].astype(float)
    rows = []
    for p in periods:
        src = p
        if src not in total.index:
            same_q = [x for x in total.index if x.quarter == p.quarter]
            src = min(same_q, key=lambda x: (abs(x.year - p.year), -x.year))
        extra = _national_extra(config, p.quarter)
        rows.append(
            {
                "period": p,
                "ssb": total[src],
                "ssb_self": self_[src],
                "target": config.national_scale * total[src] + extra,
                "target_self": config.self_certified_scale * self_[src],
            }
        )
    out = pd.DataFrame(rows)
    out["period"] = pd.PeriodIndex(out["period"], freq="Q")
    return out


def _sector_extra(config: SimulationConfig, quarter: int) -> np.ndarray:
    q3 = np.asarray(config.sector_q3_extra_pp, dtype=float)
    return q3 if quarter == 3 else -q3 / 3.0


def _national_extra(config: SimulationConfig, quarter: int) -> float:
    return float(np.dot(config.sector_shares, _sector_extra(config, quarter)))


def _population_by_quarter(periods: pd.PeriodIndex) -> pd.DataFrame:
    """Population (persons) per code valid 2007/2008 and quarter, interpolated within years
    from 1 January values and extrapolated outside 2005-2009 with the unit's last/first growth."""
    from ..municipalities import load_population

    pop = load_population(impute=True)
    wide = pop.pivot(index="kommunenummer", columns="year", values="population").sort_index()
    years = list(wide.columns)
    lo, hi = min(years), max(years)
    need = range(min(p.year for p in periods), max(p.year for p in periods) + 2)
    g_hi = wide[hi] / wide[hi - 1]
    g_lo = wide[lo + 1] / wide[lo]
    for y in need:
        if y > hi:
            wide[y] = wide[hi] * g_hi ** (y - hi)
        elif y < lo:
            wide[y] = wide[lo] / g_lo ** (lo - y)
    out = {}
    for p in periods:
        frac = (p.quarter - 0.5) / 4.0
        out[p] = wide[p.year] * (1 - frac) + wide[p.year + 1] * frac
    df = pd.DataFrame(out)
    df.columns = pd.PeriodIndex(df.columns, freq="Q")
    return df


# --------------------------------------------------------------------------------------------
# municipalities


def _build_units(config: SimulationConfig, rng: dict[str, np.random.Generator]) -> pd.DataFrame:
    from ..municipalities import load_frame, load_population

    units = load_frame(2008).copy()
    pop = load_population(impute=True)
    p08 = pop[pop["year"] == 2008].set_index("kommunenummer")["population"]
    units["population_2008"] = units["kommunenummer"].map(p08).astype(float)
    if units["population_2008"].isna().any():
        missing = units.loc[units["population_2008"].isna(), "kommunenummer"].tolist()
        raise InputError("population missing for municipalities of the 2008 frame", found=missing)
    log_pop = np.log(units["population_2008"].to_numpy())
    n = len(units)
    z = (log_pop - log_pop.mean()) / log_pop.std()
    units["z_log_pop"] = z
    lo, hi = config.employee_share_range
    mid = (lo + hi) / 2
    units["employee_share"] = np.clip(mid - (hi - lo) / 4 * z, lo, hi)

    shares = rng["shares"].dirichlet(
        np.asarray(config.sector_shares) * config.sector_share_concentration, size=n
    )
    for k, s in enumerate(SECTORS):
        units[f"share_{s}"] = shares[:, k]

    r = rng["levels"]
    counties = sorted(units["fylkesnr"].unique())
    county_z = r.standard_normal(len(counties))
    trend_z = r.standard_normal(len(counties))
    eta_z = r.standard_normal(n)
    rtm_z = r.standard_normal(n)
    fixed = dict(config.county_levels_pp)
    county_level = {
        c: fixed.get(c, config.county_sd_pp * zc) for c, zc in zip(counties, county_z, strict=True)
    }
    county_trend = {
        c: config.county_trend_sd_pp_per_year * zt for c, zt in zip(counties, trend_z, strict=True)
    }
    units["county_level_pp"] = units["fylkesnr"].map(county_level).astype(float)
    units["county_trend_pp_per_year"] = units["fylkesnr"].map(county_trend).astype(float)
    units["level_pp"] = (
        units["county_level_pp"]
        + config.size_slope_pp * (log_pop - log_pop.mean())
        + config.municipality_sd_pp * eta_z
    )
    units["rtm_shock_pp"] = config.rtm_sd_pp * rtm_z
    return units


def _build_cells(
    config: SimulationConfig, units: pd.DataFrame, periods: pd.PeriodIndex
) -> pd.DataFrame:
    """Reporting code x quarter x sector with employees and contracted days (deterministic)."""
    from ..municipalities import load_frame

    pop_q = _population_by_quarter(periods)
    names07 = load_frame(2007).set_index("kommunenummer")["kommune"]
    rows_code, rows_unit, rows_period = [], [], []
    for code in units["kommunenummer"]:
        for p in periods:
            if code == MERGED_UNIT and p < MERGER_QUARTER:
                for part in MERGER_PARTS:
                    rows_code.append(part)
                    rows_unit.append(code)
                    rows_period.append(p)
            else:
                rows_code.append(code)
                rows_unit.append(code)
                rows_period.append(p)
    base = pd.DataFrame(
        {
            "kommunenummer": rows_code,
            "unit": rows_unit,
            "period": pd.PeriodIndex(rows_period, freq="Q"),
        }
    )
    name08 = units.set_index("kommunenummer")["kommune"]
    base["kommune"] = base["kommunenummer"].map(name08).fillna(base["kommunenummer"].map(names07))
    stacked = pop_q.stack()
    stacked.index.names = ["kommunenummer", "period"]
    key = pd.MultiIndex.from_arrays([base["kommunenummer"], base["period"]])
    base["population"] = stacked.reindex(key).to_numpy()
    u = units.set_index("kommunenummer")
    base["employee_share"] = base["unit"].map(u["employee_share"])
    wd = {p: working_days(p) for p in periods}
    base["working_days"] = base["period"].map(wd).astype(int)
    parts = []
    for s in SECTORS:
        c = base.copy()
        c["sector"] = s
        emp = np.rint(c["population"] * c["employee_share"] * c["unit"].map(u[f"share_{s}"]))
        c["employees"] = np.maximum(emp, 1).astype("int64")
        parts.append(c)
    cells = pd.concat(parts, ignore_index=True)
    cells["contracted_days"] = cells["employees"] * cells["working_days"] * config.fte_share
    order = {s: k for k, s in enumerate(SECTORS)}
    cells["_s"] = cells["sector"].map(order)
    cells = cells.sort_values(["kommunenummer", "period", "_s"], ignore_index=True).drop(
        columns="_s"
    )
    return cells


# --------------------------------------------------------------------------------------------
# cohorts


def _documented() -> tuple[pd.DataFrame, set[str]]:
    doc = _read_reference(paths.COHORTS_DIR / "kvk_participants_documented.csv")
    non = _read_reference(paths.COHORTS_DIR / "known_non_participants.csv")
    return doc, set(non["kommunenr"])


def _range(text: str) -> list[str]:
    """``"I-III"`` -> ``["I", "II", "III"]``; ``""`` -> all puljer."""
    if not text:
        return list(PULJER)
    if "-" in text:
        a, b = text.split("-")
        return list(PULJER[PULJER.index(a) : PULJER.index(b) + 1])
    return [text]


def _assign_puljer(
    config: SimulationConfig, doc: pd.DataFrame, simulated: list[str], rng: np.random.Generator
) -> tuple[dict[str, str], dict[str, str]]:
    """Pulje per admitted unit and its source (documented/simulated), filling the sizes."""
    slots = dict(zip(PULJER, config.cohort_sizes, strict=True))
    pulje: dict[str, str] = {}
    source: dict[str, str] = {}
    for code, p in zip(doc["kommunenr"], doc["pulje"], strict=True):
        if p:
            pulje[code] = p
            source[code] = "documented"
            slots[p] -= 1
    if min(slots.values()) < 0:
        raise InputError("documented participants exceed the cohort sizes", found=slots)
    ranged = doc[doc["pulje"] == ""]
    # the most constrained first, then code order: deterministic
    ranged = ranged.assign(
        _n=ranged["pulje_known_range"].map(lambda t: len(_range(t)))
    ).sort_values(["_n", "kommunenr"])
    for code, rng_text in zip(ranged["kommunenr"], ranged["pulje_known_range"], strict=True):
        allowed = [p for p in _range(rng_text) if slots[p] > 0]
        w = np.array([slots[p] for p in allowed], dtype=float)
        p = allowed[int(rng.choice(len(allowed), p=w / w.sum()))]
        pulje[code] = p
        source[code] = "simulated"
        slots[p] -= 1
    bag = [p for p in PULJER for _ in range(slots[p])]
    order = rng.permutation(len(bag))
    for code, k in zip(sorted(simulated), order, strict=True):
        pulje[code] = bag[k]
        source[code] = "simulated"
    return pulje, source


def _first_treated(programme_start: str) -> pd.Period:
    return pd.Period(pd.Timestamp(programme_start), freq="Q")


def _cohorts(
    config: SimulationConfig,
    units: pd.DataFrame,
    strength: float,
    gumbel: np.ndarray,
    pulje_seed: np.random.SeedSequence,
) -> pd.DataFrame:
    """Participants, puljer, dates and leavers for one selection strength (deterministic)."""
    doc, non = _documented()
    known = set(doc["kommunenr"])
    frame_codes = set(units["kommunenummer"])
    unknown = sorted(known - frame_codes)
    if unknown:
        raise InputError("documented participants not in the 2008 frame", found=unknown)
    pool = units[~units["kommunenummer"].isin(known | non)].reset_index(drop=True)
    n_sim = sum(config.cohort_sizes) - len(doc)
    if n_sim < 0 or n_sim > len(pool):
        raise InputError(
            "cohort sizes incompatible with the documented participants", found=config.cohort_sizes
        )
    level = pool["level_pp"] + (pool["rtm_shock_pp"] if config.rtm_sd_pp > 0 else 0.0)
    lz = (level - units["level_pp"].mean()) / max(float(level.std()), 1e-12)
    score = (
        config.selection_size_strength * pool["z_log_pop"].to_numpy()
        + strength * lz.to_numpy()
        + gumbel
    )
    chosen = pool["kommunenummer"].to_numpy()[np.argsort(-score, kind="stable")[:n_sim]].tolist()
    rng = np.random.default_rng(pulje_seed)
    pulje, psource = _assign_puljer(config, doc, chosen, rng)

    docmap = doc.set_index("kommunenr")
    rows = []
    for code in sorted(pulje):
        p = pulje[code]
        adm, start = PULJE_DATES[p]
        src = "simulated for the demo"
        msrc = "simulated"
        if code in docmap.index:
            d = docmap.loc[code]
            src = d["source"]
            if not (d["admitted"] and d["programme_start"]):
                src += " (missing dates completed for the demo from the pulje's dates)"
            adm = d["admitted"] or adm
            start = d["programme_start"] or start
            msrc = "documented"
        rows.append(
            {
                "kommunenr": code,
                "pulje": p,
                "admitted": adm,
                "programme_start": start,
                "left": "",
                "source": src,
                "membership_source": msrc,
                "pulje_source": psource[code],
            }
        )
    reg = pd.DataFrame(rows)
    # leavers: among simulated members, leaving 6+ months after start and before 2010
    sim_idx = np.flatnonzero(reg["membership_source"].eq("simulated").to_numpy())
    n_leave = min(config.n_leavers, len(sim_idx))
    leavers = (
        np.sort(rng.choice(sim_idx, size=n_leave, replace=False))
        if n_leave
        else np.array([], dtype=int)
    )
    for k in leavers:
        start = pd.Timestamp(reg.at[k, "programme_start"])
        first = start.to_period("M") + 6
        last = pd.Period("2009-12", freq="M")
        span = max((last - first).n, 0)
        month = first + int(rng.integers(0, span + 1))
        reg.at[k, "left"] = str(month)
    name = units.set_index("kommunenummer")["kommune"]
    reg.insert(1, "kommune", reg["kommunenr"].map(name))
    reg["first_treated"] = pd.PeriodIndex(
        [_first_treated(s) for s in reg["programme_start"]], freq="Q"
    )
    reg["left_period"] = pd.PeriodIndex(
        [pd.Period(pd.Timestamp(x), freq="Q") if x else pd.NaT for x in reg["left"]], freq="Q"
    )
    return reg


# --------------------------------------------------------------------------------------------
# outcome


def effect_multiplier(
    config: SimulationConfig, event_time: np.ndarray, period_index: np.ndarray
) -> np.ndarray:
    """Share of the full effect acting at ``event_time`` (quarters since first treated) in
    quarter ``period_index`` (integer quarter index); NaN event times (never treated) -> 0.

    Ramp ``min((e + 1) / ramp_quarters, 1)`` for e >= 0; ``anticipation_fraction`` for
    ``-anticipation_quarters <= e < 0``; after ``programme_end`` a linear fade over
    ``fade_quarters`` to ``persistence``.
    """
    e = np.asarray(event_time, dtype=float)
    out = np.zeros_like(e)
    post = e >= 0
    out[post] = np.minimum((e[post] + 1) / config.ramp_quarters, 1.0)
    if config.anticipation_quarters > 0:
        pre = (e < 0) & (e >= -config.anticipation_quarters)
        out[pre] = config.anticipation_fraction
    if config.fade_quarters is not None:
        end = quarter_index(pd.Period(config.programme_end, freq="Q"))
        k = np.asarray(period_index, dtype=float) - end
        fade = np.where(
            k > 0,
            config.persistence
            + (1 - config.persistence) * np.clip(1 - k / config.fade_quarters, 0, 1),
            1.0,
        )
        out = out * fade
    return np.where(np.isnan(e), 0.0, out)


def _effects(
    config: SimulationConfig, cells: pd.DataFrame, units: pd.DataFrame, reg: pd.DataFrame
) -> np.ndarray:
    """True effect (pp) on the expected rate of each cell."""
    ft = reg.set_index("kommunenr")["first_treated"]
    pul = reg.set_index("kommunenr")["pulje"]
    leftp = reg.set_index("kommunenr")["left_period"]
    tidx = quarter_index(cells["period"]).to_numpy()
    g = (
        cells["unit"]
        .map(lambda c: quarter_index(ft[c]) if c in ft.index else np.nan)
        .astype(float)
        .to_numpy()
    )
    m = effect_multiplier(config, tidx - g, tidx)
    sector_eff = (
        cells["sector"].map(dict(zip(SECTORS, config.effect_pp, strict=True))).to_numpy(dtype=float)
    )
    coh = cells["unit"].map(pul).map(dict(zip(PULJER, config.cohort_multipliers, strict=True)))
    coh = coh.fillna(0.0).to_numpy(dtype=float)
    z = cells["unit"].map(units.set_index("kommunenummer")["z_log_pop"]).to_numpy(dtype=float)
    size = np.maximum(1 + config.size_effect_heterogeneity * z, 0.0)
    tau = m * sector_eff * coh * size
    if config.dropouts_stop_effect:
        lq = cells["unit"].map(
            lambda c: (
                quarter_index(leftp[c]) if c in leftp.index and not pd.isna(leftp[c]) else np.inf
            )
        )
        tau = np.where(tidx >= lq.to_numpy(dtype=float), 0.0, tau)
    return tau


def _y0_relative(
    config: SimulationConfig, cells: pd.DataFrame, units: pd.DataFrame, reg: pd.DataFrame
) -> np.ndarray:
    """Expected untreated rate minus the national baseline ``N_t`` (pp)."""
    u = units.set_index("kommunenummer")
    tidx = quarter_index(cells["period"]).to_numpy()
    level = cells["unit"].map(u["level_pp"]).to_numpy(dtype=float)
    offset = (
        cells["sector"]
        .map(dict(zip(SECTORS, config.sector_offsets_pp, strict=True)))
        .to_numpy(dtype=float)
    )
    q = cells["period"].dt.quarter.to_numpy()
    extra = np.empty(len(cells))
    for qq in (1, 2, 3, 4):
        ex = dict(zip(SECTORS, _sector_extra(config, qq), strict=True))
        mask = q == qq
        extra[mask] = cells.loc[mask, "sector"].map(ex).to_numpy(dtype=float)
    t08 = quarter_index(pd.Period("2008Q1", freq="Q"))
    ctrend = (
        cells["unit"].map(u["county_trend_pp_per_year"]).to_numpy(dtype=float) * (tidx - t08) / 4
    )
    t0 = quarter_index(pd.Period(config.start, freq="Q"))
    part = cells["unit"].isin(set(reg["kommunenr"])).to_numpy()
    pretrend = config.pretrend_pp_per_year * part * (tidx - t0) / 4
    rtm = cells["unit"].map(u["rtm_shock_pp"]).to_numpy(dtype=float) * (
        cells["period"].dt.year.to_numpy() == config.rtm_year
    )
    return level + offset + extra + ctrend + pretrend + rtm


def _gap(cells: pd.DataFrame, value: np.ndarray, participants: set[str]) -> float:
    """Days-weighted all-sector rate of participants minus the others (pp)."""
    part = cells["unit"].isin(participants).to_numpy()
    w = cells["contracted_days"].to_numpy()
    rp = np.sum(w[part] * value[part]) / np.sum(w[part])
    ro = np.sum(w[~part] * value[~part]) / np.sum(w[~part])
    return float(rp - ro)


def _calibrate_selection(
    config: SimulationConfig,
    units: pd.DataFrame,
    cells: pd.DataFrame,
    gumbel: np.ndarray,
    pulje_seed: np.random.SeedSequence,
) -> tuple[float, pd.DataFrame, float]:
    """Selection strength giving the target expected gap in ``config.gap_quarter`` (bisection
    on [0, 12]; warns when the reachable gap is more than 0.15 pp from the target)."""
    sub = cells[cells["period"] == pd.Period(config.gap_quarter, freq="Q")].reset_index(drop=True)

    def gap_at(strength: float) -> tuple[float, pd.DataFrame]:
        reg = _cohorts(config, units, strength, gumbel, pulje_seed)
        val = _y0_relative(config, sub, units, reg) + _effects(config, sub, units, reg)
        return _gap(sub, val, set(reg["kommunenr"])), reg

    if config.selection_level_strength is not None:
        s = float(config.selection_level_strength)
        gap, reg = gap_at(s)
        return s, reg, gap
    lo, hi = 0.0, 12.0
    g_lo, reg_lo = gap_at(lo)
    if g_lo >= config.target_gap_pp:
        return lo, reg_lo, g_lo
    g_hi, reg_hi = gap_at(hi)
    if g_hi <= config.target_gap_pp:
        if config.target_gap_pp - g_hi > 0.15:
            warnings.warn(
                f"selection cannot reach the target gap {config.target_gap_pp} pp (reached {g_hi:.2f})",
                stacklevel=3,
            )
        return hi, reg_hi, g_hi
    best = (hi, reg_hi, g_hi)
    for _ in range(30):
        mid = (lo + hi) / 2
        g_mid, reg_mid = gap_at(mid)
        if abs(g_mid - config.target_gap_pp) < abs(best[2] - config.target_gap_pp):
            best = (mid, reg_mid, g_mid)
        if g_mid < config.target_gap_pp:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-4:
            break
    return best


def _ar1(
    rng: np.random.Generator, n_units: int, n_periods: int, sd: float, rho: float
) -> np.ndarray:
    eps = rng.standard_normal((n_units, n_periods))
    out = np.empty_like(eps)
    out[:, 0] = eps[:, 0]
    scale = np.sqrt(1 - rho**2)
    for t in range(1, n_periods):
        out[:, t] = rho * out[:, t - 1] + scale * eps[:, t]
    return sd * out


def _gamma_poisson(
    rng: np.random.Generator, mean_days: np.ndarray, employees: np.ndarray, dispersion: float
) -> np.ndarray:
    """Lost days with the given mean: Poisson half-days around a Gamma(mean 1, shape
    employees/dispersion) multiple of the mean."""
    shape = np.maximum(employees / dispersion, 1e-3)
    mult = rng.gamma(shape, 1.0 / shape)
    return rng.poisson(2.0 * mean_days * mult) / 2.0


# --------------------------------------------------------------------------------------------
# the simulation


def simulate(config: SimulationConfig | None = None) -> SimulationResult:
    """Run the data-generating process (deterministic given ``config.seed``).

    Returns a :class:`SimulationResult`; nothing is written (see ``write_demo``).  Rates are
    percent of contracted days, effects percentage points, quarters ``period[Q]``.
    """
    from .output import build_extract, registry_table
    from .truth import aggregate_truth, truth_table

    config = config or SimulationConfig()
    children = np.random.SeedSequence(config.seed).spawn(len(STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}
    periods = quarter_range(config.start, config.end)
    units = _build_units(config, rng)
    cells = _build_cells(config, units, periods)

    # selection, calibrated on the expected Q4 2008 gap
    doc, non = _documented()
    n_pool = int((~units["kommunenummer"].isin(set(doc["kommunenr"]) | non)).sum())
    gumbel = rng["selection"].gumbel(size=n_pool)
    pulje_seed = children[STREAMS.index("pulje")]
    strength, reg, exp_gap = _calibrate_selection(config, units, cells, gumbel, pulje_seed)

    reg_idx = reg.set_index("kommunenr")
    units["participant"] = units["kommunenummer"].isin(reg_idx.index)
    units["pulje"] = units["kommunenummer"].map(reg_idx["pulje"])
    units["first_treated"] = pd.PeriodIndex(
        units["kommunenummer"].map(reg_idx["first_treated"]), freq="Q"
    )
    units["left_period"] = pd.PeriodIndex(
        units["kommunenummer"].map(reg_idx["left_period"]), freq="Q"
    )

    # expected rates
    target = national_target(config, periods)
    y0_rel = _y0_relative(config, cells, units, reg)
    w = cells["contracted_days"].to_numpy()
    per = cells["period"]
    wmean = (
        pd.Series(w * y0_rel).groupby(per.to_numpy()).sum()
        / pd.Series(w).groupby(per.to_numpy()).sum()
    )
    baseline = target.set_index("period")["target"] - pd.Series(
        wmean.to_numpy(), index=pd.PeriodIndex(wmean.index, freq="Q")
    )
    cells["expected_rate_y0"] = per.map(baseline).to_numpy(dtype=float) + y0_rel
    cells["true_effect_pp"] = _effects(config, cells, units, reg)
    cells["expected_rate"] = cells["expected_rate_y0"] + cells["true_effect_pp"]
    self_share = target.set_index("period")["target_self"] / target.set_index("period")["target"]
    share = per.map(self_share).to_numpy(dtype=float)

    # noise
    rate = cells["expected_rate"].to_numpy().copy()
    if config.noise:
        unit_codes = units["kommunenummer"].tolist()
        shock = _ar1(
            rng["shocks"], len(unit_codes), len(periods), config.shock_sd_pp, config.shock_ar
        )
        ui = cells["unit"].map({c: k for k, c in enumerate(unit_codes)}).to_numpy()
        ti = (quarter_index(per) - quarter_index(periods[0])).to_numpy()
        rate = rate + shock[ui, ti]
    clipped = int(np.sum(rate < 0.5))
    rate = np.maximum(rate, 0.5)
    c = cells["contracted_days"].to_numpy()
    mean_self = c * rate * share / 100
    mean_doc = c * rate * (1 - share) / 100
    if config.noise:
        emp = cells["employees"].to_numpy(dtype=float)
        cells["lost_self"] = _gamma_poisson(rng["counts"], mean_self, emp, config.dispersion)
        cells["lost_doctor"] = _gamma_poisson(rng["counts"], mean_doc, emp, config.dispersion)
    else:
        cells["lost_self"] = mean_self
        cells["lost_doctor"] = mean_doc

    registry = registry_table(reg)
    truth = truth_table(config, cells, units, periods)
    aggregates = aggregate_truth(truth)
    extract = build_extract(config, cells, rng["output"])

    lost = cells["lost_self"] + cells["lost_doctor"]
    g = cells.groupby("period", sort=True)
    nat = pd.DataFrame(
        {
            "simulated": (lost.groupby(cells["period"]).sum() / g["contracted_days"].sum() * 100),
            "expected": (cells["expected_rate"] * w).groupby(cells["period"]).sum()
            / g["contracted_days"].sum(),
            "expected_y0": (cells["expected_rate_y0"] * w).groupby(cells["period"]).sum()
            / g["contracted_days"].sum(),
        }
    )
    national = target.set_index("period").join(baseline.rename("baseline")).join(nat).reset_index()
    diagnostics = {
        "selection_level_strength": strength,
        "expected_gap_pp": exp_gap,
        "gap_quarter": config.gap_quarter,
        "clipped_cells": clipped,
    }
    return SimulationResult(
        config=config,
        units=units,
        registry=registry,
        cells=cells,
        extract=extract,
        truth_att=truth,
        truth_aggregates=aggregates,
        national=national,
        diagnostics=diagnostics,
    )
