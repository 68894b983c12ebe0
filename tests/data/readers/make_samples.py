"""Regenerate the KS and SSB CSV/JSON-stat samples in this folder (deterministic, seed 2008).

Run ``python tests/data/readers/make_samples.py``; the tests rely on the values it writes.
The published-table samples (``ssb_table_*``: aligned text, ``|`` text in cp1252, HTML in
ISO-8859-1) were laid out once in the style of SSB's 2000s web tables and are not touched
here.  All numbers are invented but of realistic size: municipal sick leave of 5-12 % (see
shared/reference/calibration).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MUNIS = [
    ("0101", "Halden"), ("0104", "Moss"), ("0111", "Hvaler"), ("0219", "Bærum"),
    ("0821", "Bø (Telemark)"), ("1119", "Hå"), ("2030", "Sør-Varanger"),
]  # fmt: skip
SECTORS = ["Pleie og omsorg", "Oppvekst", "Annet"]
QUARTERS = ["2008K3", "2008K4", "2009K1", "2009K2"]


def nb(x: float, decimals: int = 1, sep: str = "\u00a0") -> str:
    s = f"{x:,.{decimals}f}"
    return s.replace(",", "#").replace(".", ",").replace("#", sep)


def ks_aggregate(rng: np.random.Generator) -> list[str]:
    lines = ["Kommunenr;Kommune;Kvartal;Sektor;Antall ansatte;Avtalte dagsverk;"
             "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"]  # fmt: skip
    for code, name in MUNIS:
        size = rng.integers(40, 900)
        for q in QUARTERS:
            for s, base in zip(SECTORS, (0.105, 0.075, 0.085), strict=True):
                emp = int(size * {"Pleie og omsorg": 1.0, "Oppvekst": 0.8, "Annet": 0.5}[s])
                contracted = emp * 0.78 * 63
                rate = max(0.02, rng.normal(base, 0.015))
                self_ = contracted * rate * 0.12
                doctor = contracted * rate * 0.88
                lines.append(
                    f"{code};{name};{q};{s};{emp};{nb(contracted)};{nb(self_)};{nb(doctor)}"
                )
    return lines


def ks_employee(rng: np.random.Generator) -> list[str]:
    lines = ["Kommunenr;Kvartal;Sektor;Ansattnr;Kjonn;Stillingsprosent;Avtalte dagsverk;"
             "Tapte dagsverk egenmeldt;Tapte dagsverk legemeldt"]  # fmt: skip
    emp_id = 100000
    for code, _ in MUNIS[:3]:
        for s in SECTORS[:2]:
            staff = [(emp_id + i, rng.choice(["K", "M"], p=[0.8, 0.2]), rng.choice([50, 75, 80, 100]))
                     for i in range(int(rng.integers(3, 7)))]  # fmt: skip
            emp_id += 100
            for q in QUARTERS[:2]:
                for eid, sex, pct in staff:
                    contracted = round(63 * pct / 100, 1)
                    self_ = float(rng.choice([0, 0, 0, 1, 2, 3]))
                    doctor = float(rng.choice([0, 0, 0, 0, 4.5, 12, 30]))
                    doctor = min(doctor, contracted - self_)
                    lines.append(
                        f"{code};{q};{s};{eid};{sex};{pct};{nb(contracted)};{nb(self_)};{nb(doctor)}"
                    )
    return lines


def ssb_long(rng: np.random.Generator) -> list[str]:
    lines = ['"12441: Sykefravær for lønnstakere (prosent), etter region, kjønn, kvartal og statistikkvariabel"', "",
             '"region";"kjønn";"kvartal";"statistikkvariabel";"12441: Sykefravær for lønnstakere"']  # fmt: skip
    for code, name in [("0", "Hele landet")] + MUNIS:
        scale = 2000 if code == "0" else 1
        for q in QUARTERS:
            parts = {}
            for sex, share in (("Menn", 0.25), ("Kvinner", 0.75)):
                contracted = float(rng.integers(20_000, 400_000)) * share * scale
                parts[sex] = (round(contracted * rng.normal(0.075, 0.012)), round(contracted))
            parts["Begge kjønn"] = tuple(parts["Menn"][i] + parts["Kvinner"][i] for i in range(2))
            for sex in ["Begge kjønn", "Menn", "Kvinner"]:
                lost, contracted = parts[sex]
                for var in ["Sykefraværsprosent", "Tapte dagsverk", "Avtalte dagsverk"]:
                    val = {"Sykefraværsprosent": nb(lost / contracted * 100),
                           "Tapte dagsverk": nb(lost, 0, " "), "Avtalte dagsverk": nb(contracted, 0, " ")}[var]  # fmt: skip
                    if code == "2030" and sex == "Menn" and q == "2009K2":
                        val = ":"
                    if code == "0821" and q == "2008K3" and var != "Sykefraværsprosent":
                        val = ".."
                    label = f"{code} {name}" if code != "0" else "0 Hele landet"
                    lines.append(f'"{label}";"{sex}";"{q}";"{var}";{val}')
    lines += ["", '"Kilde: Statistisk sentralbyrå"', '"Tallene for 2009K2 er foreløpige."']
    return lines


def ssb_wide(rng: np.random.Generator) -> list[str]:
    head = ['"region"'] + [f'"Sykefraværsprosent {q}"' for q in QUARTERS]
    lines = ['"Sykefravær for lønnstakere etter arbeidsstedskommune. Egenmeldt og legemeldt. Prosent"',
             ";".join(head)]  # fmt: skip
    for code, name in MUNIS:
        vals = [nb(rng.normal(8, 1.5)) for _ in QUARTERS]
        if code == "0111":
            vals[0] = "."
        if code == "0219":
            vals[3] = "-"
        lines.append(";".join([f'"{code} {name}"', *vals]))
    return lines


def ssb_by_variable(rng: np.random.Generator) -> list[str]:
    lines = ['"Legemeldt sykefravær, etter bostedskommune og kvartal"', "",
             '"region";"kvartal";"Tapte dagsverk, legemeldt";"Avtalte dagsverk";"Lønnstakere"']  # fmt: skip
    for code, name in MUNIS:
        for q in QUARTERS:
            emp = int(rng.integers(900, 60_000))
            contracted = emp * 61
            lost = contracted * rng.normal(0.065, 0.01)
            lines.append(
                f'"{code} {name}";"{q}";{nb(lost, 0, " ")};{nb(contracted, 0, " ")};{nb(emp, 0, " ")}'
            )
    return lines


def jsonstat(rng: np.random.Generator) -> dict:
    regions = [
        ("K-" + c if c != "0" else c, n)
        for c, n in [("0101", "Halden"), ("0104", "Moss"), ("1119", "Hå")]
    ]
    quarters = QUARTERS
    contents = [("SykefravProsent", "Sykefraværsprosent"), ("TapteDagsverk", "Tapte dagsverk"),
                ("AvtalteDagsverk", "Avtalte dagsverk")]  # fmt: skip
    sexes = [("0", "Begge kjønn"), ("2", "Kvinner")]
    values, status = [], {}
    i = 0
    for _r in regions:
        for _s in sexes:
            for _q in quarters:
                contracted = float(rng.integers(10_000, 90_000))
                lost = round(contracted * rng.normal(0.08, 0.01), 0)
                for code, _ in contents:
                    v = {"SykefravProsent": round(lost / contracted * 100, 1), "TapteDagsverk": lost,
                         "AvtalteDagsverk": contracted}[code]  # fmt: skip
                    values.append(v)
                    i += 1
    # Suppressed and missing cells, as PxWebApi writes them (value null + status symbol).
    for pos, sym in ((5, ":"), (13, ".."), (14, "..")):
        values[pos] = None
        status[str(pos)] = sym
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "12441: Sykefravær for lønnstakere, etter region, kjønn, kvartal og statistikkvariabel",
        "source": "Statistisk sentralbyrå",
        "updated": "2010-06-17T06:00:00Z",
        "id": ["Region", "Kjonn", "Tid", "ContentsCode"],
        "size": [len(regions), len(sexes), len(quarters), len(contents)],
        "role": {"time": ["Tid"], "metric": ["ContentsCode"], "geo": ["Region"]},
        "dimension": {
            "Region": {
                "label": "region",
                "category": {
                    "index": {c: k for k, (c, _) in enumerate(regions)},
                    "label": dict(regions),
                },
            },
            "Kjonn": {
                "label": "kjønn",
                "category": {
                    "index": {c: k for k, (c, _) in enumerate(sexes)},
                    "label": dict(sexes),
                },
            },
            "Tid": {
                "label": "kvartal",
                "category": {
                    "index": {q: k for k, q in enumerate(quarters)},
                    "label": {q: q for q in quarters},
                },
            },
            "ContentsCode": {
                "label": "statistikkvariabel",
                "category": {
                    "index": {c: k for k, (c, _) in enumerate(contents)},
                    "label": dict(contents),
                    "unit": {"SykefravProsent": {"base": "prosent", "decimals": 1}},
                },
            },
        },
        "value": values,
        "status": status,
    }


def main() -> None:
    rng = np.random.default_rng(2008)
    (HERE / "ks_aggregate.csv").write_bytes(
        "\ufeff".encode() + "\r\n".join(ks_aggregate(rng)).encode() + b"\r\n"
    )
    (HERE / "ks_aggregate_cp1252.csv").write_bytes(
        "\n".join(ks_aggregate(rng)).replace("\u00a0", " ").encode("cp1252") + b"\n"
    )
    (HERE / "ks_employee.csv").write_text("\n".join(ks_employee(rng)) + "\n", encoding="utf-8")
    (HERE / "ssb_long.csv").write_bytes("\r\n".join(ssb_long(rng)).encode("latin-1") + b"\r\n")
    (HERE / "ssb_wide.csv").write_bytes("\r\n".join(ssb_wide(rng)).encode("latin-1") + b"\r\n")
    (HERE / "ssb_by_variable.csv").write_text(
        "\n".join(ssb_by_variable(rng)) + "\n", encoding="utf-8-sig"
    )
    (HERE / "ssb_jsonstat.json").write_text(
        json.dumps(jsonstat(rng), ensure_ascii=False, indent=1), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
