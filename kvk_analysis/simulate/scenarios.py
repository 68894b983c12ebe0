"""Configuration of the simulated KVK register: :class:`SimulationConfig` and named scenarios.

Every knob of the data-generating process (DGP) is a field of the frozen dataclass
:class:`SimulationConfig`.  Named scenarios are preset configurations (``SCENARIOS``); the
``"default"`` scenario satisfies the identifying assumptions of the staggered difference-in-
differences estimators (parallel trends, no anticipation), the others each break one of them.

Units used throughout: rates and effects in **percent** and **percentage points (pp)** of
contracted days; time in quarters (``pandas.Period`` with freq ``Q``, written ``"2007Q2"``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InputError

#: The default seed: the day pulje I was admitted (28 March 2007).
DEFAULT_SEED = 20070328

#: Sectors of the KS extract, in the order written.
SECTORS = ("care", "education", "other")
#: Puljer (cohorts) in order.
PULJER = ("I", "II", "III", "IV")


@dataclass(frozen=True)
class SimulationConfig:
    """All parameters of the simulated register (see ``data/raw/demo/README.md`` for the DGP).

    Time and units
    --------------
    seed : int
        Seed of the ``numpy.random.Generator`` streams (one independent stream per component,
        spawned from ``numpy.random.SeedSequence(seed)``), so switching off noise keeps the
        same municipalities, levels and cohorts.
    start, end : str
        First and last quarter written (inclusive), e.g. ``"2005Q1"``, ``"2011Q4"``.

    Employees and contracted days
    -----------------------------
    employee_share_range : (float, float)
        Municipal employees as a share of population (fraction); smaller municipalities get the
        upper end (share falls linearly with standardised log population, clipped to the range).
    sector_shares : (float, float, float)
        Mean employee shares of care, education, other (fractions summing to 1).
    sector_share_concentration : float
        Dirichlet concentration of each municipality's sector shares around ``sector_shares``
        (larger = less variation).
    fte_share : float
        Mean full-time-equivalent share of an employee; contracted days = employees x weekdays
        of the quarter (:func:`kvk_analysis.periods.working_days`) x ``fte_share``.

    Untreated outcome (expected rate, percent)
    -----------------------------------------
    national_scale : float
        Municipal employees' sick leave relative to the SSB national series (x 1.4).
    sector_offsets_pp : (float, float, float)
        Level of care, education, other relative to the municipality's level (pp).
    sector_q3_extra_pp : (float, float, float)
        Extra Q3 (summer) trough of each sector beyond the national seasonal pattern (pp,
        negative); the same amount divided by three is added to Q1, Q2 and Q4 so the annual mean
        is unchanged.  Education's is deepest (school and kindergarten holidays).
    county_sd_pp : float
        Standard deviation of county levels (pp) for counties without a fixed level.
    county_levels_pp : tuple of (fylkesnr, pp)
        Fixed county levels (Rogaland lowest, Finnmark highest, per the calibration facts).
    size_slope_pp : float
        Level change per unit of log population (pp; positive: cities higher than small places).
    municipality_sd_pp : float
        Standard deviation of the idiosyncratic municipality level (pp).
    county_trend_sd_pp_per_year : float
        Standard deviation of county-specific linear trends (pp per year, centred on 2008Q1);
        0 switches them off (default: off, as they can break parallel trends with selection).

    Noise
    -----
    noise : bool
        ``False`` writes the expected lost days (no shocks, no count noise): the data then equal
        their expectation and any unbiased estimator recovers the truth exactly.
    shock_sd_pp, shock_ar : float
        Municipality x quarter shock common to the sectors: AR(1) with this marginal standard
        deviation (pp) and autocorrelation.
    dispersion : float
        Gamma-Poisson overdispersion: the rate multiplier of a cell is Gamma with mean 1 and
        shape ``employees / dispersion`` (coefficient of variation ``sqrt(dispersion /
        employees)``), then lost half-days are Poisson; small units are much noisier.
    self_certified_scale : float
        Self-certified rate = this x the SSB national self-certified rate (about 1 pp of
        contracted days); doctor-certified is the rest.

    Cohorts and selection
    ---------------------
    cohort_sizes : (int, int, int, int)
        Municipalities admitted in puljer I-IV (41, 49, 34, 21: 145 admissions).
    n_leavers : int
        Simulated participants leaving before the end (so ``145 - n_leavers`` remain, 138).
    selection_size_strength : float
        Log-odds weight of standardised log population in the selection of simulated
        participants (participants are larger).
    selection_level_strength : float or None
        Weight of the standardised pre-programme level; ``None`` calibrates it (bisection) so
        that the expected all-sector Q4 2008 gap between participants and the rest equals
        ``target_gap_pp``.
    target_gap_pp : float
        Participants' minus others' expected all-sector rate in ``gap_quarter`` (pp; KS:
        10.4 - 9.7 = 0.7 pp in 2008Q4).
    gap_quarter : str
        Quarter of the calibrated gap (``"2008Q4"``, KS's comparison quarter; the
        regression-to-the-mean scenario calibrates the high ``rtm_year`` instead).

    Planted effect (ATT on the expected rate, pp)
    ---------------------------------------------
    effect_pp : (float, float, float)
        Full effect on care, education, other (pp, negative = less sick leave).
    cohort_multipliers : (float, float, float, float)
        Multiplier of the effect for puljer I-IV.
    ramp_quarters : int
        Effect at event time e >= 0 is ``min((e + 1) / ramp_quarters, 1)`` x the full effect.
    programme_end : str
        Last quarter of the programme; afterwards the effect fades.
    fade_quarters : int or None
        Quarters after ``programme_end`` over which the effect fades linearly to
        ``persistence`` x its value; ``None``: no fading.
    persistence : float
        Share of the effect left after fading.

    Assumption breakers (off by default)
    ------------------------------------
    anticipation_quarters : int
        Quarters before the first treated quarter in which the effect already acts.
    anticipation_fraction : float
        Share of the full effect acting in those quarters.
    pretrend_pp_per_year : float
        Linear trend of participants' untreated outcome relative to the others (pp per year,
        zero at 2005Q1), continuing through the whole window.
    rtm_year : int
        Year of a transitory shock (regression to the mean).
    rtm_sd_pp : float
        Standard deviation of the transitory shock (pp) in ``rtm_year``; when > 0 selection is
        on the ``rtm_year`` level (permanent + transitory), so participants revert afterwards.
    size_effect_heterogeneity : float
        Effect multiplier ``1 + h x z`` with z the standardised log population (clipped at 0).
    dropouts_stop_effect : bool
        ``True``: the effect of a leaver stops from the quarter it leaves (it stays otherwise).
    missing_quarter_prob : float
        Probability that a municipality x quarter is written with empty cells.
    missing_block_units : int
        Municipalities whose first four quarters are absent from the extract.
    suppress_below_employees : int
        Lost-days cells of sectors with fewer employees are written as ``:`` (0: none).
    code_vintage : int or None
        ``None``: codes valid at the time (1503/1556 before 2008, 1505 after).  ``2024`` or
        ``2020``: rows re-coded and summed to that vintage's municipalities via the crosswalk;
        the 11 municipalities split between several successors are left out (no split key).
    """

    seed: int = DEFAULT_SEED
    start: str = "2005Q1"
    end: str = "2011Q4"
    # employees
    employee_share_range: tuple[float, float] = (0.10, 0.12)
    sector_shares: tuple[float, float, float] = (0.40, 0.35, 0.25)
    sector_share_concentration: float = 200.0
    fte_share: float = 0.78
    # untreated outcome
    national_scale: float = 1.4
    sector_offsets_pp: tuple[float, float, float] = (1.4, -1.1, -0.7)
    sector_q3_extra_pp: tuple[float, float, float] = (-0.3, -1.2, -0.4)
    county_sd_pp: float = 0.5
    county_levels_pp: tuple[tuple[str, float], ...] = (("11", -1.2), ("20", 1.5))
    size_slope_pp: float = 0.3
    municipality_sd_pp: float = 0.8
    county_trend_sd_pp_per_year: float = 0.0
    # noise
    noise: bool = True
    shock_sd_pp: float = 0.25
    shock_ar: float = 0.5
    dispersion: float = 6.0
    self_certified_scale: float = 1.0
    # cohorts and selection
    cohort_sizes: tuple[int, int, int, int] = (41, 49, 34, 21)
    n_leavers: int = 7
    selection_size_strength: float = 0.3
    selection_level_strength: float | None = None
    target_gap_pp: float = 0.7
    gap_quarter: str = "2008Q4"
    # effect
    effect_pp: tuple[float, float, float] = (-0.65, -0.30, -0.50)
    cohort_multipliers: tuple[float, float, float, float] = (1.2, 1.0, 0.9, 0.8)
    ramp_quarters: int = 4
    programme_end: str = "2009Q4"
    fade_quarters: int | None = 4
    persistence: float = 0.0
    # assumption breakers
    anticipation_quarters: int = 0
    anticipation_fraction: float = 0.5
    pretrend_pp_per_year: float = 0.0
    rtm_year: int = 2006
    rtm_sd_pp: float = 0.0
    size_effect_heterogeneity: float = 0.0
    dropouts_stop_effect: bool = False
    missing_quarter_prob: float = 0.0
    missing_block_units: int = 0
    suppress_below_employees: int = 0
    code_vintage: int | None = None

    def __post_init__(self) -> None:
        def bad(field: str, expected: str, found: object) -> InputError:
            return InputError(
                "invalid simulation setting", column=field, expected=expected, found=found
            )

        if abs(sum(self.sector_shares) - 1) > 1e-9:
            raise bad("sector_shares", "shares summing to 1", self.sector_shares)
        if len(self.cohort_sizes) != 4 or min(self.cohort_sizes) < 0:
            raise bad("cohort_sizes", "four non-negative counts", self.cohort_sizes)
        if self.ramp_quarters < 1:
            raise bad("ramp_quarters", "an integer >= 1", self.ramp_quarters)
        if self.code_vintage not in (None, 2020, 2024):
            raise bad("code_vintage", "None, 2020 or 2024", self.code_vintage)
        if not 0 <= self.missing_quarter_prob < 1:
            raise bad("missing_quarter_prob", "a probability in [0, 1)", self.missing_quarter_prob)
        if self.n_leavers < 0 or self.n_leavers > sum(self.cohort_sizes):
            raise bad("n_leavers", "between 0 and the number admitted", self.n_leavers)
        if self.dispersion <= 0:
            raise bad("dispersion", "a positive number", self.dispersion)

    def replace(self, **changes: object) -> SimulationConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def effect_free(self) -> bool:
        """True when no effect is planted (every effect parameter is zero)."""
        return all(v == 0 for v in self.effect_pp)


_DEFAULT = SimulationConfig()

#: Named scenarios: preset configurations (each breaks at most one assumption of the default).
SCENARIOS: dict[str, SimulationConfig] = {
    "default": _DEFAULT,
    # the effect starts two quarters before the programme start, at half strength
    "anticipation": _DEFAULT.replace(anticipation_quarters=2, anticipation_fraction=0.5),
    # participants' untreated sick leave drifts up by 0.25 pp a year relative to the others
    "pretrends": _DEFAULT.replace(pretrend_pp_per_year=0.25),
    # participants are selected on a transitory high 2006 (sd 1 pp) that disappears afterwards;
    # selection calibrated so they are 1.3 pp above the others in 2006Q4 (a bit above the
    # default's pre-programme gap), which mostly vanishes when the transitory part goes away
    "regression_to_mean": _DEFAULT.replace(rtm_sd_pp=1.0, gap_quarter="2006Q4", target_gap_pp=1.3),
    # larger municipalities get larger effects (1 + 0.5 z, z = standardised log population)
    "heterogeneous_size": _DEFAULT.replace(size_effect_heterogeneity=0.5),
    # 20 participants leave early and their effect stops when they leave
    "dropouts": _DEFAULT.replace(n_leavers=20, dropouts_stop_effect=True),
    # 3 % of municipality-quarters written empty; 10 municipalities lack the first year
    "missing_quarters": _DEFAULT.replace(missing_quarter_prob=0.03, missing_block_units=10),
    # lost days of sectors with fewer than 15 employees written as ':'
    "suppressed_cells": _DEFAULT.replace(suppress_below_employees=15),
    # an extract made today: rows re-coded and summed to 2024 municipalities
    "recoded_2024": _DEFAULT.replace(code_vintage=2024),
    # no effect at all (for size tests of estimators)
    "no_effect": _DEFAULT.replace(effect_pp=(0.0, 0.0, 0.0)),
}


def scenario(name: str = "default", **overrides: object) -> SimulationConfig:
    """The configuration of a named scenario, with optional field overrides (e.g. ``seed=1``).

    Raises :class:`~kvk_analysis.errors.InputError` for an unknown scenario name.
    """
    if name not in SCENARIOS:
        raise InputError(
            "unknown simulation scenario",
            column="scenario",
            expected="one of " + ", ".join(SCENARIOS),
            found=name,
        )
    cfg = SCENARIOS[name]
    return cfg.replace(**overrides) if overrides else cfg
