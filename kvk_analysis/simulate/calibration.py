"""Calibration checks of the simulated register: national path vs SSB, participants vs others.

Functions return DataFrames or a ``matplotlib.figure.Figure``; they never write files (the
``kvk data calibration`` command writes them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dgp import PULJE_DATES, SimulationResult


def national_comparison(result: SimulationResult) -> pd.DataFrame:
    """Simulated national (all municipalities, contracted-days-weighted) rate per quarter
    against the calibration target.

    Columns (percent; deviations in pp): ``period`` (``period[Q]``), ``ssb`` (SSB national,
    all industries), ``ssb_scaled`` (``national_scale`` x SSB), ``target`` (``ssb_scaled``
    + municipal extra seasonality), ``simulated`` (realised), ``expected`` (expected rate with
    the planted effect), ``expected_y0`` (expected untreated rate), ``deviation`` (simulated -
    target) and ``deviation_from_expected`` (simulated - expected: noise only).
    """
    nat = result.national.copy()
    nat["ssb_scaled"] = result.config.national_scale * nat["ssb"]
    nat["deviation"] = nat["simulated"] - nat["target"]
    nat["deviation_from_expected"] = nat["simulated"] - nat["expected"]
    cols = [
        "period",
        "ssb",
        "ssb_scaled",
        "target",
        "simulated",
        "expected",
        "expected_y0",
        "deviation",
        "deviation_from_expected",
    ]
    return nat[cols]


def _group_rates(result: SimulationResult) -> pd.DataFrame:
    """All-sector rate (percent, ratio of sums) per quarter of participants and others."""
    cells = result.cells
    part = cells["unit"].isin(set(result.registry["kommunenr"]))
    lost = cells["lost_self"] + cells["lost_doctor"]
    grp = np.where(part, "participants", "others")
    df = pd.DataFrame(
        {"group": grp, "period": cells["period"], "lost": lost, "days": cells["contracted_days"]}
    )
    agg = df.groupby(["group", "period"], sort=True)[["lost", "days"]].sum()
    agg["rate"] = agg["lost"] / agg["days"] * 100
    return agg["rate"].unstack("group")


def participants_table(
    result: SimulationResult, before: str = "2008Q4", after: str = "2009Q3"
) -> pd.DataFrame:
    """Participants (every admitted municipality) vs others, all sectors, like KS's Q4 2008 ->
    Q3 2009 comparison (KS: participants 10.4 % vs others 9.7 % in Q4 2008).

    Rows: ``participants``, ``others``, ``difference`` (participants - others).  Columns:
    ``n_units``, ``rate_<before>``, ``rate_<after>`` (percent, lost/contracted of the group's
    summed days), ``change_pp`` (after - before, pp), plus ``pre_2006`` (mean over 2006 of the
    group's quarterly rate, percent) for the pre-programme level.
    """
    rates = _group_rates(result)
    b, a = pd.Period(before, freq="Q"), pd.Period(after, freq="Q")
    pre = rates[[p.year == 2006 for p in rates.index]].mean()
    n_part = len(result.registry)
    n_all = len(result.units)
    out = pd.DataFrame(
        {
            "n_units": [n_part, n_all - n_part],
            f"rate_{before}": [rates.loc[b, "participants"], rates.loc[b, "others"]],
            f"rate_{after}": [rates.loc[a, "participants"], rates.loc[a, "others"]],
            "pre_2006": [pre["participants"], pre["others"]],
        },
        index=pd.Index(["participants", "others"], name="group"),
    )
    out["change_pp"] = out[f"rate_{after}"] - out[f"rate_{before}"]
    diff = out.loc["participants"] - out.loc["others"]
    diff["n_units"] = np.nan
    out.loc["difference"] = diff
    return out[["n_units", "pre_2006", f"rate_{before}", f"rate_{after}", "change_pp"]]


def calibration_figure(result: SimulationResult):
    """Two panels: (top) the simulated national path vs SSB x scale and the target; (bottom)
    participants vs others (all sectors) with the puljer's first treated quarters marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    nat = national_comparison(result)
    x = nat["period"].dt.to_timestamp(how="start") + pd.Timedelta(days=45)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 8), sharex=True, constrained_layout=True)
    scale = result.config.national_scale
    ax1.plot(x, nat["ssb"], color="0.6", ls=":", marker=".", label="SSB national,\nall industries")
    ax1.plot(x, nat["ssb_scaled"], color="0.3", ls="--", label=f"SSB x {scale:g}")
    ax1.plot(
        x,
        nat["target"],
        color="tab:blue",
        lw=3,
        alpha=0.45,
        label=f"target: SSB x {scale:g}\n+ municipal seasonality",
    )
    ax1.plot(
        x,
        nat["simulated"],
        color="tab:red",
        marker="o",
        ms=3,
        label="simulated (all municipalities,\ncontracted-days-weighted)",
    )
    ax1.plot(
        x,
        nat["expected_y0"],
        color="tab:green",
        lw=1,
        ls=(0, (4, 2)),
        label="simulated expectation\nwithout the planted effect",
    )
    ax1.set_ylabel("sick leave, % of contracted days")
    ax1.set_title(
        f"Simulated municipal sick leave vs calibration target (SIMULATED DATA, seed {result.config.seed})"
    )
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax1.grid(alpha=0.3)

    rates = _group_rates(result)
    xr = rates.index.to_timestamp(how="start") + pd.Timedelta(days=45)
    ax2.plot(
        xr,
        rates["participants"],
        color="tab:orange",
        marker="o",
        ms=3,
        label=f"participants\n(all {len(result.registry)} admitted)",
    )
    ax2.plot(
        xr, rates["others"], color="tab:purple", marker="s", ms=3, label="other municipalities"
    )
    for p, (_, start) in PULJE_DATES.items():
        t = pd.Period(pd.Timestamp(start), freq="Q").to_timestamp(how="start")
        ax2.axvline(t, color="0.5", lw=0.8, ls="--")
        ax2.text(t, ax2.get_ylim()[1], f" {p}", va="top", fontsize=8, color="0.3")
    for q in ("2008Q4", "2009Q3"):
        ax2.axvspan(
            pd.Period(q).to_timestamp(how="start"),
            pd.Period(q).to_timestamp(how="end"),
            color="0.85",
            alpha=0.6,
        )
    ax2.set_ylabel("sick leave, % of contracted days")
    ax2.set_title(
        "Participants vs others, all sectors\n(grey: KS comparison quarters 2008Q4 and 2009Q3; dashed: first treated quarter of puljer I-IV)"
    )
    ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax2.grid(alpha=0.3)
    return fig
