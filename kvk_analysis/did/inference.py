"""Inference from influence functions: analytic standard errors and the multiplier bootstrap.

Conventions follow R ``did`` (``mboot.R``): an influence-function matrix ``inf`` of shape
``(n_units, k)`` is scaled so that ``theta_hat - theta ~ inf.mean(axis=0)``; clustering sums
the influence function within clusters (Callaway & Sant'Anna 2021, Remark 10).

Hand-written because no maintained Python library offers R ``did``'s multiplier bootstrap
(clustered influence-function sums, IQR-based standard errors, sup-t critical values).
The bootstrap is vectorised and blocked: the ``(biters, n_clusters)`` multiplier weights are
drawn a block of rows at a time (8 MB; the same weights as drawing them at once) and one
matrix product per block gives the draws of every parameter.  Weights are Rademacher by
default, as R ``did`` (``BMisc::multiplier_bootstrap``); Mammen's are an option.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
from scipy import special

from kvk_analysis.errors import EstimationError

#: R ``did``'s tolerance below which a standard error is treated as zero (degenerate)
_ZERO_SE = np.sqrt(np.finfo(float).eps) * 10
#: interquartile range of the standard normal
_IQR_NORMAL = float(special.ndtri(0.75) - special.ndtri(0.25))
#: fewer clusters than this gives a warning that the bootstrap is unreliable
MIN_CLUSTERS_WARN = 20

_SQRT5 = np.sqrt(5.0)

_P = ParamSpec("_P")
_R = TypeVar("_R")
_CONTROLLER = None


def single_threaded_blas(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with BLAS limited to one thread (threadpoolctl).

    The matrices here have a few hundred rows: multi-threaded BLAS only adds synchronisation,
    and on a machine whose cores are busy it is 5-100x slower (measured: a 430 x 54 cross
    product took 72 ms with 2 OpenBLAS threads on 2 busy cores, 0.07 ms with one).
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        global _CONTROLLER
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415

            _CONTROLLER = ThreadpoolController()
        with _CONTROLLER.limit(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class BootstrapResult:
    """Output of :func:`multiplier_bootstrap`.

    ``std_error`` is NaN for degenerate columns; ``critical_value`` is the ``1 - alp``
    quantile of the sup-t statistic over non-degenerate columns (NaN if none).
    """

    draws: np.ndarray
    std_error: np.ndarray
    critical_value: float


def cluster_sums(inf: np.ndarray, cluster_codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Sum influence-function rows within clusters.

    Parameters
    ----------
    inf : ndarray, shape (n, k)
        Influence functions.
    cluster_codes : ndarray of int, shape (n,)
        Cluster index ``0 .. n_clusters-1`` of each row.
    n_clusters : int
        Number of clusters.

    Returns
    -------
    ndarray, shape (n_clusters, k)
    """
    out = np.zeros((n_clusters, inf.shape[1]))
    np.add.at(out, cluster_codes, inf)
    return out


def analytic_se(inf: np.ndarray, cluster_codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Influence-function standard errors, cluster-robust when clusters are coarser than units.

    ``se_j = sqrt(sum_c S_cj**2) / n`` with ``S_c`` the cluster sum; with one unit per
    cluster this is R ``did``'s ``sqrt(mean(inf**2) / n)``.  Units as the estimates.
    """
    inf = np.atleast_2d(inf.T).T
    n = inf.shape[0]
    s = inf if n_clusters == n else cluster_sums(inf, cluster_codes, n_clusters)
    se = np.sqrt(np.einsum("ij,ij->j", s, s)) / n  # no n x k temporary
    se[se <= _ZERO_SE] = np.nan
    return se


def analytic_cov(inf: np.ndarray, cluster_codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Cluster-robust analytic covariance matrix ``S.T @ S / n**2`` of the estimates."""
    n = inf.shape[0]
    s = inf if n_clusters == n else cluster_sums(inf, cluster_codes, n_clusters)
    return s.T @ s / n**2


#: kinds of multiplier weights; R ``did`` (``BMisc::multiplier_bootstrap``) draws Rademacher
BOOTSTRAP_WEIGHTS = ("rademacher", "mammen")
#: bytes of multiplier weights (as float64) per block of the bootstrap: the memory it needs
#: does not grow with the number of draws
BLOCK_BYTES = 8 * 2**20


def _check_kind(kind: str) -> None:
    if kind not in BOOTSTRAP_WEIGHTS:
        raise EstimationError(
            f"bootstrap_weights must be one of {list(BOOTSTRAP_WEIGHTS)}, got {kind!r}"
        )


def _two_point_indicator(rng: np.random.Generator, rows: int, n_clusters: int, kind: str):
    """``(rows, n_clusters)`` 0/1 matrix ``M``: the weight is ``lo`` where ``M == 1``, else ``hi``.

    Rademacher: one random bit per weight, from whole 64-bit words per draw (the bits of
    ``Generator.bit_generator.random_raw``), as R's ``BMisc`` takes each weight from one bit
    of a random integer.  Mammen: a single-precision uniform per weight below
    ``(sqrt 5 + 1) / (2 sqrt 5)`` (exact to float32 resolution, 6e-8).  Every draw (row)
    consumes a fixed amount of the generator's stream, so drawing the rows in blocks gives
    exactly the weights of drawing them all at once.
    """
    if kind == "rademacher":
        words = -(-n_clusters // 64)
        raw = rng.bit_generator.random_raw(rows * words).astype("<u8", copy=False)
        bits = raw.view(np.uint8).reshape(rows, words * 8)
        return np.unpackbits(bits, axis=1, count=n_clusters, bitorder="little")
    p_lo = (_SQRT5 + 1) / (2 * _SQRT5)
    return rng.random((rows, n_clusters), dtype=np.float32) < np.float32(p_lo)


def _two_point_values(kind: str) -> tuple[float, float]:
    if kind == "rademacher":
        return -1.0, 1.0
    return (1 - _SQRT5) / 2, (1 + _SQRT5) / 2


def multiplier_weights(
    rng: np.random.Generator, biters: int, n_clusters: int, kind: str = "rademacher"
) -> np.ndarray:
    """Draw a ``(biters, n_clusters)`` matrix of mean-0, variance-1 multiplier weights.

    ``kind="rademacher"`` (R ``did``'s only choice: ``BMisc::multiplier_bootstrap``) uses
    +-1 with probability 1/2; ``kind="mammen"`` uses Mammen's two-point distribution
    ``(1 - sqrt 5)/2`` w.p. ``(sqrt 5 + 1)/(2 sqrt 5)`` and ``(1 + sqrt 5)/2`` otherwise
    (third moment 1).  These are exactly the weights :func:`multiplier_bootstrap` uses for the
    same generator state, whatever its block size.
    """
    _check_kind(kind)
    lo, hi = _two_point_values(kind)
    return hi + (lo - hi) * _two_point_indicator(rng, biters, n_clusters, kind).astype(float)


def block_rows(n_clusters: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Number of bootstrap draws per block so that a block of weights takes ``block_bytes``."""
    return max(1, int(block_bytes // (8 * max(n_clusters, 1))))


def weight_blocks(
    rng: np.random.Generator,
    biters: int,
    n_clusters: int,
    kind: str,
    block: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """The ``(biters, n_clusters)`` multiplier weights of :func:`multiplier_weights`, as
    ``(first draw, block of rows)`` pairs of at most ``block`` rows (default
    :func:`block_rows`: 8 MB).  The block array is reused: consume it before the next one.
    """
    block = block_rows(n_clusters) if block is None else max(1, int(block))
    buf = np.empty((min(block, biters), n_clusters))
    for b0, m in indicator_blocks(rng, biters, n_clusters, kind, block):
        v = buf[: len(m)]
        to_weights(m, kind, out=v)
        yield b0, v


def indicator_blocks(
    rng: np.random.Generator, biters: int, n_clusters: int, kind: str, block: int
) -> Iterator[tuple[int, np.ndarray]]:
    """The 0/1 matrices behind :func:`weight_blocks` (one byte per weight)."""
    _check_kind(kind)
    for b0 in range(0, biters, block):
        yield b0, _two_point_indicator(rng, min(block, biters - b0), n_clusters, kind)


def to_weights(m: np.ndarray, kind: str, out: np.ndarray) -> np.ndarray:
    """Multiplier weights ``hi + (lo - hi) * m`` from a 0/1 matrix, written into ``out``."""
    lo, hi = _two_point_values(kind)
    np.copyto(out, m, casting="unsafe")
    out *= lo - hi
    out += hi
    return out


def _weighted_sums(
    rng: np.random.Generator,
    biters: int,
    s: np.ndarray,
    kind: str,
    block: int | None = None,
) -> np.ndarray:
    """``V @ s`` for a fresh ``(biters, n_clusters)`` weight matrix ``V``, in blocks of draws.

    ``V`` is drawn ``block`` rows at a time (:func:`indicator_blocks`), so the memory does
    not depend on ``biters``; the weights are those :func:`multiplier_weights` draws from the
    same generator state, whatever the block size.  Two-point weights are ``hi + (lo - hi) M``
    with a 0/1 matrix ``M``, so ``V @ s = hi * colsum(s) + (lo - hi) * (M @ s)``.  One BLAS thread: on this project's shared
    2-core machine a second OpenBLAS thread made the product 10-30x slower when the other
    core was busy, and at most 2x faster when idle.
    """
    s = np.ascontiguousarray(s, dtype=np.float64)
    n_clusters = s.shape[0]
    lo, hi = _two_point_values(kind)
    block = block_rows(n_clusters) if block is None else max(1, int(block))
    out = np.empty((biters, s.shape[1]))
    buf = np.empty((min(block, biters), n_clusters))
    with _blas_limit(1):
        for b0, m in indicator_blocks(rng, biters, n_clusters, kind, block):
            # V @ s = hi * colsum(s) + (lo - hi) * (M @ s): one pass over the weights
            mf = buf[: len(m)]
            np.copyto(mf, m, casting="unsafe")
            part = out[b0 : b0 + len(m)]
            np.matmul(mf, s, out=part)
            part *= lo - hi
    out += hi * s.sum(axis=0)
    return out


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager:
    """BLAS limited to ``threads`` threads (``None``: as many as the machine has)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=threads or os.cpu_count() or 1, user_api="blas")


def multiplier_bootstrap(
    inf: np.ndarray,
    cluster_codes: np.ndarray,
    n_clusters: int,
    biters: int,
    alp: float,
    rng: np.random.Generator,
    kind: str = "rademacher",
    block: int | None = None,
) -> BootstrapResult:
    """Multiplier bootstrap of estimates with influence functions ``inf`` (as R ``mboot``).

    Parameters
    ----------
    inf : ndarray, shape (n, k)
        Influence functions (rows = units).
    cluster_codes, n_clusters
        Cluster of each unit; the influence function is summed within clusters and one
        weight is drawn per cluster.
    biters : int
        Number of bootstrap draws.
    alp : float
        Significance level of the uniform band.
    rng : numpy.random.Generator
        Source of randomness (reproducible with a seeded generator).
    kind : {"rademacher", "mammen"}
        Multiplier distribution (R ``did``: Rademacher).
    block : int or None
        Draws per block (default :func:`block_rows`); results do not depend on it.

    Returns
    -------
    BootstrapResult
        ``draws`` holds ``theta* - theta_hat`` (``biters x k``); standard errors are the
        normalised interquartile range of the draws, ``(q75 - q25) / (z75 - z25)``; the
        critical value is the ``1 - alp`` quantile of ``max_j |draw_j / se_j|``.
    """
    inf = np.atleast_2d(inf.T).T
    n = inf.shape[0]
    s = inf if n_clusters == n else cluster_sums(inf, cluster_codes, n_clusters)
    draws = _weighted_sums(rng, biters, s, kind, block)
    draws /= n
    return summarize_draws(draws, n, alp)


def summarize_draws(draws: np.ndarray, n: int, alp: float) -> BootstrapResult:
    """Standard errors and sup-t critical value from bootstrap draws ``V @ inf / n``.

    As R ``mboot``: the normalised interquartile range (quantile type 1), NaN for degenerate
    columns, and the ``1 - alp`` quantile of ``max_j |draw_j / se_j|``.
    """
    # quantile type 1 of R = numpy "inverted_cdf"
    q = np.quantile(draws, [0.25, 0.75], axis=0, method="inverted_cdf")
    se = (q[1] - q[0]) / _IQR_NORMAL
    ok = np.isfinite(se) & (se > _ZERO_SE / np.sqrt(n))
    se = np.where(ok, se, np.nan)
    crit = sup_t_critical(draws, se, alp)
    return BootstrapResult(draws=draws, std_error=se, critical_value=crit)


def sup_t_critical(draws: np.ndarray, se: np.ndarray, alp: float) -> float:
    """Critical value of the uniform (sup-t) band: ``1 - alp`` quantile of ``max_j |t_j|``.

    ``draws`` are bootstrap deviations ``theta* - theta_hat`` (``biters x k``) and ``se``
    their standard errors; columns with NaN ``se`` are ignored.  NaN if none is left.
    """
    ok = np.isfinite(se)
    if not ok.any():
        return float("nan")
    tmax = np.max(np.abs(draws[:, ok] / se[ok]), axis=1)
    tmax = tmax[np.isfinite(tmax)]
    if not tmax.size:
        return float("nan")
    return float(np.quantile(tmax, 1 - alp, method="inverted_cdf"))


def wald_pretest(
    att: np.ndarray, inf: np.ndarray, cluster_codes: np.ndarray, n_clusters: int
) -> tuple[float, int, float] | None:
    """Wald chi-square test that all entries of ``att`` are zero, analytic covariance.

    Returns ``(statistic, df, p_value)`` or ``None`` when the covariance is singular.
    """
    v = analytic_cov(inf, cluster_codes, n_clusters)
    if np.linalg.cond(v) > 1 / np.finfo(float).eps:
        return None
    stat = float(att @ np.linalg.solve(v, att))
    df = len(att)
    return stat, df, float(special.chdtrc(df, stat))  # chi2 upper tail
