"""Data-quality table: jumps, tiny units, gaps and suppressed cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kvk_analysis.quality import QUALITY_COLUMNS, data_quality_table
from kvk_analysis.readers.tidy import KEY_COLUMNS, TAIL_COLUMNS, VALUE_COLUMNS


def tidy(rows: list[tuple]) -> pd.DataFrame:
    """rows: (kommunenummer, quarter, lost, contracted, employees, status)."""
    df = pd.DataFrame(
        rows,
        columns=["kommunenummer", "period", "lost_days", "contracted_days", "employees", "status"],
    )
    df["period"] = pd.PeriodIndex(df["period"], freq="Q")
    df["sector"], df["measure"], df["source"] = "all", "total", "test"
    df["rate"] = df["lost_days"] / df["contracted_days"] * 100
    return df[KEY_COLUMNS + VALUE_COLUMNS + TAIL_COLUMNS]


def test_each_check_fires_once():
    df = tidy(
        [
            ("0101", "2008Q1", 600.0, 10000.0, 200.0, "ok"),
            ("0101", "2008Q2", 650.0, 10000.0, 200.0, "ok"),
            ("0101", "2008Q3", 1300.0, 10000.0, 200.0, "ok"),  # +6.5 pp jump
            ("0101", "2009Q1", 700.0, 10000.0, 200.0, "ok"),  # 2008Q4 missing; not consecutive
            ("0104", "2008Q1", 20.0, 300.0, 5.0, "ok"),  # tiny
            ("0104", "2008Q2", np.nan, 300.0, 5.0, "confidential"),  # tiny + suppressed
        ]
    )
    q = data_quality_table(df)
    assert list(q.columns) == QUALITY_COLUMNS
    counts = q["check"].value_counts().to_dict()
    assert counts == {"tiny_unit": 2, "jump": 1, "gap": 1, "suppressed": 1}
    jump = q[q["check"] == "jump"].iloc[0]
    assert jump["period"] == pd.Period("2008Q3") and jump["value"] == 6.5
    assert "from 2008Q2" in jump["detail"]
    gap = q[q["check"] == "gap"].iloc[0]
    assert gap["period"] == pd.Period("2008Q4") and gap["kommunenummer"] == "0101"
    sup = q[q["check"] == "suppressed"].iloc[0]
    assert sup["detail"] == "confidential"
    assert str(q["period"].dtype) == "period[Q-DEC]"


def test_thresholds_are_parameters():
    df = tidy(
        [
            ("0101", "2008Q1", 600.0, 10000.0, 200.0, "ok"),
            ("0101", "2008Q2", 900.0, 10000.0, 200.0, "ok"),
        ]
    )
    assert data_quality_table(df).empty
    q = data_quality_table(df, jump_pp=2.0, min_employees=500)
    assert sorted(q["check"]) == ["jump", "tiny_unit", "tiny_unit"]
    empty = data_quality_table(df)
    assert list(empty.columns) == QUALITY_COLUMNS


def test_units_are_not_mixed():
    """A jump is only measured within one municipality x sector x measure."""
    df = tidy(
        [
            ("0101", "2008Q1", 600.0, 10000.0, 200.0, "ok"),
            ("0104", "2008Q2", 1900.0, 10000.0, 200.0, "ok"),
        ]
    )
    assert data_quality_table(df).empty


def _reference_jumps_and_gaps(df: pd.DataFrame, jump_pp: float = 5.0) -> tuple[set, set]:
    """A plain per-unit loop, independent of the vectorised code: (jumps, gaps) as sets of
    (unit..., period, rounded value) / (unit..., period)."""
    unit = ["kommunenummer", "sector", "measure"]
    jumps, gaps = set(), set()
    for key, g in df.groupby(unit):
        g = g.sort_values("period")
        qs = [p.year * 4 + p.quarter - 1 for p in g["period"]]
        rates = list(g["rate"])
        for i in range(1, len(qs)):
            d = rates[i] - rates[i - 1]
            if qs[i] - qs[i - 1] == 1 and abs(d) > jump_pp:
                jumps.add((*key, str(g["period"].iloc[i]), round(d, 9)))
        for m in sorted(set(range(min(qs), max(qs) + 1)) - set(qs)):
            gaps.add((*key, str(pd.Period(year=m // 4, quarter=m % 4 + 1, freq="Q"))))
    return jumps, gaps


def test_vectorised_checks_match_a_per_unit_loop_on_random_panels():
    rng = np.random.default_rng(7)
    rows = []
    for code in ("0101", "0104", "0105", "0106"):
        quarters = pd.period_range("2005Q1", "2009Q4", freq="Q")
        keep = rng.random(len(quarters)) > 0.3  # holes, some several quarters long
        for p in quarters[keep]:
            contracted = 1000.0
            lost = rng.uniform(0, 150) if rng.random() > 0.1 else np.nan
            rows.append((code, str(p), lost, contracted, 50.0, "ok"))
    df = tidy(rows)
    df["sector"] = np.where(rng.random(len(df)) < 0.5, "care", "other")
    df.attrs["notes"] = ["a note"] * 1000  # attrs must not change the result
    q = data_quality_table(df)
    jumps, gaps = _reference_jumps_and_gaps(df)
    got_jumps = {
        (r.kommunenummer, r.sector, r.measure, str(r.period), round(r.value, 9))
        for r in q[q["check"] == "jump"].itertuples()
    }
    got_gaps = {
        (r.kommunenummer, r.sector, r.measure, str(r.period))
        for r in q[q["check"] == "gap"].itertuples()
    }
    assert jumps and gaps
    assert got_jumps == jumps and got_gaps == gaps
    assert len(q[q["check"] == "gap"]) == len(gaps)  # one row per missing quarter
