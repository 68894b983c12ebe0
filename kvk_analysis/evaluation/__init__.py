"""Evaluation toolkit beyond Callaway-Sant'Anna.

* :func:`before_after_table`: mean sick leave before vs after joining, participants vs
  comparison, by cohort and sector, with the 2x2 difference and a clustered standard error.
* :func:`twfe`, :func:`event_study_twfe`: two-way fixed effects DiD (pyfixest), and
  :func:`bacon_decomposition`: how much of TWFE rests on already-treated controls.
* :func:`compare_estimators`: Sun-Abraham, two-stage/imputation, de Chaisemartin-
  D'Haultfoeuille, stacked DiD, synthetic DiD and TWFE beside Callaway-Sant'Anna.
* :func:`match_controls`: matched comparison group with a balance table.
* :func:`synth`: synthetic control on any panel as R ``Synth`` (predictors, nested V,
  in-space placebos); :func:`synth_municipality`: one KVK municipality on a donor pool of
  comparable never-participants (:func:`select_donors`).
* :func:`sensitivity_table`, :func:`honest_did`: robustness of the overall ATT and
  Rambachan-Roth bounds on the event study.
* :func:`honest_sensitivity`, :func:`create_sensitivity_results`,
  :func:`create_sensitivity_results_relative_magnitudes`, :func:`construct_original_cs`:
  R ``HonestDiD`` (Rambachan & Roth 2023) in the core install (:mod:`.honest`).

Every estimator returns data or result objects and never prints, plots or writes files;
figures are in :mod:`kvk_analysis.plots`.  Outcome ``rate`` is in percent, effects in
percentage points.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# ``twfe`` and ``synth`` name both a submodule and a function: bound eagerly, so the function
# wins whichever is imported first (both modules are light: pyfixest is imported inside).
from kvk_analysis.evaluation.synth import synth
from kvk_analysis.evaluation.twfe import twfe

#: Public name -> submodule that defines it.  The submodules are imported on first use
#: (PEP 562), so ``import kvk_analysis.evaluation.twfe`` (or unpickling a result class) does
#: not pull statsmodels, pyfixest and the other estimators' dependencies.
_EXPORTS = {
    "before_after_table": "before_after",
    "EstimatorComparison": "estimators",
    "compare_estimators": "estimators",
    "dcdh_event_study": "estimators",
    "gardner_did2s": "estimators",
    "stacked_did": "estimators",
    "sun_abraham": "estimators",
    "synthetic_did": "estimators",
    "HonestResult": "honest",
    "construct_original_cs": "honest",
    "create_sensitivity_results": "honest",
    "create_sensitivity_results_relative_magnitudes": "honest",
    "honest_sensitivity": "honest",
    "MatchResult": "matching",
    "match_controls": "matching",
    "event_study_vcov": "sensitivity",
    "honest_did": "sensitivity",
    "sensitivity_table": "sensitivity",
    "SynthResult": "synth",
    "select_donors": "synth",
    "simplex_least_squares": "synth",
    "synth_municipality": "synth",
    "BaconResult": "twfe",
    "TWFEResult": "twfe",
    "bacon_decomposition": "twfe",
    "event_study_twfe": "twfe",
}

if TYPE_CHECKING:  # pragma: no cover - static analysis sees the eager imports
    from kvk_analysis.evaluation.before_after import before_after_table
    from kvk_analysis.evaluation.estimators import (
        EstimatorComparison,
        compare_estimators,
        dcdh_event_study,
        gardner_did2s,
        stacked_did,
        sun_abraham,
        synthetic_did,
    )
    from kvk_analysis.evaluation.honest import (
        HonestResult,
        construct_original_cs,
        create_sensitivity_results,
        create_sensitivity_results_relative_magnitudes,
        honest_sensitivity,
    )
    from kvk_analysis.evaluation.matching import MatchResult, match_controls
    from kvk_analysis.evaluation.sensitivity import (
        event_study_vcov,
        honest_did,
        sensitivity_table,
    )
    from kvk_analysis.evaluation.synth import (
        SynthResult,
        select_donors,
        simplex_least_squares,
        synth_municipality,
    )
    from kvk_analysis.evaluation.twfe import (
        BaconResult,
        TWFEResult,
        bacon_decomposition,
        event_study_twfe,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "BaconResult",
    "EstimatorComparison",
    "HonestResult",
    "MatchResult",
    "SynthResult",
    "TWFEResult",
    "bacon_decomposition",
    "before_after_table",
    "compare_estimators",
    "construct_original_cs",
    "create_sensitivity_results",
    "create_sensitivity_results_relative_magnitudes",
    "dcdh_event_study",
    "event_study_twfe",
    "event_study_vcov",
    "gardner_did2s",
    "honest_did",
    "honest_sensitivity",
    "match_controls",
    "select_donors",
    "sensitivity_table",
    "simplex_least_squares",
    "stacked_did",
    "sun_abraham",
    "synth",
    "synth_municipality",
    "synthetic_did",
    "twfe",
]
