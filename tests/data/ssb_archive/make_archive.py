"""Write the multi-table fixture: published SSB sick-leave tables 2005-2010 in the genuine layouts.

The numbers are SYNTHETIC (a seeded random truth per municipality and quarter) but internally
consistent like the real tables: days are rounded contracted days x rate, published rates are
days / contracted days rounded to one decimal, a change column is the difference of the days it
compares, a percentage change is the relative change of the unrounded rates, the ``I ALT`` row
is the sum of every row plus the rest of the country, ``Ugyldig`` is a small extra row.  The
layouts copy the genuine excerpts in ``shared/reference/ssb-genuine`` and the variants their
README describes (grouped or interleaved days and changes, quarters in any order, header cells
broken over lines, HTML pages).

Run ``python tests/data/ssb_archive/make_archive.py`` to rewrite the files (deterministic).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

HERE = Path(__file__).parent

#: Municipalities of the fixture (2008 codes): documented participants with a known pulje
#: (Bærum, Drammen IV; Karmøy, Løten III), documented without a pulje (Halden, Askim, Bodø),
#: a known non-participant (Hadsel) and municipalities the documented registry does not list.
MUNICIPALITIES = [
    ("0101", "Halden", 9_000),
    ("0104", "Moss", 9_500),
    ("0105", "Sarpsborg", 16_000),
    ("0106", "Fredrikstad", 23_000),
    ("0124", "Askim", 4_500),
    ("0219", "Bærum", 35_000),
    ("0220", "Asker", 18_000),
    ("0403", "Hamar", 9_000),
    ("0415", "Løten", 2_400),
    ("0602", "Drammen", 20_000),
    ("1149", "Karmøy", 13_000),
    ("1804", "Bodø", 15_000),
    ("1866", "Hadsel", 2_700),
]
REST_OF_COUNTRY = 1_600_000  # employees outside the fixture, only in the I ALT row
YEARS = range(2004, 2011)


def _truth(seed: int = 2024):
    rng = random.Random(seed)
    days: dict[tuple[str, int, int], int] = {}
    contracted: dict[tuple[str, int, int], int] = {}
    rows = [*MUNICIPALITIES, ("Ugyldig", "Ugyldig", 150), ("REST", "REST", REST_OF_COUNTRY)]
    for code, _, emp in rows:
        level = rng.uniform(5.0, 7.5)
        for y in YEARS:
            for q in range(1, 5):
                season = {1: 0.6, 2: -0.1, 3: -0.6, 4: 0.1}[q]
                rate = max(1.0, level + season + 0.15 * (y - 2004) + rng.gauss(0, 0.35))
                c = round(emp * 63 * (1 + 0.01 * (y - 2004)) * rng.uniform(0.99, 1.01))
                contracted[(code, y, q)] = c
                days[(code, y, q)] = round(c * rate / 100)
    return days, contracted


DAYS, CONTRACTED = _truth()


def _total(y: int, q: int) -> tuple[int, int]:
    codes = [c for c, _, _ in MUNICIPALITIES] + ["Ugyldig", "REST"]
    return sum(DAYS[(c, y, q)] for c in codes), sum(CONTRACTED[(c, y, q)] for c in codes)


def _rate(code: str, y: int, q: int) -> float:
    if code == "I ALT":
        d, c = _total(y, q)
    else:
        d, c = DAYS[(code, y, q)], CONTRACTED[(code, y, q)]
    return d / c * 100


def _days(code: str, y: int, q: int) -> int:
    return _total(y, q)[0] if code == "I ALT" else DAYS[(code, y, q)]


def nb(x: float, decimals: int = 0) -> str:
    """Norwegian number: thousands with a space, decimal comma, '-' for minus."""
    if decimals:
        s = f"{abs(x):,.{decimals}f}".replace(",", " ").replace(".", ",")
    else:
        s = f"{abs(round(x)):,d}".replace(",", " ")
    return ("-" if x < 0 and s.strip("0, ") else "") + s


def _r1(x: float) -> float:
    return math.floor(x * 10 + 0.5) / 10


def _rows(skip: set[str] = frozenset()) -> list[tuple[str, str]]:
    """(label, code) in table order: I ALT, Ugyldig, then the municipalities."""
    out = [("I ALT", "I ALT"), ("Ugyldig", "Ugyldig")]
    out += [(f"{c} {n}", c) for c, n, _ in MUNICIPALITIES if c not in skip]
    return out


def _cells(code: str, cols: list[tuple]) -> list[str]:
    out = []
    for kind, y, q in cols:
        if kind == "days":
            out.append(nb(_days(code, y, q)))
        elif kind == "change":
            out.append(nb(_days(code, y, q) - _days(code, y - 1, q)))
        elif kind == "rate":
            out.append(nb(_r1(_rate(code, y, q)), 1))
        elif kind == "pct":
            out.append(nb(_r1((_rate(code, y, q) / _rate(code, y - 1, q) - 1) * 100), 1))
    return out


def _title(n: int, extra: str = "") -> str:
    return (
        f"Sykefraværsdagsverk{extra} for arbeidstakere med legemeldt sykefravær etter "
        "bostedskommune. Absolutte tall og i prosent av avtalte dagsverk (sykefraværsprosent). "
        "Kvartalstall."
    )


def pipe_genuine(n: int, y: int, qa: int, qb: int, skip=frozenset()) -> str:
    """As tab-2006-12-21-12: days and change per quarter, four rates, two percentage changes."""
    lines = [f"{n} | {_title(n, '1')} |"]
    lines.append(
        f"{qa}. kvartal {y}2 | {qb}. kvartal {y}2 | Sykefraværsprosent | Prosentvis endring "
        "siste år av sykefraværsprosenten | |||||||"
    )
    lines += ["Kommune | Sykefraværs- dagsverk |", "Endring siste år |",
              "Sykefraværs- dagsverk |", "Endring siste år |"]  # fmt: skip
    lines.append(
        f"{qa}. kvartal {y - 1} | {qb}. kvartal {y - 1} | {qa}. kvartal {y}2 | "
        f"{qb}. kvartal {y}2 | {qa}. kvartal | {qb}. kvartal |"
    )
    cols = [("days", y, qa), ("change", y, qa), ("days", y, qb), ("change", y, qb),
            ("rate", y - 1, qa), ("rate", y - 1, qb), ("rate", y, qa), ("rate", y, qb),
            ("pct", y, qa), ("pct", y, qb)]  # fmt: skip
    for label, code in _rows(skip):
        lines.append(" | ".join([label, *_cells(code, cols)]) + " |")
    lines += ["", "1 Sykefravær utover arbeidsgiverperioden er regnet fra sykepengeregisteret.",
              "2 Foreløpige tall."]  # fmt: skip
    return "\n".join(lines) + "\n"


def spaced_single(n: int, y: int, q: int, skip=frozenset()) -> str:
    """As tab-2009-06-30-09: one quarter, whitespace collapsed, header cells over lines."""
    lines = ["Statistisk sentralbyrå", "", "", f"{n}    {_title(n)}", ""]
    lines.append(f"  {q}. kvartal {y} 1 Sykefraværsprosent Prosentvis endring siste år av")
    lines += ["sykefraværsprosen", "t", "KOMMUNE Sykefraværs-", "dagsverk", "Endring",
              "siste år", f"{q}. kvartal", f"{y - 1}", f"{q}. kvartal", f"{y} 1", f"{q}. kvartal"]  # fmt: skip
    cols = [("days", y, q), ("change", y, q), ("rate", y - 1, q), ("rate", y, q), ("pct", y, q)]
    for label, code in _rows(skip):
        lines.append(" ".join([label, *_cells(code, cols)]))
    lines += ["", "1 Foreløpige tall."]
    return "\n".join(lines) + "\n"


def aligned_grouped(n: int, y: int, q: int, reverse: bool = False, skip=frozenset()) -> str:
    """Aligned text: days of the two years first and the change after them, then the rates;
    ``reverse`` puts the later year first."""
    years = [y, y - 1] if reverse else [y - 1, y]
    w = 18
    lab = 22

    def head(y_: int) -> str:
        return f"{q}. kvartal {y_}" + ("1" if y_ == y else "")

    lines = [
        f"Tabell {n}. {_title(n)}",
        f"{q}. kvartal {y - 1} og {q}. kvartal {y}. Kvartalstall",
        "",
    ]
    lines.append(" " * lab + "Sykefraværsdagsverk".ljust(3 * w) + "Sykefraværsprosent")
    lines.append(
        "Bostedskommune".ljust(lab)
        + "".join(head(v).rjust(w) for v in years)
        + "Endring".rjust(w)
        + "".join(head(v).rjust(w) for v in years)
    )
    lines.append("-" * (lab + 5 * w))
    cols = [("days", years[0], q), ("days", years[1], q), ("change", y, q),
            ("rate", years[0], q), ("rate", years[1], q)]  # fmt: skip
    for label, code in _rows(skip):
        lines.append(label.ljust(lab) + "".join(c.rjust(w) for c in _cells(code, cols)))
    lines += ["-" * (lab + 5 * w), "1 Foreløpige tall.", "Kilde: Statistisk sentralbyrå."]
    return "\n".join(lines) + "\n"


def html_interleaved(n: int, y: int, quarters: list[int], skip=frozenset()) -> str:
    """An archive HTML page: per quarter (group heading with colspan) the days, their change
    and the rate of this year; the label heading spans two rows."""
    title = _title(n)
    out = [
        '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">',
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
        f"<title>Sykefravær. Tabell {n}</title></head><body>",
        f"<h3>{n}. {title}</h3>",
        '<table border="1">',
        '<tr><th rowspan="2">Bostedskommune</th>'
        + "".join(
            f'<th colspan="3">{q}. kvartal {y}'
            + ("<sup>1</sup>" if q == quarters[-1] else "")
            + "</th>"
            for q in quarters
        )
        + "</tr>",
        "<tr>"
        + "<th>Sykefraværs-<br>dagsverk</th><th>Endring siste år</th><th>Sykefraværs-<br>prosent</th>"
        * len(quarters)
        + "</tr>",
    ]
    cols = [c for q in quarters for c in (("days", y, q), ("change", y, q), ("rate", y, q))]
    for label, code in _rows(skip):
        cells = "".join(
            f'<td align="right">{c.replace(" ", "&nbsp;")}</td>' for c in _cells(code, cols)
        )
        out.append(f"<tr><td>{label}</td>{cells}</tr>")
    out += ["</table>", "<p><sup>1</sup> Foreløpige tall.</p>", "<p>Kilde: Statistisk sentralbyrå.</p>",
            "</body></html>"]  # fmt: skip
    return "\n".join(out) + "\n"


#: (file name, writer) for each table of the fixture: 2005-2010, Q4 2010 not published yet,
#: Asker (0220) missing from the tables of the first half of 2009 and 2010.
TABLES = [
    ("tab-2005-09-01.txt", lambda: pipe_genuine(12, 2005, 1, 2)),
    ("tab-2005-12-01.txt", lambda: aligned_grouped(9, 2005, 3)),
    ("tab-2006-03-01.txt", lambda: spaced_single(9, 2005, 4)),
    ("tab-2006-09-01.html", lambda: html_interleaved(4, 2006, [1, 2])),
    ("tab-2007-03-01.txt", lambda: pipe_genuine(12, 2006, 3, 4)),
    ("tab-2007-06-01.txt", lambda: spaced_single(9, 2007, 1)),
    ("tab-2007-09-01.txt", lambda: aligned_grouped(9, 2007, 2, reverse=True)),
    ("tab-2008-03-01.html", lambda: html_interleaved(4, 2007, [3, 4])),
    ("tab-2008-09-01.txt", lambda: pipe_genuine(12, 2008, 1, 2)),
    ("tab-2008-12-01.txt", lambda: aligned_grouped(9, 2008, 3)),
    ("tab-2009-03-01.txt", lambda: spaced_single(9, 2008, 4)),
    ("tab-2009-09-01.html", lambda: html_interleaved(4, 2009, [1, 2], skip={"0220"})),
    ("tab-2009-12-01.txt", lambda: aligned_grouped(9, 2009, 3, reverse=True)),
    ("tab-2010-03-01.txt", lambda: spaced_single(9, 2009, 4)),
    ("tab-2010-09-01.txt", lambda: pipe_genuine(12, 2010, 1, 2, skip={"0220"})),
    ("tab-2010-12-01.txt", lambda: aligned_grouped(9, 2010, 3)),
]


def main() -> None:
    for name, write in TABLES:
        (HERE / name).write_text(write(), encoding="utf-8")


if __name__ == "__main__":
    main()
