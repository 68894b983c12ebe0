"""Older published SSB tables (text or HTML pages), e.g. "Sykefraværsdagsverk for
arbeidstakere med legemeldt sykefravær etter bostedskommune. 1. kvartal 2008 og 2009.
Kvartalstall".

Three physical forms, one logic:

* HTML (``<table>`` with ``<tr>``/``<th>``/``<td>``, read with the standard library's
  ``html.parser``; ``colspan`` is expanded so a group heading covers its columns);
* text with ``|`` between cells;
* whitespace-aligned text: cells are separated by two or more spaces (thousands use a single
  space, ``17 923``); a group heading line applies to the columns from its position up to the
  next group heading.

Meaning of the columns comes from the header: each value column gets a *kind* (``lost_days``
from "dagsverk", ``rate`` from "prosent", ``change`` from "endring", which is checked but not
emitted) and a *quarter* (``1. kvartal 2009``, ``1. kv. 2009``, ``2009K1`` or a bare year with
the quarter taken from the title).  Footnote digits glued to a year are dropped
(``1. kvartal 20091`` is 2009, footnote 1).  A column without a kind in its header gets one
from its values (integers -> days, decimals -> percent); this is reported in the notes.

Rows: ``0101 Halden`` (or code and name in separate cells) are municipalities.  ``I alt`` /
``Hele landet`` is the total: it is *not* a tidy row (kommunenummer must be a municipality) but
is returned in ``df.attrs["totals"]`` with kommunenummer ``"0000"`` and the sum of the
municipalities is checked against it (notes).  ``Ugyldig``/``Uoppgitt`` (invalid or unknown
municipality of residence) and county subtotals are reported in the notes and left out.

Tidy rows: both (all) quarters of each municipality, ``lost_days`` and ``rate`` as published,
``contracted_days`` NaN: it could be derived as lost/rate*100 only from a rate rounded to one
decimal, which is not exact, so it is not derived.  The rate is therefore the published one.
The measure comes from the title (legemeldt -> ``doctor_certified``, egenmeldt ->
``self_certified``, both -> ``total``); sector is ``all``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import NumberFormatError, parse_cell
from . import _ssb, _text
from .tidy import combine_status, finish

__all__ = ["read_ssb_table"]

_QUARTER_RE = re.compile(r"([1-4])\s*\.?\s*(?:kvartal|kv\.?)\s*(\d{4})(\d{0,2})", re.IGNORECASE)
_TITLE_QUARTER_RE = re.compile(r"([1-4])\s*\.\s*(?:kvartal|kv\.)", re.IGNORECASE)
_YQ_RE = re.compile(r"(\d{4})\s*[KkQq]([1-4])(\d{0,2})")
_YEAR_RE = re.compile(r"^\s*(\d{4})(\d{0,2})\s*\*?$")
_ROW_RE = re.compile(r"^\s*(\d{4})\s+(\S.*?)\s*$")
_COUNTY_RE = re.compile(r"^\s*(\d{2})\s+(\D.*?)\s*$")
_TOTAL = ("i alt", "hele landet", "alle kommuner", "landet i alt", "total")
_INVALID = ("ugyldig", "uoppgitt", "ukjent", "uoppgitt kommune", "ugyldig kommune")
_CELL_SPLIT = re.compile(r"\s{2,}|\t")


@dataclass
class _Row:
    line: int
    cells: list[str]
    spans: list[tuple[int, int]] = field(default_factory=list)


def _text_rows(text: str) -> tuple[list[_Row], str]:
    lines = text.splitlines()
    piped = sum("|" in ln for ln in lines) >= 3
    rows = []
    for i, ln in enumerate(lines, start=1):
        if not ln.strip():
            continue
        if piped and "|" in ln:
            parts = ln.strip()
            if parts.startswith("|"):
                parts = parts[1:]
            if parts.endswith("|"):
                parts = parts[:-1]
            if set(parts.replace("|", "").strip()) <= set("-=+ "):
                continue  # a ruler line like |----|----|
            rows.append(_Row(i, [c.strip() for c in parts.split("|")]))
        elif set(ln.strip()) <= set("-=_ "):
            continue  # ruler
        else:
            spans = [(m.start(), m.end()) for m in re.finditer(r"\S+(?: \S+)*", ln)]
            rows.append(_Row(i, [ln[s:e] for s, e in spans], spans))
    return rows, "pipe" if piped else "aligned"


class _TableParser(HTMLParser):
    """Rows of the first ``<table>`` (``colspan`` expanded), titles and text after the table.

    The standard library's HTML parser is enough for these flat tables (no lxml/html5lib
    needed); ``getpos()`` gives each row's line in the file for error messages.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[_Row] = []
        self.titles: list[str] = []
        self.after: list[str] = []
        self._tables = 0  # tables seen (only the first is read)
        self._depth = 0  # current <table> nesting
        self._row: list[str] | None = None
        self._row_line = 0
        self._cell: list[str] | None = None
        self._span = 1
        self._title: list[str] | None = None
        self._para: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            self._tables += 1
        elif self._depth and self._tables == 1:
            if tag == "tr":
                self._row, self._row_line = [], self.getpos()[0]
            elif tag in ("td", "th") and self._row is not None:
                self._cell = []
                span = dict(attrs).get("colspan") or "1"
                self._span = int(span) if span.isdigit() else 1
            elif tag == "caption":
                self._title = []
        elif tag in ("title", "h1", "h2", "h3"):
            self._title = []
        elif tag in ("p", "div") and self._tables:
            self._para = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth -= 1
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = " ".join("".join(self._cell).replace("\u00a0", " ").split())
            self._row.extend([text] * self._span)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if any(self._row):
                self.rows.append(_Row(self._row_line, self._row))
            self._row = None
        elif tag in ("title", "h1", "h2", "h3", "caption") and self._title is not None:
            text = " ".join("".join(self._title).split())
            if text and text not in self.titles:
                self.titles.append(text)
            self._title = None
        elif tag in ("p", "div") and self._para is not None:
            text = " ".join("".join(self._para).split())
            if text:
                self.after.append(text)
            self._para = None

    def handle_data(self, data: str) -> None:
        for buf in (self._cell, self._title, self._para):
            if buf is not None:
                buf.append(data)
                return


def _html_rows(text: str) -> tuple[list[_Row], list[str]]:
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    return parser.rows, parser.titles + [f"footnote: {a}" for a in parser.after]


def _label_kind(label: str) -> str | None:
    t = label.lower()
    if "endring" in t:
        return "change"
    if "prosent" in t or "%" in t:
        return "rate"
    if "avtalte" in t:
        return "contracted_days"
    if "dagsverk" in t:
        return "lost_days"
    return None


def _label_quarter(label: str, title_quarter: int | None) -> tuple[pd.Period | None, str | None]:
    """Quarter in a header label; the second item is a glued footnote number, if any."""
    m = _QUARTER_RE.search(label)
    if m:
        return pd.Period(year=int(m.group(2)), quarter=int(m.group(1)), freq="Q"), m.group(
            3
        ) or None
    m = _YQ_RE.search(label)
    if m:
        return pd.Period(year=int(m.group(1)), quarter=int(m.group(2)), freq="Q"), m.group(
            3
        ) or None
    m = _YEAR_RE.match(label)
    if m and title_quarter:
        return pd.Period(year=int(m.group(1)), quarter=title_quarter, freq="Q"), m.group(2) or None
    return None, None


def _classify_row(cells: list[str]) -> tuple[str, str, str, list[str]] | None:
    """``(kind, code, name, values)`` for a body row; ``None`` for header/title lines."""
    if not cells:
        return None
    # Leading label cells: text, empty cells, or a code followed by a name cell.
    label: list[str] = []
    i = 0
    while i < len(cells):
        c = cells[i].strip()
        nxt = cells[i + 1].strip() if i + 1 < len(cells) else ""
        is_code = re.fullmatch(r"\d{2}|\d{4}", c) is not None and nxt and not _is_value(nxt)
        if c and _is_value(c) and not is_code:
            break
        if c:
            label.append(c)
        i += 1
    first, rest = " ".join(label), cells[i:]
    if not first:
        return None
    low = first.lower().rstrip(":. ")
    if not rest or not all(_is_value(c) for c in rest):
        return None
    m = _ROW_RE.match(first)
    if m:
        return "municipality", m.group(1), m.group(2), rest
    if low.startswith(_TOTAL):
        return "total", "0000", first, rest
    if low.startswith(_INVALID):
        return "invalid", "", first, rest
    m = _COUNTY_RE.match(first)
    if m:
        return "county", m.group(1), m.group(2), rest
    return "other", "", first, rest


def _is_value(cell: str) -> bool:
    try:
        parse_cell(cell)
        return True
    except NumberFormatError:
        return False


def read_ssb_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read an older published SSB table (HTML, ``|``-separated or aligned text) into tidy rows.

    See the module docstring for how columns, totals and invalid rows are handled.
    ``lost_days`` in days, ``rate`` in percent as published, ``contracted_days`` NaN.
    """
    text, enc = _text.decode_located(path, encoding, None)  # BOM removed
    notes: list[str] = []
    if re.search(r"<table", text, re.IGNORECASE):
        rows, extra = _html_rows(text)
        form = "html"
        titles = [e for e in extra if not e.startswith("footnote: ")]
        footer = [e for e in extra if e.startswith("footnote: ")]
    else:
        rows, form = _text_rows(text)
        titles, footer = [], []
    kinds = [_classify_row(r.cells) for r in rows]
    anchored = [i for i, k in enumerate(kinds) if k is not None and k[0] != "other"]
    # Body: from the first to the last municipality/total/county row ("other" rows inside
    # are kept and reported; above the table they are headings such as "Kommune 2008 2009").
    body_idx = (
        [i for i in range(anchored[0], anchored[-1] + 1) if kinds[i] is not None]
        if anchored
        else []
    )
    if not body_idx:
        raise InputError(
            "no table rows found",
            path=path,
            expected="rows like '0101 Halden  17 923  21 124  3 201  5,3  6,0'",
        )
    first, last = body_idx[0], body_idx[-1]
    # Lines above the table: title lines, then header lines (those naming quarters/measures).
    header_rows: list[_Row] = []
    for r in rows[:first]:
        distinct = list(dict.fromkeys(c for c in r.cells if c))
        if len(distinct) >= 2:
            header_rows.append(r)  # headings over several columns
        else:
            titles.append(" ".join(distinct))  # one run of text: a title line
    for r in rows[last + 1 :]:
        footer.append("footnote: " + " ".join(r.cells))
    in_body = set(body_idx)
    for i in range(first, last + 1):
        if i not in in_body:
            notes.append(f"line {rows[i].line} ignored: {' '.join(rows[i].cells)!r}")
    title = " ".join(titles)
    tq = {int(m.group(1)) for m in _TITLE_QUARTER_RE.finditer(title)}
    title_quarter = tq.pop() if len(tq) == 1 else None

    body = [(rows[i], kinds[i]) for i in body_idx]
    width = max(len(b[3]) for _, b in body)
    for r, b in body:
        if len(b[3]) != width:
            raise InputError(
                "wrong number of values in a row",
                path=path,
                row=r.line,
                expected=f"{width} values as in the other rows",
                found=len(b[3]),
            )
    columns = _columns(header_rows, body, width, form, title_quarter)
    # Values.
    values = np.empty((len(body), width))
    status = np.empty((len(body), width), dtype=object)
    for j, (_r, b) in enumerate(body):
        for k, cell in enumerate(b[3]):
            values[j, k], status[j, k] = parse_cell(cell)
    # Data-driven kind for columns whose header says nothing.
    for k, col in enumerate(columns):
        if col["kind"] is None and col["quarter"] is not None:
            decimals = any("," in b[3][k] for _, b in body)
            col["kind"] = "rate" if decimals and np.nanmax(values[:, k]) <= 100 else "lost_days"
            notes.append(
                f"column {k + 1} ({col['label']!r}): kind not in header, read as {col['kind']} from its values"
            )
    used = [
        c
        for c in columns
        if c["kind"] in ("lost_days", "rate", "contracted_days") and c["quarter"] is not None
    ]
    if not used:
        raise InputError(
            "cannot tell which columns hold days or percentages for which quarter",
            path=path,
            row=header_rows[-1].line if header_rows else rows[first].line,
            expected="column headings with quarters (e.g. '1. kvartal 2009') under 'dagsverk'/'prosent'",
            found=" | ".join(c["label"] for c in columns),
        )
    for c in columns:
        if c not in used:
            notes.append(f"column {c['label']!r} ({c['kind'] or 'unknown'}) not emitted")
        if c["footnote"]:
            notes.append(f"column {c['label']!r}: footnote {c['footnote']} (see the footnotes)")
    quarters = sorted({c["quarter"] for c in used})
    measure = _ssb.measure_from_text(title)
    if measure is None:
        measure = "total"
        notes.append("the title does not say egenmeldt/legemeldt: measure taken as total")
    records = []
    for j, (r, b) in enumerate(body):
        kind, code, name, _ = b
        for q in quarters:
            rec = {
                "row_kind": kind,
                "kommunenummer": code,
                "name": name,
                "period": q,
                "_line": r.line,
            }
            sts = []
            for c in used:
                if c["quarter"] == q:
                    k = c["index"]
                    rec[c["kind"]] = values[j, k]
                    sts.append(status[j, k])
            rec["status"] = combine_status(*[pd.Series([s]) for s in sts]).iloc[0]
            records.append(rec)
    frame = pd.DataFrame.from_records(records)
    frame["sector"], frame["measure"] = "all", measure
    _check_change(columns, values, body, notes)
    munis = frame[frame["row_kind"] == "municipality"].drop(columns=["row_kind", "name"])
    tidy = finish(munis, f"ssb-table:{Path(path).name}")
    totals = frame[frame["row_kind"] == "total"].drop(columns=["row_kind", "name"])
    totals_tidy = finish(totals, f"ssb-table:{Path(path).name}") if len(totals) else None
    for _, row in frame[frame["row_kind"] == "invalid"].iterrows():
        notes.append(
            f"line {row['_line']}: row {row['name']!r} (invalid/unknown municipality) left out: "
            f"{_show(row.get('lost_days'))} lost days, rate {_show(row.get('rate'))} in "
            f"{row['period']} ({row['status']})"
        )
    for _, row in (
        frame[frame["row_kind"].isin(["county", "other"])].drop_duplicates("_line").iterrows()
    ):
        notes.append(
            f"line {row['_line']}: row {row['kommunenummer']} {row['name']!r} (not a municipality) left out"
        )
    if totals_tidy is not None and "lost_days" in frame:
        for q in quarters:
            total = totals_tidy.loc[totals_tidy["period"] == q, "lost_days"].sum(min_count=1)
            parts = frame.loc[
                (frame["period"] == q) & frame["row_kind"].isin(["municipality", "invalid"]),
                "lost_days",
            ]
            if pd.notna(total):
                diff = parts.sum() - total
                verdict = "equals" if abs(diff) < 0.5 else f"differs by {diff:+,.0f} from"
                notes.append(
                    f"{q}: municipalities plus invalid rows sum to {parts.sum():,.0f} lost days, which {verdict} the total row ({total:,.0f})"
                )
    tidy.attrs.update(
        source="ssb-table",
        encoding=enc,
        path=str(path),
        notes=[f"title: {title}", f"form: {form}", *notes, *footer],
        totals=totals_tidy,
        source_columns={
            kind: {str(c["quarter"]): c["label"] for c in used if c["kind"] == kind}
            for kind in ("lost_days", "rate", "contracted_days")
        }
        | {
            "kommunenummer": "(row label)",
        },
    )
    return tidy


def _columns(
    header_rows: list[_Row], body, width: int, form: str, title_quarter: int | None
) -> list[dict]:
    """Kind and quarter of each value column from the header lines."""
    labels = [[] for _ in range(width)]
    if form == "aligned":
        # Column positions from the body rows' value cells (right edge of numbers).
        spans = []
        for k in range(width):
            starts = [r.spans[-width + k][0] for r, _ in body]
            ends = [r.spans[-width + k][1] for r, _ in body]
            spans.append((min(starts), max(ends)))
        # Widen each column to its own heading (the last header line with one cell per
        # column), so that group headings are matched against the whole column.
        own = [
            hr
            for hr in header_rows
            if len([s for s in hr.spans if s[1] > spans[0][0] - 1]) == width
        ]
        if own:
            heads = [s for s in own[-1].spans if s[1] > spans[0][0] - 1]
            spans = [(min(a, c), max(b, d)) for (a, b), (c, d) in zip(spans, heads, strict=True)]
        for hr in header_rows:
            cells = list(zip(hr.cells, hr.spans, strict=True))
            # Drop the label column heading (it lies left of the first value column).
            cells = [(c, s) for c, s in cells if s[1] > spans[0][0] - 1]
            if not cells:
                continue
            if len(cells) == width:  # one heading per column
                for k, (c, _) in enumerate(cells):
                    labels[k].append(c)
                continue
            # Group headings: each covers the columns from its start to the next heading.
            starts = [s[0] for _, s in cells]
            for k, (s0, s1) in enumerate(spans):
                centre = (s0 + s1) / 2
                owner = None
                for g, st in enumerate(starts):
                    if st <= s1:
                        owner = g
                    if st > centre:
                        break
                if owner is None:
                    owner = 0
                labels[k].append(cells[owner][0])
    else:
        for hr in header_rows:
            cells = hr.cells
            # Align to the right: the value columns are the last ``width`` cells.
            offset = len(cells) - width
            if offset < 0:
                cells = cells + [""] * (-offset)
                offset = 0
            current = ""
            for k in range(width):
                c = cells[offset + k]
                if c:
                    current = c
                elif len(header_rows) > 1 and hr is not header_rows[-1]:
                    c = current  # an empty cell under a group heading continues it
                if c:
                    labels[k].append(c)
    out = []
    for k in range(width):
        own = labels[k][-1] if labels[k] else ""
        group = " ".join(labels[k][:-1])
        kind = _label_kind(own) or _label_kind(group)
        if _label_kind(own) is None and _label_kind(group) == "change":
            kind = "change"
        quarter, foot = _label_quarter(own, title_quarter)
        if quarter is None:
            quarter, foot = _label_quarter(group, title_quarter)
        out.append(
            {"index": k, "label": " / ".join(labels[k]), "kind": kind, "quarter": quarter, "footnote": foot,
             "group": _label_kind(group)}
        )  # fmt: skip
    return out


def _show(x: object) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:g}"


def _check_change(columns: list[dict], values: np.ndarray, body, notes: list[str]) -> None:
    """A days-change column should equal the difference of the two days columns."""
    days = [c for c in columns if c["kind"] == "lost_days" and c["quarter"] is not None]
    changes = [c for c in columns if c["kind"] == "change" and c["group"] in (None, "lost_days")]
    if len(days) != 2 or len(changes) != 1:
        return
    old, new = sorted(days, key=lambda c: c["quarter"])
    diff = values[:, new["index"]] - values[:, old["index"]]
    got = values[:, changes[0]["index"]]
    bad = np.flatnonzero(np.abs(diff - got) > 0.5)
    if len(bad):
        r = body[bad[0]][0]
        notes.append(
            f"column {changes[0]['label']!r}: change differs from the difference of the days in "
            f"{len(bad)} rows (first at line {r.line})"
        )
