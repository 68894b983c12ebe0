"""Power of the event-study pre-test against linear violations of parallel trends (Roth 2022).

What could the report's pre-test (:func:`kvk_analysis.did.pretrend_test`) have detected?
For a linear differential trend of slope ``s`` (percentage points per quarter) the pre-period
event-study coefficients are ``beta_pre ~ N(mu(s), Sigma_pre)`` and the test rejects when
``max_t |beta_t| / se_t > c``: its power is ``1 - P(|beta_t| <= c se_t for all t)``, a
multivariate normal box probability (scipy's Genz algorithm), as in R ``pretrends``
(Roth 2022), whose test is the same box with ``c = qnorm(1 - alpha/2)`` ("any pre-period
coefficient significant").  The report's sup-t test uses the bootstrap critical value and
standard errors of :func:`pretrend_test`; the Wald variant rejects when
``beta' Sigma^-1 beta > chi2_{1-alpha}(df)`` (noncentral chi-square power).

The trend ``delta_t = s (t - r)``, ``r = -1 - anticipation`` the reference quarter, gives

* with a universal base period, pre-period coefficients ``s (e - r)`` (deviations from the
  reference quarter);
* with R's default varying base period, pre-period coefficients ``s`` (one-quarter changes);
* in both cases post-period coefficients ``s (e - r)``: the bias of each post-period
  estimate (``bias``).

``bias_conditional`` is the expected post-period estimate when the true effect is zero,
given that the pre-test did not reject (R ``pretrends``'s ``meanAfterPretesting``):
``mu_post + Sigma_21 Sigma_11^-1 (E[beta_pre | pass] - mu_pre)``, with the truncated mean
``E[beta_pre | pass]`` from Tallis's formula (box tests) or by simulation (Wald).

Written here because no maintained Python package implements Roth (2022); R's ``pretrends``
(jonathandroth/pretrends) is the reference (tests reproduce its He & Wang example).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from kvk_analysis.errors import EstimationError, InputError

__all__ = [
    "PretrendPower",
    "pretrend_power",
    "rejection_probability",
    "slope_for_power",
    "truncated_mean_box",
]


def _norm_pdf(x: float, sd: float) -> float:
    """Density of N(0, sd^2) at ``x``."""
    return math.exp(-0.5 * (x / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


#: Absolute error of the multivariate normal probabilities (Genz); the slope search lowers it
#: to :data:`_SLOPE_ABSEPS` while it runs.
_ABSEPS = [1e-5]

#: Absolute error of the power inside the slope search: ten times R ``mvtnorm::pmvnorm``'s
#: default (1e-3) and ten times cheaper than 1e-5; it moves the slopes by about 1e-4 / (d power
#: / d slope), far below R ``pretrends``'s ``uniroot`` tolerance (1e-4 absolute).
_SLOPE_ABSEPS = 1e-4


#: Results of :func:`_mvn_box` by their exact inputs (the integration is deterministic for
#: given inputs: fixed seed).  The slope search evaluates the power at 0 and at its upper
#: bracket more than once (once per target and once more inside ``brentq``).
_MVN_MEMO: dict[bytes, float] = {}
_MVN_MEMO_SIZE = 512


def _mvn_box(mean: np.ndarray, cov: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """P(lo <= X <= hi), X ~ N(mean, cov): scipy's Genz algorithm with a fixed seed (its
    quasi-Monte Carlo is randomised), absolute error about ``_ABSEPS[0]`` (1e-5; R
    ``mvtnorm::pmvnorm``'s default is 1e-3).  A repeated call with the same inputs returns
    the stored result (the same number scipy would give again)."""
    key = (
        b"|".join(
            np.ascontiguousarray(a, dtype=float).tobytes() for a in (mean, cov, lo, hi, _ABSEPS)
        )
        + repr((mean.shape, cov.shape)).encode()
    )
    hit = _MVN_MEMO.get(key)
    if hit is not None:
        return hit
    value = _mvn_box_scipy(mean, cov, lo, hi)
    if len(_MVN_MEMO) >= _MVN_MEMO_SIZE:
        _MVN_MEMO.clear()
    _MVN_MEMO[key] = value
    return value


def _mvn_box_scipy(mean: np.ndarray, cov: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    # scipy.stats only here, where it is needed: `import kvk_analysis.did` stays without it
    from scipy import stats

    mvn = stats.multivariate_normal(
        mean=mean,
        cov=cov,
        allow_singular=True,
        seed=0,
        maxpts=20_000 * mean.size,
        abseps=_ABSEPS[0],
        releps=0.0,
    )
    return float(mvn.cdf(hi, lower_limit=lo))


def _box_probability(mean: np.ndarray, cov: np.ndarray, ub: np.ndarray) -> float:
    """P(|X_i| <= ub_i for all i), X ~ N(mean, cov)."""
    if mean.size == 1:
        sd = math.sqrt(cov[0, 0])
        return float(special.ndtr((ub[0] - mean[0]) / sd) - special.ndtr((-ub[0] - mean[0]) / sd))
    return _mvn_box(mean, cov, -ub, ub)


def rejection_probability(
    beta_pre: Sequence[float],
    sigma_pre: Any,
    threshold: float | Sequence[float] = 1.959963984540054,
    se: Sequence[float] | None = None,
) -> float:
    """Probability that some ``|beta_t| / se_t`` exceeds ``threshold`` when
    ``beta ~ N(beta_pre, sigma_pre)`` (R ``pretrends``'s ``rejectionProbability_NIS``;
    ``se`` defaults to ``sqrt(diag(sigma_pre))``)."""
    mu = np.asarray(beta_pre, dtype=float).ravel()
    cov = np.atleast_2d(np.asarray(sigma_pre, dtype=float))
    sd = np.sqrt(np.diag(cov)) if se is None else np.asarray(se, dtype=float)
    ub = np.asarray(threshold, dtype=float) * sd
    return 1.0 - _box_probability(mu, cov, np.broadcast_to(ub, mu.shape).copy())


def truncated_mean_box(mean: Any, cov: Any, ub: Any) -> np.ndarray:
    """E[X | |X_i| <= ub_i for all i], X ~ N(mean, cov) (Tallis 1961; R
    ``tmvtnorm::mtmvnorm``'s mean)."""
    mu = np.asarray(mean, dtype=float).ravel()
    s = np.atleast_2d(np.asarray(cov, dtype=float))
    ub = np.asarray(ub, dtype=float).ravel()
    k = mu.size
    lo_c, hi_c = -ub - mu, ub - mu  # centred limits
    p = _box_probability_bounds(np.zeros(k), s, lo_c, hi_c)
    if p <= 0:
        raise EstimationError("the pre-test rejects with probability 1: no conditional mean")
    f = np.zeros(k)  # F_i(a_i) - F_i(b_i): marginal densities times conditional box probs
    for i in range(k):
        for bound, sign in ((lo_c[i], 1.0), (hi_c[i], -1.0)):
            dens = _norm_pdf(bound, math.sqrt(s[i, i]))
            if dens == 0:
                continue
            if k == 1:
                f[i] += sign * dens
                continue
            others = [j for j in range(k) if j != i]
            cond_mean = s[others, i] / s[i, i] * bound
            cond_cov = s[np.ix_(others, others)] - np.outer(s[others, i], s[i, others]) / s[i, i]
            prob = _box_probability_bounds(cond_mean, cond_cov, lo_c[others], hi_c[others])
            f[i] += sign * dens * prob
    return mu + s @ f / p


def _box_probability_bounds(
    mean: np.ndarray, cov: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> float:
    if mean.size == 1:
        sd = math.sqrt(cov[0, 0])
        return float(special.ndtr((hi[0] - mean[0]) / sd) - special.ndtr((lo[0] - mean[0]) / sd))
    return _mvn_box(mean, cov, lo, hi)


def slope_for_power(
    sigma: Any,
    target_power: float = 0.5,
    t_vec: Sequence[float] | None = None,
    reference_period: float = 0,
    alpha: float = 0.05,
    pre_period_indices: Sequence[int] | None = None,
) -> float:
    """Slope of a linear trend ``s (t - reference_period)`` that R ``pretrends``'s test (some
    pre-period coefficient significant at ``alpha``) detects with probability
    ``target_power`` (R ``slope_for_power``).  Power integrated to 1e-4 absolute (R's
    ``pmvnorm`` default: 1e-3), root found to 1e-7 relative (R's ``uniroot`` stops at about
    1e-4 absolute)."""
    cov = np.atleast_2d(np.asarray(sigma, dtype=float))
    t = np.arange(-cov.shape[0], 0) if t_vec is None else np.asarray(t_vec, dtype=float)
    pre = (
        np.flatnonzero(t < reference_period)
        if pre_period_indices is None
        else np.asarray(pre_period_indices)
    )
    sig_pre = cov[np.ix_(pre, pre)]
    rel = t[pre] - reference_period
    z = special.ndtri(1 - alpha / 2)
    return _solve_slope(lambda s: rejection_probability(rel * s, sig_pre, z), target_power, sig_pre)


def _solve_slope(power_fn, target: float, sig_pre: np.ndarray) -> float:
    upper = 8 * float(np.max(np.sqrt(np.diag(sig_pre))))
    f = lambda s: power_fn(s) - target  # noqa: E731
    saved = _ABSEPS[0]
    _ABSEPS[0] = max(saved, _SLOPE_ABSEPS)
    try:
        while f(upper) < 0:
            upper *= 2
            if upper > 1e6:
                raise EstimationError("no slope reaches the target power")
        return float(optimize.brentq(f, 0.0, upper, xtol=1e-9, rtol=1e-7))
    finally:
        _ABSEPS[0] = saved


@dataclass(frozen=True)
class PretrendPower:
    """Result of :func:`pretrend_power`.

    Attributes
    ----------
    slope_50, slope_80 : float
        Slope of a linear pre-trend (outcome units per quarter: percentage points for sick
        leave) that the pre-test detects with 50 % / 80 % probability.
    bias : DataFrame
        ``event_time, bias, bias_conditional``: the bias such a trend of slope ``slope_80``
        causes in each post-period estimate (pp), unconditionally and given that the
        pre-test did not reject.
    min_e : int
        Earliest event time of the pre-test.
    method : str
        ``"sup-t"``, ``"wald"`` or ``"pointwise"`` (R ``pretrends``'s test).
    critical_value : float
        Critical value of the test (max |t| or chi-square).
    event_times : tuple of int
        Pre-period event times tested.
    alpha : float
        Level of the test.
    base_period : str
        ``"universal"`` or ``"varying"`` (how a trend maps into pre-period coefficients).
    """

    slope_50: float
    slope_80: float
    bias: pd.DataFrame
    min_e: int
    method: str
    critical_value: float
    event_times: tuple[int, ...]
    alpha: float
    base_period: str
    _mu_unit: np.ndarray
    _sigma_pre: np.ndarray
    _se: np.ndarray

    def power(self, slope: float) -> float:
        """Probability that the pre-test rejects under a linear trend of ``slope`` (pp per
        quarter); at ``slope = 0`` it is the test's size under the normal approximation."""
        mu = self._mu_unit * float(slope)
        if self.method == "wald":
            df = mu.size
            nc = float(mu @ np.linalg.solve(self._sigma_pre, mu))
            if nc == 0:
                return float(special.chdtrc(df, self.critical_value))
            return float(1.0 - special.chndtr(self.critical_value, df, nc))
        return rejection_probability(mu, self._sigma_pre, self.critical_value, se=self._se)

    def summary(self) -> str:
        """One English sentence on what the pre-test could detect."""
        return (
            f"The pre-test ({self.method}, event times {min(self.event_times)}..."
            f"{max(self.event_times)}) detects a linear trend of {self.slope_50:.3f} per quarter "
            f"half of the time and one of {self.slope_80:.3f} with 80 % probability."
        )


def pretrend_power(
    dynamic: Any,
    *,
    min_e: int = -8,
    alpha: float = 0.05,
    method: str = "sup-t",
    n_sim: int = 20_000,
    seed: int | None = None,
    pretest: Any = None,
) -> PretrendPower:
    """Power of the event-study pre-test against linear trends (Roth 2022).

    Parameters
    ----------
    dynamic
        ``aggte(att_gt(...), type="dynamic")``: its covariance (``dynamic.vcov()``) is the
        covariance of the event-study coefficients.
    min_e
        Earliest event time tested (as :func:`pretrend_test`).
    alpha
        Level of the test.
    method
        ``"sup-t"`` (the report's test: max |t| with the multiplier-bootstrap critical value
        and standard errors of :func:`pretrend_test`), ``"wald"`` (chi-square) or
        ``"pointwise"`` (R ``pretrends``: some |t| > z_{1-alpha/2}, analytic SEs).
    n_sim
        Draws for the conditional bias under ``"wald"`` (the others are exact).
    seed
        Seed of the bootstrap (sup-t without ``pretest``) and of those draws.
    pretest
        The :class:`EventStudyPretest` the report shows (``pretrend_test(...)``): its
        event times, standard errors and critical value are used so that the power is the
        power of that very test.  Without it, the sup-t critical value is computed from
        ``dynamic``'s influence functions with the same multiplier bootstrap.

    Returns
    -------
    PretrendPower
    """
    if method not in ("sup-t", "wald", "pointwise"):
        raise InputError("unknown method", expected="sup-t, wald or pointwise", found=method)
    if getattr(dynamic, "type", None) != "dynamic":
        raise InputError(
            "needs a dynamic aggregation: aggte(result, type='dynamic')",
            expected="AggteResult with type 'dynamic'",
            found=getattr(dynamic, "type", type(dynamic).__name__),
        )
    if min_e >= 0:
        raise InputError("min_e must be negative", found=min_e)
    did = dynamic.params.did
    ref = -1 - int(did.anticipation)
    egt = np.asarray(dynamic.egt, dtype=int)
    inf = np.asarray(dynamic.influence_egt)
    vcov = np.asarray(dynamic.vcov(), dtype=float)
    tested = (egt >= min_e) & (egt < 0) & np.any(inf != 0, axis=0)
    if pretest is not None:
        if pretest.method != method:
            raise InputError(
                "pretest was run with another method", expected=method, found=pretest.method
            )
        tested = np.isin(egt, pretest.event_times)
    if not tested.any():
        raise EstimationError("no pre-treatment event time to test")
    idx = np.flatnonzero(tested)
    sig_pre = vcov[np.ix_(idx, idx)]
    df = idx.size
    if method == "pointwise":
        se = np.sqrt(np.diag(sig_pre))
        crit = float(special.ndtri(1 - alpha / 2))
    elif method == "wald":
        se = np.sqrt(np.diag(sig_pre))
        crit = float(special.chdtri(df, alpha))
    elif pretest is not None:
        se = np.asarray(pretest.std_errors, dtype=float)
        crit = float(pretest.critical_value)
    else:
        from kvk_analysis.did.inference import multiplier_bootstrap  # noqa: PLC0415

        rng = np.random.default_rng(did.seed if seed is None else seed)
        boot = multiplier_bootstrap(
            inf[:, idx],
            dynamic.cluster_codes,
            did.n_clusters,
            max(int(did.biters), 999),
            alpha,
            rng,
            kind=did.bootstrap_weights,
        )
        se = np.asarray(boot.std_error, dtype=float)
        crit = float(boot.critical_value)
    if pretest is not None and method != "sup-t":
        crit = float(pretest.critical_value)
    if did.base_period == "universal":
        mu_unit = (egt[idx] - ref).astype(float)
    else:
        mu_unit = np.ones(df)
    res = PretrendPower(
        slope_50=math.nan,
        slope_80=math.nan,
        bias=pd.DataFrame(),
        min_e=int(min_e),
        method=method,
        critical_value=crit,
        event_times=tuple(int(e) for e in egt[idx]),
        alpha=float(alpha),
        base_period=str(did.base_period),
        _mu_unit=mu_unit,
        _sigma_pre=sig_pre,
        _se=se,
    )
    s50 = _solve_slope(res.power, 0.5, sig_pre)
    s80 = _solve_slope(res.power, 0.8, sig_pre)
    post = np.flatnonzero(egt >= 0)
    mu_pre = mu_unit * s80
    mu_post = (egt[post] - ref) * s80
    if method == "wald":
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(mu_pre, sig_pre, size=n_sim, method="cholesky")
        stat = np.einsum("ij,ij->i", draws, np.linalg.solve(sig_pre, draws.T).T)
        passed = draws[stat <= crit]
        mean_pre = passed.mean(axis=0)
    else:
        mean_pre = truncated_mean_box(mu_pre, sig_pre, crit * se)
    s21 = vcov[np.ix_(post, idx)]
    cond = mu_post + s21 @ np.linalg.solve(sig_pre, mean_pre - mu_pre)
    bias = pd.DataFrame(
        {"event_time": egt[post].astype(int), "bias": mu_post, "bias_conditional": cond}
    )
    return PretrendPower(
        slope_50=s50,
        slope_80=s80,
        bias=bias,
        min_e=int(min_e),
        method=method,
        critical_value=crit,
        event_times=res.event_times,
        alpha=float(alpha),
        base_period=res.base_period,
        _mu_unit=mu_unit,
        _sigma_pre=sig_pre,
        _se=se,
    )
