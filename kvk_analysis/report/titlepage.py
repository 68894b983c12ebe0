"""Title-page fields of a report (authors, institution, report number, date, preface), so a
research institute can issue a report under its own name.

A notebook calls :func:`title_page` after :func:`kvk_analysis.report.display.start`; the
fields travel to the renderer in the report metadata (key ``title_fields``) and the report
template (``templates/kvk/index.html.j2``) shows the non-empty ones on the title page.  An
empty ``date`` keeps the rendering date.
"""

from __future__ import annotations

from typing import Any

#: The title-page fields, in the order the template shows them.
TITLE_FIELDS = ("authors", "institution", "report_number", "date", "preface")


def title_fields(
    *,
    authors: Any = "",
    institution: str = "",
    report_number: str = "",
    date: str = "",
    preface: str = "",
) -> dict[str, str]:
    """The fields as strings (``authors`` may be a list: joined with commas)."""
    if isinstance(authors, list | tuple):
        authors = ", ".join(str(a).strip() for a in authors if str(a).strip())
    values = {
        "authors": authors,
        "institution": institution,
        "report_number": report_number,
        "date": date,
        "preface": preface,
    }
    return {k: str(v or "").strip() for k, v in values.items()}


def title_page(**fields: Any) -> dict[str, str]:
    """Record the title-page fields of the running report (see :func:`title_fields`);
    returns them."""
    from .display import META_MIME, _display

    values = title_fields(**fields)
    _display({META_MIME: {"title_fields": values}, "text/plain": ""})
    return values
