"""What the data measure and for whom, for a report's data section (nb/en): the outcome's
definition beside KS's, the cohort registry and what it does to power, and whether each input
is real or simulated.  Pure functions of the panel (or its manifest) and a language.

One call gives the whole section (for notebook 05)::

    sentences, table = definitions.data_definition_section(panel, inputs, lang)
    for s in sentences: report.say(s)
    report.table(table, caption, translate=False)

``panel`` may be a :class:`kvk_analysis.panel.Panel`, the panel DataFrame
(``data/processed/panel.parquet``) or the build manifest (``manifest.json`` as a dict, whose
``definition`` the build writes); the DataFrame and the manifest may be given together
(``manifest=``).  Every sentence is true for any panel these come from: numbers are counted,
not assumed, and no sentence reads a missing effect as proof of none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .provenance import input_status, is_derived
from .text import fmt_num

__all__ = [
    "FULL_PROGRAMME",
    "data_definition_section",
    "definition_of",
    "definition_sentences",
    "definition_table",
    "input_sentences",
    "registry_sentences",
]

#: Participants the programme had in all (sources say 138-140).
FULL_PROGRAMME = 138

_MEASURE = {
    "en": {
        "doctor_certified": "doctor-certified sick leave of all lengths",
        "doctor_certified_over3": "doctor-certified sick leave lasting over 3 days",
        "persons_doctor_certified": "the share of employees with doctor-certified sick leave "
        "(persons in percent of employees, not days)",
        "self_certified": "self-certified sick leave",
        "total": "sick leave, self- and doctor-certified",
    },
    "nb": {
        "doctor_certified": "legemeldt sykefravær av alle lengder",
        "doctor_certified_over3": "legemeldt sykefravær over 3 dager",
        "persons_doctor_certified": "andelen arbeidstakere med legemeldt sykefravær "
        "(personer i prosent av arbeidstakerne, ikke dagsverk)",
        "self_certified": "egenmeldt sykefravær",
        "total": "sykefravær, egen- og legemeldt",
    },
}
_BASIS = {
    "en": {
        "residence": "of all employees, counted at the municipality where they live "
        "(SSB's statistics by municipality of residence)",
        "workplace": "of all employees, counted at the municipality where they work "
        "(SSB's statistics by municipality of workplace)",
        "employer": "of the municipality's own employees, counted at the employing "
        "municipality (KS's register)",
        "unknown": "counted by municipality (the source does not say whether by residence or "
        "workplace)",
    },
    "nb": {
        "residence": "for alle arbeidstakere, regnet etter kommunen de bor i "
        "(SSBs statistikk etter bostedskommune)",
        "workplace": "for alle arbeidstakere, regnet etter kommunen de arbeider i "
        "(SSBs statistikk etter arbeidsstedskommune)",
        "employer": "for kommunens egne ansatte, regnet etter arbeidsgiverkommunen (KS' register)",
        "unknown": "regnet per kommune (kilden sier ikke om etter bosted eller arbeidssted)",
    },
}


def _n(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def _lang(lang: str) -> str:
    if lang not in ("nb", "en"):
        raise ValueError(f"lang must be 'nb' or 'en', not {lang!r}")
    return lang


def definition_of(panel: Any = None, manifest: Mapping | None = None) -> dict:
    """The definition record of a panel: ``measure``, ``unit_basis``, ``population``,
    ``preliminary_quarters``, registry counts (``participants_listed``,
    ``participants_cohort_known``, ``registry_complete``, ``known_non_participants``,
    ``units_unknown_status``) and, from a panel DataFrame, what is in the data
    (``n_units``, ``n_quarters``, ``treated_in_data``, ``controls_in_data``,
    ``missing_cells``, ``first_quarter``, ``last_quarter``)."""
    out: dict[str, Any] = {}
    if isinstance(manifest, Mapping):
        out.update(manifest.get("definition", {}) or {})
    data = None
    if panel is not None and hasattr(panel, "definition") and hasattr(panel, "data"):
        out.update(panel.definition)
        data = panel.data
    elif isinstance(panel, pd.DataFrame):
        data = panel
    elif isinstance(panel, Mapping):
        out.update(panel.get("definition", panel))
    if data is not None and len(data):
        d = data[data["sector"].astype(str) == "all"] if "sector" in data else data
        d = d if len(d) else data
        units = d.groupby("kommunenummer", observed=True).first()
        out.setdefault("measure", str(d["measure"].iloc[0]) if "measure" in d else "total")
        if "unit_basis" in d:
            out.setdefault("unit_basis", str(d["unit_basis"].iloc[0]))
        if "preliminary" in d:
            out.setdefault(
                "preliminary_quarters",
                sorted({str(p) for p in d.loc[d["preliminary"].astype(bool), "period"]}),
            )
        participant = units["participant"].astype(bool)
        never = units["never_treated"].astype(bool)
        known = units["cohort_known"].astype(bool) if "cohort_known" in units else participant
        out.setdefault("participants_listed", int(participant.sum()))
        out.setdefault("participants_cohort_known", int((participant & known).sum()))
        out.setdefault("units_unknown_status", int((~participant & ~never).sum()))
        out.setdefault("registry_complete", int((~participant & ~never).sum()) == 0)
        if "membership_source" in units:
            out.setdefault(
                "known_non_participants",
                sorted(units.index[units["membership_source"] == "known_non_participant"]),
            )
        out["n_units"] = int(len(units))
        periods = pd.period_range(d["period"].min(), d["period"].max(), freq="Q")
        out["n_quarters"] = len(periods)
        out["first_quarter"], out["last_quarter"] = str(periods[0]), str(periods[-1])
        out["treated_in_data"] = int((participant & known).sum())
        out["controls_in_data"] = int(never.sum())
        out["unknown_in_data"] = int((~participant & ~never).sum() + (participant & ~known).sum())
        have = d.loc[d["rate"].notna(), ["kommunenummer", "period"]].drop_duplicates()
        out["missing_cells"] = int(len(units) * len(periods) - len(have))
    out.setdefault("measure", "total")
    out.setdefault("unit_basis", "unknown")
    out.setdefault("preliminary_quarters", [])
    return out


def definition_table(
    panel: Any = None, lang: str = "nb", manifest: Mapping | None = None
) -> pd.DataFrame:
    """This analysis's outcome beside the KS definition the programme targeted: rows
    population, unit, leave counted, source; columns for the two definitions."""
    lang = _lang(lang)
    d = definition_of(panel, manifest)
    basis, measure = d["unit_basis"], d["measure"]
    en = lang == "en"
    pop = {
        "residence": ("All employees living in the municipality", "Alle arbeidstakere bosatt i kommunen"),
        "workplace": ("All employees working in the municipality", "Alle arbeidstakere som arbeider i kommunen"),
        "employer": ("The municipality's own employees", "Kommunens egne ansatte"),
        "unknown": ("Employees by municipality (basis not stated)", "Arbeidstakere per kommune (grunnlag ikke oppgitt)"),
    }  # fmt: skip
    unit = {
        "residence": ("Municipality of residence", "Bostedskommune"),
        "workplace": ("Municipality of workplace", "Arbeidsstedskommune"),
        "employer": ("Employing municipality", "Arbeidsgiverkommune"),
        "unknown": ("Not stated", "Ikke oppgitt"),
    }
    counted = {
        "doctor_certified": ("Doctor-certified only", "Bare legemeldt"),
        "doctor_certified_over3": ("Doctor-certified over 3 days only", "Bare legemeldt over 3 dager"),
        "persons_doctor_certified": ("Persons with doctor-certified leave (not days)",
                                     "Personer med legemeldt fravær (ikke dagsverk)"),
        "self_certified": ("Self-certified only", "Bare egenmeldt"),
        "total": ("Self- and doctor-certified", "Egen- og legemeldt"),
    }  # fmt: skip
    source = {
        "residence": ("SSB, published quarterly tables", "SSB, publiserte kvartalstabeller"),
        "workplace": ("SSB", "SSB"),
        "employer": ("KS, payroll register (PAI)", "KS, PAI-registeret"),
        "unknown": ("See the provenance", "Se proveniens"),
    }
    i = 0 if en else 1
    rows = [
        ("Population" if en else "Populasjon", pop.get(basis, pop["unknown"])[i], pop["employer"][i]),
        ("Unit" if en else "Enhet", unit.get(basis, unit["unknown"])[i], unit["employer"][i]),
        ("Leave counted" if en else "Fravær som telles", counted.get(measure, counted["total"])[i],
         counted["total"][i]),
        ("Source" if en else "Kilde", source.get(basis, source["unknown"])[i], source["employer"][i]),
    ]  # fmt: skip
    cols = (
        ["", "This analysis", "KVK's target (KS register)"]
        if en
        else ["", "Denne analysen", "KVKs mål (KS' register)"]
    )
    return pd.DataFrame(rows, columns=cols)


def definition_sentences(
    panel: Any = None, lang: str = "nb", manifest: Mapping | None = None
) -> list[str]:
    """The outcome's definition, how it differs from KS's and what that means for the
    evaluation; preliminary figures and gaps in the data."""
    lang = _lang(lang)
    d = definition_of(panel, manifest)
    basis, measure = d["unit_basis"], d["measure"]
    m = _MEASURE[lang].get(measure, measure)
    b = _BASIS[lang].get(basis, _BASIS[lang]["unknown"])
    en = lang == "en"
    out = [
        (f"The outcome is {m} {b}." if en else f"Utfallet er {m} {b}.")
        + (
            " Rates are lost working days in percent of contracted working days."
            if en and measure != "persons_doctor_certified"
            else " Ratene er tapte dagsverk i prosent av avtalte dagsverk."
            if not en and measure != "persons_doctor_certified"
            else ""
        )
    ]
    if basis == "employer" and measure == "total":
        out.append(
            "This is the definition the programme itself targeted: sick leave of the municipality's "
            "own employees in KS's register, self- and doctor-certified."
            if en
            else "Dette er definisjonen programmet selv siktet mot: sykefraværet blant kommunens "
            "egne ansatte i KS' register, egen- og legemeldt."
        )
    else:
        differs = []
        if basis in ("residence", "workplace"):
            differs += ["population", "unit"] if en else ["populasjon", "enhet"]
        if measure != "total":
            differs.append("the leave counted" if en else "hvilket fravær som telles")
        if en:
            tail = [f"this outcome differs in {_join(differs, 'and')}"] if differs else []
            if basis == "unknown":
                tail.append(
                    "it may also differ in population and unit, as the source does not say "
                    "how it counts"
                )
            out.append(
                "KVK targeted the sick leave of the municipality's own employees, counted at the "
                "employing municipality and including self-certified leave (KS's register); "
                + "; ".join(tail)
                + "."
            )
        else:
            tail = [f"dette utfallet skiller seg ut i {_join(differs, 'og')}"] if differs else []
            if basis == "unknown":
                tail.append(
                    "det kan også skille seg ut i populasjon og enhet, siden kilden ikke sier "
                    "hvordan den teller"
                )
            out.append(
                "KVK siktet mot sykefraværet blant kommunens egne ansatte, regnet etter "
                "arbeidsgiverkommunen og med egenmeldt fravær (KS' register); "
                + "; ".join(tail)
                + "."
            )
        if basis in ("residence", "workplace"):
            out.append(
                "Only part of the employees counted here work for the municipality, so an effect "
                "on the municipality's workplaces appears diluted by that share (and mixed with "
                "changes among other employers); an estimate near zero therefore does not show "
                "that the programme had no effect on its own employees."
                if en
                else "Bare en del av arbeidstakerne som telles her, arbeider i kommunen, så en "
                "effekt på kommunens arbeidsplasser blir uttynnet med denne andelen (og blandet "
                "med endringer hos andre arbeidsgivere); et estimat nær null viser derfor ikke at "
                "programmet var uten effekt for kommunens egne ansatte."
            )
        if measure in ("doctor_certified", "doctor_certified_over3", "persons_doctor_certified"):
            out.append(
                "Self-certified (short) absences are not counted, so an effect that works through "
                "them cannot be seen in this outcome."
                if en
                else "Egenmeldt (kort) fravær telles ikke, så en effekt som virker gjennom det, "
                "kan ikke ses i dette utfallet."
            )
    prelim = list(d.get("preliminary_quarters") or [])
    if prelim:
        q = ", ".join(prelim)
        out.append(
            f"Figures for {q} were marked preliminary by the source; later revisions are not "
            "included unless a later table repeated them."
            if en
            else f"Tallene for {q} var merket foreløpige av kilden; senere revisjoner er bare med "
            "der en senere tabell gjentok dem."
        )
    if "n_units" in d:
        miss = d.get("missing_cells", 0)
        out.append(
            (
                f"The panel has {_n(d['n_units'], 'municipality', 'municipalities')} and "
                f"{_n(d['n_quarters'], 'quarter', 'quarters')} "
                f"({d['first_quarter']}-{d['last_quarter']}); "
                + (
                    f"{miss} municipality-quarters have no figure and are left missing, not filled in."
                    if miss
                    else "every municipality has a figure in every quarter."
                )
            )
            if en
            else (
                f"Panelet har {_n(d['n_units'], 'kommune', 'kommuner')} og "
                f"{_n(d['n_quarters'], 'kvartal', 'kvartaler')} "
                f"({d['first_quarter']}-{d['last_quarter']}); "
                + (
                    f"{miss} kommune-kvartaler mangler tall og står som manglende, ikke utfylt."
                    if miss
                    else "alle kommuner har tall i alle kvartaler."
                )
            )
        )
    return out


def registry_sentences(
    panel: Any = None, lang: str = "nb", manifest: Mapping | None = None
) -> list[str]:
    """How many participants the registry documents, how unlisted municipalities are treated
    (never as controls when the registry is incomplete) and what that does to power."""
    lang = _lang(lang)
    d = definition_of(panel, manifest)
    en = lang == "en"
    n = d.get("participants_listed")
    k = d.get("participants_cohort_known")
    if n is None:
        return []
    if d.get("registry_complete"):
        return [
            f"The cohort registry lists {n} participants ({k} with a known pulje) and is taken as "
            "the complete list: municipalities it does not list form the never-treated "
            "comparison group."
            if en
            else f"Kohortregisteret har {n} deltakere ({k} med kjent pulje) og regnes som den "
            "fullstendige listen: kommuner som ikke står i det, er sammenligningsgruppen som "
            "aldri ble behandlet."
        ]
    non = list(d.get("known_non_participants") or [])
    unknown = d.get("units_unknown_status", 0)
    out = [
        f"The cohort registry documents {n} of the about {FULL_PROGRAMME}-140 participants, "
        f"{k} of them with a known pulje; the other participants are not identified."
        if en
        else f"Kohortregisteret dokumenterer {n} av de om lag {FULL_PROGRAMME}-140 deltakerne, "
        f"{k} av dem med kjent pulje; de andre deltakerne er ikke identifisert.",
        (
            "A municipality the registry does not list may have participated, so it is left out "
            "of both the treated and the comparison group and never used as a control"
            + (f" ({unknown} such municipalities in this panel)" if unknown else "")
            + "; so are documented participants whose pulje is unknown, because their first "
            "treated quarter is unknown."
        )
        if en
        else (
            "En kommune som ikke står i registeret, kan ha deltatt, og holdes derfor utenfor både "
            "behandlings- og sammenligningsgruppen og brukes aldri som kontroll"
            + (f" ({unknown} slike kommuner i dette panelet)" if unknown else "")
            + "; det samme gjelder dokumenterte deltakere med ukjent pulje, fordi første "
            "behandlede kvartal er ukjent."
        ),
        _non_participant_sentence(len(non), en),
    ]
    treated = d.get("treated_in_data", k) or 0
    if treated:
        factor = fmt_num(math.sqrt(FULL_PROGRAMME / treated), lang, 1)
        out.append(
            f"The estimates therefore rest on at most {treated} treated municipalities instead of "
            f"about {FULL_PROGRAMME}: the standard error of an average over treated municipalities "
            f"grows roughly with one over the square root of their number, so, other things equal, "
            f"it is about {factor} times as large as with the full registry; only large effects "
            "can be told from zero, and a non-significant estimate says little about the effect."
            if en
            else f"Estimatene hviler derfor på høyst {treated} behandlede kommuner i stedet for om "
            f"lag {FULL_PROGRAMME}: standardfeilen til et gjennomsnitt over behandlede kommuner "
            "vokser omtrent med én over kvadratroten av antallet, så den er, alt annet likt, om "
            f"lag {factor} ganger så stor som med det fullstendige registeret; bare store "
            "effekter kan skilles fra null, og et ikke-signifikant estimat sier lite om effekten."
        )
    else:
        out.append(
            "No participant with a known pulje has data in this panel, so no programme effect "
            "can be estimated from it."
            if en
            else "Ingen deltaker med kjent pulje har data i dette panelet, så ingen "
            "programeffekt kan estimeres fra det."
        )
    out.append(
        "A complete registry from KS can replace the documented one in the same command "
        "(kvk data build --registry FILE); the unlisted municipalities then become the "
        "comparison group."
        if en
        else "Et fullstendig register fra KS kan erstatte det dokumenterte i samme kommando "
        "(kvk data build --registry FIL); kommunene som ikke står i det, blir da "
        "sammenligningsgruppen."
    )
    return out


def _non_participant_sentence(n: int, en: bool) -> str:
    if n == 0:
        return (
            "No municipality in the data is documented as a non-participant, so there is no "
            "never-treated comparison group: comparisons rest on participants not yet treated."
            if en
            else "Ingen kommune i dataene er dokumentert som ikke-deltaker, så det finnes ingen "
            "sammenligningsgruppe som aldri ble behandlet: sammenligningene hviler på deltakere "
            "som ennå ikke var behandlet."
        )
    if en:
        what = "municipality is" if n == 1 else "municipalities are"
        unit = "a never-treated comparison unit" if n == 1 else "never-treated comparison units"
        return (
            f"{n} {what} documented as non-participant and kept as {unit}; apart from "
            f"{'it' if n == 1 else 'them'}, comparisons rest on participants not yet treated."
        )
    what = "kommune er" if n == 1 else "kommuner er"
    unit = "sammenligningsenhet" if n == 1 else "sammenligningsenheter"
    return (
        f"{n} {what} dokumentert som ikke-deltaker og beholdes som {unit} som aldri ble "
        "behandlet; ellers hviler sammenligningene på deltakere som ennå ikke var behandlet."
    )


def input_sentences(inputs: Iterable[str | Path], lang: str = "nb") -> list[str]:
    """One sentence listing the real and the simulated inputs (file names)."""
    lang = _lang(lang)
    real, sim = [], []
    seen = set()
    for p in inputs:
        key = Path(p).resolve()
        if key in seen or is_derived(p):  # the panel and manifest are not inputs of their own
            continue
        seen.add(key)
        (sim if input_status(p)[0] == "simulated" else real).append(Path(p).name)
    en = lang == "en"
    parts = []
    if real:
        parts.append(("Real inputs: " if en else "Ekte inndata: ") + ", ".join(real))
    if sim:
        word = "Simulated inputs: " if en else "Simulerte inndata: "
        parts.append((word if not parts else word.lower()) + ", ".join(sim))
    if not parts:
        return []
    tail = (
        "; simulated inputs are not observations, and results that use them say nothing about "
        "the real programme."
        if en and sim
        else "; simulerte inndata er ikke observasjoner, og resultater som bruker dem, sier ingenting "
        "om det virkelige programmet."
        if sim
        else "."
    )
    return ["; ".join(parts) + tail]


def data_definition_section(
    panel: Any,
    inputs: Iterable[str | Path] | Any = (),
    lang: str = "nb",
    manifest: Mapping | None = None,
) -> tuple[list[str], pd.DataFrame]:
    """The data section's sentences (definition, registry and power, real/simulated inputs)
    and the definition table (this analysis beside KS's definition).

    ``inputs``: the input files, or the :class:`kvk_analysis.build.BuildResult` (its manifest
    and input files are then used): ``data_definition_section(panel, build, lang)``."""
    if hasattr(inputs, "manifest") and hasattr(inputs, "outputs"):
        from .tables import input_files

        manifest = manifest if manifest is not None else inputs.manifest
        inputs = input_files(inputs)
    inputs = list(inputs)
    sentences = [
        *definition_sentences(panel, lang, manifest),
        *registry_sentences(panel, lang, manifest),
        *input_sentences(inputs, lang),
    ]
    return sentences, definition_table(panel, lang, manifest)
