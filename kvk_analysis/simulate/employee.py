"""Employee-level variant of the simulated register, for scale benchmarks of the readers.

Writes the KS employee-level form (docs/architecture.md)::

    Kommunenr;Kvartal;Sektor;Ansattnr;Kjonn;Stillingsprosent;Avtalte dagsverk;Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt

one row per employee x quarter, streamed in chunks so any size fits in memory.  The employees
of a municipality x sector x quarter cell of the aggregate simulation are expanded
(``scale`` x as many); each employee keeps an id, sex (78 % women) and position share across
quarters; absence days are drawn per employee around the cell's expected rate (a heavy-tailed
Gamma-Poisson for doctor-certified, Poisson for self-certified) and converted to dagsverk with
the position share, so the aggregate of the file has the cell's expected rate.  Not shipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..fileio import atomic_write
from .output import SECTOR_LABELS
from .scenarios import SECTORS, SimulationConfig

EMPLOYEE_COLUMNS = (
    "Kommunenr",
    "Kvartal",
    "Sektor",
    "Ansattnr",
    "Kjonn",
    "Stillingsprosent",
    "Avtalte dagsverk",
    "Tapte dagsverk egenmeldt",
    "Tapte dagsverk legemeldt",
)
#: Position shares (percent) and their probabilities.
POSITION_SHARES = np.array([100, 80, 75, 60, 50, 40, 20])
POSITION_PROBS = np.array([0.45, 0.15, 0.12, 0.10, 0.10, 0.05, 0.03])
#: Shape of the per-employee Gamma frailty of doctor-certified absence (small = heavy tail).
DOCTOR_SHAPE = 0.15


def _hash(x: np.ndarray) -> np.ndarray:
    """Cheap deterministic integer hash -> uniform in [0, 1) (for per-employee traits)."""
    h = (x.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFF)
    h ^= h >> np.uint64(17)
    h = (h * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFF)
    return (h % np.uint64(1_000_000)).astype(np.float64) / 1e6


def _tenths(x: np.ndarray) -> pd.Series:
    """Non-negative numbers < 10^6 as text with one decimal and a decimal comma (vectorised)."""
    t = np.rint(np.asarray(x) * 10).astype(np.int64)
    return pd.Series(t // 10).astype(str) + "," + pd.Series(t % 10).astype(str)


def simulate_employee_level(
    path: str | Path,
    *,
    n_rows: int | None = None,
    scale: float = 1.0,
    config: SimulationConfig | None = None,
    result=None,
    chunk_rows: int = 250_000,
) -> int:
    """Write an employee-level extract to ``path`` (atomically, in chunks); return rows written.

    Parameters
    ----------
    path
        Output CSV (``;``-separated, UTF-8, decimal comma).
    n_rows
        Stop after exactly this many data rows; ``scale`` is then set so that about this many
        rows cover the frame and window (every cell keeps at least one employee, so a small
        ``n_rows`` covers only the first municipalities).  ``None``: all rows at ``scale``.
    scale
        Employees per simulated employee (1.0: the realistic ~1 million municipal employees
        per quarter, about 30 million rows for 2005-2011).
    config
        The aggregate simulation to expand (default: the default scenario).
    result
        An already computed ``SimulationResult`` to expand instead (``config`` is then taken
        from it).
    chunk_rows
        Rows formatted and written per chunk (memory bound).
    """
    from .dgp import simulate

    if result is None:
        config = config or SimulationConfig()
        result = simulate(config)
    config = result.config
    cells = result.cells
    base_emp = cells["employees"].to_numpy(dtype=float)
    if n_rows is not None:
        scale = max(n_rows / base_emp.sum(), 1e-9) * 1.02
    n_emp = np.maximum(np.rint(base_emp * scale), 1).astype(np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(8)[7])
    sector_digit = cells["sector"].map({s: k + 1 for k, s in enumerate(SECTORS)}).to_numpy()
    code_num = cells["kommunenummer"].astype(int).to_numpy()
    labels = cells["sector"].map(SECTOR_LABELS).to_numpy()
    quarter = np.array([f"{p.year}K{p.quarter}" for p in cells["period"]])
    codes = cells["kommunenummer"].to_numpy()
    wd = cells["working_days"].to_numpy()
    rate = ((cells["lost_self"] + cells["lost_doctor"]) / cells["contracted_days"]).to_numpy()
    self_share = (
        cells["lost_self"] / (cells["lost_self"] + cells["lost_doctor"]).clip(lower=1e-9)
    ).to_numpy()

    total = 0
    limit = n_rows if n_rows is not None else int(n_emp.sum())
    bounds = np.cumsum(n_emp)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(";".join(EMPLOYEE_COLUMNS) + "\n")
        start_cell = 0
        while start_cell < len(cells) and total < limit:
            offset = bounds[start_cell - 1] if start_cell else 0
            stop_cell = int(np.searchsorted(bounds, offset + chunk_rows, side="right"))
            stop_cell = max(stop_cell, start_cell + 1)
            idx = np.arange(start_cell, min(stop_cell, len(cells)))
            reps = n_emp[idx]
            cell = np.repeat(idx, reps)
            j = np.arange(len(cell)) - np.repeat(np.cumsum(reps) - reps, reps)
            if total + len(cell) > limit:
                cell, j = cell[: limit - total], j[: limit - total]
            emp_id = code_num[cell] * 10_000_000 + sector_digit[cell] * 1_000_000 + j
            u_sex = _hash(emp_id)
            u_pos = _hash(emp_id + 7_777_777_777)
            pos = POSITION_SHARES[
                np.searchsorted(np.cumsum(POSITION_PROBS), u_pos, side="right").clip(max=6)
            ]
            days = wd[cell]
            mean_absent = days * rate[cell]
            mean_self = mean_absent * self_share[cell]
            mean_doc = mean_absent - mean_self
            frail = rng.gamma(DOCTOR_SHAPE, 1.0 / DOCTOR_SHAPE, size=len(cell))
            doc_days = np.minimum(rng.poisson(mean_doc * frail), days)
            self_days = np.minimum(rng.poisson(mean_self), days - doc_days)
            share = pos / 100.0
            chunk = pd.DataFrame(
                {
                    "Kommunenr": codes[cell],
                    "Kvartal": quarter[cell],
                    "Sektor": labels[cell],
                    "Ansattnr": emp_id.astype(str),
                    "Kjonn": np.where(u_sex < 0.78, "K", "M"),
                    "Stillingsprosent": pos.astype(str),
                    "Avtalte dagsverk": _tenths(days * share).to_numpy(),
                    "Tapte dagsverk egenmeldt": _tenths(self_days * share).to_numpy(),
                    "Tapte dagsverk legemeldt": _tenths(doc_days * share).to_numpy(),
                }
            )
            chunk.to_csv(fh, sep=";", header=False, index=False, lineterminator="\n")
            total += len(chunk)
            start_cell = idx[-1] + 1
    return total
