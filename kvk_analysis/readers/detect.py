"""Which reader fits a file: decided from its content, the extension only breaks ties."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from ..errors import InputError
from ..fileio import detect_encoding
from . import _text

__all__ = ["SOURCES", "detect_source", "detect_source_reason"]

#: Source names accepted by :func:`kvk_analysis.readers.read_sickleave`.
SOURCES = ("ks", "ks-employee", "ssb-csv", "ssb-jsonstat", "ssb-table")

_SNIFF = 256 * 1024
_TABLE_ROW = re.compile(r"^\s*\|?\s*\d{4}\s*\|?\s+\S.*?(\d[\d  ]*,\d|\s-\s|\|)", re.MULTILINE)
_QUARTER = re.compile(r"\d\.\s*kv(artal|\.)\s*\d{4}|\d{4}\s*[KQ][1-4]", re.IGNORECASE)


def _ks_kind(header: list[object]) -> str | None:
    names = {_text.norm_header(h) for h in header}
    if {"kommunenr", "kvartal", "sektor"} <= names:
        return "ks-employee" if "ansattnr" in names else "ks"
    return None


#: A line of a published table: a region label (``0101 Halden``, ``I ALT``, ``Østfold``,
#: ``Ugyldig``) followed by numbers, cells separated by ``|``, two spaces or one space.
_PUBLISHED_ROW = re.compile(
    r"^\s*\|?\s*(?:\d{4}\s*\|?\s+|\d{2}\s*\|?\s+)?[A-ZÆØÅ][^\d|]{1,40}?\s*\|?\s+"
    r"-?\d{1,3}(?:[ \u00a0]\d{3})*(?:,\d)?(?:\s*\|?\s+(?:-?\d{1,3}(?:[ \u00a0]\d{3})*(?:,\d+)?|\.\.|[.:-]))+"
    r"\s*\|?\s*$",
    re.MULTILINE,
)
_PUBLISHED_TITLE = re.compile(
    r"sykefravær\w*\s.*(?:etter\s+(?:bosted|arbeidssted)\w*|kvartalstall)", re.IGNORECASE
)


def detect_source_reason(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """:func:`detect_source` and the reason for its choice, in a sentence (for notes and
    ``kvk data convert``)."""
    return _detect(path, encoding)


def detect_source(path: str | Path, encoding: str | None = None) -> str:
    """The reader for a file; see :func:`_detect` (and :func:`detect_source_reason`)."""
    return _detect(path, encoding)[0]


def _detect(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """Return ``ks``, ``ks-employee``, ``ssb-csv``, ``ssb-jsonstat`` or ``ssb-table`` for a file.

    Looks at the content: an xlsx workbook or ``;`` text whose header has ``Kommunenr``,
    ``Kvartal`` and ``Sektor`` is KS (employee-level if it has ``Ansattnr``); a JSON object
    with ``dimension`` and ``value`` is JSON-stat; an HTML ``<table>`` or text with rows like
    ``0101 Halden  17 923 ...`` under a quarter heading is a published SSB table; quoted
    ``;``-separated rows with region labels and quarters are a StatBank CSV.  Raises
    :class:`InputError` if none fits.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path, expected="an existing file")
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF)
    if head.startswith(b"PK\x03\x04"):
        from .ks import xlsx_rows

        rows = xlsx_rows(path)
        kind = _ks_kind(rows[0][1]) if rows else None
        if kind:
            return kind, "an xlsx workbook whose first row has Kommunenr, Kvartal and Sektor"
        raise InputError(
            "an xlsx file, but its first row is not a KS header",
            path=path,
            row=rows[0][0] if rows else 1,
            expected="a header with Kommunenr, Kvartal and Sektor",
            found=rows[0][1] if rows else None,
        )
    cut = head.rfind(b"\n") if len(head) == _SNIFF else -1
    sample = head[: cut + 1] if cut > 0 else head
    text = sample.decode(encoding or detect_encoding(sample), errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        raw = path.read_bytes()  # the whole file: a JSON document cannot be judged by its head
        try:
            obj = json.loads(raw.decode(detect_encoding(raw)).lstrip("\ufeff"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            obj = None
        if isinstance(obj, dict) and (
            ("dimension" in obj and "value" in obj)
            or any(isinstance(v, dict) and "dimension" in v for v in obj.values())
        ):
            return "ssb-jsonstat", "a JSON object with 'dimension' and 'value' (JSON-stat)"
        raise InputError(
            "a JSON file, but not JSON-stat",
            path=path,
            expected="a JSON-stat dataset with 'dimension' and 'value'",
        )
    if re.search(r"<\s*(table|html)", text, re.IGNORECASE):
        return "ssb-table", "an HTML page with a <table> (a published SSB table page)"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines:
        tabbed = "\t" in lines[0] and ";" not in lines[0]  # Excel "Unicode text" uses tabs
        first = next(csv.reader([lines[0]], delimiter="\t" if tabbed else ";"))
        kind = _ks_kind(first)
        if kind:
            return kind, "a ';'-separated header with Kommunenr, Kvartal and Sektor (KS)" + (
                " and Ansattnr (employee level)" if kind == "ks-employee" else ""
            )
    quoted = sum(ln.lstrip().startswith('"') and any(d in ln for d in ";,\t") for ln in lines)
    if quoted >= 2 and _QUARTER.search(text):
        return "ssb-csv", "quoted, delimited rows with quarters (a StatBank CSV export)"
    published = len(_PUBLISHED_ROW.findall(text))
    title = _PUBLISHED_TITLE.search(text)
    piped = sum("|" in ln for ln in lines) >= 3
    form = "'|'-separated" if piped else "whitespace-aligned"
    if (published >= 2 or len(_TABLE_ROW.findall(text)) >= 2) and (_QUARTER.search(text) or title):
        why = f"{form} text with {max(published, len(_TABLE_ROW.findall(text)))} rows of a region and numbers"
        why += " under a title " + repr(title.group(0)[:70]) if title else " under quarter headings"
        return "ssb-table", why + " (a published SSB table)"
    if (
        sum(";" in ln for ln in lines) >= 2
        and _QUARTER.search(text)
        and re.search(r"\d{4} \S", text)
    ):
        return "ssb-csv", "';'-separated rows with quarters and region labels (a StatBank CSV)"
    raise InputError(
        "cannot tell what kind of sick-leave file this is",
        path=path,
        row=1,
        expected="a KS extract (header Kommunenr;Kvartal;Sektor;...), an SSB StatBank CSV or "
        "JSON-stat export, or a published SSB table; give --source to choose",
        found=lines[0][:80] if lines else "(empty file)",
    )
