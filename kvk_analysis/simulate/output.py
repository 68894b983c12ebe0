"""Writing the simulated register in the real formats (KS extract, cohort registry, truth).

All numbers are formatted explicitly (decimal comma, space as thousands separator in the KS
extract; ``%.6f`` in the truth tables) so the files are byte-stable across runs and machines.
Every file is written atomically (:func:`kvk_analysis.fileio.atomic_write`).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config as paths
from ..fileio import atomic_write
from ..numbers import format_number as _format_number
from .scenarios import DEFAULT_SEED, PULJER, SCENARIOS, SECTORS, SimulationConfig

#: KS extract header (docs/architecture.md).
KS_COLUMNS = (
    "Kommunenr",
    "Kommune",
    "Kvartal",
    "Sektor",
    "Antall ansatte",
    "Avtalte dagsverk",
    "Tapte dagsverk egenmeldt",
    "Tapte dagsverk legemeldt",
)
SECTOR_LABELS = {"care": "Pleie og omsorg", "education": "Oppvekst", "other": "Annet"}
REGISTRY_COLUMNS = (
    "kommunenr",
    "kommune",
    "pulje",
    "admitted",
    "programme_start",
    "left",
    "source",
    "membership_source",
    "pulje_source",
    "unit_type",
)
#: File names in the demo folder.
FILES = {
    "extract": "ks_sickleave_demo.csv",
    "registry": "cohort_registry_demo.csv",
    "truth_att": "truth_att.csv",
    "truth_aggregates": "truth_aggregates.csv",
    "readme": "README.md",
}


def format_number(value: float, decimals: int = 1) -> str:
    """Norwegian number text as in KS extracts: decimal comma, plain space as thousands
    separator (``50 234,0``); :func:`kvk_analysis.numbers.format_number` with
    ``thousands=" "`` (the written values are non-negative, so no sign handling is involved)."""
    return _format_number(value, decimals, thousands=" ")


def cohort_counts(reg: pd.DataFrame) -> tuple[pd.Series, int]:
    """Admitted municipalities per pulje (I-IV, zeros included) and how many of them left
    early, from a registry with ``pulje`` and ``left`` (``""`` = stayed) columns."""
    sizes = reg["pulje"].value_counts().reindex(list(PULJER)).fillna(0).astype(int)
    return sizes, int((reg["left"] != "").sum())


def registry_table(reg: pd.DataFrame) -> pd.DataFrame:
    """The completed registry as written (strings, columns of docs/architecture.md plus
    ``pulje_source``), one row per admitted municipality, sorted by code."""
    out = reg.copy()
    out["unit_type"] = "municipality"
    out = out[list(REGISTRY_COLUMNS)].sort_values("kommunenr", ignore_index=True)
    return out.astype(str)


def _recode(cells: pd.DataFrame, vintage: int) -> pd.DataFrame:
    """Sum reporting codes into the municipalities of ``vintage`` (2020 or 2024)."""
    frame = pd.read_csv(
        paths.MUNICIPALITIES_DIR / "kommuner_2007_2008.csv", dtype=str, keep_default_na=False
    ).set_index("kommunenr")
    cw = pd.read_csv(
        paths.MUNICIPALITIES_DIR / "kommune_crosswalk_1994_2024.csv",
        dtype=str,
        keep_default_na=False,
    )
    group = frame["harmonized_2024_code"]
    gname = frame["harmonized_2024_name"]
    if vintage == 2024:
        code_of = {g: g for g in group[group != ""].unique()}
        name_of = dict(zip(group, gname, strict=True))
    else:
        code_of, name_of = {}, {}
        for g, sub in cw.groupby("harmonized_2024_code"):
            frm = pd.to_numeric(sub["valid_from"], errors="coerce").fillna(0)
            to = pd.to_numeric(sub["valid_to"].str.extract(r"(\d{4})")[0], errors="coerce")
            to = to.where(~sub["valid_to"].str.startswith("current"), 9999)
            ok = sub[(frm <= 2020) & (to >= 2020)]
            if len(ok):
                code_of[g] = ok["code"].iloc[0]
                name_of[g] = ok["label_with_validity"].iloc[0].split(" (")[0]
    c = cells.copy()
    c["_g"] = c["kommunenummer"].map(group)
    c = c[c["_g"].isin(code_of)]  # split municipalities have no successor code: left out
    c["kommunenummer"] = c["_g"].map(code_of)
    c["kommune"] = c["_g"].map(name_of)
    agg = c.groupby(["kommunenummer", "kommune", "period", "sector"], sort=False)[
        ["employees", "contracted_days", "lost_self", "lost_doctor"]
    ].sum()
    return agg.reset_index()


def build_extract(
    config: SimulationConfig, cells: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """The rows of the KS extract as strings (KS column names), with the scenario's recoding,
    missing quarters and suppressed cells applied.  Sorted by code, quarter, sector."""
    c = cells[
        [
            "kommunenummer",
            "kommune",
            "period",
            "sector",
            "employees",
            "contracted_days",
            "lost_self",
            "lost_doctor",
        ]
    ]
    if config.code_vintage is not None:
        c = _recode(c, config.code_vintage)
    order = {s: k for k, s in enumerate(SECTORS)}
    c = c.assign(_s=c["sector"].map(order)).sort_values(
        ["kommunenummer", "period", "_s"], ignore_index=True
    )
    # random draws are made whatever the settings, so the stream stays aligned across scenarios
    codes = np.array(sorted(c["kommunenummer"].unique()))
    block = codes[rng.permutation(len(codes))[: config.missing_block_units]]
    periods = np.array(sorted(c["period"].unique()))
    u = rng.random((len(codes), len(periods)))
    missing_cell = pd.Series(
        u.ravel() < config.missing_quarter_prob, index=pd.MultiIndex.from_product([codes, periods])
    )
    first_year = set(periods[:4])
    drop = c["kommunenummer"].isin(set(block)) & c["period"].isin(first_year)
    c = c[~drop].reset_index(drop=True)
    key = pd.MultiIndex.from_arrays([c["kommunenummer"], c["period"]])
    empty = missing_cell.reindex(key).to_numpy()
    suppressed = c["employees"].to_numpy() < config.suppress_below_employees

    out = pd.DataFrame(
        {
            "Kommunenr": c["kommunenummer"].to_numpy(),
            "Kommune": c["kommune"].to_numpy(),
            "Kvartal": [f"{p.year}K{p.quarter}" for p in c["period"]],
            "Sektor": c["sector"].map(SECTOR_LABELS).to_numpy(),
            "Antall ansatte": [format_number(x, 0) for x in c["employees"]],
            "Avtalte dagsverk": [format_number(x, 1) for x in c["contracted_days"]],
            "Tapte dagsverk egenmeldt": [format_number(x, 1) for x in c["lost_self"]],
            "Tapte dagsverk legemeldt": [format_number(x, 1) for x in c["lost_doctor"]],
        }
    )
    lost_cols = ["Tapte dagsverk egenmeldt", "Tapte dagsverk legemeldt"]
    out.loc[suppressed, lost_cols] = ":"
    out.loc[empty, ["Antall ansatte", "Avtalte dagsverk", *lost_cols]] = ""
    return out


def extract_text(extract: pd.DataFrame) -> str:
    """The KS extract as text: ``;``-separated, one header line, ``\\n`` line ends."""
    lines = [";".join(KS_COLUMNS)]
    for row in extract[list(KS_COLUMNS)].itertuples(index=False):
        lines.append(";".join(row))
    return "\n".join(lines) + "\n"


def _csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6f", lineterminator="\n")
    return buf.getvalue()


def write_demo(result, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write the demo files of ``result`` (a ``SimulationResult``) into ``out_dir``.

    Default folder: ``data/raw/demo``.  Writes ``ks_sickleave_demo.csv`` (UTF-8),
    ``cohort_registry_demo.csv``, ``truth_att.csv``, ``truth_aggregates.csv`` and
    ``README.md``, each atomically; returns ``{kind: path}``.
    """
    out = Path(out_dir) if out_dir is not None else paths.DEMO_DIR
    texts = {
        "extract": extract_text(result.extract),
        "registry": _csv_text(result.registry),
        "truth_att": _csv_text(result.truth_att),
        "truth_aggregates": _csv_text(result.truth_aggregates),
        "readme": readme_text(result),
    }
    written = {}
    for kind, text in texts.items():
        path = out / FILES[kind]
        with atomic_write(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        written[kind] = path
    return written


def _scenario_name(config: SimulationConfig) -> str:
    for name, cfg in SCENARIOS.items():
        if cfg.replace(seed=config.seed) == config:
            return name
    return "custom"


def readme_text(result) -> str:
    """The README of the demo folder: states that the data are simulated, the DGP with its
    parameter values, the seed, the realised calibration numbers and how to regenerate."""
    cfg: SimulationConfig = result.config
    name = _scenario_name(cfg)
    reg = result.registry
    n_adm = len(reg)
    sizes, n_left = cohort_counts(reg)
    nat = result.national
    dev = (nat["simulated"] - nat["target"]).abs().max()
    dev0 = (nat["expected_y0"] - nat["target"]).abs().max()
    overall = result.truth_aggregates
    simple_all = overall[(overall["aggregation"] == "simple") & (overall["sector"] == "all")][
        "true_att_pp"
    ].iloc[0]
    params = "\n".join(
        f"| `{f.name}` | `{getattr(cfg, f.name)!r}` |" for f in dataclasses.fields(SimulationConfig)
    )
    from .calibration import participants_table

    tab = participants_table(result)
    table_rows = "\n".join(
        f"| {g} | {r['pre_2006']:.2f} | {r['rate_2008Q4']:.2f} | {r['rate_2009Q3']:.2f} | {r['change_pp']:+.2f} |"
        for g, r in tab.iterrows()
    )
    scenario_list = ", ".join(f"`{n}`" for n in SCENARIOS)
    seed_opt = "" if cfg.seed == DEFAULT_SEED else f" --seed {cfg.seed}"
    scen_opt = "" if name == "default" else f" --scenario {name}"
    return f"""# Simulated KVK sick-leave register (demo data)

**THESE DATA ARE SIMULATED.**  They are not KS's or SSB's sick-leave statistics and say nothing
about the real effect of Kvalitetskommuneprogrammet.  Only the municipality frame, the population,
the documented participants and the national SSB series are real; everything else is drawn by
`kvk_analysis.simulate` (scenario `{name}`, seed {cfg.seed}) so that the whole cleaning and
estimation path can run on data whose true effect is known.

Regenerate (byte-identical):

    kvk data demo{seed_opt}{scen_opt}

## Files

| file | content |
|---|---|
| `ks_sickleave_demo.csv` | KS payroll-register extract, aggregate form (docs/architecture.md): `;`-separated, UTF-8, decimal comma, space as thousands separator; one row per municipality x quarter x sector (Pleie og omsorg / Oppvekst / Annet), {cfg.start}-{cfg.end}. Codes as valid at the time: 1503 Kristiansund and 1556 Frei until 2007K4, 1505 Kristiansund from 2008K1 (the panel builder harmonises). |
| `cohort_registry_demo.csv` | the completed cohort registry: {n_adm} admitted ({", ".join(f"{p}: {n}" for p, n in sizes.items())}), {n_left} leaving before the end, so {n_adm - n_left} remain. The 33 documented participants keep their documented pulje and dates (`membership_source=documented`); those with an unknown pulje get a simulated one within their documented range (`pulje_source=simulated`); all other rows are simulated (`membership_source=simulated`). Hadsel (documented non-participant) is never chosen. Codes are those of the 2008 frame. |
| `truth_att.csv` | true ATT per pulje x quarter x sector (all quarters, pre-treatment included): `true_att_pp` (pp, unweighted mean over the cohort's municipalities: the `att_gt` estimand), `true_att_pp_days_weighted`, `n_units`, `weight` (contracted days of the cohort in the cell), `group`/`time` (quarter index year*4+q-1), `event_time`. |
| `truth_aggregates.csv` | the aggregated truths: `simple` (overall ATT), `dynamic` (per event time + overall), `group`, `calendar`, for sector `all` and each sector. Group sizes (number of municipalities) are the weights, as in `aggte`. |

Definition of the truth: effects are in percentage points of the **expected** rate
(lost days / contracted days x 100), so an unbiased estimator converges to them.  The effect on
the all-sector rate of a municipality is the effect on the ratio of sums
sum(lost) / sum(contracted): since treatment does not change contracted days, it is the
contracted-days-weighted mean of the sector effects.  Cohort effects are unweighted means over
the cohort's municipalities.  Leaving the programme does not stop the effect (intention to
treat) unless `dropouts_stop_effect` is set.

## Data-generating process

Municipality i (the 430 of the 2008 frame), sector s, quarter t; rates in percent.

1. **Employees.** Population (SSB, 1 January, interpolated within years and extrapolated after
   2009 with each unit's 2008-2009 growth; gaps imputed openly by `municipalities.load_population`)
   x municipal-employee share ({cfg.employee_share_range[0]:.2f}-{cfg.employee_share_range[1]:.2f},
   higher in small municipalities) x sector share (Dirichlet around care/education/other
   = {cfg.sector_shares}, concentration {cfg.sector_share_concentration:g}), rounded.
   Contracted days = employees x weekdays of the quarter x FTE share {cfg.fte_share}.
2. **Untreated expected rate** Y0 = N_t + L_i + sector offset ({cfg.sector_offsets_pp} pp for
   care, education, other) + sector extra seasonality (Q3: {cfg.sector_q3_extra_pp} pp, a third
   of it added back in Q1, Q2, Q4) [+ county trend, sd {cfg.county_trend_sd_pp_per_year} pp/year]
   [+ participants' pre-trend {cfg.pretrend_pp_per_year} pp/year]
   [+ transitory {cfg.rtm_year} shock, sd {cfg.rtm_sd_pp} pp].
   L_i = county level (Rogaland {dict(cfg.county_levels_pp).get("11")}, Finnmark
   {dict(cfg.county_levels_pp).get("20")}, others N(0, {cfg.county_sd_pp})) + {cfg.size_slope_pp} pp
   x (log population - mean) + N(0, {cfg.municipality_sd_pp}).
   N_t is solved so that the contracted-days-weighted national Y0 equals the target
   {cfg.national_scale} x SSB national rate (all industries) + municipal extra seasonality
   (2011Q4, absent from the SSB file, takes 2010Q4's value).  The 2009 influenza rise comes from
   the SSB series.  Realised: max |expected Y0 - target| = {dev0:.2e} pp; max |simulated - target|
   = {dev:.2f} pp (the planted effect and noise).
3. **Selection.** Beyond the 33 documented, {sum(cfg.cohort_sizes) - 33} participants are drawn
   (Gumbel top-k) with log-odds {cfg.selection_size_strength} x standardised log population
   + k x standardised level; k = {result.diagnostics["selection_level_strength"]:.3f} was calibrated
   so that the expected all-sector gap participants minus others in {cfg.gap_quarter} is
   {cfg.target_gap_pp} pp (KS: 10.4 % vs 9.7 % in 2008Q4); reached {result.diagnostics["expected_gap_pp"]:.3f} pp.
   Puljer are drawn at random among the free places; dates: I admitted 2007-03-28, start 2007-04
   (first treated 2007Q2); II 2007-10-17, 2007-11 (2007Q4); III 2008-06, 2008-08-28 (2008Q3);
   IV 2008-11-04, 2009-01 (2009Q1).  {cfg.n_leavers} simulated members leave 6+ months after their
   start and before 2010.
4. **Effect** tau (pp) = full effect ({cfg.effect_pp} for care, education, other) x cohort
   multiplier ({cfg.cohort_multipliers} for I-IV) x ramp min((e+1)/{cfg.ramp_quarters}, 1) at event
   time e >= 0 [x anticipation {cfg.anticipation_fraction} for {cfg.anticipation_quarters} quarters
   before] x fade after {cfg.programme_end} (linear over {cfg.fade_quarters} quarters to
   {cfg.persistence}) [x size heterogeneity 1 + {cfg.size_effect_heterogeneity} z].
   Overall true ATT (simple aggregation, all sectors): {simple_all:.4f} pp.
5. **Noise** (noise={cfg.noise}): a municipality x quarter AR(1) shock (sd {cfg.shock_sd_pp} pp,
   autocorrelation {cfg.shock_ar}); lost days are counts: Poisson half-days around a Gamma
   (mean 1, shape employees/{cfg.dispersion:g}) multiple of the expected days, drawn separately
   for self-certified ({cfg.self_certified_scale} x the SSB self-certified rate, about 1 % of
   contracted days) and doctor-certified (the rest).  Small municipalities are much noisier.
6. **Output quirks** (scenario knobs): missing quarters written as empty cells
   (probability {cfg.missing_quarter_prob}) and {cfg.missing_block_units} municipalities without their
   first year; lost days of sectors with fewer than {cfg.suppress_below_employees} employees written
   as `:`; code vintage {cfg.code_vintage} (None = codes valid at the time).

Random streams: `numpy.random.SeedSequence({cfg.seed}).spawn(8)`, one per component, so
switching a knob (e.g. `noise=False`) leaves the other components unchanged.

## Realised calibration (this seed)

All sectors, lost / contracted days of the group x 100 (`kvk data calibration` draws the figure
of the national path and writes this table):

| group | 2006 mean | 2008Q4 | 2009Q3 | change |
|---|---|---|---|---|
{table_rows}

KS reported 10.4 % (participants) vs 9.7 % (others) in 2008Q4.

## Scenarios (`kvk data demo --scenario NAME --out DIR`)

Each preset switches on one assumption breaker (see `kvk_analysis/simulate/scenarios.py`):
{scenario_list}.  A non-default seed or scenario is refused for this folder unless `--out DIR`
(or `--force`) is given, so the shipped files always equal the default seed's output (a test
checks this byte for byte).

## All parameters (`kvk_analysis.simulate.SimulationConfig`)

| field | value |
|---|---|
{params}
"""
