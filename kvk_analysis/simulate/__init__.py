"""Simulated KVK sick-leave register with a planted, known truth (the embedded default data).

Real KS payroll-based sick-leave data per municipality cannot be distributed, so the main
command, the notebooks and the tests run on a simulated register in the real KS extract format.

Public API
----------
- :class:`SimulationConfig`, ``SCENARIOS``, :func:`scenario` - the knobs and named presets.
- :func:`simulate` - run the data-generating process -> :class:`SimulationResult`.
- :func:`write_demo` - write the demo files (KS extract, registry, truth, README).
- :func:`generate_demo` - ``simulate`` + ``write_demo`` (what ``kvk data demo`` runs).
- :func:`simulate_employee_level` - an employee-level extract of any size, streamed.
- :func:`national_comparison`, :func:`participants_table`, :func:`calibration_figure` -
  calibration checks (``kvk data calibration``).
"""

from __future__ import annotations

from .calibration import calibration_figure, national_comparison, participants_table
from .dgp import PULJE_DATES, SimulationResult, effect_multiplier, national_target, simulate
from .employee import simulate_employee_level
from .output import FILES, KS_COLUMNS, format_number, write_demo
from .scenarios import DEFAULT_SEED, SCENARIOS, SECTORS, SimulationConfig, scenario
from .truth import aggregate_truth, truth_table

__all__ = [
    "DEFAULT_SEED",
    "FILES",
    "KS_COLUMNS",
    "PULJE_DATES",
    "SCENARIOS",
    "SECTORS",
    "SimulationConfig",
    "SimulationResult",
    "aggregate_truth",
    "calibration_figure",
    "effect_multiplier",
    "format_number",
    "generate_demo",
    "national_comparison",
    "national_target",
    "participants_table",
    "scenario",
    "simulate",
    "simulate_employee_level",
    "truth_table",
    "write_demo",
]


def generate_demo(
    seed: int = DEFAULT_SEED, scenario_name: str = "default", out_dir=None
) -> tuple[SimulationResult, dict]:
    """Simulate scenario ``scenario_name`` with ``seed`` and write the demo files to ``out_dir``
    (default ``data/raw/demo``); returns the result and ``{kind: path}``."""
    result = simulate(scenario(scenario_name, seed=seed))
    return result, write_demo(result, out_dir)
