"""Reports: language (nb/en) texts, notebook display helpers, execution, HTML/PDF, batches.

Inside a report notebook::

    from kvk_analysis import report
    report.start(title, lang=lang, simulated=report.is_simulated(panel))
    report.figure(fig, "Sick leave by cohort")        # "Figur 1: ..."
    report.table(df, "Before and after")              # "Tabell 1: ..."
    report.say(report.text.summarise_overall(result, lang))
    report.record_results(results)                    # estimates for <name>/<name>.json

Outside: :func:`run_report` (execute + render), :func:`render_html`, :func:`render_pdf`,
``kvk report`` and ``kvk run`` (:mod:`kvk_analysis.report.cli`).
"""

from __future__ import annotations

import importlib
from typing import Any

from . import text
from .display import figure, is_simulated, key_figures, record_results, say, start, table, uses

_LAZY = {
    "execute_notebook": "kvk_analysis.report.execute",
    "run_report": "kvk_analysis.report.execute",
    "render_html": "kvk_analysis.report.render",
    "render_pdf": "kvk_analysis.report.render",
    "render_report": "kvk_analysis.report.render",
    "write_exports": "kvk_analysis.report.exports",
    "provenance_table": "kvk_analysis.report.provenance",
    "run_batch": "kvk_analysis.report.batch",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kvk_analysis.report' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "figure",
    "is_simulated",
    "key_figures",
    "record_results",
    "say",
    "start",
    "table",
    "text",
    "uses",
    *_LAZY,
]
