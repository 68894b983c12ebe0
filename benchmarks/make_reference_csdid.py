"""Regenerate ``tests/reference/csdid_mpdta.csv``: csdid's results on mpdta for many settings.

The cached file lets ``tests/test_did_mpdta.py`` check kvk against csdid (the Python port of
R/Stata ``csdid``, itself checked against R ``did``) even where csdid is not installed.
Analytic standard errors only (deterministic).  Run from the repository root::

    .venv/bin/python benchmarks/make_reference_csdid.py

Data variants (rebuilt identically by the test): ``balanced`` = mpdta; ``weighted`` = mpdta
with weight ``w = 1 + countyreal % 3``; ``unbalanced`` = mpdta without 150 rows drawn with
``numpy.random.default_rng(0)`` (plus the same weight column); ``tvweights`` = mpdta with the
time-varying weight ``w = 1 + c + 0.2 (year - 2003) (c - 1)``, ``c = countyreal % 3``, and
``tvweights_unbalanced`` the same without those 150 rows.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "reference" / "csdid_mpdta.csv"


def variants(mpdta: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data variants used by the cases (the test rebuilds them the same way)."""
    weighted = mpdta.assign(w=1.0 + (mpdta["countyreal"] % 3))
    drop = np.random.default_rng(0).choice(len(mpdta), 150, replace=False)
    unbalanced = weighted.drop(weighted.index[drop]).reset_index(drop=True)
    # time-varying weights (as contracted days change every quarter): constant for a third
    # of the counties, rising or falling over the years for the others
    tv = mpdta.assign(
        w=1.0
        + (mpdta["countyreal"] % 3)
        + 0.2 * (mpdta["year"] - 2003) * ((mpdta["countyreal"] % 3) - 1)
    )
    tv_unbalanced = tv.drop(tv.index[drop]).reset_index(drop=True)
    return {
        "balanced": mpdta,
        "weighted": weighted,
        "unbalanced": unbalanced,
        "tvweights": tv,
        "tvweights_unbalanced": tv_unbalanced,
    }


#: (case name, data variant, kvk att_gt keyword arguments)
CASES: list[tuple[str, str, dict]] = (
    [
        (
            f"{cg}-{m}-{'lpop' if cov else 'nocov'}-{bp}",
            "balanced",
            {
                "control_group": cg,
                "est_method": m,
                "xformla": "~ lpop" if cov else None,
                "base_period": bp,
            },
        )
        for cg in ("nevertreated", "notyettreated")
        for m in ("reg", "dr", "ipw")
        for cov in (False, True)
        for bp in ("varying", "universal")
    ]
    + [
        (
            "weights-dr-lpop",
            "weighted",
            {"est_method": "dr", "xformla": "~ lpop", "weightsname": "w"},
        ),
        (
            "weights-ipw-notyet",
            "weighted",
            {
                "est_method": "ipw",
                "xformla": "~ lpop",
                "weightsname": "w",
                "control_group": "notyettreated",
            },
        ),
        ("anticipation-reg", "balanced", {"est_method": "reg", "anticipation": 1}),
        (
            "unbalanced-reg-nocov",
            "unbalanced",
            {"est_method": "reg", "allow_unbalanced_panel": True},
        ),
        (
            "unbalanced-reg-lpop",
            "unbalanced",
            {
                "est_method": "reg",
                "xformla": "~ lpop",
                "allow_unbalanced_panel": True,
            },
        ),
        (
            "unbalanced-dr-lpop-weights",
            "unbalanced",
            {
                "est_method": "dr",
                "xformla": "~ lpop",
                "weightsname": "w",
                "allow_unbalanced_panel": True,
            },
        ),
        (
            "unbalanced-ipw-lpop-notyet",
            "unbalanced",
            {
                "est_method": "ipw",
                "xformla": "~ lpop",
                "control_group": "notyettreated",
                "allow_unbalanced_panel": True,
            },
        ),
    ]
    + [
        # time-varying sampling weights: R did 2.5's fix_weights (default None: the earlier
        # period's weight on balanced panels, each observation's own on unbalanced ones)
        (
            f"tvweights-{m}-{'lpop' if cov else 'nocov'}-{cg}-{bp}-{fw or 'default'}",
            "tvweights",
            {
                "est_method": m,
                "xformla": "~ lpop" if cov else None,
                "control_group": cg,
                "base_period": bp,
                "weightsname": "w",
                "fix_weights": fw,
            },
        )
        for m, cov, cg, bp in (
            ("reg", False, "nevertreated", "varying"),
            ("dr", True, "notyettreated", "universal"),
            ("ipw", True, "nevertreated", "varying"),
        )
        for fw in (None, "base_period", "first_period")
    ]
    + [
        (
            f"tvweights-unbalanced-{m}-{'lpop' if cov else 'nocov'}-{fw or 'default'}",
            "tvweights_unbalanced",
            {
                "est_method": m,
                "xformla": "~ lpop" if cov else None,
                "weightsname": "w",
                "fix_weights": fw,
                "allow_unbalanced_panel": True,
            },
        )
        for m, cov in (("reg", False), ("reg", True), ("dr", True))
        for fw in (None, "first_period")
    ]
)


def run_csdid(df: pd.DataFrame, kw: dict) -> list[dict]:
    """csdid's ATT(g,t) and all four aggregations (analytic SEs) for one case."""
    from csdid.att_gt import ATTgt  # noqa: PLC0415

    cov = kw.get("xformla")
    rows: list[dict] = []
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = ATTgt(
            yname="lemp",
            gname="first.treat",
            idname="countyreal",
            tname="year",
            data=df,
            control_group=kw.get("control_group", "nevertreated"),
            xformla=f"lemp{cov.replace(' ', '')}" if cov else None,
            weights_name=kw.get("weightsname"),
            anticipation=kw.get("anticipation", 0),
            allow_unbalanced_panel=kw.get("allow_unbalanced_panel", False),
            fix_weights=kw.get("fix_weights"),
        ).fit(
            est_method=kw.get("est_method", "dr"),
            base_period=kw.get("base_period", "varying"),
            bstrap=False,
        )
        res = model.results
        for g, t, a, s in zip(res["group"], res["year"], res["att"], res["se"], strict=True):
            rows.append(
                {
                    "kind": "att_gt",
                    "group": g,
                    "time": t,
                    "index": np.nan,
                    "estimate": a,
                    "std_error": s,
                }
            )
        for typ in ("simple", "dynamic", "group", "calendar"):
            model.aggte(typec=typ, bstrap=False, cband=False)
            a = model.atte
            rows.append(
                {
                    "kind": typ,
                    "group": np.nan,
                    "time": np.nan,
                    "index": np.nan,
                    "estimate": a["overall_att"],
                    "std_error": a["overall_se"],
                }
            )
            if typ != "simple":
                for e, est, se in zip(a["egt"], a["att_egt"], a["se_egt"], strict=True):
                    rows.append(
                        {
                            "kind": typ,
                            "group": np.nan,
                            "time": np.nan,
                            "index": e,
                            "estimate": est,
                            "std_error": se,
                        }
                    )
    return rows


def main() -> None:
    mpdta = pd.read_csv(ROOT / "tests" / "reference" / "mpdta.csv")
    data = variants(mpdta)
    out = []
    for name, variant, kw in CASES:
        for row in run_csdid(data[variant], kw):
            out.append({"case": name, "data": variant, "kvk_kwargs": json.dumps(kw), **row})
    table = pd.DataFrame(out)
    versions = ", ".join(
        f"{p} {importlib.metadata.version(p)}" for p in ("csdid", "drdid", "numpy", "pandas")
    )
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"# generated by benchmarks/make_reference_csdid.py with {versions}\n")
        table.to_csv(fh, index=False, float_format="%.15g")
    print(f"wrote {OUT} ({len(table)} rows; {versions})")


if __name__ == "__main__":
    main()
