"""Heterogeneity-robust DiD estimators side by side with Callaway-Sant'Anna and TWFE.

:func:`compare_estimators` runs, on one staggered-adoption panel, the event study and an
overall effect of

* Callaway & Sant'Anna (2021): :func:`kvk_analysis.did.att_gt` + ``aggte(type="dynamic")``
  (or a result passed in, so it is not estimated twice);
* Sun & Abraham (2021) interaction-weighted estimator (:func:`sun_abraham`);
* Gardner (2021) two-stage DiD = Borusyak, Jaravel & Spiess (2024) imputation (the point
  estimates are identical; :func:`gardner_did2s`), with ``pyfixest.did2s`` and its GMM
  standard errors;
* de Chaisemartin & D'Haultfoeuille (2024) ``DID_l`` and placebos (:func:`dcdh_event_study`);
* stacked DiD with the corrective weights of Wing, Freedman & Hollingsworth (2024)
  (:func:`stacked_did`);
* synthetic DiD (Arkhangelsky et al. 2021), cohort by cohort against the never-treated units
  and averaged over treated cells as Clarke et al. (2023) (:func:`synthetic_did`);
* static and dynamic TWFE (:func:`kvk_analysis.evaluation.twfe`).

Why parts are hand-written.  ``pyfixest`` (already a dependency) does the regressions: its
``did2s`` is used as it is; its ``SaturatedEventStudy`` (0.60) has no covariance matrix for
its aggregates (``vcov()`` is not implemented), so the Sun-Abraham regression is run with
``pyfixest.feols`` and aggregated here by the delta method; no maintained package in the
core install does stacked DiD, ``DID_l`` or synthetic DiD (``diff-diff`` and ``moderndid``
do, and serve as the independent check in the ``crosscheck`` extra; ``synthdid`` on PyPI is
unmaintained since 2024).  The synthetic-DiD weights solve R ``synthdid``'s regularised
problems (its noise level, ``zeta`` and intercepts) exactly, by active-set NNLS, where
``synthdid`` iterates Frank-Wolfe to a tolerance (see :func:`_ridge_simplex`).

Conventions.  Event time ``e = t - g``; ``e = -1`` is the reference (0 by construction) for
the regression estimators; ``DID_l`` with ``l >= 1`` is reported at ``e = l - 1`` and its
placebo ``l`` at ``e = -1 - l`` (as an event-study lead relative to ``g - 1``).  The overall
effect of every event-study estimator is the mean of its effects at ``e = 0..max_e`` (the
estimand of ``aggte(type="dynamic")``'s overall), with the covariance of the event-time
effects; TWFE static and synthetic DiD report their own single coefficient.  Intervals are
pointwise 95 % normal intervals.  Outcome ``rate`` in percent: effects in percentage points.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation._common import (
    check_alpha,
    require_columns,
    require_numeric,
    require_unit_period_unique,
    unit_cohorts,
)

ControlGroup = Literal["nevertreated", "notyettreated"]

#: Estimators of :func:`compare_estimators`, in the order of its tables and figure.
ESTIMATORS: dict[str, dict[str, str]] = {
    "callaway_santanna": {"en": "Callaway-Sant'Anna", "nb": "Callaway-Sant'Anna"},
    "sun_abraham": {"en": "Sun-Abraham", "nb": "Sun-Abraham"},
    "gardner_bjs": {
        "en": "Two-stage / imputation (Gardner; BJS)",
        "nb": "To-trinns / imputasjon (Gardner; BJS)",
    },
    "dcdh": {"en": "de Chaisemartin-D'Haultfœuille", "nb": "de Chaisemartin-D'Haultfœuille"},
    "stacked": {"en": "Stacked DiD", "nb": "Stablet DiD"},
    "sdid": {"en": "Synthetic DiD", "nb": "Syntetisk DiD"},
    "twfe_dynamic": {"en": "TWFE event study", "nb": "TWFE hendelsesstudie"},
    "twfe_static": {"en": "TWFE static", "nb": "TWFE statisk"},
}

OVERALL_COLUMNS = [
    "estimator",
    "label",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
]
EVENT_COLUMNS = ["estimator", "event_time", "estimate", "std_error", "conf_low", "conf_high"]


# ----------------------------------------------------------------------------------------
# data preparation
# ----------------------------------------------------------------------------------------


def _prepare(
    data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str, what: str
) -> pd.DataFrame:
    """Columns ``_id`` (codes), ``_t``, ``_g`` (0 = never treated), ``_y``; checked."""
    require_columns(data, [yname, tname, idname, gname], what)
    require_unit_period_unique(data, idname, tname, what)
    t, g = unit_cohorts(data, idname, tname, gname, what)
    df = pd.DataFrame(
        {
            "_id": pd.factorize(data[idname])[0],
            "_t": t,
            "_g": g,
            "_y": require_numeric(data, yname, what),
        }
    )
    unknown = np.isnan(df["_g"].to_numpy())
    if unknown.any():
        warnings.warn(
            f"{what}: {df.loc[unknown, '_id'].nunique()} unit(s) with unknown cohort "
            f"({gname} missing) are left out",
            stacklevel=3,
        )
    df = df[~unknown & df["_y"].notna()].copy()
    df["_t"] = df["_t"].astype("int64")
    df["_g"] = df["_g"].astype("int64")
    # cohorts treated after the last period are never treated within the panel
    df.loc[df["_g"] > df["_t"].max(), "_g"] = 0
    first = df["_t"].min()
    always = (df["_g"] > 0) & (df["_g"] <= first)
    if always.any():
        n = df.loc[always, "_id"].nunique()
        warnings.warn(
            f"{what}: {n} unit(s) treated from the first period on are left out (no "
            "untreated period to compare)",
            stacklevel=3,
        )
        df = df[~always]
    if not (df["_g"] > 0).any():
        raise EstimationError(f"{what}: no treated units")
    return df.reset_index(drop=True)


def _z(alpha: float) -> float:
    return float(special.ndtri(1 - alpha / 2))  # = scipy.stats.norm.ppf


def _event_frame(
    name: str, e: np.ndarray, est: np.ndarray, se: np.ndarray, alpha: float
) -> pd.DataFrame:
    z = _z(alpha)
    return pd.DataFrame(
        {
            "estimator": name,
            "event_time": np.asarray(e, dtype="int64"),
            "estimate": est,
            "std_error": se,
            "conf_low": est - z * se,
            "conf_high": est + z * se,
        },
        columns=EVENT_COLUMNS,
    )


def _overall_row(name: str, est: float, se: float, alpha: float) -> dict[str, Any]:
    z = _z(alpha)
    p = float(2 * special.ndtr(-abs(est / se))) if se > 0 else np.nan  # = 2 norm.sf
    return {
        "estimator": name,
        "label": ESTIMATORS[name]["en"],
        "estimate": est,
        "std_error": se,
        "conf_low": est - z * se,
        "conf_high": est + z * se,
        "p_value": p,
    }


def _post_mean(e: np.ndarray, est: np.ndarray, vcov: np.ndarray, max_e: int) -> tuple[float, float]:
    """Mean of the effects at ``e = 0..max_e`` and its standard error."""
    sel = (e >= 0) & (e <= max_e) & np.isfinite(est)
    if not sel.any():
        return np.nan, np.nan
    a = sel / sel.sum()
    v = float(a[sel] @ vcov[np.ix_(sel, sel)] @ a[sel])
    return float(a[sel] @ est[sel]), float(np.sqrt(max(v, 0.0)))


@dataclass(frozen=True, eq=False)
class EventStudy:
    """One estimator's event study: ``event_time``, ``estimate``, ``vcov`` (of the
    estimates, NaN rows for the reference), ``overall`` and its ``std_error``."""

    name: str
    event_time: np.ndarray
    estimate: np.ndarray
    vcov: np.ndarray
    overall: float
    overall_se: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def std_error(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.vcov), 0, None))

    def frame(self, alpha: float = 0.05) -> pd.DataFrame:
        return _event_frame(self.name, self.event_time, self.estimate, self.std_error, alpha)


# ----------------------------------------------------------------------------------------
# Sun & Abraham (2021)
# ----------------------------------------------------------------------------------------


def _dummy(prefix: str, e: int) -> str:
    return f"{prefix}{'m' if e < 0 else 'p'}{abs(e)}"


def sun_abraham(
    data: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    min_e: int = -8,
    max_e: int = 8,
) -> EventStudy:
    """Sun & Abraham (2021) interaction-weighted event study.

    The regression interacts every cohort with every relative period except ``e = -1``
    (fully saturated, unit and period fixed effects, pyfixest, CRV1 by unit); the control
    cohort is the never-treated units, or the last-treated cohort (its periods from its
    treatment on dropped) when there are none.  The effect at ``e`` averages the cohort
    coefficients with the cohorts' shares of the treated observations at ``e``; standard
    errors by the delta method with the shares held fixed (as fixest's ``sunab``).

    Returns
    -------
    EventStudy
        Effects at ``e = min_e..max_e`` (outcome units), the reference ``e = -1`` as 0.
    """
    import pyfixest as pf  # heavy import, kept local

    df = _prepare(data, yname, tname, idname, gname, "sun_abraham")
    cohorts = sorted(int(g) for g in df["_g"].unique() if g > 0)
    info: dict[str, Any] = {"control": "never treated"}
    if not (df["_g"] == 0).any():
        last = cohorts[-1]
        if len(cohorts) < 2:
            raise EstimationError("sun_abraham: one cohort and no never-treated units")
        df = df[df["_t"] < last].copy()
        df.loc[df["_g"] == last, "_g"] = 0
        cohorts = cohorts[:-1]
        info["control"] = "last-treated cohort"
    rel = np.where(df["_g"] > 0, df["_t"] - df["_g"], np.iinfo(np.int64).min)
    # one factor of (cohort, relative period) cells, never-treated rows and e = -1 the
    # reference level: pyfixest builds the dummies (far faster than ~100 formula terms)
    cell = np.where(
        (df["_g"] > 0) & (rel != -1), df["_g"].astype(str) + ":" + rel.astype(str), "ref"
    )
    X = df.assign(_cell=cell)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            "_y ~ i(_cell, ref='ref') | _id + _t",
            data=X,
            vcov={"CRV1": "_id"},
            demeaner=pf.MapDemeaner(fixef_tol=1e-12, fixef_maxiter=100_000),
        )
    coef = fit.coef()
    vc = pd.DataFrame(fit._vcov, index=coef.index, columns=coef.index)
    # cohort shares of the treated observations at each e
    counts = df[df["_g"] > 0].assign(_e=rel[(df["_g"] > 0).to_numpy()])
    counts = counts.groupby(["_e", "_g"]).size()
    times = [e for e in range(min_e, max_e + 1)]
    est, R = [], []
    for e in times:
        r = pd.Series(0.0, index=coef.index)
        if e != -1 and e in counts.index.get_level_values(0):
            share = counts.loc[e] / counts.loc[e].sum()
            for g, s in share.items():
                name = f"_cell::{g}:{e}"
                if name not in coef.index:
                    raise EstimationError(f"sun_abraham: {name} not identified")
                r[name] = s
            est.append(float(r @ coef))
        else:
            est.append(0.0 if e == -1 else np.nan)
        R.append(r.to_numpy())
    R_ = np.array(R)
    V = R_ @ vc.to_numpy() @ R_.T
    est_ = np.array(est)
    V[~np.isfinite(est_), :] = np.nan
    V[:, ~np.isfinite(est_)] = np.nan
    ref = np.array(times) == -1
    V[ref, :] = np.nan
    V[:, ref] = np.nan
    ov, ov_se = _post_mean(np.array(times), est_, np.nan_to_num(V), max_e)
    return EventStudy("sun_abraham", np.array(times), est_, V, ov, ov_se, info)


# ----------------------------------------------------------------------------------------
# Gardner (2021) two-stage DiD = Borusyak, Jaravel & Spiess (2024) imputation
# ----------------------------------------------------------------------------------------


def gardner_did2s(
    data: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    min_e: int = -8,
    max_e: int = 8,
) -> EventStudy:
    """Gardner's two-stage DiD (``pyfixest.did2s``): unit and period effects fitted on the
    untreated observations (never treated and not yet treated), the residualised outcome
    regressed on event-time dummies without intercept.  The effect at ``e >= 0`` is then the
    mean over the treated observations at ``e`` of ``y - y_hat(0)``: the imputation
    estimator of Borusyak, Jaravel & Spiess.  Standard errors: pyfixest's GMM correction
    for the first stage, clustered by unit.  Leads (``e < -1``) are the mean first-stage
    residuals of not-yet-treated observations relative to none (a pre-trend check)."""
    import pyfixest as pf  # heavy import, kept local

    df = _prepare(data, yname, tname, idname, gname, "gardner_did2s")
    treated = (df["_g"] > 0).to_numpy()
    rel = np.where(treated, df["_t"] - df["_g"], np.iinfo(np.int64).min)
    df["_d"] = (treated & (rel >= 0)).astype(float)
    times = [e for e in range(min_e, max_e + 1) if e != -1]
    names = []
    for e in times:
        name = _dummy("_tw", e)
        df[name] = (rel == e).astype(float)
        names.append(name)
    present = [n for n in names if df[n].sum() > 0]
    first_stage, second_stage = "~0|_id+_t", "~" + "+".join(present)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # pyfixest's own two stages (the point estimates of pf.did2s), the GMM variance
            # vectorised over clusters (_did2s_vcov below; pyfixest loops over them)
            from pyfixest.did.did2s import _did2s_estimate

            work = df.copy()
            fit, first_u, second_u = _did2s_estimate(
                data=work,
                yname="_y",
                _first_stage=first_stage,
                _second_stage=second_stage,
                treatment="_d",
                weights=None,
            )
            coef = fit.coef()
            vcov = _did2s_vcov(work, list(coef.index), first_u, second_u)
        except (ImportError, TypeError, np.linalg.LinAlgError):  # another pyfixest: its own
            fit = pf.did2s(
                df,
                yname="_y",
                first_stage=first_stage,
                second_stage=second_stage,
                treatment="_d",
                cluster="_id",
            )
            coef, vcov = fit.coef(), fit._vcov
    vc = pd.DataFrame(vcov, index=coef.index, columns=coef.index)
    all_t = np.arange(min_e, max_e + 1)
    est = np.full(len(all_t), np.nan)
    V = np.full((len(all_t), len(all_t)), np.nan)
    idx = {n: k for k, n in enumerate(names)}
    pos = [list(all_t).index(times[idx[n]]) for n in present]
    est[pos] = coef.loc[present].to_numpy(float)
    V[np.ix_(pos, pos)] = vc.loc[present, present].to_numpy(float)
    est[all_t == -1] = 0.0
    ov, ov_se = _post_mean(all_t, est, np.nan_to_num(V), max_e)
    return EventStudy("gardner_bjs", all_t, est, V, ov, ov_se, {})


def _did2s_vcov(
    data: pd.DataFrame, columns: list[str], first_u: np.ndarray, second_u: np.ndarray
) -> np.ndarray:
    """Gardner's GMM variance of the second-stage coefficients, clustered by unit (``_id``),
    unweighted: pyfixest's ``_did2s_vcov`` (Butts & Gardner 2022) vectorised over clusters.

    ``A^-1 (sum_g W_g W_g') A^-1`` with ``A = X2'X2`` and
    ``W_g = X2_g' u2_g - X2'X1 (X10'X10)^-1 X10_g' u1_g``; ``X1`` the unit and period dummies
    (a full-rank set: the correction is the same for any basis of their span), ``X10`` its
    untreated rows (treated rows zero), ``u1``/``u2`` the first/second-stage residuals.
    Equal to pyfixest's to rounding (tests); pyfixest solves a sparse system per cluster,
    about 0.7 s on the demo panel against milliseconds here.  Raises ``LinAlgError`` when
    ``X10'X10`` is singular (a unit or period without untreated rows)."""
    from scipy import sparse

    n = len(data)
    unit = pd.factorize(data["_id"])[0]
    period = pd.factorize(data["_t"])[0]
    n_units, n_periods = int(unit.max()) + 1, int(period.max()) + 1
    rows = np.arange(n)
    # unit dummies and the period dummies but the first (full rank, no intercept)
    keep = period > 0
    x1 = sparse.csr_matrix(
        (
            np.ones(n + int(keep.sum())),
            (
                np.concatenate([rows, rows[keep]]),
                np.concatenate([unit, n_units + period[keep] - 1]),
            ),
        ),
        shape=(n, n_units + n_periods - 1),
    )
    untreated = ~data["_d"].to_numpy(bool)
    x10 = sparse.diags(untreated.astype(float)) @ x1
    x2 = data[columns].to_numpy(float)
    x10x10 = (x10.T @ x10).toarray()
    x2x1 = np.asarray((x1.T @ x2).T)
    v = np.linalg.solve(x10x10, x2x1.T).T  # X2'X1 (X10'X10)^-1
    u1 = np.where(untreated, np.asarray(first_u, float), 0.0)
    u2 = np.asarray(second_u, float)
    clusters = sparse.csr_matrix(
        (np.ones(n), (pd.factorize(data["_id"])[0], rows)), shape=(n_units, n)
    )
    w = clusters @ (x2 * u2[:, None]) - np.asarray(
        clusters @ (x10.multiply(u1[:, None])).tocsr() @ v.T
    )
    a_inv_w = np.linalg.solve(x2.T @ x2, np.asarray(w).T)
    return a_inv_w @ a_inv_w.T


# ----------------------------------------------------------------------------------------
# de Chaisemartin & D'Haultfoeuille (2024): DID_l and placebos
# ----------------------------------------------------------------------------------------


def _wide(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wide = df.pivot(index="_id", columns="_t", values="_y")
    periods = wide.columns.to_numpy()
    full = np.arange(periods.min(), periods.max() + 1)
    wide = wide.reindex(columns=full)
    g = df.groupby("_id")["_g"].first().reindex(wide.index).to_numpy()
    return wide.to_numpy(float), g, full


def dcdh_event_study(
    data: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    min_e: int = -8,
    max_e: int = 8,
    control_group: ControlGroup = "notyettreated",
) -> EventStudy:
    """de Chaisemartin & D'Haultfoeuille's ``DID_l`` for a binary, absorbing (staggered)
    treatment, ``l = 1..max_e + 1`` (reported at ``e = l - 1``), and placebos
    ``l = 1..-min_e - 1`` (at ``e = -1 - l``).

    ``DID_l`` compares, for each cohort ``F``, the change of the outcome from ``F - 1`` to
    ``F - 1 + l`` with the same change among units not yet treated at ``F - 1 + l``
    (``control_group="notyettreated"``, dCDH's choice) or never treated, weighted by cohort
    size; the placebo compares the change from ``F - 1`` back to ``F - 1 - l`` with the same
    control units.  Standard errors from the influence function of these differences of
    means, clustered by unit (cohort sizes held fixed).
    """
    if control_group not in ("nevertreated", "notyettreated"):
        raise InputError(
            "dcdh_event_study: unknown control_group",
            column="control_group",
            expected="'nevertreated' or 'notyettreated'",
            found=control_group,
        )
    df = _prepare(data, yname, tname, idname, gname, "dcdh_event_study")
    Y, g, periods = _wide(df)
    n = len(g)
    col = {int(p): k for k, p in enumerate(periods)}
    cohorts = sorted(int(c) for c in np.unique(g[g > 0]))
    times = list(range(min_e, max_e + 1))
    psi = np.zeros((n, len(times)))
    est = np.full(len(times), np.nan)
    for k, e in enumerate(times):
        if e == -1:
            est[k] = 0.0
            continue
        l_ = e + 1 if e >= 0 else -1 - e  # horizon l
        parts = []
        for c in cohorts:
            base, fwd = c - 1, c - 1 + l_
            other = base - l_ if e < 0 else fwd
            if fwd not in col or other not in col or base not in col:
                continue
            ctrl = (g == 0) if control_group == "nevertreated" else ((g == 0) | (g > fwd))
            dy = Y[:, col[other]] - Y[:, col[base]]
            tr = (g == c) & np.isfinite(dy)
            ctrl = ctrl & np.isfinite(dy)
            if tr.sum() == 0 or ctrl.sum() == 0:
                continue
            parts.append((tr, ctrl, dy))
        if not parts:
            continue
        n_l = sum(int(tr.sum()) for tr, _, _ in parts)
        value = 0.0
        for tr, ctrl, dy in parts:
            w = tr.sum() / n_l
            m1, m0 = dy[tr].mean(), dy[ctrl].mean()
            value += w * (m1 - m0)
            psi[tr, k] += w * (dy[tr] - m1) / tr.sum()
            psi[ctrl, k] -= w * (dy[ctrl] - m0) / ctrl.sum()
        est[k] = value
    V = psi.T @ psi
    bad = ~np.isfinite(est) | (np.array(times) == -1)
    V[bad, :] = np.nan
    V[:, bad] = np.nan
    ov, ov_se = _post_mean(np.array(times), est, np.nan_to_num(V), max_e)
    return EventStudy("dcdh", np.array(times), est, V, ov, ov_se, {"control_group": control_group})


# ----------------------------------------------------------------------------------------
# stacked DiD (Wing, Freedman & Hollingsworth 2024)
# ----------------------------------------------------------------------------------------


def stacked_did(
    data: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    min_e: int = -8,
    max_e: int = 8,
    control_group: ControlGroup = "notyettreated",
) -> EventStudy:
    """Stacked event study with corrective weights (Wing, Freedman & Hollingsworth 2024).

    One sub-experiment per cohort ``g`` whose whole window ``g + min_e .. g + max_e`` lies
    in the panel (other cohorts are trimmed, listed in ``info``); clean controls are units
    not treated within the window (``g' > g + max_e``, and never-treated units;
    ``control_group="nevertreated"``: never-treated only).  Control observations get the
    weight ``(N_treated_d / N_treated) / (N_control_d / N_control)``; the weighted
    regression ``y ~ i(event_time, treated, ref=-1) | treated + event_time`` (pyfixest)
    gives the event study, standard errors CRV1 clustered by unit.
    """
    import pyfixest as pf  # heavy import, kept local

    df = _prepare(data, yname, tname, idname, gname, "stacked_did")
    lo_t, hi_t = df["_t"].min(), df["_t"].max()
    cohorts = sorted(int(c) for c in df["_g"].unique() if c > 0)
    unit_g = df.groupby("_id")["_g"].first()
    stacks, trimmed = [], []
    for c in cohorts:
        if c + min_e < lo_t or c + max_e > hi_t:
            trimmed.append(c)
            continue
        if control_group == "nevertreated":
            ctrl = unit_g.index[unit_g == 0]
        else:
            ctrl = unit_g.index[(unit_g == 0) | (unit_g > c + max_e)]
        tr = unit_g.index[unit_g == c]
        if len(ctrl) == 0:
            trimmed.append(c)
            continue
        sub = df[df["_id"].isin(tr.union(ctrl)) & df["_t"].between(c + min_e, c + max_e)].copy()
        sub["_stack"] = c
        sub["_treat"] = (sub["_g"] == c).astype(int)
        sub["_et"] = sub["_t"] - c
        stacks.append(sub)
    if not stacks:
        raise EstimationError(
            "stacked_did: no cohort has the whole event window in the panel with clean "
            "controls; narrow min_e/max_e"
        )
    st = pd.concat(stacks, ignore_index=True)
    units = st.groupby(["_stack", "_treat"])["_id"].nunique().unstack(fill_value=0)
    n_d, n_c = units[1], units[0]
    q = (n_d / n_d.sum()) / (n_c / n_c.sum())
    st["_w"] = np.where(st["_treat"] == 1, 1.0, st["_stack"].map(q).to_numpy())
    times = [e for e in range(min_e, max_e + 1) if e != -1]
    names = []
    for e in times:
        name = _dummy("_st", e)
        st[name] = ((st["_et"] == e) & (st["_treat"] == 1)).astype(float)
        names.append(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            f"_y ~ {' + '.join(names)} | _treat + _et",
            data=st,
            weights="_w",
            vcov={"CRV1": "_id"},
        )
    coef = fit.coef()
    vc = pd.DataFrame(fit._vcov, index=coef.index, columns=coef.index)
    all_t = np.arange(min_e, max_e + 1)
    est = np.full(len(all_t), np.nan)
    V = np.full((len(all_t), len(all_t)), np.nan)
    pos = [list(all_t).index(e) for e in times]
    est[pos] = coef.loc[names].to_numpy(float)
    V[np.ix_(pos, pos)] = vc.loc[names, names].to_numpy(float)
    est[all_t == -1] = 0.0
    ov, ov_se = _post_mean(all_t, est, np.nan_to_num(V), max_e)
    return EventStudy(
        "stacked",
        all_t,
        est,
        V,
        ov,
        ov_se,
        {"cohorts": [int(s["_stack"].iloc[0]) for s in stacks], "trimmed": trimmed},
    )


# ----------------------------------------------------------------------------------------
# synthetic DiD (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021)
# ----------------------------------------------------------------------------------------


def _ridge_simplex(Y: np.ndarray, zeta: float) -> np.ndarray:
    """Weights of R synthdid's ``sc.weight.fw`` (with intercept) solved exactly.

    ``Y`` is (rows, k + 1) with the target in the last column; the columns are centred over
    the rows (the intercept) and ``min ||A x - b||^2 / rows + zeta^2 ||x||^2`` is solved on
    the simplex.  synthdid approaches the same optimum by Frank-Wolfe iterations (with a
    sparsified restart) until the decrease falls below ``(1e-5 * noise)^2``; the problem is
    strictly convex (``zeta > 0``, or ``A`` of full column rank), so the exact active-set
    solution (NNLS, :func:`~kvk_analysis.evaluation.synth.simplex_least_squares`) is the
    point it converges to, ~100 times faster than the iterations in Python.
    """
    from kvk_analysis.evaluation.synth import simplex_least_squares

    n_rows, k = Y.shape[0], Y.shape[1] - 1
    Yc = Y - Y.mean(axis=0, keepdims=True)
    A, b = Yc[:, :k], Yc[:, k]
    ridge = np.sqrt(n_rows) * zeta
    if ridge > 0 and k > n_rows:
        # many weights, few rows (the unit weights omega): the same optimum from the
        # n_rows-dimensional dual, far faster than NNLS over k columns
        x = _ridge_simplex_dual(A, b, ridge**2)
        if x is not None:
            return x
    if ridge > 0:
        A = np.vstack([A, ridge * np.eye(k)])
        b = np.concatenate([b, np.zeros(k)])
    return simplex_least_squares(A, b)


def _project_simplex(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean projection of ``z`` onto the unit simplex and its support (sort-based)."""
    u = np.sort(z)[::-1]
    css = np.cumsum(u) - 1.0
    ind = np.arange(1, z.size + 1)
    rho = int(np.flatnonzero(u - css / ind > 0)[-1])
    tau = css[rho] / (rho + 1)
    x = np.maximum(z - tau, 0.0)
    return x, x > 0


def _ridge_simplex_dual(
    A: np.ndarray, b: np.ndarray, rho: float, max_iter: int = 100
) -> np.ndarray | None:
    """``argmin ||A x - b||^2 + rho ||x||^2`` over the unit simplex (``rho > 0``), or
    ``None`` when the Newton iterations do not reach the optimum (the caller uses NNLS).

    The optimality conditions give ``x = P(A'r / rho)`` (``P`` the projection onto the
    simplex) with ``r = b - A x``: a piecewise-linear equation ``H(r) = r - b + A P(A'r /
    rho) = 0`` in the ``rows`` unknowns of ``r``, the gradient of a strongly convex dual
    function.  Semismooth Newton (generalised Jacobian ``I + A_S (I - 11'/|S|) A_S' / rho``
    on the support ``S``) with backtracking on ``||H||`` lands on the root once the support
    is right; the result is checked against the optimality conditions (KKT) before use.
    Written because scipy has no such solver and NNLS over several hundred weights cost
    ~0.8 s per synthetic-DiD bootstrap on the demo panel."""
    if not (np.isfinite(A).all() and np.isfinite(b).all() and np.isfinite(rho) and rho > 0):
        return None  # the caller's NNLS reports non-finite input its own way
    m = A.shape[0]
    scale = max(1.0, float(np.abs(b).max()), float(np.abs(A).max()))
    r = b - A @ np.full(A.shape[1], 1.0 / A.shape[1])

    def h(r_: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x_, s_ = _project_simplex(A.T @ r_ / rho)
        return r_ - b + A @ x_, x_, s_

    hr, x, supp = h(r)
    norm = float(np.linalg.norm(hr))
    for _ in range(max_iter):
        if norm <= 1e-13 * scale:
            break
        a_s = A[:, supp]
        c = a_s.sum(axis=1)
        jac = np.eye(m) + (a_s @ a_s.T - np.outer(c, c) / int(supp.sum())) / rho
        try:
            step = np.linalg.solve(jac, -hr)
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        while True:
            cand = r + t * step
            h_c, x_c, s_c = h(cand)
            n_c = float(np.linalg.norm(h_c))
            if n_c < norm or t < 1e-10:
                break
            t /= 2
        if not n_c < norm:
            break
        r, hr, x, supp, norm = cand, h_c, x_c, s_c, n_c
    # optimality: x on the simplex, gradient g = A'(Ax - b) + rho x equal to -mu on the
    # support and >= -mu elsewhere
    g = A.T @ (A @ x - b) + rho * x
    if not supp.any():
        return None
    mu = -float(np.mean(g[supp]))
    tol = 1e-9 * scale * max(1.0, float(np.abs(g).max()))
    if (
        abs(x.sum() - 1.0) > 1e-12
        or np.abs(g[supp] + mu).max() > tol
        or (g[~supp] + mu < -tol).any()
    ):
        return None
    return x / x.sum()


def sdid_weights(Y: np.ndarray, n0: int, t0: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Synthetic-DiD estimate for one block (R ``synthdid_estimate`` defaults).

    Parameters
    ----------
    Y
        Outcomes, shape (units, periods): the ``n0`` control units first, the ``t0``
        pre-periods first.
    n0, t0
        Number of control units and of pre-periods.

    Returns
    -------
    tuple
        ``(tau, omega, lambda)``: the estimate and the unit and time weights.
    """
    n, T = Y.shape
    n1, t1 = n - n0, T - t0
    noise = float(np.std(np.diff(Y[:n0, :t0], axis=1), ddof=1)) if t0 > 1 else 0.0
    zeta_omega = (n1 * t1) ** 0.25 * noise
    zeta_lambda = 1e-6 * noise
    # collapsed form: controls + treated mean; pre-periods + post mean
    Yc = np.empty((n0 + 1, t0 + 1))
    Yc[:n0, :t0] = Y[:n0, :t0]
    Yc[:n0, t0] = Y[:n0, t0:].mean(axis=1)
    Yc[n0, :t0] = Y[n0:, :t0].mean(axis=0)
    Yc[n0, t0] = Y[n0:, t0:].mean()
    lam = _ridge_simplex(Yc[:n0, :], zeta_lambda)
    omega = _ridge_simplex(Yc[:, :t0].T, zeta_omega)
    a = np.concatenate([-omega, np.full(n1, 1.0 / n1)])
    b = np.concatenate([-lam, np.full(t1, 1.0 / t1)])
    return float(a @ Y @ b), omega, lam


def _sdid_staggered(Y: np.ndarray, g: np.ndarray, periods: np.ndarray) -> tuple[float, dict]:
    controls = np.flatnonzero(g == 0)
    taus, cells = {}, {}
    for c in sorted(int(x) for x in np.unique(g[g > 0])):
        tr = np.flatnonzero(g == c)
        t0 = int(np.sum(periods < c))
        if t0 < 2 or t0 == len(periods):
            continue
        block = Y[np.concatenate([controls, tr])]
        taus[c] = sdid_weights(block, len(controls), t0)[0]
        cells[c] = len(tr) * (len(periods) - t0)
    if not taus:
        raise EstimationError("synthetic_did: no cohort with two pre-periods and a post-period")
    total = sum(cells.values())
    return float(sum(taus[c] * cells[c] / total for c in taus)), taus


def synthetic_did(
    data: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    replications: int = 50,
    seed: int = 1,
) -> EventStudy:
    """Synthetic DiD (Arkhangelsky et al. 2021) for staggered adoption: for each cohort,
    the units of the cohort against the never-treated units over all periods (pre: before
    the cohort's first treated period), with R ``synthdid``'s weights; the overall ATT
    averages the cohort estimates by their number of treated unit-periods (Clarke, Pailanir,
    Athey & Imbens 2023).  Standard error: bootstrap over units (``replications`` draws,
    weights re-estimated in each, as ``synthdid``'s ``method="bootstrap"``).  Needs a
    balanced panel (units with a missing outcome are left out) and never-treated units.
    No event study (``event_time`` empty)."""
    df = _prepare(data, yname, tname, idname, gname, "synthetic_did")
    Y, g, periods = _wide(df)
    complete = np.isfinite(Y).all(axis=1)
    dropped = int((~complete).sum())
    Y, g = Y[complete], g[complete]
    if not (g == 0).any():
        raise EstimationError("synthetic_did: needs never-treated units")
    tau, taus = _sdid_staggered(Y, g, periods)
    rng = np.random.default_rng(seed)
    draws = []
    n = len(g)
    tries = 0
    while len(draws) < replications and tries < 10 * replications:
        tries += 1
        idx = rng.integers(0, n, n)
        gb = g[idx]
        if not (gb == 0).any() or not (gb > 0).any():
            continue
        try:
            draws.append(_sdid_staggered(Y[idx], gb, periods)[0])
        except EstimationError:
            continue
    se = float(np.std(draws, ddof=1)) if len(draws) > 1 else np.nan
    return EventStudy(
        "sdid",
        np.array([], dtype="int64"),
        np.array([]),
        np.zeros((0, 0)),
        tau,
        se,
        {"cohort_estimates": taus, "dropped_units": dropped, "replications": len(draws)},
    )


# ----------------------------------------------------------------------------------------
# the front door
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EstimatorComparison:
    """Result of :func:`compare_estimators`.

    Attributes
    ----------
    overall : DataFrame
        ``estimator, label, estimate, std_error, conf_low, conf_high, p_value``: one row per
        estimator (outcome units; pointwise 95 % normal intervals by default).
    event_study : DataFrame
        ``estimator, event_time, estimate, std_error, conf_low, conf_high`` (reference
        period ``e = -1`` with estimate 0 and NaN standard error).
    notes : dict
        Per estimator: the implementation, its control group and what was trimmed.
    seconds : dict
        Run time per estimator.
    params : dict
        The specification.
    """

    overall: pd.DataFrame
    event_study: pd.DataFrame
    notes: dict[str, str]
    seconds: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)


def _cs_event_study(
    cs: Any, min_e: int, max_e: int, alpha: float
) -> tuple[pd.DataFrame, dict[str, Any]]:
    e = np.asarray(cs.egt, dtype="int64")
    keep = (e >= min_e) & (e <= max_e)
    ev = _event_frame(
        "callaway_santanna",
        e[keep],
        np.asarray(cs.att_egt, float)[keep],
        np.asarray(cs.se_egt, float)[keep],
        alpha,
    )
    ov = cs.overall
    return ev, _overall_row("callaway_santanna", float(ov.estimate), float(ov.std_error), alpha)


def compare_estimators(
    data: pd.DataFrame,
    *,
    yname: str = "rate",
    tname: str = "tname",
    idname: str = "kommunenummer",
    gname: str = "gname",
    control_group: ControlGroup = "nevertreated",
    min_e: int = -8,
    max_e: int = 8,
    cs: Any = None,
    twfe_static: Any = None,
    estimators: Sequence[str] | None = None,
    sdid_replications: int = 50,
    seed: int = 1,
    alpha: float = 0.05,
) -> EstimatorComparison:
    """Event studies and overall effects of the heterogeneity-robust DiD estimators, TWFE
    and Callaway-Sant'Anna on one panel.

    Parameters
    ----------
    data
        Long panel, one row per unit and period (one sector and measure).
    yname, tname, idname, gname
        Outcome (``rate`` in percent: effects in percentage points), period (whole numbers
        or pandas Period), unit id, first treated period (0 or ``inf`` = never treated).
    control_group
        For Callaway-Sant'Anna (when ``cs`` is not given), stacked DiD and dCDH:
        ``"nevertreated"`` or ``"notyettreated"``.  Sun-Abraham and synthetic DiD always use
        the never-treated units (Sun-Abraham the last cohort when there are none);
        imputation/two-stage uses every untreated observation.
    min_e, max_e
        Event-time window (periods); the overall effect of the event-study estimators is the
        mean of their effects at ``e = 0..max_e``.  TWFE event study bins the end points.
    cs
        An ``aggte(type="dynamic")`` result already computed (its own window and control
        group are then used for CS); default: estimated here with analytic standard errors.
    twfe_static
        A :func:`kvk_analysis.evaluation.twfe.twfe` result of ``data`` already computed
        (unweighted, no anticipation, clustered by unit, level ``1 - alpha``), used instead
        of estimating the static TWFE again.
    estimators
        Subset of :data:`ESTIMATORS` keys (default all).
    sdid_replications, seed
        Bootstrap draws (and seed) of the synthetic-DiD standard error.
    alpha
        1 - confidence level of the pointwise intervals.

    Returns
    -------
    EstimatorComparison
        ``overall`` and ``event_study`` tables, ``notes`` and run times.
    """
    check_alpha(alpha)
    wanted = list(ESTIMATORS) if estimators is None else list(estimators)
    unknown = [e for e in wanted if e not in ESTIMATORS]
    if unknown:
        raise InputError(
            "compare_estimators: unknown estimator(s)",
            column="estimators",
            expected=list(ESTIMATORS),
            found=unknown,
        )
    if control_group not in ("nevertreated", "notyettreated"):
        raise InputError(
            "compare_estimators: unknown control_group",
            column="control_group",
            expected="'nevertreated' or 'notyettreated'",
            found=control_group,
        )
    if not (isinstance(min_e, int | np.integer) and isinstance(max_e, int | np.integer)):
        raise InputError("min_e and max_e must be integers", found=(min_e, max_e))
    if not min_e <= -1 < 0 <= max_e:
        raise InputError(
            "compare_estimators: the window must hold e = -1 and e = 0",
            expected="min_e <= -1 and max_e >= 0",
            found=(min_e, max_e),
        )
    if cs is not None and getattr(cs, "type", None) != "dynamic":
        raise InputError(
            "compare_estimators: cs must be an aggte(type='dynamic') result",
            column="cs",
            expected="AggteResult with type 'dynamic'",
            found=getattr(cs, "type", type(cs).__name__),
        )
    _prepare(data, yname, tname, idname, gname, "compare_estimators")  # checks once, early
    cols = {"yname": yname, "tname": tname, "idname": idname, "gname": gname}
    win = {"min_e": min_e, "max_e": max_e}
    events, overall, notes, seconds = [], [], {}, {}
    for name in wanted:
        start = time.perf_counter()
        if name == "callaway_santanna":
            if cs is None:
                from kvk_analysis.did import aggte, att_gt

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = att_gt(
                        data,
                        yname,
                        tname,
                        idname,
                        gname,
                        control_group=control_group,
                        bstrap=False,
                        cband=False,
                    )
                cs_res = aggte(res, type="dynamic", min_e=min_e, max_e=max_e)
                notes[name] = f"kvk att_gt + aggte(dynamic), {control_group}, analytic SE"
            else:
                cs_res = cs
                notes[name] = "aggte(dynamic) result passed in"
            ev, row = _cs_event_study(cs_res, min_e, max_e, alpha)
            events.append(ev)
            overall.append(row)
        elif name == "twfe_static":
            from kvk_analysis.evaluation.twfe import twfe

            r = twfe(data, **cols, alpha=alpha) if twfe_static is None else twfe_static
            overall.append(_overall_row(name, r.overall, float(r.std_error[0]), alpha))
            notes[name] = "pyfixest feols, unit and period FE, CRV1 by unit"
        elif name == "twfe_dynamic":
            from kvk_analysis.evaluation.twfe import event_study_twfe

            r = event_study_twfe(data, **cols, min_e=min_e, max_e=max_e, alpha=alpha)
            V = np.full((len(r.event_time), len(r.event_time)), np.nan)
            keep = r.event_time != -1
            V[np.ix_(keep, keep)] = r.vcov
            es = EventStudy(
                name,
                r.event_time,
                r.estimate,
                V,
                *_post_mean(r.event_time, r.estimate, np.nan_to_num(V), max_e),
            )
            events.append(es.frame(alpha))
            overall.append(_overall_row(name, es.overall, es.overall_se, alpha))
            notes[name] = "pyfixest feols, binned end points, CRV1 by unit"
        else:
            if name == "sun_abraham":
                es = sun_abraham(data, **cols, **win)
                notes[name] = (
                    f"pyfixest feols (saturated), IW aggregation; control: {es.info['control']}"
                )
            elif name == "gardner_bjs":
                es = gardner_did2s(data, **cols, **win)
                notes[name] = "pyfixest did2s (two-stage = imputation point estimates)"
            elif name == "dcdh":
                es = dcdh_event_study(data, **cols, **win, control_group=control_group)
                notes[name] = f"hand-written DID_l, {control_group}, influence-function SE"
            elif name == "stacked":
                es = stacked_did(data, **cols, **win, control_group=control_group)
                trimmed = es.info["trimmed"]
                notes[name] = "Wing et al. (2024) weights, pyfixest feols" + (
                    f"; cohorts without the whole window left out: {trimmed}" if trimmed else ""
                )
            else:  # sdid
                es = synthetic_did(data, **cols, replications=sdid_replications, seed=seed)
                notes[name] = (
                    f"hand-written (R synthdid weights), cohort by cohort vs never treated; "
                    f"bootstrap SE ({es.info['replications']} draws)"
                )
            if len(es.event_time):
                events.append(es.frame(alpha))
            overall.append(_overall_row(name, es.overall, es.overall_se, alpha))
        seconds[name] = time.perf_counter() - start
    event_study = (
        pd.concat(events, ignore_index=True) if events else pd.DataFrame(columns=EVENT_COLUMNS)
    )
    return EstimatorComparison(
        overall=pd.DataFrame(overall, columns=OVERALL_COLUMNS),
        event_study=event_study,
        notes=notes,
        seconds=seconds,
        params={
            **cols,
            **win,
            "control_group": control_group,
            "alpha": alpha,
            "cs_given": cs is not None,
        },
    )
