"""Aggregations of ATT(g,t): simple, dynamic (event study), by cohort and by calendar period.

Port of R ``did``'s ``aggte``/``compute.aggte``: the same weights (cohort shares ``P(G=g)``),
the same influence functions including the term for estimating the weights (``wif``), and
inference settings inherited from the ``att_gt`` result unless overridden.

Checked against ``csdid`` (the Python port of R/Stata ``csdid``) to machine precision for
every aggregation type, comparison group, base period and estimation method on ``mpdta``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special

from kvk_analysis.did import inference
from kvk_analysis.did.att_gt import _check_clusters, _uniform_crit
from kvk_analysis.did.results import AggteParams, AggteResult, ATTgtResult, Overall
from kvk_analysis.errors import EstimationError

_TYPES = ("simple", "dynamic", "group", "calendar")


@inference.single_threaded_blas
def aggte(
    result: ATTgtResult,
    type: str = "simple",  # noqa: A002  (R's argument name)
    balance_e: int | None = None,
    min_e: float = -math.inf,
    max_e: float = math.inf,
    na_rm: bool = False,
    bstrap: bool | None = None,
    biters: int | None = None,
    cband: bool | None = None,
    alp: float | None = None,
) -> AggteResult:
    """Aggregate group-time effects into summary parameters (R ``did::aggte``).

    Parameters
    ----------
    result : ATTgtResult
        Output of :func:`att_gt`.
    type : {"simple", "dynamic", "group", "calendar"}
        ``"simple"``: average of all post-treatment ATT(g,t) weighted by cohort size;
        ``"dynamic"``: event-study effects by time since treatment ``e = t - g`` (overall =
        mean over ``e >= 0``); ``"group"``: average effect per cohort (overall weighted by
        cohort size); ``"calendar"``: average effect per period (overall = mean over periods).
    balance_e : int or None
        For ``"dynamic"``: keep only cohorts observed for at least ``balance_e`` periods after
        treatment, so the composition does not change with event time.
    min_e, max_e : float
        Event-time window (periods of ``tname``).  ``max_e`` also limits the post-treatment
        cells of the simple and group aggregations, as in R.  For ``"calendar"``, ``min_e``,
        ``max_e`` and ``balance_e`` are ignored with a warning, as R ``did`` 2.5 does.
    na_rm : bool
        Drop ATT(g,t) that are NaN (otherwise NaN raises).
    bstrap, biters, cband, alp
        Inference settings; ``None`` inherits them from ``result.params``.

    Returns
    -------
    AggteResult
        Disaggregated effects (``egt``, ``att_egt``, ``se_egt``), the overall effect
        (``.overall``), critical value of the uniform band, influence functions and
        ``.params``.  Units are those of the outcome.

    Raises
    ------
    EstimationError
        Unknown ``type``, NaN ATT(g,t) without ``na_rm``, or no cell left to aggregate.
    """
    if not isinstance(result, ATTgtResult):
        raise EstimationError(
            f"aggte needs an ATTgtResult from att_gt, got {result.__class__.__name__}"
        )
    if type not in _TYPES:
        raise EstimationError(f"type must be one of {list(_TYPES)}, got {type!r}")
    dp = result.params
    bstrap = dp.bstrap if bstrap is None else bool(bstrap)
    biters = dp.biters if biters is None else int(biters)
    cband = dp.cband if cband is None else bool(cband)
    alp = dp.alp if alp is None else float(alp)
    if not 0 < alp < 1:
        raise EstimationError(f"alp must be between 0 and 1, got {alp!r}")

    group = result.group
    t = result.time
    att = result.att
    inf1 = result.influence
    keep = None
    if np.isnan(att).any():
        if not na_rm:
            raise EstimationError(
                "missing values in ATT(g,t); set na_rm=True to drop them before aggregating"
            )
        keep = ~np.isnan(att)
        group, t, att, inf1 = group[keep], t[keep], att[keep], inf1[:, keep]
    glist = np.unique(group)
    tlist = np.asarray(dp.tlist)

    w_ind = result.unit_weight
    g_unit = result.unit_group
    # P(G = g) per cohort, and per cell
    pgg = np.array([np.mean(w_ind * (g_unit == g)) for g in glist])
    pg = pgg[np.searchsorted(glist, group)]

    # cohort of each unit as a position in glist (-1: never treated or not aggregated)
    unit_pos = np.searchsorted(glist, g_unit)
    unit_pos[
        (unit_pos >= len(glist)) | (glist[np.minimum(unit_pos, len(glist) - 1)] != g_unit)
    ] = -1

    def wif_units(pgk: np.ndarray, cohorts: np.ndarray, a: np.ndarray) -> np.ndarray:
        # R's wif (influence of estimating the weights pgk; column j: cohort cohorts[j])
        # times a, computed per unit without the units x columns matrix:
        # dev_ij = w_i 1[G_i = cohorts_j] - pgk_j, wif = dev / s - dev.sum(1) pgk' / s**2
        s = pgk.sum()
        by_cohort = np.zeros(len(glist) + 1)  # last slot: units of no listed cohort
        cnt = np.zeros(len(glist) + 1)
        pos = np.searchsorted(glist, cohorts)
        np.add.at(by_cohort, pos, a)
        np.add.at(cnt, pos, 1.0)
        dev_a = w_ind * by_cohort[unit_pos] - pgk @ a
        dev_1 = w_ind * cnt[unit_pos] - pgk.sum()
        return dev_a / s - dev_1 * (pgk @ a) / s**2

    post = group <= t
    keepers = np.flatnonzero(post & (t <= group + max_e))
    if type == "calendar" and (
        math.isfinite(min_e) or math.isfinite(max_e) or balance_e is not None
    ):
        warnings.warn(
            "min_e, max_e and balance_e are ignored for type='calendar' (as R did); "
            "returning the unrestricted calendar-time effects",
            stacklevel=3,
        )

    def run(m1: np.ndarray, wif) -> tuple:
        """The aggregation applied to ``m1`` (influence functions, or bootstrap draws of
        them: every step is linear) with ``wif`` the matching weight-estimation term."""

        def agg_if(ws: np.ndarray, cols: np.ndarray, wif_a: np.ndarray | None) -> np.ndarray:
            out = m1[:, cols] @ ws
            if wif_a is not None:
                out += wif_a
            return out

        def weighted(which: np.ndarray) -> tuple[float, np.ndarray]:
            # cells `which` averaged with cohort-size weights, and the influence function
            # including the estimation of the weights
            pk = pg[which]
            est = float(np.sum(att[which] * pk) / pk.sum())
            return est, agg_if(pk / pk.sum(), which, wif(pk, group[which], att[which]))

        egt = np.array([], dtype=np.int64)
        att_egt = np.array([])
        inf_egt = np.zeros((m1.shape[0], 0))
        if type == "simple":
            if keepers.size == 0:
                raise EstimationError("no post-treatment ATT(g,t) to aggregate")
            overall, inf_overall = weighted(keepers)
        elif type == "dynamic":
            e_all = t - group
            include = np.ones(len(group), dtype=bool)
            eseq = np.unique(e_all)
            if balance_e is not None:
                include = (tlist[-1] - group) >= balance_e
                eseq = np.unique(e_all[include])
                eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - tlist[-1] + tlist[0])]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            if eseq.size == 0:
                raise EstimationError("no event times left in the window min_e..max_e / balance_e")
            vals, infs = [], []
            for e in eseq:
                est, inf = weighted(np.flatnonzero((e_all == e) & include))
                vals.append(est)
                infs.append(inf)
            egt, att_egt, inf_egt = eseq, np.array(vals), np.column_stack(infs)
            epos = eseq >= 0
            if not epos.any():
                raise EstimationError("no post-treatment event time (e >= 0) in the window")
            overall = float(att_egt[epos].mean())
            inf_overall = inf_egt[:, epos] @ np.full(epos.sum(), 1 / epos.sum())
        elif type == "group":
            vals, infs, used = [], [], []
            for gi, g in enumerate(glist):
                which = np.flatnonzero((group == g) & (g <= t) & (t <= group + max_e))
                if which.size == 0:
                    continue
                pk = pg[which]
                vals.append(float(att[which].mean()))
                infs.append(agg_if(pk / pk.sum(), which, None))
                used.append(gi)
            if not used:
                raise EstimationError("no post-treatment ATT(g,t) to aggregate")
            used_a = np.array(used)
            egt, att_egt, inf_egt = glist[used_a], np.array(vals), np.column_stack(infs)
            pk = pgg[used_a]
            overall = float(np.sum(att_egt * pk) / pk.sum())
            inf_overall = inf_egt @ (pk / pk.sum()) + wif(pk, egt, att_egt)
        else:  # calendar: no event-time window (R ignores min_e/max_e/balance_e)
            ctimes = tlist[tlist >= group.min()]
            vals, infs, used_t = [], [], []
            for t1 in ctimes:
                which = np.flatnonzero((t == t1) & post)
                if which.size == 0:
                    continue
                est, inf = weighted(which)
                vals.append(est)
                infs.append(inf)
                used_t.append(t1)
            if not used_t:
                raise EstimationError("no post-treatment ATT(g,t) to aggregate")
            egt, att_egt, inf_egt = np.array(used_t), np.array(vals), np.column_stack(infs)
            overall = float(att_egt.mean())
            inf_overall = inf_egt @ np.full(len(egt), 1 / len(egt))
        return egt, att_egt, inf_egt, overall, inf_overall

    egt, att_egt, inf_egt, overall, inf_overall = run(inf1, wif_units)

    # bootstrap: reuse att_gt's multiplier draws when they fit (same number of draws); the
    # aggregation is linear in the influence functions and in the cohort-weight sums, so
    # applying it to att_gt's draws of those gives the draws R would get from its own
    # (fresh, equally distributed) multipliers, without another pass over the units
    draws_gt = result.bootstrap_draws
    reuse = bool(bstrap) and draws_gt is not None and draws_gt.shape[0] == biters
    agg_draws = None
    if reuse:
        d1 = draws_gt if keep is None else draws_gt[:, keep]
        wd = result.bootstrap_weight_draws
        gpos = {int(g): i for i, g in enumerate(dp.glist)}

        def wif_draws(pgk: np.ndarray, cohorts: np.ndarray, a: np.ndarray) -> np.ndarray:
            # wif_units(pgk, cohorts, a) with the units' weights V_i applied and summed
            s = pgk.sum()
            vdev = wd[:, [gpos[int(g)] for g in cohorts]] - np.outer(wd[:, -1], pgk)
            return vdev @ a / s - vdev.sum(axis=1) * (pgk @ a) / s**2

        _, _, d_egt, _, d_overall = run(d1, wif_draws)
        agg_draws = np.column_stack([d_egt, d_overall])

    codes, n_clusters = result.cluster_codes, dp.n_clusters
    all_inf = np.column_stack([inf_egt, inf_overall])
    se_all = inference.analytic_se(all_inf, codes, n_clusters)
    z = float(special.ndtri(1 - alp / 2))
    crit, uniform = z, False
    if bstrap:
        _check_clusters(n_clusters)
        if agg_draws is not None:
            boot = inference.summarize_draws(agg_draws, all_inf.shape[0], alp)
        else:
            seed = dp.seed
            rng = np.random.default_rng(None if seed is None else [seed, _TYPES.index(type) + 1])
            boot = inference.multiplier_bootstrap(
                all_inf, codes, n_clusters, biters, alp, rng, dp.bootstrap_weights
            )
        se_all = np.where(np.isnan(se_all), np.nan, boot.std_error)
        k = inf_egt.shape[1]
        if cband and k > 0:
            c = inference.sup_t_critical(boot.draws[:, :k], se_all[:k], alp)
            crit, uniform = _uniform_crit(c, alp)
    elif cband and inf_egt.shape[1] > 0:
        warnings.warn(
            "cband=True needs the bootstrap (bstrap=True); reporting pointwise intervals",
            stacklevel=3,
        )
    se_egt, se_overall = se_all[:-1], float(se_all[-1])
    p_overall = float(2 * special.ndtr(-abs(overall / se_overall))) if se_overall > 0 else np.nan
    ov = Overall(
        estimate=overall,
        std_error=se_overall,
        conf_low=overall - z * se_overall,
        conf_high=overall + z * se_overall,
        p_value=p_overall,
    )
    params = AggteParams(
        type=type,
        balance_e=balance_e,
        min_e=float(min_e),
        max_e=float(max_e),
        na_rm=bool(na_rm),
        bstrap=bstrap,
        biters=biters,
        cband=cband,
        alp=alp,
        did=dp,
    )
    return AggteResult(
        type=type,
        egt=np.asarray(egt, dtype=np.int64),
        att_egt=att_egt,
        se_egt=se_egt,
        critical_value=crit,
        uniform=uniform,
        overall=ov,
        influence_egt=inf_egt,
        influence_overall=inf_overall,
        params=params,
        cluster_codes=codes,
    )
