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
from kvk_analysis.evaluation.sensitivity import event_study_vcov, honest_did, sensitivity_table
from kvk_analysis.evaluation.synth import (
    SynthResult,
    select_donors,
    simplex_least_squares,
    synth,
    synth_municipality,
)
from kvk_analysis.evaluation.twfe import (
    BaconResult,
    TWFEResult,
    bacon_decomposition,
    event_study_twfe,
    twfe,
)

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
    "dcdh_event_study",
    "gardner_did2s",
    "construct_original_cs",
    "create_sensitivity_results",
    "create_sensitivity_results_relative_magnitudes",
    "event_study_twfe",
    "event_study_vcov",
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
