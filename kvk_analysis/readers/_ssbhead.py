"""Header phrases of published SSB tables and the roles they give a value column.

A published table's header is a stack of cells: group headings (``2. kvartal 2006``,
``Sykefraværsprosent``, ``Prosentvis endring siste år av sykefraværsprosenten``) over leaf
headings (``Sykefraværs- dagsverk``, ``Endring siste år``, ``2. kvartal 20051``).  Stored text
copies lose the cell structure (a cell's words break over lines, several cells share a line),
so the header text is cut into *phrases* by a small vocabulary (:func:`phrases`) and the
phrases covering a column are merged into a :class:`Role` (:func:`merge`).

Written by hand: the vocabulary is SSB's own Norwegian table language, which no parser knows.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

__all__ = ["Phrase", "Role", "merge", "phrases"]

_WORD_JOIN = re.compile(r"(\w)-\s+(?!og\b|eller\b)(?=[a-zæøå])")
_SPACE = re.compile(r"[ \t\u00a0\u2009\u202f]+")

# (name, pattern); tried in this order at each position of the header text.
_PATTERNS: list[tuple[str, str]] = [
    (
        "pct_change",
        r"prosentvis\s+endring(?:\s+(?:siste|fra|i\s+forhold\s+til)\s+(?:år|året\s+før|i\s+fjor))?"
        r"(?:\s+(?:av|i)\s+(?:den\s+|det\s+)?(?:sykefravær\w*|dagsverk\w*|prosent\w*|antall\w*"
        r"|arbeidstakere\w*))?",
    ),
    (
        "change",
        r"endring(?:\s+(?:siste|fra)\s+(?:år|året\s+før|i\s+fjor|samme\s+kvartal\s+året\s+før))?"
        r"(?:\s+i\s+prosentpoeng)?(?:\s+(?:i|av)\s+(?:sykefravær\w*|dagsverk\w*))?",
    ),
    ("persons", r"(?:antall\s+)?(?:arbeidstakere|personer)\s+med\s+(?:\w+\s+)?sykefravær"),
    (
        "pct_employees",
        r"(?:i\s+)?prosent\s+av\s+(?:alle\s+)?(?:arbeidstakere|sysselsatte|lønnstakere)",
    ),
    ("contracted", r"avtalte\s+dagsverk"),
    ("days", r"(?:sykefraværs?\s*dagsverk|tapte\s+dagsverk|dagsverk)\d?"),
    (
        "rate",
        r"sykefraværsprosent\w*\d?|(?:i\s+)?prosent(?:en|er)?(?:\s+av\s+avtalte\s+dagsverk)?|%",
    ),
    ("employees", r"(?:antall\s+)?(?:arbeidstakere|sysselsatte|lønnstakere)"),
    ("count", r"antall(?:\s+personer)?|absolutte\s+tall"),
    (
        "quarter",
        r"(?<!\d)([1-4])\s*\.\s*(?:kvartal(?!stall)|kv\.?)(?:\s*((?:19|20)\d{2})(\d?)(?:\s+(\d)(?![\d.,]))?)?",
    ),
    ("yq", r"((?:19|20)\d{2})\s*[KkQq]([1-4])(\d?)"),
    ("year", r"(?<![\d.])((?:19|20)\d{2})(\d?)(?:\s+(\d)(?![\d.,]))?(?!\d)"),
    ("sex", r"begge\s+kjønn(?:\s+i\s+alt)?|i\s+alt|menn|kvinner|mann|kvinne"),
    (
        "label",
        r"bostedskommune|bostedsfylke|arbeidsstedskommune|arbeidsstedsfylke|kommunenr\.?"
        r"|kommune|fylke|region|kode|bosted",
    ),
]
_MASTER = re.compile("|".join(f"(?P<{n}>{p})" for n, p in _PATTERNS), re.IGNORECASE)
_GROUP_OFFSETS: dict[str, int] = {}


def _offsets() -> dict[str, int]:
    # Position of each named group's first inner group in the master pattern.
    if not _GROUP_OFFSETS:
        idx = _MASTER.groupindex
        for name, _ in _PATTERNS:
            _GROUP_OFFSETS[name] = idx[name]
    return _GROUP_OFFSETS


SEX_CODES = {
    "begge kjønn": "all",
    "begge kjønn i alt": "all",
    "i alt": "all",
    "menn": "male",
    "mann": "male",
    "kvinner": "female",
    "kvinne": "female",
}


@dataclass(frozen=True)
class Phrase:
    """One header phrase: its text, line, and what it says (kind, quarter, year, sex)."""

    text: str
    line: int
    kind: str | None = None  # days, rate, change, pct_change, contracted, persons, ...
    quarter: int | None = None
    year: int | None = None
    footnotes: tuple[str, ...] = ()
    sex: str | None = None
    label: bool = False  # the row-label column's heading (Kommune, FYLKE, ...)


def normalise(text: str) -> str:
    """Header text with words broken over lines joined (``Sykefraværs- dagsverk``)."""
    text = text.replace("\u00a0", " ")
    text = _WORD_JOIN.sub(r"\1", text)
    return text


def phrases(chunks: list[tuple[int, str]]) -> list[Phrase]:
    """Cut header text into phrases.  ``chunks`` are ``(line, text)`` in reading order; a
    ``|`` inside a chunk separates cells.  Words the vocabulary does not know are kept with
    the phrase before them (a word broken over lines, ``sykefraværsprosen`` / ``t``) or,
    when capitalised and first, form a phrase of unknown kind."""
    text_parts: list[str] = []
    line_at: list[tuple[int, int]] = []  # (offset, line)
    pos = 0
    for line, chunk in chunks:
        line_at.append((pos, line))
        piece = chunk + "\n"
        text_parts.append(piece)
        pos += len(piece)
    text = normalise("".join(text_parts))
    # normalise only removes characters inside words; recompute line offsets approximately
    # by searching line starts again.
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines = [ln for ln, _ in chunks]

    def line_of(offset: int) -> int:
        k = 0
        for i, s in enumerate(starts):
            if s <= offset:
                k = i
        return lines[min(k, len(lines) - 1)] if lines else 0

    out: list[Phrase] = []
    last = 0
    for m in _MASTER.finditer(text):
        if not _word_bounded(text, m.start(), m.end(), m.lastgroup):
            continue
        _leftover(text[last : m.start()], out, line_of(last))
        out.append(_phrase(m, line_of(m.start())))
        last = m.end()
    _leftover(text[last:], out, line_of(last))
    return out


def _word_bounded(text: str, a: int, b: int, name: str | None) -> bool:
    if name in ("quarter", "year", "yq"):
        return True
    before = text[a - 1] if a > 0 else " "
    if before.isalpha():
        return False
    after = text[b] if b < len(text) else " "
    if name in ("sex", "label", "count", "employees") and after.isalpha():
        return False
    return True


def _leftover(text: str, out: list[Phrase], line: int) -> None:
    words = [w for w in re.split(r"[\s|]+", text) if w and re.search(r"\w", w)]
    if not words:
        return
    if out and not words[0][0].isupper():
        prev = out[-1]
        out[-1] = replace(prev, text=prev.text + " " + " ".join(words))
        return
    if out and all(len(w) <= 3 or not w[0].isupper() for w in words):
        prev = out[-1]
        out[-1] = replace(prev, text=prev.text + " " + " ".join(words))
        return
    out.append(Phrase(" ".join(words), line))


def _phrase(m: re.Match, line: int) -> Phrase:
    name = m.lastgroup or ""
    raw = _SPACE.sub(" ", m.group(0).replace("\n", " ")).strip()
    g0 = _offsets()[name]
    grp = m.group
    if name == "quarter":
        q, y, f1, f2 = grp(g0 + 1), grp(g0 + 2), grp(g0 + 3), grp(g0 + 4)
        return Phrase(
            raw,
            line,
            quarter=int(q),
            year=int(y) if y else None,
            footnotes=tuple(f for f in (f1, f2) if f),
        )
    if name == "yq":
        return Phrase(
            raw,
            line,
            year=int(grp(g0 + 1)),
            quarter=int(grp(g0 + 2)),
            footnotes=tuple(f for f in (grp(g0 + 3),) if f),
        )
    if name == "year":
        y, f1, f2 = grp(g0 + 1), grp(g0 + 2), grp(g0 + 3)
        return Phrase(raw, line, year=int(y), footnotes=tuple(f for f in (f1, f2) if f))
    if name == "sex":
        return Phrase(raw, line, sex=SEX_CODES.get(" ".join(raw.lower().split()), "all"))
    if name == "label":
        return Phrase(raw, line, label=True)
    foot = re.search(r"(?<=[a-zæøå])(\d)$", raw)
    return Phrase(raw, line, kind=name, footnotes=(foot.group(1),) if foot else ())


@dataclass
class Role:
    """What a value column holds.

    ``kind``: ``days``, ``rate``, ``contracted``, ``employees``, ``persons``, ``persons_rate``
    (persons with sick leave in percent of employees), ``change`` (of ``base``: days, rate in
    percentage points, persons), ``pct_change`` (relative change in percent of ``base``).
    ``quarter``/``year`` of the value (for changes: the later quarter); ``compare`` the
    earlier quarter a change compares with (set later).
    """

    kind: str | None
    base: str | None = None
    quarter: int | None = None
    year: int | None = None
    sex: str | None = None
    footnotes: tuple[str, ...] = ()
    inferred: bool = False
    penalty: int = 0
    labels: list[str] = field(default_factory=list)


_VALUE_KINDS = ("days", "rate", "contracted", "employees", "persons", "persons_rate")


def merge(stack: list[Phrase]) -> Role | None:
    """The role of a column from the phrases over it (top to bottom); ``None`` on a conflict.

    The result is shared between equal stacks (cached): do not modify it."""
    return _merge(tuple(stack))


@functools.lru_cache(maxsize=4096)
def _merge(stack: tuple[Phrase, ...]) -> Role | None:
    kinds = [p.kind for p in stack if p.kind]
    penalty = 0
    base = None
    unknown = [p for p in stack if p.kind is None and p.quarter is None and p.year is None
               and p.sex is None and not p.label]  # fmt: skip
    if unknown:
        return None
    if "pct_change" in kinds:
        other = set(kinds) - {"pct_change"}
        if other - {"rate", "days", "persons", "count"}:
            return None
        ptxt = " ".join(p.text.lower() for p in stack if p.kind == "pct_change")
        if "prosen" in ptxt or "rate" in other:
            base = "rate"
        elif "dagsverk" in ptxt or "days" in other:
            base = "days"
        elif "persons" in other:
            base = "persons"
        else:
            base = "rate"
        kind = "pct_change"
    elif "change" in kinds:
        other = set(kinds) - {"change"}
        ctxt = " ".join(p.text.lower() for p in stack if p.kind == "change")
        if "prosentpoeng" in ctxt or "prosent" in ctxt:
            base = "rate"
        if other - {"rate", "days", "persons", "count", "pct_employees"}:
            return None
        if "days" in other and "rate" in other:
            return None
        if "days" in other:
            base = "days"
        elif "rate" in other or "pct_employees" in other:
            base = "rate" if "persons" not in other else "persons_rate"
        elif "persons" in other or "count" in other:
            base = "persons"
        kind = "change"
    else:
        ks = set(kinds) - {"count"}
        if "persons" in ks and ({"rate", "pct_employees"} & ks):
            kind = "persons_rate"
        elif "pct_employees" in ks:
            kind = "persons_rate"
        elif "persons" in ks:
            kind = "persons"
        elif "contracted" in ks:
            kind = "contracted"
            if ks - {"contracted", "days"}:
                return None
        elif "days" in ks and "rate" in ks:
            # "Sykefraværsdagsverk" over "Sykefraværsprosent": the lower (leaf) heading wins
            lower = next(p.kind for p in reversed(stack) if p.kind in ("days", "rate"))
            kind, penalty = lower, penalty + 2
        elif "rate" in ks:
            kind = "rate"
        elif "days" in ks:
            kind = "days"
        elif "employees" in ks:
            kind = "employees"
        elif "count" in kinds:
            kind = None
            penalty += 1
        else:
            kind = None
    quarters = {p.quarter for p in stack if p.quarter is not None}
    years = {p.year for p in stack if p.year is not None}
    sexes = {p.sex for p in stack if p.sex is not None}
    if len(quarters) > 1 or len(years) > 1 or len(sexes) > 1:
        return None
    foot = tuple(dict.fromkeys(f for p in stack for f in p.footnotes))
    return Role(
        kind=kind,
        base=base,
        quarter=quarters.pop() if quarters else None,
        year=years.pop() if years else None,
        sex=sexes.pop() if sexes else None,
        footnotes=foot,
        penalty=penalty,
        labels=[p.text for p in stack],
    )
