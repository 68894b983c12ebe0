"""Monte Carlo validation of the estimators on the simulated KVK register.

:func:`register_monte_carlo` repeats, for many seeds, the path real data take::

    simulate(seed)  ->  KS extract + cohort registry written as files (temporary folder)
                    ->  readers.read_ks / cohorts.read_registry  ->  panel.build_panel
                    ->  did.att_gt  ->  did.aggte("simple"), did.aggte("dynamic")
                    +   a static two-way fixed-effects (TWFE) regression

and compares each estimate with the planted truth of that simulation
(:attr:`~kvk_analysis.simulate.SimulationResult.truth_aggregates`).  The readers have no
function that converts the in-memory extract, so the files are written and read back, as in a
real run (about a fifth of a second per replication).

Which truth
-----------
The simulator's aggregated truths (``truth_aggregates``, column ``true_att_pp``) are
unweighted: the cohort effect ATT(g,t) is the plain mean of the unit effects over the cohort's
municipalities (the unit effect on the all-sector rate being the contracted-days-weighted mean
of its sector effects, i.e. the effect on the ratio of summed days), and the aggregations
weight cohorts by their number of municipalities.  That is what ``att_gt`` estimates on the
``rate`` outcome **without** ``weightsname``, so the Monte Carlo runs ``att_gt`` unweighted.
(With ``weightsname="weight"`` the estimand would weight units by their contracted days in
their first quarter, which is neither ``true_att_pp`` nor ``true_att_pp_days_weighted``.)

The TWFE coefficient (:func:`kvk_analysis.evaluation.twfe`: unit and period fixed effects,
standard error clustered by unit) is compared with the overall *simple* truth (the average of
the post-treatment ATT(g,t) weighted by cohort size), the quantity an applied user reads it
as.  Under the default scenario's ramping, fading and cohort-specific effects it is biased
because it uses already-treated municipalities as controls.

Units: effects in percentage points (pp) of the sick-leave rate.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Two-sided 95 % normal critical value (the pointwise analytic intervals).
Z95 = 1.959963984540054

#: Columns of :attr:`MonteCarloResult.draws` (one row per replication and quantity).
DRAW_COLUMNS = [
    "seed",
    "quantity",
    "event_time",
    "truth",
    "estimate",
    "std_error",
    "covered",
    "boot_std_error",
    "boot_covered",
]

#: Columns of :attr:`MonteCarloResult.table`.
TABLE_COLUMNS = [
    "quantity",
    "event_time",
    "n_reps",
    "truth",
    "mean_estimate",
    "bias",
    "bias_mc_se",
    "rmse",
    "mean_se",
    "sd_estimate",
    "coverage",
    "coverage_mc_se",
    "boot_mean_se",
    "boot_coverage",
    "boot_coverage_mc_se",
]

_ORDER = {"simple": 0, "dynamic": 1, "dynamic_overall": 2, "dynamic_band": 3, "twfe": 4}


@dataclass(frozen=True)
class MonteCarloResult:
    """Outcome of :func:`register_monte_carlo`.

    Attributes
    ----------
    table : DataFrame
        One row per quantity (columns :data:`TABLE_COLUMNS`): ``simple`` (overall ATT),
        ``dynamic`` (one row per event time, pre-treatment included), ``dynamic_overall``
        (mean over event times >= 0), ``dynamic_band`` (simultaneous coverage of the
        bootstrap uniform band over all event times >= 0; only ``boot_coverage`` is filled)
        and ``twfe`` (static TWFE coefficient against the simple truth).  ``truth`` is the
        mean over replications of each replication's truth; ``bias`` the mean of estimate
        minus truth with its Monte Carlo standard error ``bias_mc_se``; ``rmse`` the root mean
        squared error; ``mean_se`` the mean analytic standard error and ``sd_estimate`` the
        standard deviation of the estimates over replications; ``coverage`` the share of 95 %
        pointwise analytic intervals containing the truth, with ``coverage_mc_se``
        (``sqrt(c (1 - c) / n)``); ``boot_*`` the same with multiplier-bootstrap standard
        errors (NaN without the bootstrap, and for TWFE).  All in pp.
    draws : DataFrame
        One row per replication x quantity (columns :data:`DRAW_COLUMNS`).
    params : dict
        The specification: scenario, sector, control group, method, seeds, weighting used,
        bootstrap draws, and the timing.
    seconds_per_rep : float
        Mean wall-clock seconds of one replication (simulation to estimates).
    stage_seconds : dict
        Mean seconds per replication of each stage (``simulate``, ``files``, ``read``,
        ``panel``, ``estimate``).
    """

    table: pd.DataFrame
    draws: pd.DataFrame
    params: dict[str, object]
    seconds_per_rep: float
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def summary(self, *, pre: bool = False) -> str:
        """Plain-text table of the results (pre-treatment event times only with ``pre``)."""
        t = self.table
        if not pre:
            t = t[~((t["quantity"] == "dynamic") & (t["event_time"] < 0)).fillna(False)]
        t = t.assign(
            event_time=t["event_time"].astype("string").fillna(""),
        ).drop(columns=["boot_coverage_mc_se"])
        p = self.params
        head = [
            f"Monte Carlo on the simulated register: {p['n_reps']} replications, "
            f"scenario {p['scenario']}, sector {p['sector']}, control group {p['control_group']}, "
            f"est_method {p['est_method']}, {p['weighting']}",
            f"Seconds per replication: {self.seconds_per_rep:.2f} ("
            + ", ".join(f"{k} {v:.2f}" for k, v in self.stage_seconds.items())
            + ")",
            "Coverage: 95 % pointwise intervals (analytic influence-function SEs; boot_ = "
            "multiplier bootstrap). dynamic_band: simultaneous coverage of the uniform band "
            "over event times >= 0. twfe: truth = overall simple ATT.",
            "",
        ]
        body = t.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="")
        return "\n".join(head) + body


def _truth_lookup(truth_aggregates: pd.DataFrame, sector: str) -> dict[str, object]:
    """Simple overall, dynamic overall and dynamic per event time truths of ``sector``."""
    t = truth_aggregates[truth_aggregates["sector"] == sector]
    if t.empty:
        from .errors import InputError

        raise InputError(
            "no truth for this sector",
            column="sector",
            expected="all, care, education or other",
            found=sector,
        )
    simple = t[(t["aggregation"] == "simple") & (t["term"] == "overall")]["true_att_pp"]
    dyn = t[t["aggregation"] == "dynamic"]
    dyn_overall = dyn[dyn["term"] == "overall"]["true_att_pp"]
    per_e = dyn[dyn["term"] == "event_time"]
    return {
        "simple": float(simple.iloc[0]),
        "dynamic_overall": float(dyn_overall.iloc[0]),
        "dynamic": dict(
            zip(per_e["event_time"].astype(int), per_e["true_att_pp"].astype(float), strict=True)
        ),
    }


def _panel_from_files(result: object, folder: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """Write the simulated KS extract and registry, read them back, build the panel."""
    from .cohorts import read_registry
    from .panel import build_panel
    from .readers import read_ks
    from .simulate.output import extract_text

    t0 = time.perf_counter()
    ks_path, reg_path = folder / "ks_sickleave.csv", folder / "cohort_registry.csv"
    ks_path.write_text(extract_text(result.extract), encoding="utf-8")
    result.registry.to_csv(reg_path, index=False, lineterminator="\n")
    t1 = time.perf_counter()
    tidy = read_ks(ks_path)
    registry = read_registry(reg_path)
    t2 = time.perf_counter()
    cfg = result.config
    panel = build_panel(tidy, registry, start=cfg.start, end=cfg.end)
    t3 = time.perf_counter()
    return panel.data, {"files": t1 - t0, "read": t2 - t1, "panel": t3 - t2}


def register_replication(
    seed: int,
    *,
    scenario: str = "default",
    sector: str = "all",
    control_group: str = "nevertreated",
    est_method: str = "reg",
    bootstrap: bool = True,
    biters: int = 999,
    overrides: Mapping[str, object] | None = None,
    folder: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """One replication of :func:`register_monte_carlo`: rows of :data:`DRAW_COLUMNS` and the
    seconds spent per stage.

    ``overrides`` are extra :class:`~kvk_analysis.simulate.SimulationConfig` fields (e.g.
    ``{"noise": False}``); ``folder`` receives the temporary files (a fresh temporary folder
    when ``None``).  See :func:`register_monte_carlo` for the other arguments.
    """
    from .did import aggte, att_gt
    from .evaluation.twfe import twfe
    from .simulate import scenario as scenario_config
    from .simulate import simulate

    t0 = time.perf_counter()
    sim = simulate(scenario_config(scenario, seed=int(seed), **dict(overrides or {})))
    t1 = time.perf_counter()
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="kvk-mc-") as tmp:
            data, stages = _panel_from_files(sim, Path(tmp))
    else:
        data, stages = _panel_from_files(sim, Path(folder))
    t2 = time.perf_counter()
    truth = _truth_lookup(sim.truth_aggregates, sector)

    d = data[(data["sector"] == sector) & data["rate"].notna() & data["gname"].notna()].copy()
    d["gname"] = d["gname"].astype("int64")
    n_per = d.groupby("kommunenummer")["tname"].nunique()
    unbalanced = bool((n_per < d["tname"].nunique()).any())
    res = att_gt(
        d,
        "rate",
        "tname",
        "kommunenummer",
        "gname",
        control_group=control_group,
        est_method=est_method,
        bstrap=bootstrap,
        biters=biters,
        cband=bootstrap,
        seed=int(seed),
        allow_unbalanced_panel=unbalanced,
    )
    rows: list[dict[str, object]] = []

    def add(
        quantity: str,
        event_time: int | None,
        tru: float,
        est: float,
        se: float,
        covered: bool,
        bse: float = math.nan,
        bcov: float = math.nan,
    ) -> None:
        rows.append(
            {
                "seed": int(seed),
                "quantity": quantity,
                "event_time": event_time,
                "truth": tru,
                "estimate": est,
                "std_error": se,
                "covered": float(covered),
                "boot_std_error": bse,
                "boot_covered": bcov,
            }
        )

    for typ in ("simple", "dynamic"):
        ana = aggte(res, typ, bstrap=False, cband=False)
        boot = aggte(res, typ) if bootstrap else None
        key = "simple" if typ == "simple" else "dynamic_overall"
        tru = float(truth[key])
        ov = ana.overall
        bse = boot.overall.std_error if boot is not None else math.nan
        bcov = (
            float(boot.overall.conf_low <= tru <= boot.overall.conf_high)
            if boot is not None
            else math.nan
        )
        add(
            key, None, tru, ov.estimate, ov.std_error, ov.conf_low <= tru <= ov.conf_high, bse, bcov
        )
        if typ != "dynamic":
            continue
        true_e = np.array([truth["dynamic"].get(int(e), math.nan) for e in ana.egt])
        lo = ana.att_egt - Z95 * ana.se_egt
        hi = ana.att_egt + Z95 * ana.se_egt
        for k, e in enumerate(ana.egt):
            bse_e = boot.se_egt[k] if boot is not None else math.nan
            bcov_e = (
                float(abs(boot.att_egt[k] - true_e[k]) <= Z95 * boot.se_egt[k])
                if boot is not None
                else math.nan
            )
            add(
                "dynamic",
                int(e),
                float(true_e[k]),
                float(ana.att_egt[k]),
                float(ana.se_egt[k]),
                bool(lo[k] <= true_e[k] <= hi[k]),
                float(bse_e),
                bcov_e,
            )
        if boot is not None:
            post = boot.egt >= 0
            inside = np.abs(boot.att_egt[post] - true_e[post]) <= (
                boot.critical_value * boot.se_egt[post]
            )
            add(
                "dynamic_band",
                None,
                math.nan,
                math.nan,
                math.nan,
                False,
                math.nan,
                float(np.all(inside)),
            )
            rows[-1]["covered"] = math.nan
    static = twfe(d)  # unit and period fixed effects, CRV1 clustered by unit
    beta, se = static.overall, float(static.std_error[0])
    tru = float(truth["simple"])
    add("twfe", None, tru, beta, se, abs(beta - tru) <= Z95 * se)
    t3 = time.perf_counter()
    draws = pd.DataFrame(rows, columns=DRAW_COLUMNS)
    draws["event_time"] = draws["event_time"].astype("Int64")
    return draws, {"simulate": t1 - t0, **stages, "estimate": t3 - t2}


def summarise_draws(draws: pd.DataFrame) -> pd.DataFrame:
    """The Monte Carlo table (:data:`TABLE_COLUMNS`) from replication rows (:data:`DRAW_COLUMNS`).

    Per quantity and event time: means over replications; ``bias_mc_se`` is the standard
    deviation of estimate minus truth over ``sqrt(n)``; ``sd_estimate`` uses ``ddof=1``.
    """
    out = []
    keys = ["quantity", "event_time"]
    for (q, e), sub in draws.groupby(keys, sort=False, dropna=False):
        n = len(sub)
        err = sub["estimate"] - sub["truth"]
        cov = sub["covered"].mean()
        bcov = sub["boot_covered"].mean()
        out.append(
            {
                "quantity": q,
                "event_time": e,
                "n_reps": n,
                "truth": sub["truth"].mean(),
                "mean_estimate": sub["estimate"].mean(),
                "bias": err.mean(),
                "bias_mc_se": err.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan,
                "rmse": math.sqrt(float((err**2).mean())) if err.notna().any() else math.nan,
                "mean_se": sub["std_error"].mean(),
                "sd_estimate": sub["estimate"].std(ddof=1) if n > 1 else math.nan,
                "coverage": cov,
                "coverage_mc_se": math.sqrt(cov * (1 - cov) / n) if cov == cov else math.nan,
                "boot_mean_se": sub["boot_std_error"].mean(),
                "boot_coverage": bcov,
                "boot_coverage_mc_se": math.sqrt(bcov * (1 - bcov) / n)
                if bcov == bcov
                else math.nan,
            }
        )
    table = pd.DataFrame(out, columns=TABLE_COLUMNS)
    table["event_time"] = table["event_time"].astype("Int64")
    order = table["quantity"].map(_ORDER).fillna(len(_ORDER))
    table = (
        table.assign(_o=order, _e=table["event_time"].fillna(-(10**6)))
        .sort_values(["_o", "_e"], kind="stable")
        .drop(columns=["_o", "_e"])
        .reset_index(drop=True)
    )
    return table


def register_monte_carlo(
    n_reps: int = 200,
    *,
    scenario: str = "default",
    sector: str = "all",
    control_group: str = "nevertreated",
    est_method: str = "reg",
    seeds: Iterable[int] | None = None,
    progress: bool = False,
    bootstrap: bool = True,
    biters: int = 999,
    overrides: Mapping[str, object] | None = None,
) -> MonteCarloResult:
    """Monte Carlo of ``att_gt``/``aggte`` (and a static TWFE) on the simulated register.

    Parameters
    ----------
    n_reps
        Number of simulated datasets (ignored when ``seeds`` is given).
    scenario
        Name of a simulation scenario (:data:`kvk_analysis.simulate.SCENARIOS`).
    sector
        Outcome sector: ``all`` (the all-sector rate), ``care``, ``education`` or ``other``.
    control_group, est_method
        Passed to :func:`kvk_analysis.did.att_gt` (no covariates, unweighted: see the module
        docstring for why the truth matches the unweighted estimand).
    seeds
        Seeds of the simulations (default ``1 .. n_reps``); each is also the bootstrap seed.
    progress
        Print a line to stderr every 10 replications.
    bootstrap, biters
        Also run the multiplier bootstrap (``biters`` draws, uniform band for the event
        study).  It costs about a hundredth of a second per replication, so it runs in every
        replication; the analytic intervals are the primary result.
    overrides
        Extra simulation settings (fields of
        :class:`~kvk_analysis.simulate.SimulationConfig`, e.g. ``{"noise": False}``).

    Returns
    -------
    MonteCarloResult
        ``table`` (bias, RMSE, SEs, coverage with Monte Carlo errors per quantity),
        ``draws`` (per replication), ``params`` and timings.
    """
    seed_list: Sequence[int] = (
        [int(s) for s in seeds] if seeds is not None else list(range(1, int(n_reps) + 1))
    )
    if not seed_list:
        from .errors import EstimationError

        raise EstimationError("the Monte Carlo needs at least one replication")
    parts: list[pd.DataFrame] = []
    stage_tot: dict[str, float] = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kvk-mc-") as tmp:
        for k, seed in enumerate(seed_list, start=1):
            draws, stages = register_replication(
                seed,
                scenario=scenario,
                sector=sector,
                control_group=control_group,
                est_method=est_method,
                bootstrap=bootstrap,
                biters=biters,
                overrides=overrides,
                folder=tmp,
            )
            parts.append(draws)
            for name, sec in stages.items():
                stage_tot[name] = stage_tot.get(name, 0.0) + sec
            if progress and (k % 10 == 0 or k == len(seed_list)):
                elapsed = time.perf_counter() - t_start
                print(
                    f"monte carlo: {k}/{len(seed_list)} replications, {elapsed:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    total = time.perf_counter() - t_start
    all_draws = pd.concat(parts, ignore_index=True)
    n = len(seed_list)
    per_rep = total / n
    params: dict[str, object] = {
        "n_reps": n,
        "scenario": scenario,
        "sector": sector,
        "control_group": control_group,
        "est_method": est_method,
        "weighting": "unweighted att_gt (truth: true_att_pp, cohorts weighted by size)",
        "bootstrap": bootstrap,
        "biters": biters if bootstrap else 0,
        "overrides": dict(overrides or {}),
        "seeds": list(seed_list),
        "seconds_total": total,
    }
    return MonteCarloResult(
        table=summarise_draws(all_draws),
        draws=all_draws,
        params=params,
        seconds_per_rep=per_rep,
        stage_seconds={k: v / n for k, v in stage_tot.items()},
    )
