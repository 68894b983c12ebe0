"""Two-group, two-period DiD estimators for one ATT(g,t) cell, with influence functions.

Two paths:

* :func:`cells_unconditional`: no covariates.  Then the doubly robust, IPW and regression
  estimators of Sant'Anna & Zhao (2020) all reduce to a difference of (weighted) mean changes,
  and their influence functions coincide, so every cell is computed at once with array
  operations on the wide outcome matrix.  Written as a difference of four means (treated /
  control x current / base period) it also covers unbalanced panels, with the influence
  function summed per unit (clustering at the unit level).
* :func:`reg_did_panel`, :func:`std_ipw_did_panel`, :func:`drdid_panel`: covariates, balanced
  panel; ports of the functions of the same name in R ``DRDID`` (Sant'Anna & Zhao 2020) that
  R ``did`` calls, batched over cells with the same units and covariates.
* :func:`reg_did_unbalanced`: covariates, unbalanced panel (R ``DRDID::reg_did_rc`` as R
  ``did`` uses it with ``allow_unbalanced_panel=TRUE``).

Why not the ``drdid`` package (the Python port of ``DRDID`` that ``csdid`` uses): it fits a
statsmodels GLM/WLS per call and handles one cell at a time, which makes ``att_gt`` 10x+
slower on KVK-sized panels; the ports here are batched over cells that share units and
covariates (the estimators are linear in the outcome change given the fitted propensity
score and regression design).  ``tests/test_did_mpdta.py`` checks them against ``csdid`` (and
so against ``drdid``) to machine precision.

Influence functions returned here are on the subsample of the cell (units in the treated or
control group) and scaled like R (``mean(inf) ~ att_hat - att``); the caller rescales to the
full sample.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from kvk_analysis.errors import EstimationError


def cells_unconditional(
    y: np.ndarray,
    cur: np.ndarray,
    base: np.ndarray,
    treated: np.ndarray,
    control: np.ndarray,
    wmat: np.ndarray,
    wi_cur: np.ndarray,
    wi_base: np.ndarray,
    labels: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All ATT(g,t) cells without covariates.

    Parameters
    ----------
    y : ndarray, shape (n, T)
        Wide outcome matrix (NaN where a unit is not observed).
    cur, base : ndarray of int, shape (k,)
        Column of ``y`` of the current and the base period of each cell.
    treated, control : ndarray of bool, shape (n, k)
        Membership of each unit in the treated cohort / the comparison group of each cell.
    wmat : ndarray, shape (n, m)
        Sampling weights (any positive scale); cell ``j`` weights its current-period
        observations with ``wmat[:, wi_cur[j]]`` and its base-period ones with
        ``wmat[:, wi_base[j]]``.
    wi_cur, wi_base : ndarray of int, shape (k,)
    labels : list of str, optional
        Names of the cells for error messages, e.g. ``"ATT(g=2007, t=2005)"``.

    Returns
    -------
    att : ndarray, shape (k,)
        ``(mean_T(y_cur) - mean_T(y_base)) - (mean_C(y_cur) - mean_C(y_base))``, weighted.
    inf : ndarray, shape (n, k)
        Influence functions on the full sample of ``n`` units (``att_hat - att ~ mean(inf)``),
        column-major (each cell's column contiguous).

    One cell at a time on contiguous unit vectors: no ``n x k`` temporaries besides the
    result.  A cell whose units are all observed in both periods with one weight is the
    weighted difference of mean changes; otherwise (unbalanced panels, per-observation
    weights) the difference of four weighted means, with the influence function summed
    per unit.

    Raises
    ------
    EstimationError
        If a cell has no observed treated or control unit in one of its two periods.
    """
    n, k = y.shape[0], len(cur)
    yt = np.ascontiguousarray(y.T)
    wt = np.ascontiguousarray(wmat.T)
    obs = ~np.isnan(yt)
    complete = obs.all(axis=1)
    w_complete = np.isfinite(wt).all(axis=1)
    y0 = np.where(obs, yt, 0.0) if not complete.all() else yt
    att = np.zeros(k)
    inf_t = np.empty((k, n))
    tr_t = np.ascontiguousarray(treated.T)
    co_t = np.ascontiguousarray(control.T)

    def fail(j: int, what: str) -> None:
        name = labels[j] if labels else f"cell {j}"
        raise EstimationError(
            f"{name}: no observed {what} unit (with positive weight) in one of its two periods"
        )

    # cells with the same treated units, comparison units and weights share these
    groups: dict[tuple, tuple] = {}
    for j in range(k):
        c, b = cur[j], base[j]
        out = inf_t[j]
        if complete[c] and complete[b] and wi_cur[j] == wi_base[j] and w_complete[wi_cur[j]]:
            key = (int(wi_cur[j]), np.packbits(tr_t[j]).tobytes(), np.packbits(co_t[j]).tobytes())
            if key not in groups:
                w = wt[wi_cur[j]]
                w1 = w * tr_t[j]
                w0 = w * co_t[j]
                s1, s0 = w1.sum(), w0.sum()
                if s1 <= 0:
                    fail(j, "treated")
                if s0 <= 0:
                    fail(j, "comparison")
                # treated and comparison units are disjoint: n w1 / s1 - n w0 / s0 is the
                # per-unit coefficient of both terms
                groups[key] = (w1, w0, s1, s0, w1 * (n / s1) - w0 * (n / s0))
            w1, w0, s1, s0, coef = groups[key]
            np.subtract(yt[c], yt[b], out=out)  # the outcome change
            m1, m0 = (w1 @ out) / s1, (w0 @ out) / s0
            att[j] = m1 - m0
            # n (w1 (dy - m1) / s1 - w0 (dy - m0) / s0) = coef (dy - m), m = m1 for treated
            # and m0 for comparison units: dy - m0 - (m1 - m0) 1[treated]
            out -= m0
            out -= (m1 - m0) * tr_t[j]
            out *= coef
            continue
        out[:] = 0.0
        for grp, sign, what in ((tr_t[j], 1.0, "treated"), (co_t[j], -1.0, "comparison")):
            for col, wcol, s_per in ((c, wi_cur[j], 1.0), (b, wi_base[j], -1.0)):
                wm = np.where(grp & obs[col], wt[wcol], 0.0)
                tot = wm.sum()
                if not tot > 0:
                    fail(j, what)
                mean = (wm @ y0[col]) / tot
                att[j] += sign * s_per * mean
                out += (sign * s_per * n / tot) * wm * (y0[col] - mean)
    return att, inf_t.T


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    xw = x * w[:, None]
    xtx = xw.T @ x
    if np.linalg.cond(xtx) > 1e12:
        raise EstimationError(
            "the outcome regression in the comparison group is singular: too few comparison "
            "units for the covariates, or collinear covariates"
        )
    return np.linalg.solve(xtx, xw.T @ y)


def logit_irls(
    x: np.ndarray, d: np.ndarray, w: np.ndarray, maxiter: int = 100, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson (IRLS).

    Hand-written because it runs once per ATT(g,t) cell: a statsmodels GLM costs far more in
    set-up than the few Newton steps on a few hundred rows.  Same estimator as R's
    ``glm(family=binomial, weights=w)`` used by ``DRDID``.

    Returns
    -------
    p : ndarray, shape (n,)
        Fitted probabilities.
    cov : ndarray, shape (p, p)
        ``(X' diag(w p (1-p)) X)^{-1}``, the model-based covariance (R ``vcov(glm)``).
    """
    beta = np.zeros(x.shape[1])
    for _ in range(maxiter):
        p = expit(x @ beta)
        h = (x * (w * p * (1 - p))[:, None]).T @ x
        grad = x.T @ (w * (d - p))
        try:
            step = np.linalg.solve(h, grad)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "the propensity-score logit is singular (collinear covariates or perfect "
                "separation); use est_method='reg' or fewer covariates"
            ) from exc
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise EstimationError(
            "the propensity-score logit did not converge (perfect separation?); use "
            "est_method='reg' or fewer covariates"
        )
    p = expit(x @ beta)
    h = (x * (w * p * (1 - p))[:, None]).T @ x
    return p, np.linalg.inv(h)


def _as_2d(dy: np.ndarray) -> np.ndarray:
    return dy[:, None] if dy.ndim == 1 else dy


def _out(att: np.ndarray, inf: np.ndarray, dy: np.ndarray) -> tuple:
    if dy.ndim == 1:
        return float(att[0]), inf[:, 0]
    return att, inf


def _pscore(
    x: np.ndarray, d: np.ndarray, iw: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights normalised to mean one, the logit propensity score (capped below one as in
    ``DRDID``) and its asymptotic linear representation (``n x p``)."""
    iw = iw / iw.mean()
    ps, ps_cov = logit_irls(x, d, iw)
    ps = np.minimum(ps, 1 - 1e-6)
    lin_ps = (x * (iw * (d - ps))[:, None]) @ (ps_cov * len(x))
    return iw, ps, lin_ps


def _hajek(wt: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean ``sum(wt v) / sum(wt)`` and its influence function."""
    eta = wt * v / wt.mean()
    att = float(eta.mean())
    return att, eta - wt * att / wt.mean()


def reg_did_panel(
    dy: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    iw: np.ndarray,
) -> tuple[float | np.ndarray, np.ndarray]:
    """Outcome-regression DiD for panel data (R ``DRDID::reg_did_panel``).

    ``dy`` is the outcome change (``(n,)``, or ``(n, m)`` for ``m`` cells sharing the same
    units and covariates: everything is linear in ``dy``), ``d`` the treated indicator, ``x``
    the design matrix with intercept, ``iw`` sampling weights.  Returns ``(att, influence
    function)`` (a float and ``(n,)``, or ``(m,)`` and ``(n, m)``).
    """
    y = _as_2d(dy)
    n = len(y)
    iw = iw / iw.mean()
    c = d == 0
    beta = _wls(x[c], y[c], iw[c])
    out_delta = x @ beta
    w_treat = iw * d
    mt = w_treat.mean()
    att_treat = w_treat[:, None] * y
    att_cont = w_treat[:, None] * out_delta
    eta_treat = att_treat.mean(axis=0) / mt
    eta_cont = att_cont.mean(axis=0) / mt
    w_ols = iw * (1 - d)
    xpx_inv = np.linalg.inv((x * w_ols[:, None]).T @ x / n)
    m1 = (x * w_treat[:, None]).mean(axis=0)
    lin_m1 = (w_ols * (x @ (xpx_inv @ m1)))[:, None] * (y - out_delta)
    inf_treat = (att_treat - w_treat[:, None] * eta_treat) / mt
    inf_cont = (att_cont - w_treat[:, None] * eta_cont + lin_m1) / mt
    return _out(eta_treat - eta_cont, inf_treat - inf_cont, dy)


def std_ipw_did_panel(
    dy: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    iw: np.ndarray,
) -> tuple[float | np.ndarray, np.ndarray]:
    """Standardised (Hajek) IPW DiD for panel data (R ``DRDID::std_ipw_did_panel``).

    Arguments and return as :func:`reg_did_panel`.
    """
    y = _as_2d(dy)
    n = len(y)
    iw, ps, lin_ps = _pscore(x, d, iw)
    w_treat = iw * d
    w_cont = iw * ps * (1 - d) / (1 - ps)
    mt, mc = w_treat.mean(), w_cont.mean()
    att_treat = w_treat[:, None] * y
    att_cont = w_cont[:, None] * y
    eta_treat = att_treat.mean(axis=0) / mt
    eta_cont = att_cont.mean(axis=0) / mc
    m2 = x.T @ (w_cont[:, None] * (y - eta_cont)) / n
    inf_treat = (att_treat - w_treat[:, None] * eta_treat) / mt
    inf_cont = (att_cont - w_cont[:, None] * eta_cont + lin_ps @ m2) / mc
    return _out(eta_treat - eta_cont, inf_treat - inf_cont, dy)


def drdid_panel(
    dy: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    iw: np.ndarray,
) -> tuple[float | np.ndarray, np.ndarray]:
    """Doubly robust DiD for panel data (R ``DRDID::drdid_panel``, R ``did``'s default).

    Logit propensity score and weighted OLS outcome regression in the comparison group,
    with R's trimming of comparison units whose propensity score is 0.995 or more.
    Arguments and return as :func:`reg_did_panel`.
    """
    y = _as_2d(dy)
    n = len(y)
    iw, ps, lin_ps = _pscore(x, d, iw)
    trim = np.where(d == 1, ps < 1.01, ps < 0.995).astype(float)
    c = d == 0
    beta = _wls(x[c], y[c], iw[c])
    resid = y - x @ beta
    w_treat = trim * iw * d
    w_cont = trim * iw * ps * (1 - d) / (1 - ps)
    mt, mc = w_treat.mean(), w_cont.mean()
    att_treat = w_treat[:, None] * resid
    att_cont = w_cont[:, None] * resid
    eta_treat = att_treat.mean(axis=0) / mt
    eta_cont = att_cont.mean(axis=0) / mc
    w_ols = iw * (1 - d)
    xpx_inv = np.linalg.inv((x * w_ols[:, None]).T @ x / n)
    m1 = (x * w_treat[:, None]).mean(axis=0)
    m3 = (x * w_cont[:, None]).mean(axis=0)
    # asy.lin.rep.wols %*% M = w_ols * resid * (x @ XpX^-1 @ M): M does not depend on the cell
    lin_m1 = (w_ols * (x @ (xpx_inv @ m1)))[:, None] * resid
    lin_m3 = (w_ols * (x @ (xpx_inv @ m3)))[:, None] * resid
    m2 = x.T @ (w_cont[:, None] * (resid - eta_cont)) / n
    inf_treat = (att_treat - w_treat[:, None] * eta_treat - lin_m1) / mt
    inf_cont = (att_cont - w_cont[:, None] * eta_cont + lin_ps @ m2 - lin_m3) / mc
    return _out(eta_treat - eta_cont, inf_treat - inf_cont, dy)


PANEL_ESTIMATORS = {"reg": reg_did_panel, "ipw": std_ipw_did_panel, "dr": drdid_panel}


def reg_did_unbalanced(
    y_cur: np.ndarray,
    y_base: np.ndarray,
    x_cur: np.ndarray,
    x_base: np.ndarray,
    d: np.ndarray,
    c: np.ndarray,
    w: np.ndarray,
    w_base: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD for one cell of an unbalanced panel (R ``DRDID::reg_did_rc``).

    As R ``did`` with ``allow_unbalanced_panel=True``: each observed (unit, period) is an
    observation, outcome regressions are fitted on the comparison units observed in the
    current and in the base period, and the treated are averaged over all their observations
    in either period.  The influence function is the delta-method one per unit (all
    observations of a unit together), on the full sample.

    Parameters
    ----------
    y_cur, y_base : ndarray, shape (n,)
        Outcome in the current and base period (NaN when the unit is not observed then).
    x_cur, x_base : ndarray, shape (n, p)
        Covariate design (intercept first) in those periods.
    d, c : ndarray of bool, shape (n,)
        Treated cohort / comparison group membership.
    w : ndarray, shape (n,)
        Sampling weights of the current-period observations (and of the base-period ones
        when ``w_base`` is None).
    w_base : ndarray, shape (n,), optional
        Sampling weights of the base-period observations (time-varying weights).

    Returns
    -------
    att : float
    inf : ndarray, shape (n,)
    """
    n = len(y_cur)
    a = ~np.isnan(y_cur)
    b = ~np.isnan(y_base)
    wa = np.where(a, w, 0.0)
    wb = np.where(b, w if w_base is None else w_base, 0.0)
    ya = np.where(a, y_cur, 0.0)
    yb = np.where(b, y_base, 0.0)
    xa = np.where(a[:, None], x_cur, 0.0)
    xb = np.where(b[:, None], x_base, 0.0)
    betas, lins = [], []
    for ww_obs, yy, xx in ((wa, ya, xa), (wb, yb, xb)):
        ww = ww_obs * c
        q = (xx * ww[:, None]).T @ xx
        if ww.sum() <= 0 or np.linalg.cond(q) > 1e12:
            raise EstimationError(
                "the outcome regression in the comparison group is singular: too few "
                "observed comparison units for the covariates, or collinear covariates"
            )
        beta = np.linalg.solve(q, (xx * ww[:, None]).T @ yy)
        resid = np.where(ww > 0, yy - xx @ beta, 0.0)
        # influence of beta: n * Q^{-1} w_i c_i obs_i x_i e_i, shape (n, p)
        lins.append(n * (xx * (ww * resid)[:, None]) @ np.linalg.inv(q).T)
        betas.append(beta)
    dbeta = betas[0] - betas[1]
    wda, wdb = wa * d, wb * d
    s1, s0 = wda.sum(), wdb.sum()
    if s1 <= 0 or s0 <= 0:
        raise EstimationError("no observed treated unit in one of the two periods")
    eta_post = (wda * ya).sum() / s1
    eta_pre = (wdb * yb).sum() / s0
    wsum = wda + wdb  # weight of the unit's observed treated observations
    den = wsum.sum()
    # weighted sum of the unit's observed designs
    xsum = xa * wda[:, None] + xb * wdb[:, None]
    eta_cont = (xsum @ dbeta).sum() / den
    m = xsum.sum(axis=0) / den
    inf_post = n * wda * (ya - eta_post) / s1
    inf_pre = n * wdb * (yb - eta_pre) / s0
    inf_cont = n * (xsum @ dbeta - wsum * eta_cont) / den + (lins[0] - lins[1]) @ m
    return float(eta_post - eta_pre - eta_cont), inf_post - inf_pre - inf_cont


def _ols_linrep(x: np.ndarray, y: np.ndarray, w_sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted OLS on the rows with ``w_sel > 0``; fitted values for all rows and the
    asymptotic linear representation ``w e x (X'WX/n)^{-1}`` (DRDID's ``asy.lin.rep.ols``)."""
    n = len(y)
    sel = w_sel > 0
    beta = _wls(x[sel], y[sel], w_sel[sel])
    fit = x @ beta
    xpx = (x * w_sel[:, None]).T @ x / n
    lin = (x * (w_sel * (y - fit))[:, None]) @ np.linalg.inv(xpx)
    return fit, lin


def std_ipw_did_rc(
    y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray, iw: np.ndarray
) -> tuple[float, np.ndarray]:
    """Standardised IPW DiD, repeated cross-sections (R ``DRDID::std_ipw_did_rc``).

    Observation-level arrays (one row per unit and period); the influence function is per
    observation (``mean(inf) ~ att_hat - att``).
    """
    iw, ps, lin_ps = _pscore(x, d, iw)
    w_tpre, w_tpost = iw * d * (1 - post), iw * d * post
    odds = iw * ps * (1 - d) / (1 - ps)
    w_cpre, w_cpost = odds * (1 - post), odds * post
    (a_tpre, i_tpre), (a_tpost, i_tpost), (a_cpre, i_cpre), (a_cpost, i_cpost) = (
        _hajek(wt, y) for wt in (w_tpre, w_tpost, w_cpre, w_cpost)
    )
    m2_pre = (x * (w_cpre * (y - a_cpre))[:, None]).mean(axis=0) / w_cpre.mean()
    m2_post = (x * (w_cpost * (y - a_cpost))[:, None]).mean(axis=0) / w_cpost.mean()
    inf_cont = i_cpost - i_cpre + lin_ps @ (m2_post - m2_pre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre)
    return float(att), (i_tpost - i_tpre) - inf_cont


def drdid_rc(
    y: np.ndarray,
    post: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    iw: np.ndarray,
    trim_level: float = 0.995,
) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD, repeated cross-sections (R ``DRDID::drdid_rc``).

    Observation-level arrays as :func:`std_ipw_did_rc`.  Outcome regressions for treated and
    comparison units in both periods, logit propensity score, R's trimming.
    """
    iw, ps, lin_ps = _pscore(x, d, iw)
    trim = np.where(d == 1, ps < 1.01, ps < trim_level).astype(float)
    c = 1 - d
    fit_cpre, lin_cpre = _ols_linrep(x, y, iw * c * (1 - post))
    fit_cpost, lin_cpost = _ols_linrep(x, y, iw * c * post)
    fit_cont = post * fit_cpost + (1 - post) * fit_cpre
    fit_tpre, lin_tpre = _ols_linrep(x, y, iw * d * (1 - post))
    fit_tpost, lin_tpost = _ols_linrep(x, y, iw * d * post)

    w_tpre = trim * iw * d * (1 - post)
    w_tpost = trim * iw * d * post
    w_cpre = trim * iw * ps * c * (1 - post) / (1 - ps)
    w_cpost = trim * iw * ps * c * post / (1 - ps)
    w_d = trim * iw * d
    w_dt1 = trim * iw * d * post
    w_dt0 = trim * iw * d * (1 - post)

    resid = y - fit_cont
    a_tpre, i_tpre = _hajek(w_tpre, resid)
    a_tpost, i_tpost = _hajek(w_tpost, resid)
    a_cpre, i_cpre = _hajek(w_cpre, resid)
    a_cpost, i_cpost = _hajek(w_cpost, resid)
    a_dpost, i_e1 = _hajek(w_d, fit_tpost - fit_cpost)
    a_dt1, i_e2 = _hajek(w_dt1, fit_tpost - fit_cpost)
    a_dpre, i_e3 = _hajek(w_d, fit_tpre - fit_cpre)
    a_dt0, i_e4 = _hajek(w_dt0, fit_tpre - fit_cpre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1) - (a_dpre - a_dt0)

    def cmean(v: np.ndarray) -> np.ndarray:
        return (x * v[:, None]).mean(axis=0)

    m1_post = -cmean(w_tpost * post) / w_tpost.mean()
    m1_pre = -cmean(w_tpre * (1 - post)) / w_tpre.mean()
    # Pre-period terms enter with a minus sign (they belong to att_treat_pre, which is
    # subtracted).  R DRDID's drdid_rc adds them; csdid/drdid subtract, and a numerical
    # derivative of the estimate with respect to each observation's weight agrees with the
    # subtraction (tests/test_did_estimators.py).  Affects only SEs with covariates on
    # unbalanced panels.
    inf_treat_or = lin_cpost @ m1_post - lin_cpre @ m1_pre
    m2_pre = cmean(w_cpre * (resid - a_cpre)) / w_cpre.mean()
    m2_post = cmean(w_cpost * (resid - a_cpost)) / w_cpost.mean()
    inf_cont_ps = lin_ps @ (m2_post - m2_pre)
    m3_post = -cmean(w_cpost * post) / w_cpost.mean()
    m3_pre = -cmean(w_cpre * (1 - post)) / w_cpre.mean()
    inf_cont_or = lin_cpost @ m3_post - lin_cpre @ m3_pre
    inf_eff = (i_e1 - i_e2) - (i_e3 - i_e4)
    mom_post = cmean(w_d / w_d.mean() - w_dt1 / w_dt1.mean())
    mom_pre = cmean(w_d / w_d.mean() - w_dt0 / w_dt0.mean())
    inf_or = (lin_tpost - lin_cpost) @ mom_post - (lin_tpre - lin_cpre) @ mom_pre
    inf_treat = i_tpost - i_tpre + inf_treat_or
    inf_cont = i_cpost - i_cpre + inf_cont_ps + inf_cont_or
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


RC_ESTIMATORS = {"ipw": std_ipw_did_rc, "dr": drdid_rc}
