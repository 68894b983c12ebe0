"""Report language (Norwegian bokmål ``nb`` or English ``en``): labels, headings, numbers, sentences.

Every number that appears in a report's running text is formatted here and every
result-dependent sentence is generated here, so a notebook never types a number by hand and
the wording (reduced / increased / not distinguishable from zero) always matches the estimate.

Conventions
-----------
- ``nb``: decimal comma, no-break space as thousands separator, the minus sign U+2212 ("−"),
  "95 % KI", "prosentpoeng".
- ``en``: decimal point, comma as thousands separator, ASCII hyphen-minus, "95 % CI",
  "percentage points".
- Missing values (``None``/NaN) are written as an en dash "–".
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, Literal

from ..errors import ReportError

Lang = Literal["nb", "en"]
LANGS: tuple[str, ...] = ("nb", "en")

#: Written for a value that is missing or could not be estimated.
MISSING = "–"
_NBSP = "\u00a0"
_MINUS_NB = "\u2212"


def check_lang(lang: str) -> Lang:
    """Return ``lang`` normalised to ``"nb"`` or ``"en"``; raise :class:`ReportError` otherwise.

    ``"no"``, ``"nob"`` and ``"nb-NO"`` are accepted as bokmål, ``"en-GB"`` etc. as English.
    """
    key = str(lang).strip().lower().replace("_", "-")
    if key in ("nb", "no", "nob", "nb-no", "no-nb", "bokmal", "bokmål", "norsk"):
        return "nb"
    if key == "en" or key.startswith("en-") or key == "english":
        return "en"
    raise ReportError(f"unknown report language {lang!r}; use 'nb' (bokmål) or 'en' (English)")


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))
    except (TypeError, ValueError):
        return False


def fmt_num(x: Any, lang: str = "nb", decimals: int = 1, *, signed: bool = False) -> str:
    """Format a number for running text or a table.

    Parameters
    ----------
    x
        The number (``None``/NaN give "–").
    lang
        ``"nb"`` (``-1 234,5`` with U+2212 and a no-break space) or ``"en"`` (``-1,234.5``).
    decimals
        Digits after the decimal separator.
    signed
        Write a plus sign for positive numbers (for changes).

    Negative numbers that round to zero are written without a sign ("0,0", not "−0,0").
    """
    lang = check_lang(lang)
    if _is_missing(x):
        return MISSING
    value = float(x)
    if math.isinf(value):
        return ("−" if lang == "nb" else "-") * (value < 0) + "∞"
    from ..numbers import format_number

    text = format_number(value, decimals, lang, minus=_MINUS_NB if lang == "nb" else "-")
    if signed and value > 0 and any(c not in "0,.\u00a0" for c in text):
        text = "+" + text
    return text


def fmt_int(x: Any, lang: str = "nb") -> str:
    """Format a count: ``12 345`` (nb, no-break space) / ``12,345`` (en)."""
    return fmt_num(x, lang, 0)


def fmt_pp(x: Any, lang: str = "nb", decimals: int = 1, *, long: bool = False, signed=False) -> str:
    """A difference of rates in percentage points: ``"−0,4 pp"`` or, with ``long``,
    ``"−0,4 prosentpoeng"`` / ``"-0.4 percentage points"``."""
    lang = check_lang(lang)
    unit = label("pp_long" if long else "pp", lang)
    return f"{fmt_num(x, lang, decimals, signed=signed)}{_NBSP}{unit}"


def fmt_pct(x: Any, lang: str = "nb", decimals: int = 1, *, signed: bool = False) -> str:
    """A rate in percent: ``"6,2 %"`` (nb) / ``"6.2 %"`` (en), with a no-break space."""
    return f"{fmt_num(x, lang, decimals, signed=signed)}{_NBSP}%"


def fmt_ci(lo: Any, hi: Any, lang: str = "nb", decimals: int = 1, *, level: float = 0.95) -> str:
    """A confidence interval: ``"95 % KI −0,7 til −0,1"`` / ``"95 % CI -0.7 to -0.1"``."""
    lang = check_lang(lang)
    lvl = fmt_num(level * 100, lang, 0 if float(level * 100).is_integer() else 1)
    abbr = label("ci", lang)
    to = label("to", lang)
    return f"{lvl}{_NBSP}% {abbr} {fmt_num(lo, lang, decimals)} {to} {fmt_num(hi, lang, decimals)}"


def fmt_p(p: Any, lang: str = "nb") -> str:
    """A p-value: ``"p = 0,03"``, ``"p < 0,001"``."""
    lang = check_lang(lang)
    if _is_missing(p):
        return f"p = {MISSING}"
    p = float(p)
    if p < 0.001:
        return f"p < {fmt_num(0.001, lang, 3)}"
    return f"p = {fmt_num(p, lang, 3 if p < 0.01 else 2)}"


def fmt_quarter(period: Any, lang: str = "nb") -> str:
    """A quarter: ``"1. kv. 2009"`` (nb) / ``"2009 Q1"`` (en).  Accepts a pandas Period or
    a string such as ``"2009Q1"``."""
    lang = check_lang(lang)
    if _is_missing(period) or str(period) in ("NaT", "<NA>"):
        return MISSING
    year = getattr(period, "year", None)
    quarter = getattr(period, "quarter", None)
    if year is None or quarter is None:
        text = str(period).upper().replace("K", "Q")
        year, quarter = int(text[:4]), int(text[-1])
    return f"{quarter}.{_NBSP}kv.{_NBSP}{year}" if lang == "nb" else f"{year}{_NBSP}Q{quarter}"


# --------------------------------------------------------------------------------------------
# Labels and headings
# --------------------------------------------------------------------------------------------

#: key -> {lang: text}.  Keys are English identifiers; notebooks and plots look texts up here.
LABELS: dict[str, dict[str, str]] = {
    # units and small words
    "pp": {"nb": "pp", "en": "pp"},
    "pp_long": {"nb": "prosentpoeng", "en": "percentage points"},
    "ci": {"nb": "KI", "en": "CI"},
    "to": {"nb": "til", "en": "to"},
    "figure": {"nb": "Figur", "en": "Figure"},
    "table": {"nb": "Tabell", "en": "Table"},
    "source": {"nb": "Kilde", "en": "Source"},
    "note": {"nb": "Merknad", "en": "Note"},
    "page": {"nb": "side", "en": "page"},
    # notices
    "simulated_banner": {
        "nb": "SIMULERTE DATA – tallene i denne rapporten er laget av en simulator og "
        "beskriver ikke virkelige kommuner.",
        "en": "SIMULATED DATA – the numbers in this report come from a simulator and do not "
        "describe real municipalities.",
    },
    "simulated_short": {"nb": "SIMULERTE DATA", "en": "SIMULATED DATA"},
    # report titles
    "title_data_quality": {"nb": "Datakvalitet", "en": "Data quality"},
    "title_cohorts": {"nb": "Puljer og utvikling i sykefraværet", "en": "Cohorts and trends"},
    "title_effect": {"nb": "Effekten av programmet", "en": "The programme effect"},
    "title_profile": {"nb": "Kommuneprofil", "en": "Municipality profile"},
    "title_evaluation": {
        "nb": "Evaluering av Kvalitetskommuneprogrammet",
        "en": "Evaluation of the Quality Municipality Programme (Kvalitetskommuneprogrammet)",
    },
    "subtitle_programme": {
        "nb": "Kvalitetskommuneprogrammet 2007–2009: sykefravær i kommunene",
        "en": "Kvalitetskommuneprogrammet 2007–2009: sick leave in the municipalities",
    },
    "subtitle_evaluation": {
        "nb": "Sykefravær i kommunene før og etter deltakelse, 2005–2011",
        "en": "Sick leave in Norwegian municipalities before and after taking part, 2005–2011",
    },
    # provenance
    "h_provenance": {"nb": "Sporbarhet (proveniens)", "en": "Provenance"},
    "h_contents": {"nb": "Innhold", "en": "Contents"},
    "series_analysis": {"nb": "Kvalitetskommuneprogrammet · analyse", "en": "KVK · analysis"},
    "series_evaluation": {
        "nb": "Kvalitetskommuneprogrammet – evaluering",
        "en": "The Quality Municipality Programme (KVK) – evaluation",
    },
    "imprint": {
        "nb": "Rapporten er laget automatisk med kvk {version}. Alle tall i teksten er beregnet "
        "fra dataene; datafiler, parametere og programversjoner står i sporbarhetstabellen "
        "til slutt.",
        "en": "This report was generated automatically with kvk {version}. Every number in the "
        "text is computed from the data; data files, parameters and software versions are "
        "listed in the provenance table at the end.",
    },
    "prov_item": {"nb": "Element", "en": "Item"},
    "prov_value": {"nb": "Verdi", "en": "Value"},
    "prov_notebook": {"nb": "Notatbok", "en": "Notebook"},
    "prov_parameter": {"nb": "Parameter", "en": "Parameter"},
    "prov_input": {"nb": "Inndata (SHA-256)", "en": "Input (SHA-256)"},
    "prov_package": {"nb": "Pakkeversjon", "en": "Package version"},
    "prov_git": {"nb": "Git-commit", "en": "Git commit"},
    "prov_date": {"nb": "Laget", "en": "Created"},
    "prov_python": {"nb": "Python", "en": "Python"},
    "prov_parameters": {"nb": "Parametere", "en": "Parameters"},
    "prov_inputs": {"nb": "Inndata", "en": "Input files"},
    "prov_packages": {"nb": "Programvareversjoner", "en": "Software versions"},
    # column labels used in tables
    "kommunenummer": {"nb": "Kommunenr.", "en": "Municipality no."},
    "kommune": {"nb": "Kommune", "en": "Municipality"},
    "pulje": {"nb": "Pulje", "en": "Cohort"},
    "sector": {"nb": "Sektor", "en": "Sector"},
    "period": {"nb": "Kvartal", "en": "Quarter"},
    "estimate": {"nb": "Estimat", "en": "Estimate"},
    "std_error": {"nb": "Std.feil", "en": "Std. error"},
    "p_value": {"nb": "p-verdi", "en": "p-value"},
    "conf_low": {"nb": "KI nedre", "en": "CI low"},
    "conf_high": {"nb": "KI øvre", "en": "CI high"},
    "event_time": {"nb": "Kvartaler siden start", "en": "Quarters since start"},
    "group": {"nb": "Pulje (første kvartal)", "en": "Cohort (first quarter)"},
    "time": {"nb": "Kvartal", "en": "Quarter"},
    "term": {"nb": "Størrelse", "en": "Term"},
    "rate": {"nb": "Sykefravær (%)", "en": "Sick leave (%)"},
    # sectors and measures
    "all": {"nb": "Alle sektorer", "en": "All sectors"},
    "care": {"nb": "Pleie og omsorg", "en": "Health and care"},
    "education": {"nb": "Oppvekst", "en": "Education"},
    "other": {"nb": "Annet", "en": "Other"},
    "total": {"nb": "Totalt sykefravær", "en": "Total sick leave"},
    "self_certified": {"nb": "Egenmeldt sykefravær", "en": "Self-certified sick leave"},
    "doctor_certified": {"nb": "Legemeldt sykefravær", "en": "Doctor-certified sick leave"},
    "never_treated": {"nb": "aldri deltatt", "en": "never treated"},
    "notyet_treated": {"nb": "ennå ikke deltatt", "en": "not yet treated"},
}


def label(key: str, lang: str = "nb") -> str:
    """The text of ``key`` in ``lang``; an unknown key is returned unchanged (so a column that
    has no translation keeps its own name)."""
    lang = check_lang(lang)
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry[lang]


def labels(keys: list[str] | tuple[str, ...], lang: str = "nb") -> dict[str, str]:
    """``{key: label(key, lang)}`` for renaming table columns."""
    return {k: label(k, lang) for k in keys}


# --------------------------------------------------------------------------------------------
# Sentences generated from results
# --------------------------------------------------------------------------------------------

_UNITS: dict[str, dict[str, str]] = {
    "pp": {"nb": "prosentpoeng", "en": "percentage points"},
    "percent": {"nb": "prosent", "en": "percent"},
    "days": {"nb": "dagsverk", "en": "working days"},
}


def _unit(unit: str, lang: Lang) -> str:
    try:
        word = _UNITS[unit][lang]
    except KeyError:
        raise ReportError(f"unknown unit {unit!r}; use one of {sorted(_UNITS)}") from None
    return word


def effect_sentence(
    estimate: Any,
    conf_low: Any,
    conf_high: Any,
    lang: str = "nb",
    unit: str = "pp",
    *,
    decimals: int = 1,
    outcome: str | None = None,
    level: float = 0.95,
) -> str:
    """A verb phrase describing an effect with its confidence interval.

    The phrase follows "has"/"har": "The programme has <phrase>." / "Programmet har <phrase>."

    - interval below zero: en "reduced sick leave by 0.4 percentage points (95 % CI -0.7 to
      -0.1)", nb "redusert sykefraværet med 0,4 prosentpoeng (95 % KI −0,7 til −0,1)";
    - interval above zero: "increased ... by" / "økt ... med";
    - interval containing zero: "changed sick leave by -0.2 percentage points, which is not
      statistically distinguishable from zero (95 % CI ...)" / "endret sykefraværet med −0,2
      prosentpoeng, som ikke er statistisk signifikant forskjellig fra null (95 % KI ...)";
    - estimate missing: "could not be estimated" phrasing.

    Parameters
    ----------
    estimate, conf_low, conf_high
        The point estimate and the interval, in ``unit``.
    lang
        ``"nb"`` or ``"en"``.
    unit
        ``"pp"`` (percentage points, the default for effects on a rate in percent),
        ``"percent"`` or ``"days"``.
    outcome
        The object of the verb; default "sick leave" / "sykefraværet".
    level
        Confidence level of the interval (for the "95 %" label).
    """
    lang = check_lang(lang)
    obj = outcome or ("sykefraværet" if lang == "nb" else "sick leave")
    if _is_missing(estimate):
        return (
            f"hatt en effekt på {obj} som ikke kunne anslås"
            if lang == "nb"
            else f"had an effect on {obj} that could not be estimated"
        )
    est = float(estimate)
    ci_known = not (_is_missing(conf_low) or _is_missing(conf_high))
    ci_decimals = decimals
    # a bound that rounds to zero without being zero gets one or two more decimals, so the
    # interval never reads "-0.4 to 0.0" for an interval that excludes zero
    while (
        ci_known
        and ci_decimals < decimals + 2
        and any(
            float(b) != 0 and round(abs(float(b)), ci_decimals) == 0 for b in (conf_low, conf_high)
        )
    ):
        ci_decimals += 1
    ci = fmt_ci(conf_low, conf_high, lang, ci_decimals, level=level)
    below = ci_known and float(conf_high) < 0
    above = ci_known and float(conf_low) > 0
    if below or above:
        size = fmt_num(abs(est), lang, decimals)
        word = _unit(unit, lang)
        if lang == "nb":
            verb = "redusert" if below else "økt"
            return f"{verb} {obj} med {size} {word} ({ci})"
        verb = "reduced" if below else "increased"
        return f"{verb} {obj} by {size} {word} ({ci})"
    size = fmt_num(est, lang, decimals)
    word = _unit(unit, lang)
    if not ci_known:
        if lang == "nb":
            return f"endret {obj} med {size} {word} (usikkerheten kunne ikke anslås)"
        return f"changed {obj} by {size} {word} (the uncertainty could not be estimated)"
    if lang == "nb":
        return (
            f"endret {obj} med {size} {word}, som ikke er statistisk signifikant "
            f"forskjellig fra null ({ci})"
        )
    return (
        f"changed {obj} by {size} {word}, which is not statistically distinguishable "
        f"from zero ({ci})"
    )


def _row_value(row: Mapping[str, Any] | Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def overall_row(result: Any) -> dict[str, Any]:
    """The overall effect of an estimator result as a dict with ``estimate``, ``conf_low``,
    ``conf_high``, ``std_error``, ``p_value`` (and ``band``).

    Accepts a result with an ``overall`` attribute (a mapping, a one-row DataFrame or an object
    with those attributes), a result with ``tidy()`` (the row whose ``term`` is ``"overall"``,
    else the only row), or a tidy DataFrame.
    """
    import pandas as pd

    try:
        source = getattr(result, "overall", None)
    except Exception:  # e.g. a dynamic TWFE result has no overall coefficient
        source = None
    if callable(source):
        source = source()
    if isinstance(source, int | float):  # a bare number (TWFE): read the interval from tidy()
        source = None
    if source is None:
        tidy = result.tidy() if hasattr(result, "tidy") else result
        if not isinstance(tidy, pd.DataFrame) or tidy.empty:
            raise ReportError("the result has no overall estimate (no 'overall' and no rows)")
        terms = tidy["term"].astype(str).str.lower() if "term" in tidy else None
        if terms is not None and (terms == "overall").any():
            source = tidy.loc[terms == "overall"].iloc[0]
        elif terms is not None and (terms == "post").sum() == 1:
            source = tidy.loc[terms == "post"].iloc[0]
        elif len(tidy) == 1:
            source = tidy.iloc[0]
        else:
            raise ReportError("the result has several rows and none with term 'overall'")
    if isinstance(source, pd.DataFrame):
        source = source.iloc[0]
    if isinstance(source, pd.Series):
        source = source.to_dict()
    names = ("estimate", "conf_low", "conf_high", "std_error", "p_value", "band")
    return {n: _row_value(source, n) for n in names}


def summarise_overall(
    result: Any,
    lang: str = "nb",
    *,
    subject: str | None = None,
    decimals: int = 1,
    outcome: str | None = None,
    context: str | None = None,
) -> str:
    """One sentence on the overall effect: "The programme is estimated to have reduced sick
    leave by 0.4 percentage points (95 % CI -0.7 to -0.1)." / "Programmet anslås å ha redusert
    sykefraværet med 0,4 prosentpoeng (95 % KI −0,7 til −0,1)."

    ``result`` is anything :func:`overall_row` accepts.  ``context`` opens the sentence with
    a condition: "With a matched comparison group, the programme is estimated ..." / "Med en
    matchet sammenligningsgruppe anslås programmet ...".
    """
    lang = check_lang(lang)
    row = overall_row(result)
    if _is_missing(row["estimate"]):
        return (
            "Den samlede effekten kunne ikke anslås med disse dataene."
            if lang == "nb"
            else "The overall effect could not be estimated from these data."
        )
    phrase = effect_sentence(
        row["estimate"],
        row["conf_low"],
        row["conf_high"],
        lang,
        decimals=decimals,
        outcome=outcome,
    )
    if lang == "nb":
        who = subject or "Programmet"
        if context:
            return f"{context} anslås {who[0].lower() + who[1:]} å ha {phrase}."
        return f"{who} anslås å ha {phrase}."
    who = subject or "The programme"
    if context:
        return f"{context}, {who[0].lower() + who[1:]} is estimated to have {phrase}."
    return f"{who} is estimated to have {phrase}."


def pretrend_sentence(test: Any, lang: str = "nb", *, alpha: float = 0.05) -> str:
    """The result of the joint test that the effects before joining are zero, in words.

    ``test`` is a :class:`kvk_analysis.did.EventStudyPretest` (its p-value and the number of
    quarters tested are used) or a bare p-value (``None``/NaN: the test could not be run).
    """
    lang = check_lang(lang)
    p_value = getattr(test, "p_value", test)
    event_times = getattr(test, "event_times", None)
    if _is_missing(p_value):
        return (
            "Testen av parallelle trender før start kunne ikke gjennomføres."
            if lang == "nb"
            else "The test of parallel pre-treatment trends could not be computed."
        )
    p = fmt_p(p_value, lang)
    if event_times:
        n = len(event_times)
        subject_nb = f"effektene i de {fmt_int(n, 'nb')} kvartalene før oppstart er null"
        subject_en = f"the effects in the {fmt_int(n, 'en')} quarters before joining are zero"
    else:
        subject_nb = "effektene før start er null"
        subject_en = "all pre-treatment effects are zero"
    if float(p_value) < alpha:
        return (
            f"Testen av at {subject_nb}, forkastes ({p}): trendene før "
            "programmet var ikke parallelle, og resultatene må tolkes med forsiktighet."
            if lang == "nb"
            else f"The test that {subject_en} is rejected ({p}): the "
            "trends before the programme were not parallel, and the results must be read "
            "with caution."
        )
    return (
        f"Testen av at {subject_nb}, forkastes ikke ({p}): dataene gir ikke "
        "holdepunkter for ulike trender før programmet."
        if lang == "nb"
        else f"The test that {subject_en} is not rejected ({p}): the "
        "data show no evidence of different trends before the programme."
    )


def count_sentence(n: Any, singular: str, plural: str, lang: str = "nb") -> str:
    """``"1 kommune"`` / ``"12 kommuner"`` with the count formatted for ``lang``."""
    n_int = int(n)
    return f"{fmt_int(n_int, lang)} {singular if n_int == 1 else plural}"


def compare_sentence(
    label_a: str, est_a: Any, label_b: str, est_b: Any, lang: str = "nb", decimals: int = 1
) -> str:
    """Two estimates side by side: "Callaway–Sant'Anna: −0,4 pp; TWFE: −0,3 pp (forskjell
    0,1 pp)." Used to place a robustness estimate beside the main one."""
    lang = check_lang(lang)
    diff = (
        float(est_b) - float(est_a)
        if not (_is_missing(est_a) or _is_missing(est_b))
        else float("nan")
    )
    word = "forskjell" if lang == "nb" else "difference"
    return (
        f"{label_a}: {fmt_pp(est_a, lang, decimals)}; {label_b}: {fmt_pp(est_b, lang, decimals)} "
        f"({word} {fmt_pp(diff, lang, decimals, signed=True)})."
    )


def panel_sentence(
    n_units: int,
    n_periods: int,
    n_sectors: int,
    n_missing: int,
    lang: str = "nb",
    *,
    start: Any = None,
    end: Any = None,
) -> str:
    """The size of the analysis panel and its missing cells, in one or two sentences."""
    lang = check_lang(lang)
    span = ""
    if start is not None and end is not None:
        span = (
            f" fra {fmt_quarter(start, lang)} til {fmt_quarter(end, lang)}"
            if lang == "nb"
            else f" from {fmt_quarter(start, lang)} to {fmt_quarter(end, lang)}"
        )
    if lang == "nb":
        head = (
            f"Analysepanelet har {count_sentence(n_units, 'kommune', 'kommuner', lang)}, "
            f"{count_sentence(n_periods, 'kvartal', 'kvartaler', lang)}{span} og "
            f"{count_sentence(n_sectors, 'sektor', 'sektorer', lang)} (medregnet alle sektorer)."
        )
        tail = (
            " Alle celler har en sykefraværsprosent."
            if n_missing == 0
            else f" {count_sentence(n_missing, 'celle mangler', 'celler mangler', lang)} "
            "sykefraværsprosent."
        )
        return head + tail
    head = (
        f"The analysis panel has {count_sentence(n_units, 'municipality', 'municipalities', lang)}, "
        f"{count_sentence(n_periods, 'quarter', 'quarters', lang)}{span} and "
        f"{count_sentence(n_sectors, 'sector', 'sectors', lang)} (all sectors included)."
    )
    tail = (
        " Every cell has a sick-leave rate."
        if n_missing == 0
        else f" {count_sentence(n_missing, 'cell lacks', 'cells lack', lang)} a sick-leave rate."
    )
    return head + tail


def describe_panel(panel: Any, lang: str = "nb") -> str:
    """:func:`panel_sentence` of an analysis panel (a DataFrame with ``kommunenummer``,
    ``period``, ``sector`` and ``rate``): its units, quarters (with the span), sectors and the
    cells without a rate."""
    return panel_sentence(
        panel["kommunenummer"].nunique(),
        panel["period"].nunique(),
        panel["sector"].nunique(),
        int(panel["rate"].isna().sum()),
        lang,
        start=panel["period"].min(),
        end=panel["period"].max(),
    )


def sample_sentence(sample: Any, lang: str = "nb") -> str:
    """Who is in an estimation sample (from :func:`kvk_analysis.report.tables.analysis_sample`):
    participants by pulje and never-treated comparison municipalities."""
    lang = check_lang(lang)
    units = sample.drop_duplicates("kommunenummer")
    treated = units.loc[units["gname"] > 0]
    n_never = int((units["gname"] == 0).sum())
    puljer = sorted(
        treated["pulje"].dropna().astype(str).unique(), key=["I", "II", "III", "IV"].index
    )
    joined = (" og " if lang == "nb" else " and ").join(
        [", ".join(puljer[:-1]), puljer[-1]] if len(puljer) > 1 else puljer
    )
    if lang == "nb":
        return (
            f"Estimeringsutvalget har {count_sentence(len(treated), 'deltakerkommune', 'deltakerkommuner', lang)} "
            f"i {'puljene' if len(puljer) > 1 else 'pulje'} {joined} og {count_sentence(n_never, 'sammenligningskommune', 'sammenligningskommuner', lang)} "
            "som aldri deltok."
        )
    return (
        f"The estimation sample has {count_sentence(len(treated), 'participating municipality', 'participating municipalities', lang)} "
        f"in {'cohorts' if len(puljer) > 1 else 'cohort'} {joined} and {count_sentence(n_never, 'comparison municipality', 'comparison municipalities', lang)} "
        "that never took part."
    )


def synth_sentence(
    name: str,
    effect: Any,
    rank: Any,
    n_units: Any,
    p_value: Any,
    lang: str = "nb",
    decimals: int = 1,
) -> str:
    """A synthetic-control result in words: the average post-period gap and its placebo rank.

    ``rank`` is the rank of the municipality's post/pre RMSPE ratio among ``n_units``
    (itself and the placebo donors); ``p_value`` = rank / n_units.
    """
    lang = check_lang(lang)
    if _is_missing(effect):
        return (
            f"For {name} kunne det ikke lages en syntetisk kontroll."
            if lang == "nb"
            else f"No synthetic control could be built for {name}."
        )
    size = fmt_pp(effect, lang, decimals, long=True)
    strong = not _is_missing(p_value) and float(p_value) <= 0.1
    if lang == "nb":
        tail = (
            "Bare få av placebokommunene har et like stort avvik, så forskjellen skiller seg ut."
            if strong
            else "Mange placebokommuner har like store avvik, så forskjellen kan skyldes tilfeldigheter."
        )
        return (
            f"Etter oppstart var sykefraværet i {name} i gjennomsnitt {size} "
            f"{'lavere' if float(effect) < 0 else 'høyere'} enn i den syntetiske kontrollen "
            f"(rang {fmt_int(rank, lang)} av {fmt_int(n_units, lang)}, {fmt_p(p_value, lang)}). "
            + tail
        ).replace(f" {_MINUS_NB}", " ")
    tail = (
        "Few placebo municipalities show as large a gap, so the difference stands out."
        if strong
        else "Many placebo municipalities show gaps as large, so the difference may be chance."
    )
    return (
        f"After the start, sick leave in {name} was on average "
        f"{fmt_pp(abs(float(effect)), lang, decimals, long=True)} "
        f"{'lower' if float(effect) < 0 else 'higher'} than in its synthetic control "
        f"(rank {fmt_int(rank, lang)} of {fmt_int(n_units, lang)}, {fmt_p(p_value, lang)}). " + tail
    )


#: Size groups of the panel (``size_group``) in words (nb with no-break spaces, as fmt_int).
_SIZE_WORDS: dict[str, dict[str, str]] = {
    "<5k": {"nb": "under 5\u00a0000 innbyggere", "en": "under 5,000 inhabitants"},
    "5-20k": {"nb": "5\u00a0000–20\u00a0000 innbyggere", "en": "5,000–20,000 inhabitants"},
    ">=20k": {"nb": "minst 20\u00a0000 innbyggere", "en": "at least 20,000 inhabitants"},
}


def synth_method(synth_result: Any, lang: str = "nb") -> str:
    """The method paragraph of a municipality profile: how the synthetic control and its
    donor pool were chosen (from ``synth_result.params``: ``donors``, ``donor_rule``,
    ``n_donors``) and how the placebo rank is read."""
    lang = check_lang(lang)
    params = getattr(synth_result, "params", {}) or {}
    n = int(params.get("n_donors", len(synth_result.weights)))
    rule = str(params.get("donor_rule", ""))
    kind = params.get("donors", "auto")
    m = re.search(r"(?:^|, )size group ([^,]+)(?:,|$)", rule)
    size = _SIZE_WORDS.get(m.group(1), {"nb": m.group(1), "en": m.group(1)})[lang] if m else ""
    nearest = "nearest" in rule
    if lang == "nb":
        if kind == "list":
            pool = f"{fmt_int(n, lang)} valgte sammenligningskommuner"
        else:
            pool = f"{fmt_int(n, lang)} kommuner som aldri deltok"
            if size:
                pool += f", alle med {size}"
            if nearest:
                pool += (
                    ", valgt blant dem som lå nærmest kommunen i sykefravær før oppstart "
                    "og i folketall"
                )
        why = (
            " Utvalget er begrenset til sammenlignbare kommuner for at kontrollen ikke skal "
            "tilpasses tilfeldige svingninger i små kommuner (Abadie 2021)."
            if kind == "auto"
            else ""
        )
        return (
            f"*Metode.* Den syntetiske kontrollen er et vektet gjennomsnitt av {pool}. "
            "Vektene er valgt slik at den følger kommunens sykefravær før oppstart så tett som "
            f"mulig.{why} Avviket etter oppstart, i forhold til avviket før, sammenlignes med "
            "det samme forholdet beregnet for hver av sammenligningskommunene (placebo); rangen "
            "viser hvor uvanlig kommunens avvik er."
        )
    if kind == "list":
        pool = f"{fmt_int(n, lang)} chosen comparison municipalities"
    else:
        pool = f"{fmt_int(n, lang)} municipalities that never took part"
        if size:
            pool += f", all with {size}"
        if nearest:
            pool += ", chosen as those closest to the municipality in sick leave before the start and in population"
    why = (
        " The pool is restricted to comparable municipalities so that the control does not fit "
        "the random ups and downs of small municipalities (Abadie 2021)."
        if kind == "auto"
        else ""
    )
    return (
        f"*Method.* The synthetic control is a weighted average of {pool}. The weights make it "
        f"follow the municipality's sick leave before the start as closely as possible.{why} "
        "The gap after the start, relative to the gap before, is compared with the same ratio "
        "computed for each comparison municipality (placebo); the rank shows how unusual the "
        "municipality's gap is."
    )


def twfe_sentence(cs_result: Any, twfe_result: Any, lang: str = "nb", decimals: int = 2) -> str:
    """The two-way fixed-effects estimate beside the Callaway–Sant'Anna estimate."""
    lang = check_lang(lang)
    cs = overall_row(cs_result)["estimate"]
    tw = overall_row(twfe_result)["estimate"]
    lead = (
        "Til sammenligning gir en vanlig toveis faste effekter-modell (TWFE) et annet tall: "
        if lang == "nb"
        else "For comparison, a conventional two-way fixed effects (TWFE) regression gives: "
    )
    return lead + compare_sentence("Callaway–Sant'Anna", cs, "TWFE", tw, lang, decimals)


def bacon_sentence(negative_share: Any, forbidden_share: Any, lang: str = "nb") -> str:
    """What the Goodman-Bacon decomposition says about the TWFE estimate."""
    lang = check_lang(lang)
    forb = fmt_pct(float(forbidden_share) * 100, lang, 0)
    neg = fmt_pct(float(negative_share) * 100, lang, 0)
    if lang == "nb":
        return (
            f"{forb} av vekten i TWFE-estimatet kommer fra «forbudte» sammenligninger der "
            f"tidlige deltakere brukes som kontroll for senere, og {neg} av cellevektene er "
            "negative. Når effekten endrer seg over tid, kan TWFE derfor gi et misvisende tall."
        )
    return (
        f"{forb} of the weight in the TWFE estimate comes from 'forbidden' comparisons that "
        f"use earlier participants as controls for later ones, and {neg} of the cell weights "
        "are negative. When effects change over time, TWFE can therefore mislead."
    )


def profile_key_figures(
    info: Mapping[str, Any], synth_result: Any, lang: str = "nb"
) -> dict[str, str]:
    """Key figures of a municipality profile (label -> formatted value): cohort, start,
    sick leave before and after the start, the synthetic-control gap and its placebo rank."""
    lang = check_lang(lang)
    path = synth_result.path
    pre = path.loc[~path["post"].astype(bool), "actual"].mean()
    post = path.loc[path["post"].astype(bool), "actual"].mean()
    n = len(getattr(synth_result, "placebo_stats", ())) or None
    rank = (  # rank among the municipality itself and its placebos
        f"{fmt_int(synth_result.rank, lang)} / {fmt_int(n + 1, lang)}"
        if n and not _is_missing(synth_result.rank)
        else MISSING
    )
    if lang == "nb":
        return {
            "Pulje": info.get("pulje") or "ukjent",
            "Oppstart": fmt_quarter(info.get("first_treated"), lang),
            "Sykefravær før (%)": fmt_num(pre, lang, 1),
            "Sykefravær etter (%)": fmt_num(post, lang, 1),
            "Avvik fra syntetisk kontroll": fmt_pp(synth_result.effect, lang, 2),
            "Placebo-rang": rank,
        }
    return {
        "Cohort": info.get("pulje") or "unknown",
        "Start": fmt_quarter(info.get("first_treated"), lang),
        "Sick leave before (%)": fmt_num(pre, lang, 1),
        "Sick leave after (%)": fmt_num(post, lang, 1),
        "Gap to synthetic control": fmt_pp(synth_result.effect, lang, 2),
        "Placebo rank": rank,
    }


def robustness_sentence(sensitivity: Any, main_estimate: Any, lang: str = "nb") -> str:
    """How many alternative specifications (placebo rows excluded) agree with the main
    estimate in sign and exclude zero, and whether the placebo estimates are near zero.

    ``main_estimate`` is a number or a result whose overall estimate :func:`overall_row` reads.
    """
    lang = check_lang(lang)
    if not isinstance(main_estimate, numbers.Real):
        main_estimate = overall_row(main_estimate)["estimate"]
    spec = sensitivity["spec"].astype(str)
    alt = sensitivity.loc[(spec != "baseline") & ~spec.str.startswith("placebo")]
    alt = alt.loc[alt["estimate"].notna()]
    sign = 1 if float(main_estimate) < 0 else -1
    agree = int(((alt["conf_high"] < 0) if sign == 1 else (alt["conf_low"] > 0)).sum())
    same_sign = int(((alt["estimate"] < 0) if sign == 1 else (alt["estimate"] > 0)).sum())
    plac = sensitivity.loc[spec.str.startswith("placebo") & sensitivity["estimate"].notna()]
    plac_sig = int(((plac["conf_high"] < 0) | (plac["conf_low"] > 0)).sum())
    n = len(alt)
    if lang == "nb":
        text = (
            f"I {fmt_int(same_sign, lang)} av {fmt_int(n, lang)} alternative spesifikasjoner har "
            f"estimatet samme fortegn som i hovedanalysen, og i {fmt_int(agree, lang)} av dem "
            "utelukker konfidensintervallet null."
        )
        if len(plac):
            text += (
                f" {fmt_int(plac_sig, lang)} av {fmt_int(len(plac), lang)} placebo-estimater er "
                "statistisk signifikant forskjellige fra null"
                + (
                    ", noe som taler mot at resultatet skyldes ulike trender."
                    if plac_sig == 0
                    else "; det svekker tilliten til at forskjellen skyldes programmet."
                )
            )
        return text
    text = (
        f"In {fmt_int(same_sign, lang)} of {fmt_int(n, lang)} alternative specifications the "
        f"estimate has the same sign as in the main analysis, and in {fmt_int(agree, lang)} of "
        "them the confidence interval excludes zero."
    )
    if len(plac):
        text += (
            f" {fmt_int(plac_sig, lang)} of {fmt_int(len(plac), lang)} placebo estimates are "
            "statistically distinguishable from zero"
            + (
                ", which speaks against the result being due to different trends."
                if plac_sig == 0
                else "; this weakens the case that the difference is due to the programme."
            )
        )
    return text


def simulated_caveat(simulated: bool, lang: str = "nb") -> str:
    """The closing caveat for simulated data ("" when the data are real)."""
    lang = check_lang(lang)
    if not simulated:
        return ""
    return (
        "Tallene bygger på simulerte data og viser hvordan evalueringen virker; de sier ingenting "
        "om den faktiske effekten av Kvalitetskommuneprogrammet."
        if lang == "nb"
        else "The numbers come from simulated data and show how the evaluation works; they say "
        "nothing about the actual effect of the programme."
    )
