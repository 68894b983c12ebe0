"""Project paths.  Every path is built from the project root; modules use these as defaults.

The root is the folder holding ``pyproject.toml`` of this project (the package is installed
in editable mode).  Set ``KVK_ROOT`` to work on another checkout or data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The project root: ``$KVK_ROOT`` if set, else the folder above the package."""
    env = os.environ.get("KVK_ROOT")
    if env:
        return Path(env).resolve()
    return PACKAGE_DIR.parent


ROOT = project_root()
DATA_DIR = ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = ROOT / "reports"
NOTEBOOKS_DIR = ROOT / "notebooks"

#: Raw inputs shipped with the project (each folder has a PROVENANCE.md or README.md).
MUNICIPALITIES_DIR = RAW_DIR / "municipalities"
COHORTS_DIR = RAW_DIR / "cohorts"
DEMO_DIR = RAW_DIR / "demo"
CALIBRATION_DIR = RAW_DIR / "calibration"

#: Analysis window of the default panel (inclusive), as quarter strings.
DEFAULT_START = "2005Q1"
DEFAULT_END = "2011Q4"
