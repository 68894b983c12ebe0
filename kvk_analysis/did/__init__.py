"""Callaway & Sant'Anna (2021) difference-in-differences with staggered adoption.

``att_gt`` estimates group-time effects ATT(g,t); ``aggte`` aggregates them (simple, event
study, cohort, calendar).  Both follow R ``did`` argument for argument and return result
objects with ``tidy()``, ``summary()`` and ``params``.  ``simulate_staggered`` generates a
staggered panel with a known effect for tests and benchmarks.
"""

from kvk_analysis.did.aggte import aggte
from kvk_analysis.did.att_gt import att_gt
from kvk_analysis.did.dgp import simulate_staggered, true_aggregates
from kvk_analysis.did.power import PretrendPower, pretrend_power
from kvk_analysis.did.pretest import EventStudyPretest, pretrend_test
from kvk_analysis.did.results import (
    TIDY_COLUMNS,
    AggteParams,
    AggteResult,
    ATTgtResult,
    DIDParams,
    Overall,
    PretrendTest,
)

__all__ = [
    "TIDY_COLUMNS",
    "ATTgtResult",
    "AggteParams",
    "AggteResult",
    "DIDParams",
    "EventStudyPretest",
    "Overall",
    "PretrendPower",
    "PretrendTest",
    "aggte",
    "att_gt",
    "pretrend_power",
    "pretrend_test",
    "simulate_staggered",
    "true_aggregates",
]
