"""kvk: analysis and evaluation suite for Kvalitetskommuneprogrammet (KVK), 2007-2009.

The public verbs are importable from the package root; they are loaded on first use so that
``import kvk_analysis`` (and the ``kvk`` command) start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    # data layer
    "read_sickleave": "kvk_analysis.readers",
    "read_registry": "kvk_analysis.cohorts",
    "first_treated_period": "kvk_analysis.cohorts",
    "registry_summary": "kvk_analysis.cohorts",
    "load_frame": "kvk_analysis.municipalities",
    "load_population": "kvk_analysis.municipalities",
    "harmonise_codes": "kvk_analysis.municipalities",
    "build_panel": "kvk_analysis.panel",
    "build_data": "kvk_analysis.build",
    # estimators
    "att_gt": "kvk_analysis.did",
    "aggte": "kvk_analysis.did",
    # evaluation toolkit
    "before_after_table": "kvk_analysis.evaluation",
    "twfe": "kvk_analysis.evaluation",
    "event_study_twfe": "kvk_analysis.evaluation",
    "bacon_decomposition": "kvk_analysis.evaluation",
    "match_controls": "kvk_analysis.evaluation",
    "synth": "kvk_analysis.evaluation",
    "sensitivity_table": "kvk_analysis.evaluation",
    "honest_did": "kvk_analysis.evaluation",
    "honest_sensitivity": "kvk_analysis.evaluation",
    "pretrend_power": "kvk_analysis.did",
    # simulated register
    "scenario": "kvk_analysis.simulate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kvk_analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
