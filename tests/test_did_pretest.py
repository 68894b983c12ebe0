"""The event-study pre-trend test: size under parallel trends, power under diverging trends."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from kvk_analysis.did import att_gt, pretrend_test, simulate_staggered
from kvk_analysis.errors import EstimationError


def _fit(seed: int, pretrend_slope: float = 0.0, bstrap: bool = False, **kwargs):
    df = simulate_staggered(seed=seed)
    if pretrend_slope:
        treated = (df["gname"] > 0) & (df["period"] < df["gname"])
        # participants drift upwards relative to the others before they join
        df.loc[treated, "y"] += pretrend_slope * (df.loc[treated, "period"] - df["gname"][treated])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return att_gt(
            df,
            yname="y",
            tname="period",
            idname="id",
            gname="gname",
            bstrap=bstrap,
            seed=seed,
            **kwargs,
        )


def test_pretest_fields_and_agreement_with_event_study():
    res = _fit(1)
    test = pretrend_test(res, min_e=-4, seed=2)
    assert test.event_times == (-4, -3, -2, -1)
    assert test.method == "sup-t" and test.biters >= 999
    assert 0 < test.p_value <= 1 and test.critical_value > 1.96
    t = np.abs(np.array(test.estimates) / np.array(test.std_errors))
    assert test.statistic == pytest.approx(t.max())
    assert test.rejected == (test.p_value < 0.05)
    assert "event times -4..-1" in test.summary()
    wald = pretrend_test(res, min_e=-4, method="wald")
    assert wald.biters is None and wald.statistic > 0


def test_pretest_detects_diverging_pretrends():
    res = _fit(4, pretrend_slope=0.15)
    for method in ("sup-t", "wald"):
        assert pretrend_test(res, method=method, seed=1).p_value < 0.01


def test_pretest_universal_base_period_skips_reference():
    """With a universal base period event time -1 is the reference (0 by construction): it is
    not tested, so the Wald test has one degree of freedom per tested event time."""
    res = _fit(1, base_period="universal")
    wald = pretrend_test(res, min_e=-4, method="wald")
    assert wald.event_times == (-4, -3, -2)
    assert wald.p_value == pytest.approx(stats.chi2.sf(wald.statistic, 3))
    assert "chi2(3)" in wald.summary()
    sup = pretrend_test(res, min_e=-4, seed=2)
    assert sup.event_times == (-4, -3, -2) and np.isfinite(sup.std_errors).all()


def test_pretest_bad_arguments():
    res = _fit(2)
    with pytest.raises(EstimationError, match="method"):
        pretrend_test(res, method="f-test")
    with pytest.raises(EstimationError, match="negative"):
        pretrend_test(res, min_e=0)


def test_pretest_size_under_parallel_trends():
    """150 KVK-sized panels with parallel trends: the sup-t test rejects at about 5 %,
    while R did's all-cells Wald test rejects far too often (documented in the module)."""
    reps = 150
    sup, cells = [], []
    for s in range(reps):
        res = _fit(s, bstrap=False)
        sup.append(pretrend_test(res, seed=s).p_value < 0.05)
        cells.append(res.pretrend_test.p_value < 0.05)
    size = float(np.mean(sup))
    # MC standard error at 5 % with 150 reps is 1.8 pp: accept 1-10 %
    assert 0.01 <= size <= 0.10, size
    assert np.mean(cells) > 0.3
