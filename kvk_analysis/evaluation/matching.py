"""Matched comparison group: participants matched to never-participants before the programme.

Each participating municipality is matched to the never-participating municipalities that
were most alike before the programme: pre-programme sick-leave level and trend, size (log
population), optionally exactly on county.  Distance is Mahalanobis (covariance of the pooled
sample) or the difference in the logit of a propensity score (statsmodels ``Logit``).  Matching
is greedy nearest neighbour, hardest-to-match participants first, with or without replacement
and with an optional caliper.  Greedy nearest-neighbour matching on a few hundred units is a
few lines of numpy; the Python matching packages on PyPI are unmaintained or pull in R.

The result carries the matched set (unit ids and weights), a balance table (means,
standardised mean differences and variance ratios before and after matching), and
:meth:`MatchResult.subset` returns the panel restricted to participants and matched controls,
with a weight column, ready for :func:`kvk_analysis.att_gt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from kvk_analysis.errors import EstimationError, InputError
from kvk_analysis.evaluation._common import require_columns, require_numeric


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Matched comparison group.

    Attributes
    ----------
    matches : DataFrame
        One row per (participant, matched control): ``treated``, ``control``, ``distance``.
    weights : DataFrame
        One row per unit in the matched set: ``unit``, ``treated`` (bool), ``weight``
        (1 for participants; a control gets 1 / k from each participant it is matched to,
        k being that participant's number of matches, so with replacement a control used
        twice with ``ratio=1`` weighs 2).
    unmatched : list
        Participants without a control inside the caliper (left out of the matched set).
    balance : DataFrame
        Per covariate: ``mean_treated``, ``mean_control_before``, ``mean_control_after``,
        ``smd_before``, ``smd_after`` (standardised mean differences, pooled SD of the
        unmatched sample), ``var_ratio_before``, ``var_ratio_after`` (treated / control).
    params : dict
        Specification.
    """

    matches: pd.DataFrame
    weights: pd.DataFrame
    unmatched: list[Any]
    balance: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def subset(self, panel: pd.DataFrame, *, weight_column: str = "match_weight") -> pd.DataFrame:
        """Rows of ``panel`` for the matched units, with their matching weight added.

        Parameters
        ----------
        panel
            The analysis panel (any number of sectors).
        weight_column
            Name of the added weight column.  Pass it as ``weightsname`` to ``att_gt`` (or
            multiply it with another weight) when matching was with replacement or
            ``ratio > 1``.

        Returns
        -------
        DataFrame
            Participants and matched controls only.
        """
        idname = self.params["idname"]
        require_columns(panel, [idname], "MatchResult.subset")
        w = self.weights.set_index("unit")["weight"]
        out = panel[panel[idname].isin(w.index)].copy()
        out[weight_column] = out[idname].map(w).astype(float)
        return out

    def summary(self) -> str:
        """Plain-text summary with the balance table."""
        p = self.params
        n_c = int((~self.weights["treated"]).sum())
        lines = [
            f"Matched comparison group: {p['method']} nearest neighbour, ratio {p['ratio']}, "
            f"{'with' if p['replace'] else 'without'} replacement, caliper {p['caliper']}, "
            f"exact on {', '.join(p['exact']) or 'nothing'}",
            f"Participants matched: {int(self.weights['treated'].sum())} "
            f"(unmatched: {len(self.unmatched)}); distinct controls: {n_c}",
            "",
            self.balance.to_string(float_format=lambda v: f"{v:.3f}"),
        ]
        return "\n".join(lines)


def _unit_table(panel: pd.DataFrame, idname: str, columns: list[str], what: str) -> pd.DataFrame:
    """One row per unit; raise if a column varies within a unit."""
    first = panel.groupby(idname, sort=True)[columns].first()
    varies = panel.groupby(idname, sort=True)[columns].nunique(dropna=False) > 1
    if varies.any().any():
        col = varies.any()[varies.any()].index[0]
        unit = varies.index[varies[col]][0]
        raise InputError(
            f"{what}: '{col}' differs between rows of the same unit (filter the panel to one "
            "sector first, e.g. panel[panel.sector == 'all'])",
            column=col,
            expected="a unit-level value",
            found=unit,
        )
    return first


def match_controls(
    panel: pd.DataFrame,
    *,
    covariates: Sequence[str] = ("pre_level", "pre_trend", "log_pop"),
    exact: Sequence[str] = (),
    method: Literal["mahalanobis", "propensity"] = "mahalanobis",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    idname: str = "kommunenummer",
    gname: str = "gname",
    treated: Sequence[Any] | None = None,
) -> MatchResult:
    """Match participants to never-participants on pre-programme characteristics.

    Parameters
    ----------
    panel
        Analysis panel, one sector (covariates must be constant within a unit).
    covariates
        Unit-level matching variables; default pre-programme level (percent), pre-programme
        trend (percentage points per year) and log population.
    exact
        Columns to match exactly on, e.g. ``("fylkesnr",)`` for the county.
    method
        ``"mahalanobis"`` (distance on the covariates, pooled covariance) or
        ``"propensity"`` (absolute difference in the logit of a logistic propensity score).
    ratio
        Controls per participant.
    replace
        Whether a control may be matched to several participants.
    caliper
        Largest allowed distance, in standard deviations of the logit propensity score
        (``method="propensity"``) or in Mahalanobis units; participants without a control
        inside it are left unmatched.
    idname, gname
        Unit id and first-treated period (``0`` = never treated: the donor pool).
    treated
        Unit ids to match (default every unit with ``gname > 0`` or a missing ``gname``,
        i.e. all participants).

    Returns
    -------
    MatchResult
        Matched pairs, unit weights, unmatched participants and the balance table.

    Raises
    ------
    InputError
        Missing columns, bad arguments, covariates varying within units or missing.
    EstimationError
        Too few controls (without replacement) or a degenerate propensity model.
    """
    what = "match_controls"
    covariates, exact = list(covariates), list(exact)
    require_columns(panel, [idname, gname, *covariates, *exact], what)
    if method not in ("mahalanobis", "propensity"):
        raise InputError(
            "unknown matching method", expected="'mahalanobis' or 'propensity'", found=method
        )
    if not covariates:
        raise InputError("match_controls needs at least one covariate", found=covariates)
    if not isinstance(ratio, int) or ratio < 1:
        raise InputError("ratio must be a positive integer", expected="1, 2, ...", found=ratio)
    if caliper is not None and not caliper > 0:
        raise InputError("caliper must be positive", expected="> 0", found=caliper)

    units = _unit_table(panel, idname, [gname, *covariates, *exact], what)
    X = np.column_stack([require_numeric(units, c, what) for c in covariates])
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise InputError(
            f"{what}: missing covariate values",
            column=covariates[int(np.argmax(~np.isfinite(X[bad][0])))],
            expected="a number for every unit",
            found=units.index[bad][0],
        )
    g = units[gname]
    is_control = (g == 0).fillna(False).to_numpy(dtype=bool)
    if treated is None:
        is_treated = ~is_control
    else:
        is_treated = units.index.isin(list(treated))
        if is_treated.sum() < len(set(treated)):
            raise InputError(f"{what}: treated ids not in the panel", column=idname, found=treated)
    if is_control.sum() == 0 or is_treated.sum() == 0:
        raise EstimationError(f"{what}: needs both participants and never-participants")

    if method == "mahalanobis":
        cov = np.atleast_2d(np.cov(X[is_treated | is_control], rowvar=False))
        prec = np.linalg.pinv(cov)
        diff = X[is_treated][:, None, :] - X[is_control][None, :, :]
        dist = np.sqrt(np.einsum("ijk,kl,ijl->ij", diff, prec, diff))
        scale = 1.0
    else:
        lp = _logit_score(X, is_treated, is_control)
        dist = np.abs(lp[is_treated][:, None] - lp[is_control][None, :])
        scale = float(np.std(lp[is_treated | is_control], ddof=1))
    if exact:
        ex = units[exact].astype("string").fillna("<NA>").agg("|".join, axis=1).to_numpy()
        dist = np.where(ex[is_treated][:, None] == ex[is_control][None, :], dist, np.inf)
    limit = np.inf if caliper is None else caliper * scale
    dist = np.where(dist <= limit, dist, np.inf)

    t_ids = units.index[is_treated].to_numpy()
    c_ids = units.index[is_control].to_numpy()
    if not replace and ratio * len(t_ids) > len(c_ids):
        raise EstimationError(
            f"{what}: {len(t_ids)} participants x ratio {ratio} need more than the "
            f"{len(c_ids)} never-participants without replacement; use replace=True"
        )
    pairs: list[tuple[Any, Any, float]] = []
    used = np.zeros(len(c_ids), dtype=bool)
    # hardest to match first: largest distance to the nearest control
    order = np.argsort(-np.min(dist, axis=1), kind="stable")
    unmatched = []
    for i in order:
        d = dist[i].copy()
        if not replace:
            d[used] = np.inf
        best = np.argsort(d, kind="stable")[:ratio]
        best = best[np.isfinite(d[best])]
        if len(best) == 0:
            unmatched.append(t_ids[i])
            continue
        used[best] = True
        pairs += [(t_ids[i], c_ids[j], float(d[j])) for j in best]
    if len(pairs) == 0:
        raise EstimationError(f"{what}: no participant has a control inside the caliper")
    matches = pd.DataFrame(pairs, columns=["treated", "control", "distance"])
    # a participant with fewer than `ratio` matches inside the caliper: its controls count more
    per_t = matches.groupby("treated").size()
    matches["weight"] = matches["treated"].map(1.0 / per_t)
    cw = matches.groupby("control")["weight"].sum()
    weights = pd.concat(
        [
            pd.DataFrame({"unit": per_t.index, "treated": True, "weight": 1.0}),
            pd.DataFrame({"unit": cw.index, "treated": False, "weight": cw.to_numpy()}),
        ],
        ignore_index=True,
    )
    matches = matches.drop(columns="weight")

    balance = _balance(units, covariates, is_treated, is_control, weights)
    return MatchResult(
        matches=matches,
        weights=weights,
        unmatched=unmatched,
        balance=balance,
        params={
            "covariates": covariates,
            "exact": exact,
            "method": method,
            "ratio": ratio,
            "replace": replace,
            "caliper": caliper,
            "idname": idname,
            "gname": gname,
        },
    )


def _logit_score(X: np.ndarray, is_treated: np.ndarray, is_control: np.ndarray) -> np.ndarray:
    from statsmodels.discrete.discrete_model import Logit  # heavy import, kept local

    sample = is_treated | is_control
    Z = (X - X[sample].mean(axis=0)) / X[sample].std(axis=0, ddof=1)
    design = np.column_stack(
        [np.ones(len(Z)), Z]
    )  # statsmodels.add_constant(Z, has_constant="add")
    try:
        fit = Logit(is_treated[sample].astype(float), design[sample]).fit(disp=0, maxiter=200)
    except Exception as exc:  # perfect separation, singular matrix
        raise EstimationError(f"match_controls: the propensity model failed ({exc})") from exc
    return design @ fit.params


def _balance(
    units: pd.DataFrame,
    covariates: list[str],
    is_treated: np.ndarray,
    is_control: np.ndarray,
    weights: pd.DataFrame,
) -> pd.DataFrame:
    matched_t = units.index.isin(weights.loc[weights["treated"], "unit"])
    ctrl = weights[~weights["treated"]]
    ctrl_rows, ctrl_w = units.loc[ctrl["unit"]], ctrl["weight"].to_numpy()
    rows = []
    for c in covariates:
        x = units[c].to_numpy(float)
        xt, xc = x[is_treated], x[is_control]
        sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
        mt_after = x[matched_t]
        xcw = ctrl_rows[c].to_numpy(float)
        mc_after = np.average(xcw, weights=ctrl_w)
        var_c_after = np.average((xcw - mc_after) ** 2, weights=ctrl_w)
        rows.append(
            {
                "covariate": c,
                "mean_treated": xt.mean(),
                "mean_control_before": xc.mean(),
                "mean_treated_after": mt_after.mean(),
                "mean_control_after": mc_after,
                "smd_before": (xt.mean() - xc.mean()) / sd,
                "smd_after": (mt_after.mean() - mc_after) / sd,
                "var_ratio_before": xt.var(ddof=1) / xc.var(ddof=1),
                "var_ratio_after": mt_after.var(ddof=1) / var_c_after
                if var_c_after > 0
                else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("covariate")
