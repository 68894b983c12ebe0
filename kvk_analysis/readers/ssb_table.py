"""Published SSB archive tables (``ssb.no/a/kortnavn/sykefratot/arkiv/tab-*.html``): HTML pages
and text copies of them, read from the header, not from a fixed layout.

Physical forms (:func:`layout_of` names them):

* ``html``: the page itself (``<table>``; ``colspan``/``rowspan`` expanded, so each value
  column has the stack of headings over it);
* ``pipe``: text with ``|`` between cells (header cells may break over lines);
* ``aligned``: text with two or more spaces between cells;
* ``spaced``: text where cells are separated by single spaces, like the thousands
  (``I ALT 7 333 014 683 557 6,2 6,4 3,9``): every way of grouping the digits into the
  row's number of values is considered and the numbers decide (see below).

The header (the lines between the title and the first table row) is cut into phrases
(:mod:`._ssbhead`): quarters (``2. kvartal 20061`` = 2006 with footnote 1, ``1. kvartal 2009 1``,
``2009K1``, a bare year or quarter), measures (``Sykefraværsdagsverk``, ``Sykefraværsprosent``,
``Endring siste år``, ``Prosentvis endring ...``, ``Avtalte dagsverk``, ``Arbeidstakere med
legemeldt sykefravær``, ``I prosent av alle arbeidstakere``), sexes and the row-label heading.
The last phrases (after the row-label heading) are the columns' own headings; the phrases before
them are group headings, each covering a run of adjacent columns.  Every way of laying the group
headings over the columns (one or two levels) gives a *reading*: a role per column (days,
rate, change of days/rate, percentage change, persons, ... of a quarter).  Readings whose
headings contradict each other are dropped; the others are **checked against the numbers**,
best-fitting header first:

* days, contracted days, persons and employees are whole numbers >= 0; rates lie in 0-100;
* a change column equals the difference of the two quarters it compares (to 1 day or
  0.15 percentage points); when the earlier quarter is not in the table, the earlier value it
  implies is not negative;
* a percentage change equals the relative change of the values it compares, allowing for
  their rounding to one decimal;
* the ``I alt`` row bounds the rows: no row, and not their sum, exceeds it.

The first reading that passes every check is used (the notes say which); when none does, one
:class:`~kvk_analysis.errors.InputError` names the file, the line and the column that could not be
placed under the closest reading, and why.

Rows: ``0101 Halden`` (or code and name in two cells) are municipalities; county names
(``Østfold``) or ``01 Østfold`` are counties: in a table of municipalities they are subtotals
(left out, noted), in a table of counties (``FYLKE``/``bostedsfylke``) they are its units, with
county numbers from the 2008 frame in ``kommunenummer`` and ``region_level = "county"``.
``I alt``/``Hele landet`` is the table's total: not a tidy row, kept in ``df.attrs["totals"]``
(kommunenummer ``"0000"``).  ``Ugyldig``/``Uoppgitt`` rows are left out (noted).  Rows
``Menn``/``Kvinner`` (section headings or sub-rows of a region) and sex headings give the
``sex`` column (``all``/``male``/``female``).

Definitions (from the title): ``doctor_certified`` (legemeldt, all lengths),
``doctor_certified_over3`` (legemeldt over 3 dager, the 2001-2002 tables),
``persons_doctor_certified`` (``Arbeidstakere med legemeldt sykefravær``: the count of persons in
``persons`` and the percent of employees in ``rate``), ``self_certified``, ``total``; other
series (sickness-benefit cases, long-term sick leave, disability) are refused with a message
saying what the table is.  ``unit_basis`` is ``residence`` (bosted) or ``workplace``
(arbeidssted).  ``preliminary`` is True for quarters a footnote calls preliminary
(``Foreløpige tall``), or, when the footnote text is not in the file, for the latest quarter
when only it carries a footnote.  ``contracted_days`` stays NaN (lost/rate*100 from a rate
rounded to one decimal is not exact).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import NumberFormatError, parse_cell
from . import _text
from ._ssbhead import Phrase, Role, merge, phrases
from .tidy import STATUS_ORDER, finish

__all__ = ["combine_tables", "layout_of", "read_ssb_table"]

_TOTAL = ("i alt", "hele landet", "alle kommuner", "landet i alt", "total", "landet")
_INVALID = ("ugyldig", "uoppgitt", "ukjent", "utlandet", "svalbard", "kontinentalsokkelen")
_SEX_ROWS = {"menn": "male", "kvinner": "female", "begge kjønn": "all", "mann": "male",
             "kvinne": "female"}  # fmt: skip
_TITLE_HINT = re.compile(
    r"kvartalstall|etter\s+(?:bosted|arbeidssted|kommune|fylke)|^\s*(?:tabell|table)\s+\d"
    r"|for\s+arbeidstakere|statistisk\s+sentralbyrå",
    re.IGNORECASE,
)
_LABEL_HEAD = re.compile(r"^(?:kommune|fylke|region|kode|bosted)\w*\s*(?:\||\s{2,}|$)", re.I)
_OTHER_SERIES = (
    ("sykepengetilfelle", "sickness-benefit cases"),
    ("tilfeller", "sick-leave or sickness-benefit cases (spells), not days or rates"),
    ("langtid", "long-term sickness absence"),
    ("over 8 uker", "long-term sickness absence"),
    ("over 16 dager", "sick leave beyond the employer period"),
    ("uføre", "disability benefits"),
    ("rehabilitering", "rehabilitation benefits"),
    ("attføring", "vocational rehabilitation"),
    ("arbeidsavklaring", "work assessment allowance"),
)
_DAYS_LIKE = ("days", "contracted", "employees", "persons")
#: Cap on the header readings checked against the numbers.
MAX_READINGS = 4000


@dataclass
class _Row:
    line: int
    cells: list[str]
    text: str = ""


@dataclass
class _Body:
    row: _Row
    kind: str  # municipality, county, total, invalid, sex, other
    code: str
    name: str
    options: list[list[str]]  # candidate value cells (several only in the spaced form)
    sex: str | None = None


@dataclass
class _Table:
    form: str
    title: str
    title_line: int | None
    header: list[Phrase]
    header_lines: list[int]
    body: list[_Body]
    footer: list[str]
    html_stacks: list[list[Phrase]] | None = None
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- physical form


class _TableParser(HTMLParser):
    """Every ``<table>`` of a page as rows of cells (``colspan``/``rowspan`` expanded, nested
    layout tables kept apart: text goes to the innermost open cell), and the page's text
    blocks (``<title>``, headings, ``<caption>``, paragraphs) with the number of tables opened
    before them, so that titles above and footnotes below the data table can be found."""

    _BLOCKS = ("title", "h1", "h2", "h3", "h4", "caption", "p", "div")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[_Row]] = []
        # (tables opened before, innermost open table or -1, tag, text)
        self.blocks: list[tuple[int, int, str, str]] = []
        self._stack: list[dict] = []  # open tables
        self._block: list[tuple[str, list[str], int]] = []

    def _top(self) -> dict | None:
        return self._stack[-1] if self._stack else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        top = self._top()
        if tag == "table":
            self.tables.append([])
            self._stack.append(
                {"id": len(self.tables) - 1, "row": None, "line": 0, "cell": None,
                 "span": (1, 1), "pending": {}}
            )  # fmt: skip
        elif top is not None and tag == "tr":
            top["row"], top["line"] = [], self.getpos()[0]
        elif top is not None and tag in ("td", "th") and top["row"] is not None:
            top["cell"] = []
            cs, rs = a.get("colspan") or "1", a.get("rowspan") or "1"
            top["span"] = (int(cs) if cs.isdigit() else 1, int(rs) if rs.isdigit() else 1)
        elif tag == "br":
            self._text("\n")
        elif tag == "sup":
            self._text(" ")
        if tag in self._BLOCKS:
            inside = self._stack[-1]["id"] if self._stack else -1
            self._block.append((tag, [], inside))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._text("\n")

    def _text(self, data: str) -> None:
        top = self._top()
        if self._block:
            self._block[-1][1].append(data)
        if top is not None and top["cell"] is not None:
            top["cell"].append(data)

    def handle_endtag(self, tag: str) -> None:
        top = self._top()
        if self._block and tag == self._block[-1][0]:
            name, parts, inside = self._block.pop()
            text = " ".join("".join(parts).split())
            if text:
                if self._block:  # nested block: its text belongs to the outer one too
                    self._block[-1][1].append(" " + text + " ")
                else:
                    self.blocks.append((len(self.tables), inside, name, text))
            return
        if tag == "table" and top is not None:
            self._stack.pop()
        elif (
            top is not None
            and tag in ("td", "th")
            and top["cell"] is not None
            and top["row"] is not None
        ):
            text = "".join(top["cell"]).replace("\u00a0", " ")
            text = "\n".join(" ".join(p.split()) for p in text.split("\n")).strip()
            top["row"].append((text, *top["span"]))
            top["cell"] = None
        elif top is not None and tag == "tr" and top["row"] is not None:
            cells: list[str] = []
            col = 0
            queue = list(top["row"])
            pending = top["pending"]
            while queue or col in pending:
                if col in pending:
                    text, left = pending[col]
                    cells.append(text)
                    if left <= 1:
                        del pending[col]
                    else:
                        pending[col] = (text, left - 1)
                    col += 1
                    continue
                text, cs, rs = queue.pop(0)
                for _ in range(cs):
                    if rs > 1:
                        pending[col] = (text, rs - 1)
                    cells.append(text)
                    col += 1
            if any(c.strip() for c in cells):
                self.tables[top["id"]].append(_Row(top["line"], cells))
            top["row"] = None

    def handle_data(self, data: str) -> None:
        self._text(data)


def _is_value(cell: str) -> bool:
    try:
        parse_cell(cell)
        return True
    except NumberFormatError:
        return False


_NUM_START = re.compile(r"^[-\u2212\u2013]?\d{1,3}(?:,\d+)?$")
_NUM_LONG = re.compile(r"^[-\u2212\u2013]?\d{4,}(?:,\d+)?$")
_NUM_GROUP = re.compile(r"^\d{3}(?:,\d+)?$")
_SYMBOL = {"..", "...", ".", ":", "-", "\u2013", "\u2212", "x"}


def _token_parses(tokens: list[str], limit: int = 64) -> list[list[str]]:
    """Every way to read single-space separated tokens as numbers (``7 333 014`` is one
    number or several); SSB symbols are one value each."""
    out: list[list[str]] = []

    def rec(i: int, acc: list[str]) -> None:
        if len(out) >= limit:
            return
        if i == len(tokens):
            out.append(list(acc))
            return
        t = tokens[i]
        if t in _SYMBOL or _NUM_LONG.match(t):
            rec(i + 1, acc + [t])
            return
        if not _NUM_START.match(t):
            return
        j = i + 1
        rec(j, acc + [t])
        if "," in t:
            return
        while j < len(tokens) and _NUM_GROUP.match(tokens[j]):
            rec(j + 1, acc + [" ".join(tokens[i : j + 1])])
            if "," in tokens[j]:
                break
            j += 1

    rec(0, [])
    return out


def _split_label(cells: list[str]) -> tuple[str, list[str]] | None:
    """Leading label cells (a code cell and a name cell, or one ``0101 Halden`` cell) and the
    value cells after them; ``None`` when the row is not ``label values...``."""
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
    rest = cells[i:]
    while rest and not rest[-1].strip():
        rest = rest[:-1]
    if not label or not rest or not all(_is_value(c) for c in rest):
        return None
    return " ".join(label), rest


def _split_tokens(text: str) -> tuple[str, list[list[str]]] | None:
    tokens = text.split()
    label: list[str] = []
    i = 0
    if tokens and re.fullmatch(r"\d{2}|\d{4}", tokens[0]) and len(tokens) > 1:
        if not _is_value(tokens[1]) and tokens[1] not in _SYMBOL:
            label.append(tokens[0])
            i = 1
    while i < len(tokens) and not (
        tokens[i] in _SYMBOL or re.match(r"^[-\u2212\u2013]?\d", tokens[i])
    ):
        label.append(tokens[i])
        i += 1
    if not label or i == len(tokens) or not any(ch.isalpha() for ch in " ".join(label)):
        return None
    options = _token_parses(tokens[i:])
    if not options:
        return None
    return " ".join(label), options


def _classify(label: str) -> tuple[str, str, str]:
    low = " ".join(label.lower().split()).rstrip(":. ")
    m = re.match(r"^(\d{4})\s+(\S.*)$", label.strip())
    if m:
        return "municipality", m.group(1), m.group(2)
    if low.startswith(_TOTAL) and not re.match(r"^landet\w", low):
        return "total", "0000", label
    if low.startswith(_INVALID):
        return "invalid", "", label
    if low in _SEX_ROWS:
        return "sex", _SEX_ROWS[low], label
    m = re.match(r"^(\d{2})\s+(\D.*)$", label.strip())
    if m:
        return "county", m.group(1), m.group(2)
    return "other", "", label


def _load(path: Path, text: str) -> _Table:
    if re.search(r"<table", text, re.IGNORECASE):
        return _load_html(path, text)
    lines = text.splitlines()
    piped = sum("|" in ln for ln in lines) >= 3
    rows: list[_Row] = []
    for i, ln in enumerate(lines, start=1):
        if not ln.strip():
            continue
        if piped and "|" in ln:
            s = ln.strip()
            s = s[1:] if s.startswith("|") else s
            s = s[:-1] if s.endswith("|") else s
            if set(s.replace("|", "").strip()) <= set("-=+ "):
                continue
            rows.append(_Row(i, [c.strip() for c in s.split("|")], ln))
        elif set(ln.strip()) <= set("-=_ "):
            continue
        else:
            rows.append(_Row(i, [c for c in re.split(r"\s{2,}|\t", ln.strip()) if c], ln))
    # body rows
    cand: list[tuple[int, str, list[list[str]]]] = []
    spaced = 0
    for k, r in enumerate(rows):
        got = _split_label(r.cells)
        if got is not None and (len(r.cells) > 1 or piped):
            cand.append((k, got[0], [got[1]]))
            continue
        if piped and "|" in r.text:
            continue
        tok = _split_tokens(r.text)
        if tok is not None:
            cand.append((k, tok[0], tok[1]))
            spaced += 1
    form = "pipe" if piped else ("spaced" if spaced > len(cand) / 2 else "aligned")
    return _assemble(path, form, rows, cand, [], [])


def _load_html(path: Path, text: str) -> _Table:
    parser = _TableParser()
    parser.feed(text)
    parser.close()
    # the data table: the one with the most rows of a region label and numbers
    best: tuple[int, int, list] = (-1, -1, [])
    for t, rows in enumerate(parser.tables):
        cand = []
        for k, r in enumerate(rows):
            got = _split_label(r.cells)
            if got is not None:
                cand.append((k, got[0], [got[1]]))
        score = sum(_classify(lbl)[0] != "other" or _is_region_name(lbl) for _, lbl, _ in cand)
        if score > best[0]:
            best = (score, t, cand)
    _, t, cand = best
    rows = parser.tables[t] if t >= 0 else []
    # titles: <title>, headings and title-like blocks before the table (or its caption);
    # footnotes: blocks after it
    titles, after = [], []
    for opened, inside, tag, block in parser.blocks:
        if inside == t and tag != "caption":
            continue  # a paragraph inside the data table's cells
        own_caption = tag == "caption" and opened == t + 1
        if own_caption or (
            opened <= t and (tag in ("title", "h1", "h2", "h3", "h4") or _TITLE_HINT.search(block))
        ):
            if block not in titles:
                titles.append(block)
        elif opened > t and tag != "caption":
            after.append(block)
    return _assemble(path, "html", rows, cand, titles, after)


def _assemble(path, form, rows, cand, titles, after) -> _Table:
    if not cand:
        raise InputError(
            "no table rows found",
            path=path,
            expected="rows like '0101 Halden | 30 609 | 631 | ...' under a header",
        )
    # The body runs from the first to the last row a region label anchors.
    kinds = {k: _classify(lbl) for k, lbl, _ in cand}
    anchored = [k for k, lbl, _ in cand if kinds[k][0] != "other" or _is_region_name(lbl)]
    if not anchored:
        anchored = [cand[0][0]]
    first, last = anchored[0], anchored[-1]
    # a sex heading line right above the first row ("Menn") opens the body, not the header
    while first > 0:
        above_cells = [c for c in rows[first - 1].cells if c.strip()]
        if len(above_cells) == 1 and above_cells[0].lower().rstrip(":. ") in _SEX_ROWS:
            first -= 1
        else:
            break
    by_k = {k: (lbl, opts) for k, lbl, opts in cand}
    body: list[_Body] = []
    notes: list[str] = []
    for k in range(first, last + 1):
        r = rows[k]
        if k in by_k:
            lbl, opts = by_k[k]
            kind, code, name = kinds[k]
            body.append(_Body(r, kind, code, name, opts))
        else:
            label = " ".join(c for c in r.cells if c).strip()
            low = label.lower().rstrip(":. ")
            if low in _SEX_ROWS:
                body.append(_Body(r, "sex_heading", _SEX_ROWS[low], label, []))
            else:
                notes.append(f"line {r.line} ignored: {label!r}")
    # Title and header lines above the body.
    above = rows[:first]
    title_idx = [i for i, r in enumerate(above) if _TITLE_HINT.search(" ".join(r.cells))]
    start = title_idx[-1] + 1 if title_idx else 0
    # a title sentence continued on the next lines ("... etter" / "bostedskommune. 1. kvartal")
    while start and start < len(above):
        nxt = " ".join(c for c in above[start].cells if c).strip()
        if nxt and (nxt[0].islower() or nxt[0] == "(") and not _LABEL_HEAD.match(nxt):
            start += 1
        else:
            break
    title_rows = above[:start]
    title = " ".join(titles + [" ".join(c for c in r.cells if c) for r in title_rows])
    title_line = title_rows[-1].line if title_rows else (above[0].line if above else None)
    header_rows = above[start:]
    footer = [f for f in after] + [" ".join(c for c in r.cells if c) for r in rows[last + 1 :]]
    stacks = None
    if form == "html":
        header_rows = [r for r in header_rows if len({c for c in r.cells if c}) >= 2 or
                       not _TITLE_HINT.search(" ".join(r.cells))]  # fmt: skip
        stacks = _html_stacks(header_rows, body)
        # the header as text too (colspan repeats removed), read like a text copy when the
        # cell structure does not give a consistent reading
        chunks = []
        for r in header_rows:
            cells = [c for i, c in enumerate(r.cells) if c and (i == 0 or c != r.cells[i - 1])]
            chunks.append((r.line, " | ".join(cells)))
        head = phrases(chunks)
    else:
        chunks = []
        for r in header_rows:
            cells = [c for c in r.cells if c]
            chunks.append((r.line, " | ".join(cells) if form == "pipe" else " | ".join(cells)))
        head = phrases(chunks)
    return _Table(
        form=form,
        title=title,
        title_line=title_line,
        header=head,
        header_lines=[r.line for r in header_rows],
        body=body,
        footer=footer,
        html_stacks=stacks,
        notes=notes,
    )


def _html_stacks(header_rows: list[_Row], body: list[_Body]) -> list[list[Phrase]]:
    width = max((len(b.options[0]) for b in body if b.options), default=0)
    stacks: list[list[Phrase]] = [[] for _ in range(width)]
    for r in header_rows:
        cells = (
            r.cells[-width:] if len(r.cells) >= width else [""] * (width - len(r.cells)) + r.cells
        )
        for k, c in enumerate(cells):
            if not c:
                continue
            ph = phrases([(r.line, c)])
            for p in ph:
                if p.label:
                    continue
                if stacks[k] and stacks[k][-1].text == p.text and stacks[k][-1].line == p.line:
                    continue
                if stacks[k] and stacks[k][-1].text == p.text:  # rowspan repeat
                    continue
                stacks[k].append(p)
    return stacks


_COUNTIES: dict[str, str] = {}


def _county_numbers() -> dict[str, str]:
    """County name (lower case) -> county number, from the 2008 municipality frame."""
    if _COUNTIES:
        return _COUNTIES
    from ..municipalities import load_frame

    frame = load_frame(2008)
    names = frame.drop_duplicates("fylkesnr")
    _COUNTIES.update(
        {
            " ".join(n.lower().split()): c
            for n, c in zip(names["fylke"], names["fylkesnr"], strict=True)
        }
    )
    return _COUNTIES


def _is_region_name(label: str) -> bool:
    return " ".join(label.lower().split()) in _county_numbers()


# ----------------------------------------------------------------------------- readings


@dataclass
class _Reading:
    roles: list[Role]
    penalty: int
    description: str


def _compositions(n: int, k: int):
    """Ways to cut ``n`` columns into ``k`` runs of at least one column (equal runs first:
    headings such as sexes or quarters usually cover the same number of columns)."""
    if k == 0:
        if n == 0:
            yield ()
        return
    equal = None
    if n % k == 0:
        equal = (n // k,) * k
        yield equal
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = (0, *cuts, n)
        sizes = tuple(bounds[i + 1] - bounds[i] for i in range(k))
        if sizes != equal:
            yield sizes


def _mixes_sex(level: list[Phrase]) -> int:
    """1 when a row of group headings mixes sexes with other headings (sexes form a row of
    their own in SSB's tables)."""
    kinds = {p.sex is not None for p in level}
    return int(len(kinds) > 1)


def _cover(groups: list[Phrase], sizes: tuple[int, ...]) -> list[list[Phrase]]:
    out = []
    for g, s in zip(groups, sizes, strict=True):
        out.extend([[g]] * s)
    return out


def _readings(table: _Table, width: int) -> tuple[list[_Reading], str]:
    """Candidate readings of the header, best-fitting first, and a description of the
    header (for error messages)."""
    html: list[_Reading] = []
    if table.html_stacks is not None:
        stacks = [list(s) for s in table.html_stacks]
        roles = [merge(s) for s in stacks]
        if len(stacks) == width and not any(r is None for r in roles):
            html = [_Reading(roles, sum(r.penalty for r in roles), "HTML header cells")]  # type: ignore[arg-type,union-attr]
    head = list(table.header)
    labels = [i for i, p in enumerate(head) if p.label]
    body_phrases = [p for p in head if not p.label]
    shown = " | ".join(p.text for p in body_phrases)
    leaf_sets: list[tuple[list[Phrase], list[Phrase], int]] = []
    if labels:
        after = [p for p in head[labels[-1] + 1 :] if not p.label]
        before = [p for p in head[: labels[-1]] if not p.label]
        if len(after) == width:
            leaf_sets.append((before, after, 0))
    if len(body_phrases) >= width:
        leaf_sets.append((body_phrases[: len(body_phrases) - width], body_phrases[-width:], 1))
    out: list[_Reading] = []
    seen: set[tuple] = set()
    for groups, leaves, base_pen in leaf_sets:
        # A group heading naming a sex once covers the whole table.
        sexes = [g for g in groups if g.sex is not None]
        whole: list[Phrase] = []
        if len(sexes) == 1:
            whole = sexes
            groups = [g for g in groups if g.sex is None]
        g = len(groups)
        plans: list[tuple[list[list[list[Phrase]]], str]] = []
        if g == 0:
            plans.append(([], "column headings only"))
        else:
            if g <= width:
                for sizes in _compositions(width, g):
                    plans.append(([_cover(groups, sizes)], f"group headings over {sizes} columns"))
                    if len(plans) > MAX_READINGS:
                        break
            splits = sorted(
                range(1, g),
                key=lambda s: (_mixes_sex(groups[:s]) + _mixes_sex(groups[s:]), abs(2 * s - g)),
            )
            for s in splits:
                top, low = groups[:s], groups[s:]
                if len(low) > width or len(top) > width:
                    continue
                n_before = len(plans)
                for st in _compositions(width, len(top)):
                    for sl in _compositions(width, len(low)):
                        plans.append(
                            (
                                [_cover(top, st), _cover(low, sl)],
                                f"two rows of group headings {st} / {sl}",
                            )
                        )
                        if len(plans) - n_before > MAX_READINGS // 4:
                            break
                    if len(plans) - n_before > MAX_READINGS // 4:
                        break
        for levels, desc in plans:
            stacks = [whole + [lv[k][0] for lv in levels] + [leaves[k]] for k in range(width)]
            roles = [merge(s) for s in stacks]
            if any(r is None for r in roles):
                continue
            key = tuple((r.kind, r.base, r.quarter, r.year, r.sex) for r in roles)  # type: ignore[union-attr]
            if key in seen:
                continue
            seen.add(key)
            pen = base_pen + sum(r.penalty for r in roles)  # type: ignore[union-attr]
            pen += sum(_mixes_sex([lv[k][0] for k in range(width)]) for lv in levels)
            out.append(_Reading(list(roles), pen, desc))  # type: ignore[arg-type]
    for r in out:
        if html:
            r.penalty += 1  # the HTML cell structure, when consistent, comes first
            r.description = "the header text (" + r.description + ")"
    out.sort(key=lambda r: r.penalty)
    return html + out, shown


# ----------------------------------------------------------------------------- numbers


@dataclass
class _Col:
    index: int
    kind: str
    base: str | None
    period: pd.Period | None
    compare: pd.Period | None
    sex: str | None
    label: str
    footnotes: tuple[str, ...]
    inferred: bool = False


def _complete(
    roles: list[Role], decimals: np.ndarray, title_q: int | None, title_y: int | None
) -> tuple[list[_Col] | None, int | None]:
    """Fill years/quarters a heading leaves implicit; ``(None, k)`` if column ``k`` stays
    unplaced."""
    cols: list[_Col] = []
    known = [r for r in roles if r.quarter is not None and r.year is not None]
    for k, r in enumerate(roles):
        kind, base, q, y = r.kind, r.base, r.quarter, r.year
        inferred = False
        if kind is None:
            kind = "rate" if decimals[k] else "days"
            inferred = True
        if kind == "change" and base is None:
            base = "rate" if decimals[k] else "days"
        if q is None and y is not None:
            q = title_q
        if y is None and q is not None:
            same = [x.year for x in known if x.quarter == q]
            y = (
                max(same)
                if same and kind in ("change", "pct_change")
                else (title_y if title_y else (max(same) if len(set(same)) == 1 else None))
            )
        if q is None and y is None and kind in ("change", "pct_change"):
            pass  # placed below from the columns it compares
        elif q is None or y is None:
            return None, k
        period = pd.Period(year=y, quarter=q, freq="Q") if q and y else None
        cols.append(
            _Col(k, kind, base, period, None, r.sex, " / ".join(r.labels), r.footnotes, inferred)
        )
    for c in cols:
        if c.kind not in ("change", "pct_change"):
            continue
        same = sorted({x.period for x in cols if x.kind == c.base and x.period is not None
                       and x.sex == c.sex})  # fmt: skip
        if c.period is None:
            if len(same) < 2:
                if len(same) == 1:
                    c.period, c.compare = same[0], same[0] - 4
                    continue
                return None, c.index
            c.period, c.compare = same[-1], same[0] if len(same) == 2 else same[-1] - 4
        else:
            c.compare = c.period - 4
    keys = [(c.kind, c.base, c.period, c.sex) for c in cols]
    if len(set(keys)) != len(keys):
        dup = next(i for i, key in enumerate(keys) if keys.index(key) != i)
        return None, dup
    return cols, None


def _unverified(cols: list[_Col]) -> int:
    """Change columns whose compared values are not in the table (their reading cannot be
    checked against the numbers): a reading that can be checked is preferred."""
    have = {(c.kind, c.period, c.sex) for c in cols}
    n = 0
    for c in cols:
        if c.kind not in ("change", "pct_change"):
            continue
        base = c.base or "days"
        ok = (base, c.period, c.sex) in have and (base, c.compare, c.sex) in have
        derivable = c.kind == "pct_change" and any(
            x.kind == "change" and x.base == base and x.period == c.period for x in cols
        )
        if not ok and not derivable:
            n += 1
    return n


@dataclass
class _Failure:
    col: int
    row: int  # index into the checked rows (the first that fails)
    expected: str
    found: object
    n: int = 1  # rows that fail


def _check(
    cols: list[_Col], vals: np.ndarray, dec: np.ndarray, kinds: list[str]
) -> tuple[list[_Failure], float]:
    """Failures of the numeric checks and a misfit score (implied contracted-days growth)."""
    fails: list[_Failure] = []
    by = {
        (c.kind, c.base if c.kind in ("change", "pct_change") else None, c.period, c.sex): c
        for c in cols
    }

    def get(kind: str, period, sex) -> np.ndarray | None:
        c = by.get((kind, None, period, sex))
        if c is None and kind == "rate":  # a persons table's percent of employees
            c = by.get(("persons_rate", None, period, sex))
        if c is None and kind == "days":
            c = by.get(("persons", None, period, sex))
        return vals[:, c.index] if c is not None else None

    def fail(c: _Col, mask: np.ndarray, expected: str, found: np.ndarray) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            fails.append(_Failure(c.index, int(bad[0]), expected, _num(found[bad[0]]), len(bad)))

    kinds_arr = np.array(kinds)
    # the rows that add up to the total: municipalities (county rows are then subtotals) or,
    # in a county table, the counties; plus the invalid/unknown row
    units = "municipality" if (kinds_arr == "municipality").any() else "county"
    region = np.isin(kinds_arr, [units, "invalid"])
    total = np.flatnonzero(kinds_arr == "total")
    for c in cols:
        v = vals[:, c.index]
        ok = ~np.isnan(v)
        if c.kind in _DAYS_LIKE or (c.kind == "change" and c.base in _DAYS_LIKE):
            fail(c, ok & dec[:, c.index], "a whole number (days or persons), not a decimal", v)
            if c.kind in _DAYS_LIKE:
                fail(c, ok & (v < 0), "a number >= 0", v)
        if c.kind in ("rate", "persons_rate"):
            fail(c, ok & ((v < 0) | (v > 100)), "a rate between 0 and 100 (percent)", v)
        if c.kind == "change":
            base_kind = c.base or "days"
            now, then = get(base_kind, c.period, c.sex), get(base_kind, c.compare, c.sex)
            tol = 1.0 if base_kind in _DAYS_LIKE else 0.15
            if now is not None and then is not None:
                m = ok & ~np.isnan(now) & ~np.isnan(then)
                diff = now - then
                fail(c, m & (np.abs(v - diff) > tol),
                     f"the change {c.compare} to {c.period} (= {base_kind} {c.period} minus {c.compare})", v)  # fmt: skip
            elif now is not None and base_kind in _DAYS_LIKE:
                m = ok & ~np.isnan(now)
                fail(c, m & (now - v < -tol),
                     f"a change from {c.compare} no larger than the {base_kind} of {c.period}", v)  # fmt: skip
        if c.kind == "pct_change":
            base_kind = c.base or "rate"
            now, then = get(base_kind, c.period, c.sex), get(base_kind, c.compare, c.sex)
            if then is None and base_kind in _DAYS_LIKE and now is not None:
                ch = by.get(("change", base_kind, c.period, c.sex))
                if ch is not None:
                    then = now - vals[:, ch.index]
            if now is not None and then is not None:
                r = 0.05 if base_kind in ("rate", "persons_rate") else 0.0
                m = ok & ~np.isnan(now) & ~np.isnan(then) & (then > r + 1e-9)
                with np.errstate(divide="ignore", invalid="ignore"):
                    lo = ((now - r) / (then + r) - 1) * 100 - 0.051
                    hi = ((now + r) / (then - r) - 1) * 100 + 0.051
                fail(c, m & ((v < lo) | (v > hi)),
                     f"the percentage change of the {base_kind} from {c.compare} to {c.period}", v)  # fmt: skip
    if len(total):
        t = total[0]
        for c in cols:
            if c.kind not in _DAYS_LIKE:
                continue
            v = vals[:, c.index]
            tv = v[t]
            if np.isnan(tv):
                continue
            m = region & ~np.isnan(v)
            fail(c, m & (v > tv + 0.5), f"at most the total row's {tv:,.0f}", v)
            s = np.nansum(v[region & ~np.isnan(v)])
            if s > tv + 0.5 * max(1, int(region.sum())):
                last = int(np.flatnonzero(region)[-1])
                fails.append(
                    _Failure(
                        c.index,
                        last,
                        f"rows summing to at most the total {tv:,.0f}",
                        f"sum {s:,.0f}",
                    )
                )
    # misfit: implied contracted days (days / rate) should change little between quarters
    score = 0.0
    for sex in {c.sex for c in cols}:
        pairs = [
            (c, by.get(("rate", None, c.period, sex)))
            for c in cols
            if c.kind == "days" and c.sex == sex
        ]
        imp = []
        for d, r in pairs:
            if r is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    imp.append(np.log(vals[:, d.index] / vals[:, r.index]))
        if len(imp) >= 2:
            a = np.vstack(imp)
            a = a[:, np.isfinite(a).sum(axis=0) >= 2]
            spread = (np.nanmax(a, axis=0) - np.nanmin(a, axis=0)) if a.size else np.array([])
            spread = spread[np.isfinite(spread)]
            score += float(spread.sum()) if len(spread) else 0.0
    return fails, score


def _num(x: float) -> object:
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return int(x) if float(x).is_integer() else float(x)


# ----------------------------------------------------------------------------- definition


def _definition(
    title: str, head_text: str, path: Path, line: int | None
) -> tuple[str, str, list[str]]:
    """``(measure, unit_basis, notes)`` from the title; refuses tables of other series."""
    t = " ".join(title.lower().split())
    h = head_text.lower()
    notes: list[str] = []
    for word, what in _OTHER_SERIES:
        if word in t:
            raise InputError(
                f"this table is not sick leave by municipality but {what}: {title.strip()!r}; "
                "kvk reads SSB's tables of sick-leave days, rates and persons with sick leave",
                path=path,
                row=line,
                expected="a table of 'Sykefraværsdagsverk' / 'Sykefraværsprosent' / "
                "'Arbeidstakere med legemeldt sykefravær'",
                found=title.strip()[:160],
            )
    if t.strip() and "sykefravær" not in t and "sykefravær" not in h:
        raise InputError(
            f"this table is not a sick-leave table: {title.strip()!r}",
            path=path,
            row=line,
            expected="a published SSB sick-leave table (title with 'sykefravær')",
            found=title.strip()[:160] or "(no title)",
        )
    subject = re.sub(r"^\s*(?:tabell\s*)?\d+\s*[.|:]?\s*", "", t)
    persons = bool(
        re.match(r"(?:antall\s+)?(?:arbeidstakere|personer|sysselsatte)\s+med\s", subject)
        or re.search(r"i\s+prosent\s+av\s+(?:alle\s+)?(?:arbeidstakere|sysselsatte)", t + " " + h)
    )
    legemeldt, egen = "legemeldt" in t, "egenmeldt" in t
    over3 = re.search(r"(?:over|utover|mer\s+enn)\s+(?:3|tre)\s+dager", t) is not None
    if persons:
        if not legemeldt and egen:
            raise InputError(
                f"this table counts persons with self-certified sick leave: {title.strip()!r}; "
                "only persons with doctor-certified sick leave are a kvk measure",
                path=path, row=line, expected="'Arbeidstakere med legemeldt sykefravær'",
                found=title.strip()[:160],
            )  # fmt: skip
        measure = "persons_doctor_certified"
    elif over3 and legemeldt:
        measure = "doctor_certified_over3"
    elif legemeldt and egen:
        measure = "total"
    elif legemeldt:
        measure = "doctor_certified"
    elif egen:
        measure = "self_certified"
    else:
        measure = "total"
        notes.append("the title does not say egenmeldt/legemeldt: measure taken as total")
    if "arbeidssted" in t or "arbeidssted" in h:
        basis = "workplace"
    elif "bosted" in t or "bosted" in h:
        basis = "residence"
    else:
        basis = "residence"
        notes.append("the title does not say bosted/arbeidssted: unit basis taken as residence "
                     "(SSB's archive tables are by municipality of residence)")  # fmt: skip
    return measure, basis, notes


def _footnote_texts(footer: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in footer:
        m = re.match(r"^\s*(\d)\s*[).:]?\s+(\D.*)$", f)
        if m:
            out[m.group(1)] = m.group(2)
    return out


# ----------------------------------------------------------------------------- reader


def layout_of(path: str | Path, encoding: str | None = None) -> str:
    """A one-line description of a published table's layout (form, level, definition,
    quarters and columns), as the reader sees it; for ``kvk data convert`` / detection notes."""
    df = read_ssb_table(path, encoding)
    return df.attrs.get("layout", "")


def _header_width(table: _Table) -> int:
    if table.html_stacks is not None:
        return len(table.html_stacks)
    head = table.header
    labels = [i for i, p in enumerate(head) if p.label]
    if labels:
        return len([p for p in head[labels[-1] + 1 :] if not p.label])
    return len([p for p in head if not p.label])


def _place(path: Path, table: _Table, data_rows_all: list[_Body], width: int):
    """Choose the reading of the header for rows of ``width`` values (or raise)."""
    data_rows = [
        replace(b, options=[o for o in b.options if len(o) == width]) for b in data_rows_all
    ]
    tq = {
        int(m.group(1))
        for m in re.finditer(r"(?<!\d)([1-4])\s*\.\s*(?:kvartal(?!stall)|kv\.)", table.title, re.I)
    }
    ty = {int(m.group(1)) for m in re.finditer(r"(?<!\d)((?:19|20)\d{2})(?!\d)", table.title)}
    title_q = tq.pop() if len(tq) == 1 else None
    title_y = ty.pop() if len(ty) == 1 else None

    # values of the unambiguous rows (the ambiguous ones are resolved under the reading)
    def parse(options: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        v = np.empty(width)
        st = []
        for k, cell in enumerate(options):
            v[k], s = parse_cell(cell)
            st.append(s)
        return v, np.array(["," in c for c in options]), st

    parsed = [[parse(o) for o in b.options] for b in data_rows]
    unique = [i for i, p in enumerate(parsed) if len(p) == 1]
    check_rows = unique if unique else list(range(len(data_rows)))
    vals = np.vstack([parsed[i][0][0] for i in check_rows])
    dec = np.vstack([parsed[i][0][1] for i in check_rows])
    kinds = [_kind_for_check(data_rows[i]) for i in check_rows]
    col_dec = dec.any(axis=0)

    readings, shown = _readings(table, width)
    header_line = (
        table.header_lines[-1]
        if table.header_lines
        else (table.title_line or data_rows[0].row.line)
    )
    if not readings:
        n_head = (
            len([p for p in table.header if not p.label]) if table.html_stacks is None else width
        )
        raise InputError(
            "cannot place the columns: the header does not name the quarters and measures of "
            f"the {width} value columns (is the header cut off or a column missing?)",
            path=path,
            row=header_line,
            column=shown[-80:] or None,
            expected=f"{width} column headings (quarter and days/rate/change) above the rows",
            found=f"{n_head} headings: {shown[:200]}",
        )
    best = None
    closest = None
    unplaced: tuple[int, _Reading] | None = None
    tried = 0
    for rd in readings:
        cols, bad_col = _complete(rd.roles, col_dec, title_q, title_y)
        if cols is None:
            if unplaced is None:
                unplaced = (bad_col if bad_col is not None else 0, rd)
            continue
        tried += 1
        fails, score = _check(cols, vals, dec, kinds)
        if not fails:
            pen = rd.penalty + _unverified(cols)
            if best is None or (pen, score) < (best[4], best[3]):
                best = (rd, cols, fails, score, pen)
            if tried > MAX_READINGS:
                break
        elif closest is None or (sum(f.n for f in fails), rd.penalty) < (
            sum(f.n for f in closest[2]),
            closest[0].penalty,
        ):
            closest = (rd, cols, fails, score)
        if tried > MAX_READINGS:
            break
    if best is None:
        if closest is None:
            k, rd0 = unplaced if unplaced is not None else (0, readings[0])
            label = " / ".join(rd0.roles[k].labels) or f"column {k + 1}"
            raise InputError(
                f"cannot place the columns: value column {k + 1} ({label!r}) has no quarter, or "
                "the same quarter and measure as another column, under every reading of the "
                "header (is the header cut off or a column heading missing?)",
                path=path,
                row=header_line,
                column=label,
                expected="a quarter such as '1. kvartal 2009' and a measure over every value column",
                found=shown[:200],
            )
        rd, cols, fails, _ = closest
        f = fails[0]
        c = next(x for x in cols if x.index == f.col)
        row = data_rows[check_rows[f.row]]
        others = "; ".join(
            f"column {x.col + 1} ({next(y for y in cols if y.index == x.col).label!r}): {x.expected}"
            for x in fails[1:4]
        )
        raise InputError(
            f"no reading of the header agrees with the numbers; under the closest reading "
            f"column {c.index + 1} ({c.label!r}) is {_describe(c)} but its value in row "
            f"{row.name!r} is not {f.expected}" + (f"; also {others}" if others else ""),
            path=path,
            row=row.row.line,
            column=c.label,
            expected=f.expected,
            found=f.found,
        )
    return width, data_rows, parsed, check_rows, vals, dec, kinds, best


def read_ssb_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """Read a published SSB table (HTML page, ``|`` text, aligned or single-spaced text).

    Returns the tidy table (``lost_days`` in days, ``rate`` in percent as published,
    ``persons`` for persons tables, ``contracted_days`` NaN) with the extra columns ``sex``,
    ``preliminary``, ``unit_basis`` and ``region_level``; ``df.attrs`` has ``notes``,
    ``layout`` (what was recognised, for the user), ``totals`` (the ``I alt`` row as tidy rows),
    ``definition`` (measure, unit basis, population), ``title``.  See the module docstring.
    """
    path = Path(path)
    text, enc = _text.decode_located(path, encoding, None)
    table = _load(path, text)
    notes = list(table.notes)
    data_rows = [b for b in table.body if b.kind != "sex_heading"]
    if not data_rows:
        raise InputError("no table rows found", path=path, expected="rows with a label and numbers")
    head_text = (
        " ".join(p.text for p in table.header)
        + " "
        + " ".join(p.text for s in (table.html_stacks or []) for p in s)
    )
    measure, basis, dnotes = _definition(table.title, head_text, path, table.title_line)
    notes.extend(dnotes)
    # width: the number of values every row can have
    counts = [{len(o) for o in b.options} for b in data_rows]
    common = set.intersection(*counts) if counts else set()
    if not common and table.form == "aligned":
        # a row whose columns touch (one space between them): read it token by token
        from collections import Counter

        width = Counter(n for c in counts for n in c).most_common(1)[0][0]
        for b, c in zip(data_rows, counts, strict=True):
            if width not in c and b.row.text:
                tok = _split_tokens(b.row.text)
                if tok is not None:
                    b.options = b.options + [o for o in tok[1] if len(o) == width]
                    notes.append(f"line {b.row.line}: cells read one space apart")
        counts = [{len(o) for o in b.options} for b in data_rows]
        common = set.intersection(*counts) if counts else set()
    if not common:
        from collections import Counter

        tally = Counter(n for c in counts for n in c)
        width = tally.most_common(1)[0][0]
        bad = next(b for b, c in zip(data_rows, counts, strict=True) if width not in c)
        raise InputError(
            "wrong number of values in a row",
            path=path,
            row=bad.row.line,
            column=bad.name,
            expected=f"{width} values as in the other rows",
            found=max(len(o) for o in bad.options),
        )
    n_phrases = (
        len([p for p in table.header if not p.label])
        if table.html_stacks is None
        else len(table.html_stacks)
    )
    widths = sorted(common, key=lambda w: (w != _header_width(table), abs(w - n_phrases), -w))
    attempt = None
    for width in widths:
        try:
            attempt = _place(path, table, data_rows, width)
            break
        except InputError as exc:
            if attempt is None:
                attempt = exc
    if isinstance(attempt, InputError):
        raise attempt
    width, data_rows, parsed, check_rows, vals, dec, kinds, best = attempt  # type: ignore[misc]
    rd, cols = best[0], best[1]
    # resolve rows with several digit groupings
    chosen: list[tuple[np.ndarray, np.ndarray, list[str]]] = []
    for i, b in enumerate(data_rows):
        opts = parsed[i]
        if len(opts) == 1:
            chosen.append(opts[0])
            continue
        good = []
        for v, d, st in opts:
            fails, score = _check(
                cols, np.vstack([vals, v]), np.vstack([dec, d]), kinds + [_kind_for_check(b)]
            )
            if not any(f.row == len(kinds) for f in fails) and not fails:
                good.append((score, v, d, st))
        if not good:
            raise InputError(
                "no grouping of the digits in this row agrees with the columns",
                path=path,
                row=b.row.line,
                column=b.name,
                expected=f"{width} values: " + ", ".join(_describe(c) for c in cols),
                found=" ".join(b.options[0]),
            )
        good = [(score + _typical(cols, v, vals), v, d, st) for score, v, d, st in good]
        good.sort(key=lambda g: g[0])
        if len(good) > 1:
            notes.append(
                f"line {b.row.line}: digits grouped as {' | '.join(_fmt(x) for x in good[0][1])} "
                f"(the grouping whose proportions between columns are closest to the other rows'; "
                f"{len(good) - 1} other grouping(s) also pass the checks)"
            )
        chosen.append(good[0][1:])
    # the checks on all rows (unique and resolved)
    all_vals = np.vstack([c[0] for c in chosen])
    all_dec = np.vstack([c[1] for c in chosen])
    fails, _ = _check(cols, all_vals, all_dec, [_kind_for_check(b) for b in data_rows])
    if fails:
        f = fails[0]
        c = next(x for x in cols if x.index == f.col)
        raise InputError(
            f"column {c.index + 1} ({c.label!r}, {_describe(c)}) fails a check",
            path=path,
            row=data_rows[f.row].row.line,
            column=c.label,
            expected=f.expected,
            found=f.found,
        )
    chosen_vs = [(c[0], c[2]) for c in chosen]
    return _emit(path, enc, table, data_rows, chosen_vs, cols, rd, measure, basis, notes)


def _typical(cols: list[_Col], v: np.ndarray, ref: np.ndarray) -> float:
    """How far a row's proportions between its count columns (days, changes, persons) lie
    from the other rows' (median absolute deviation units); picks among digit groupings."""
    idx = [
        c.index
        for c in cols
        if c.kind in _DAYS_LIKE or (c.kind == "change" and c.base in _DAYS_LIKE)
    ]
    if len(idx) < 2:
        return 0.0
    base = idx[0]
    score = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in idx[1:]:
            r = ref[:, k] / ref[:, base]
            r = r[np.isfinite(r)]
            x = v[k] / v[base]
            if not len(r) or not np.isfinite(x):
                continue
            med = np.median(r)
            mad = np.median(np.abs(r - med)) + 1e-6
            score += min(abs(x - med) / mad, 1e6)
    return score


def _fmt(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:,.1f}".rstrip("0").rstrip(".")


def _describe(c: _Col) -> str:
    sex = f" ({c.sex})" if c.sex and c.sex != "all" else ""
    if c.kind == "change":
        unit = "percentage points" if c.base in ("rate", "persons_rate") else c.base
        return f"the change of {c.base} ({unit}) from {c.compare} to {c.period}{sex}"
    if c.kind == "pct_change":
        return f"the percentage change of the {c.base} from {c.compare} to {c.period}{sex}"
    what = {"days": "lost days", "rate": "the rate (percent)", "contracted": "contracted days",
            "employees": "employees", "persons": "persons with sick leave",
            "persons_rate": "persons with sick leave in percent of employees"}[c.kind]  # fmt: skip
    return f"{what} of {c.period}{sex}" + (" (kind read from the values)" if c.inferred else "")


def _kind_for_check(b: _Body) -> str:
    if b.kind in ("municipality", "invalid", "total"):
        return b.kind
    if b.kind == "sex":
        return "sex"
    if b.kind == "county" or _is_region_name(b.name):
        return "county"
    return "other"


def _emit(path, enc, table, rows, chosen, cols, rd, measure, basis, notes) -> pd.DataFrame:
    counties = _county_numbers()
    n_muni = sum(b.kind == "municipality" for b in rows)
    level = "municipality" if n_muni else "county"
    # row sexes: section headings and Menn/Kvinner sub-rows
    section: str | None = None
    region: tuple[str, str, str] | None = None
    row_info: list[tuple[str, str, str, str | None]] = []  # kind, code, name, sex
    for b in table.body:
        if b.kind == "sex_heading":
            section = b.code
            continue
        if b.kind == "sex":
            if region is None:
                row_info.append(("other", "", b.name, None))
            else:
                row_info.append((*region, b.code))
            continue
        kind, code, name = b.kind, b.code, b.name
        if kind in ("county", "other") and _is_region_name(name):
            kind, code = "county", counties[" ".join(name.lower().split())]
        if kind == "county" and not code:
            code = counties.get(" ".join(name.lower().split()), "")
        region = (kind, code, name)
        row_info.append((kind, code, name, section))
    emit_kind = level
    if measure == "persons_doctor_certified":
        # a persons table: its whole numbers are persons, its percentages of employees
        for c in cols:
            if c.kind == "days":
                c.kind = "persons"
            elif c.kind == "rate":
                c.kind = "persons_rate"
            elif c.kind in ("change", "pct_change") and c.base in ("days", "rate"):
                c.base = "persons" if c.base == "days" else "persons_rate"
    value_cols = [
        c
        for c in cols
        if c.kind in ("days", "rate", "contracted", "employees", "persons", "persons_rate")
    ]
    target = {"days": "lost_days", "rate": "rate", "contracted": "contracted_days",
              "employees": "employees", "persons": "persons", "persons_rate": "rate"}  # fmt: skip
    foot_text = _footnote_texts(table.footer)
    prelim_digits = {d for d, t in foot_text.items() if "forel" in t.lower()}
    periods = sorted({c.period for c in value_cols})
    prelim: set[pd.Period] = set()
    foot_periods = {c.period for c in cols if c.footnotes and c.period is not None}
    if prelim_digits:
        prelim = {
            c.period for c in cols if set(c.footnotes) & prelim_digits and c.period is not None
        }
    elif re.search(r"forel[øo]pig", table.title, re.I):
        prelim = {periods[-1]}
        notes.append(f"the title says the figures are preliminary: {periods[-1]} flagged")
    elif foot_periods and foot_periods == {periods[-1]} and not foot_text:
        prelim = {periods[-1]}
        notes.append(
            f"only the latest quarter {periods[-1]} carries a footnote and its text is not in the "
            "file: flagged as preliminary (SSB marks its latest quarter so)"
        )
    for d, t in foot_text.items():
        notes.append(f"footnote {d}: {t}")
    records = []
    totals = []
    for b, (v, st), info in zip(rows, chosen, row_info, strict=True):
        kind, code, name, rsex = info
        for (per, sex), group in _group_cols(value_cols):
            rec: dict[str, object] = {"kommunenummer": code, "period": per, "_line": b.row.line,
                                      "sex": sex or rsex or _title_sex(table.title) or "all"}  # fmt: skip
            sts = []
            for c in group:
                rec[target[c.kind]] = v[c.index]
                sts.append(st[c.index])
            rec["status"] = _row_status(sts)
            rec["preliminary"] = per in prelim
            if kind == emit_kind:
                records.append(rec)
            elif kind == "total":
                totals.append({**rec, "kommunenummer": "0000"})
        if kind == "invalid":
            notes.append(f"line {b.row.line}: row {name!r} (invalid or unknown municipality) left out: "
                         + ", ".join(f"{_describe(c)} {_fmt(v[c.index])}" for c in value_cols[:4]))  # fmt: skip
        elif kind not in (emit_kind, "total"):
            notes.append(f"line {b.row.line}: row {name!r} ({'county subtotal, ' if kind == 'county' else ''}not a {emit_kind}) left out")  # fmt: skip
    if not records:
        raise InputError(
            f"no {emit_kind} rows in the table",
            path=path,
            row=rows[0].row.line,
            expected="rows like '0101 Halden ...' or county names",
        )
    frame = pd.DataFrame.from_records(records)
    src = f"ssb-table:{path.name}"

    def tidy_of(fr: pd.DataFrame) -> pd.DataFrame:
        fr = fr.assign(sector="all", measure=measure, unit_basis=basis, region_level=level)
        return finish(fr, src)

    tidy = tidy_of(frame)
    totals_tidy = (
        tidy_of(pd.DataFrame.from_records(totals)).assign(region_level="total") if totals else None
    )
    if totals_tidy is not None and "lost_days" in tidy:
        for per in periods:
            tot = totals_tidy.loc[totals_tidy["period"] == per, "lost_days"].sum(min_count=1)
            if pd.isna(tot):
                continue
            parts = frame.loc[frame["period"] == per, "lost_days"].sum()
            inval = sum(
                v[c.index]
                for b, (v, _), info in zip(rows, chosen, row_info, strict=True)
                if info[0] == "invalid"
                for c in value_cols
                if c.kind == "days" and c.period == per and not np.isnan(v[c.index])
            )
            s = parts + inval
            verdict = (
                "equals"
                if abs(s - tot) < 0.5 * max(1, len(rows))
                else f"differs by {s - tot:+,.0f} from"
            )
            notes.append(f"{per}: the {level} rows plus invalid rows sum to {s:,.0f} lost days, which "
                         f"{verdict} the total row ({tot:,.0f})")  # fmt: skip
    for c in cols:
        if c not in value_cols:
            notes.append(
                f"column {c.index + 1} ({c.label!r}): {_describe(c)}, checked, not emitted"
            )
    checks = ["rates in 0-100", "days whole and >= 0"]
    if any(c.kind == "change" for c in cols):
        checks.append("changes equal differences (or imply non-negative earlier values)")
    if any(c.kind == "pct_change" for c in cols):
        checks.append("percentage changes equal relative changes (to rounding)")
    if totals_tidy is not None:
        checks.append("the total row bounds the rows")
    kinds_desc = ", ".join(f"{c.index + 1}: {_describe(c)}" for c in cols)
    sexes = sorted(set(tidy["sex"]))
    layout = (
        f"published SSB table, {table.form} text"
        if table.form != "html"
        else "published SSB table, HTML page"
    ) + (
        f"; {level} level; {measure} by {basis}; sex {'/'.join(sexes)}; quarters "
        f"{', '.join(str(p) for p in periods)}; header read as {rd.description}; columns {kinds_desc}; "
        f"checked: {', '.join(checks)}"
    )
    tidy.attrs.update(
        source="ssb-table",
        encoding=enc,
        path=str(path),
        title=table.title.strip(),
        layout=layout,
        notes=[
            f"title: {table.title.strip()}",
            f"layout: {layout}",
            *notes,
            *(f"footnote: {f}" for f in table.footer),
        ],  # fmt: skip
        totals=totals_tidy,
        definition={
            "measure": measure,
            "unit_basis": basis,
            "region_level": level,
            "population": "all employees",
            "preliminary": [str(p) for p in sorted(prelim)],
        },  # fmt: skip
        source_columns={
            target[k]: {str(c.period): c.label for c in value_cols if c.kind == k}
            for k in ("days", "rate", "persons")
            if any(c.kind == k for c in value_cols)
        }
        | {"kommunenummer": "(row label)"},
    )
    return tidy


def _row_status(statuses: list[str]) -> str:
    """The row status from its cells' (as :func:`.tidy.combine_status`, for one row)."""
    for s in STATUS_ORDER:
        if s in statuses:
            return s
    return "ok"


def _title_sex(title: str) -> str | None:
    t = title.lower()
    if re.search(r"\bbegge kjønn\b", t):
        return "all"
    if re.search(r"\b(?:menn|mannlige)\b", t):
        return "male"
    if re.search(r"\b(?:kvinner|kvinnelige)\b", t):
        return "female"
    return None


def _group_cols(cols: list[_Col]):
    groups: dict[tuple, list[_Col]] = {}
    for c in cols:
        groups.setdefault((c.period, c.sex), []).append(c)
    return sorted(groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))


# ----------------------------------------------------------------------------- several tables


def combine_tables(tidy: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One row per key from published tables that overlap (a table also holds the quarters of
    the year before): for each municipality x quarter x sector x measure x sex, final figures
    win over preliminary ones and a later table (whose latest quarter is later) over an earlier
    one; a column missing in the preferred row is taken from the other rows.  Differences
    between tables (revisions) are counted in the notes.  Rows of other sources pass as they are.
    """
    notes: list[str] = []
    keys = [c for c in ("kommunenummer", "period", "sector", "measure", "sex") if c in tidy.columns]
    if "source" not in tidy.columns:
        return tidy, notes
    is_tab = tidy["source"].astype(str).str.startswith("ssb-table:")
    tab = tidy[is_tab]
    if tab.empty or not tab.duplicated(keys).any():
        return tidy, notes
    latest = tab.groupby("source")["period"].max()
    prelim = (
        tab["preliminary"].astype(bool)
        if "preliminary" in tab
        else pd.Series(False, index=tab.index)
    )
    order = tab.assign(_p=prelim.astype(int), _l=tab["source"].map(latest))
    order = order.sort_values(["_p", "_l"], ascending=[True, False], kind="stable")
    values = [
        c for c in ("lost_days", "contracted_days", "employees", "rate", "persons") if c in tab
    ]
    first = order.groupby(keys, sort=False, dropna=False).first()  # first non-null per column
    head = order.drop_duplicates(keys).set_index(keys)
    out = head.copy()
    used_prelim = pd.Series(False, index=out.index)
    for c in values:
        out[c] = first[c].reindex(out.index)
        # was the value taken from a preliminary row?
        src_prelim = (
            order.loc[order[c].notna()].groupby(keys, sort=False, dropna=False)["_p"].first()
        )
        used_prelim |= src_prelim.reindex(out.index).fillna(0).astype(bool)
    if "preliminary" in out:
        out["preliminary"] = used_prelim.to_numpy()
    # revisions: values of the same key that differ by more than rounding
    dup = order[order.duplicated(keys, keep=False)]
    n_diff = 0
    for c in values:
        spread = dup.groupby(keys, dropna=False)[c].agg(
            lambda s: s.max() - s.min() if s.notna().sum() > 1 else 0.0
        )
        tol = 0.05 if c == "rate" else 0.5
        n_diff += int((spread > tol).sum())
    n_keys = int(dup.drop_duplicates(keys).shape[0])
    notes.append(
        f"published tables overlap in {n_keys} municipality-quarters: final figures preferred to "
        f"preliminary ones, later tables to earlier ones; {n_diff} values differ between tables "
        "(revisions)"
    )
    out = out.reset_index()[tab.columns.drop("_p", errors="ignore").drop("_l", errors="ignore")]
    combined = pd.concat([tidy[~is_tab], out], ignore_index=True)
    return combined, notes
