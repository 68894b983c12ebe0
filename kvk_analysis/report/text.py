"""Report language (Norwegian bokmål ``nb`` or English ``en``): labels, headings, numbers, sentences.

Every number that appears in a report's running text is formatted here and every
result-dependent sentence is generated here, so a notebook never types a number by hand and
the wording (reduced / increased / not distinguishable from zero) always matches the estimate.

Conventions
-----------
- ``nb``: decimal comma, no-break space as thousands separator, the minus sign U+2212 ("−"),
  "95 % KI", "prosentpoeng".
- ``en``: decimal point, comma as thousands separator, the same minus sign U+2212,
  "95 % CI", "percentage points".
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
        ``"nb"`` (``−1 234,5`` with a no-break space) or ``"en"`` (``−1,234.5``); both with
        the true minus sign U+2212.
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
        return _MINUS_NB * (value < 0) + "∞"
    from ..numbers import format_number

    text = format_number(value, decimals, lang, minus=_MINUS_NB)
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
    "prov_input_status": {"nb": "Ekte eller simulert", "en": "Real or simulated"},
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

    if isinstance(result, Mapping) and "estimate" in result:
        names = ("estimate", "conf_low", "conf_high", "std_error", "p_value", "band")
        return {n: result.get(n) for n in names}
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
            f"Hypotesen om at {subject_nb}, forkastes ({p}): trendene før "
            "programmet var ikke parallelle, og resultatene må tolkes med forsiktighet."
            if lang == "nb"
            else f"The hypothesis that {subject_en} is rejected ({p}): the "
            "trends before the programme were not parallel, and the results must be read "
            "with caution."
        )
    return (
        f"Hypotesen om at {subject_nb}, forkastes ikke ({p}): testen fant ikke forskjeller i "
        "trend før programmet, men det viser ikke at trendene var parallelle."
        if lang == "nb"
        else f"The hypothesis that {subject_en} is not rejected ({p}): the test found no "
        "difference in trends before the programme, which does not show that the trends were "
        "parallel."
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
    cells without a rate (a row with no rate and a municipality-quarter-sector absent from
    the panel, as in an unbalanced panel built from published tables, both count)."""
    n_units, n_periods = panel["kommunenummer"].nunique(), panel["period"].nunique()
    n_sectors = panel["sector"].nunique()
    have = panel.loc[panel["rate"].notna(), ["kommunenummer", "period", "sector"]]
    n_missing = n_units * n_periods * n_sectors - len(have.drop_duplicates())
    return panel_sentence(
        n_units,
        n_periods,
        n_sectors,
        int(n_missing),
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
    decimals: int = 2,
) -> str:
    """A synthetic-control result in words: the average post-period gap (percentage points,
    ``decimals`` as the profile's key-figure card prints it) and its placebo rank.

    ``rank`` is the rank of the municipality's post/pre RMSPE ratio among ``n_units``
    (itself and the placebo donors); ``p_value`` = rank / n_units (printed by :func:`fmt_p`,
    as the figure's title prints it).
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
    # a gap that rounds to zero at the printed precision is neither "lower" nor "higher"
    level = round(abs(float(effect)), decimals) == 0
    if lang == "nb":
        tail = (
            "Bare få av placebokommunene har et like stort avvik, så forskjellen skiller seg ut."
            if strong
            else "Mange placebokommuner har like store avvik, så forskjellen kan skyldes tilfeldigheter."
        )
        where = (
            f"på samme nivå som i den syntetiske kontrollen (avvik {size}; "
            if level
            else f"i gjennomsnitt {size} {'lavere' if float(effect) < 0 else 'høyere'} enn i "
            "den syntetiske kontrollen ("
        )
        return (
            f"Etter oppstart var sykefraværet i {name} {where}"
            f"rang {fmt_int(rank, lang)} av {fmt_int(n_units, lang)}, {fmt_p(p_value, lang)}). "
            + tail
        ).replace(f" {_MINUS_NB}", " ")
    tail = (
        "Few placebo municipalities show as large a gap, so the difference stands out."
        if strong
        else "Many placebo municipalities show gaps as large, so the difference may be chance."
    )
    magnitude = fmt_pp(abs(float(effect)), lang, decimals, long=True)
    where = (
        f"level with its synthetic control (gap {magnitude}; "
        if level
        else f"on average {magnitude} {'lower' if float(effect) < 0 else 'higher'} than in its "
        "synthetic control ("
    )
    return (
        f"After the start, sick leave in {name} was {where}"
        f"rank {fmt_int(rank, lang)} of {fmt_int(n_units, lang)}, {fmt_p(p_value, lang)}). " + tail
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
            "negative. Når effekten endrer seg over tid, kan slike sammenligninger gjøre TWFE "
            "misvisende."
        )
    return (
        f"{forb} of the weight in the TWFE estimate comes from 'forbidden' comparisons that "
        f"use earlier participants as controls for later ones, and {neg} of the cell weights "
        "are negative. When effects change over time, such comparisons can make TWFE mislead."
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
                    "; om de er små, avgjøres av størrelsen i forhold til effekten, ikke av "
                    "signifikansen."
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
                "; whether they are small is judged by their size relative to the effect, "
                "not by significance."
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


# --------------------------------------------------------------------------------------------
# Texts of an evaluation (kvk_analysis.report.evaluation.EvaluationResults)
# --------------------------------------------------------------------------------------------

#: A placebo estimate smaller than this share of the headline effect (in absolute size) is
#: called "small relative to the effect".
PLACEBO_SMALL = 0.25
#: A placebo estimate at least this share of the headline effect is called "as large as a
#: substantial part of the effect" and the text says it weakens the design.
PLACEBO_LARGE = 0.5
#: TWFE and Callaway-Sant'Anna are called "close" when they differ by less than this share of
#: the Callaway-Sant'Anna estimate.
TWFE_CLOSE = 0.2
#: The Goodman-Bacon decomposition is a warning when at least this share of the TWFE weight
#: comes from comparisons with already-treated controls ...
BACON_FORBIDDEN = 0.10
#: ... or at least this share of the cell weights is negative.
BACON_NEGATIVE = 0.01
#: The effect is said to fade when the average of the last :data:`FADE_QUARTERS` estimated
#: quarters after the start is less than this share of the peak.
FADE_SHARE = 0.5
FADE_QUARTERS = 4
#: A subgroup "stands out" when its estimate is at least this many times the reference
#: estimate (or at most its inverse) ...
HETEROGENEITY_RATIO = 1.5
#: ... and it has at least this many participating municipalities.
MIN_SUBGROUP_TREATED = 10
#: Standardised mean difference after matching above which balance is called imperfect.
BALANCE_SMD = 0.1
#: Participants' pre-programme level is called "about the same" as the comparison group's
#: when the two differ by less than this many percentage points.
SELECTION_SAME_PP = 0.1
#: The event-study estimators of the estimator comparison are said to agree with
#: Callaway-Sant'Anna when each one's mean effect over quarters 0..max_e after the start
#: (the same quantity for all of them) differs from Callaway-Sant'Anna's by less than this
#: share of it.  Static TWFE and synthetic DiD estimate other averages and are not judged.
ESTIMATORS_AGREE = 0.25

_THRESHOLDS: dict[str, tuple[float, dict[str, str]]] = {
    "PLACEBO_SMALL": (
        PLACEBO_SMALL,
        {
            "nb": "placebo-estimat under denne andelen av hovedeffekten kalles små",
            "en": "placebo estimates below this share of the main effect are called small",
        },
    ),
    "PLACEBO_LARGE": (
        PLACEBO_LARGE,
        {
            "nb": "placebo-estimat på minst denne andelen av hovedeffekten svekker designet",
            "en": "placebo estimates of at least this share of the main effect weaken the design",
        },
    ),
    "TWFE_CLOSE": (
        TWFE_CLOSE,
        {
            "nb": "TWFE og Callaway–Sant'Anna kalles nære når forskjellen er under denne andelen "
            "av hovedeffekten",
            "en": "TWFE and Callaway–Sant'Anna are called close when they differ by less than "
            "this share of the main effect",
        },
    ),
    "BACON_FORBIDDEN": (
        BACON_FORBIDDEN,
        {
            "nb": "andel av TWFE-vekten fra sammenligninger med allerede behandlede kontroller "
            "som gir advarsel",
            "en": "share of the TWFE weight from comparisons with already-treated controls that "
            "triggers a warning",
        },
    ),
    "BACON_NEGATIVE": (
        BACON_NEGATIVE,
        {
            "nb": "andel negative cellevekter som gir advarsel",
            "en": "share of negative cell weights that triggers a warning",
        },
    ),
    "FADE_SHARE": (
        FADE_SHARE,
        {
            "nb": f"effekten kalles avtagende når snittet av de siste {FADE_QUARTERS} kvartalene "
            "er under denne andelen av toppen",
            "en": f"the effect is called fading when the mean of the last {FADE_QUARTERS} "
            "quarters is below this share of the peak",
        },
    ),
    "HETEROGENEITY_RATIO": (
        HETEROGENEITY_RATIO,
        {
            "nb": "en undergruppe skiller seg ut når estimatet er minst så mange ganger "
            f"(eller høyst den inverse av) referansen, med minst {MIN_SUBGROUP_TREATED} deltakere",
            "en": "a subgroup stands out when its estimate is at least this many times (or at "
            f"most the inverse of) the reference, with at least {MIN_SUBGROUP_TREATED} "
            "participants",
        },
    ),
    "BALANCE_SMD": (
        BALANCE_SMD,
        {
            "nb": "standardisert forskjell etter matching over denne grensen kalles ufullstendig "
            "balanse",
            "en": "a standardised difference after matching above this is called imperfect balance",
        },
    ),
    "SELECTION_SAME_PP": (
        SELECTION_SAME_PP,
        {
            "nb": "forskjell i sykefravær før start (pp) under denne grensen kalles omtrent lik",
            "en": "a difference in pre-programme sick leave (pp) below this is called about the "
            "same",
        },
    ),
    "ESTIMATORS_AGREE": (
        ESTIMATORS_AGREE,
        {
            "nb": "hendelsesstudie-estimatorene kalles samstemte med Callaway–Sant'Anna når "
            "snittet over kvartal 0–8 etter oppstart skiller seg med mindre enn denne andelen "
            "av Callaway–Sant'Annas snitt",
            "en": "the event-study estimators are said to agree with Callaway–Sant'Anna when "
            "their mean over quarters 0–8 after the start differs by less than this share of "
            "Callaway–Sant'Anna's mean",
        },
    ),
}


def thresholds(lang: str | None = None) -> dict[str, Any]:
    """The thresholds of number-dependent wording: ``{name: value}``, or with ``lang``
    ``{name: (value, meaning)}``."""
    if lang is None:
        return {k: v for k, (v, _) in _THRESHOLDS.items()}
    lang = check_lang(lang)
    return {k: (v, d[lang]) for k, (v, d) in _THRESHOLDS.items()}


#: Names of the aggregations, the same everywhere (tables, figures, sentences).
AGGREGATION_LABELS: dict[str, dict[str, str]] = {
    "group": {
        "nb": "Samlet effekt (gjennomsnitt over puljer)",
        "en": "Overall effect (average over cohorts)",
    },
    "simple": {
        "nb": "Gjennomsnitt over alle pulje-kvartaler etter oppstart",
        "en": "Average over all cohort-quarters after the start",
    },
    "dynamic": {
        "nb": "Gjennomsnitt over kvartaler etter oppstart",
        "en": "Average over quarters since the start",
    },
    "calendar": {
        "nb": "Gjennomsnitt over kalenderkvartaler",
        "en": "Average over calendar quarters",
    },
}

_SECTOR_IN: dict[str, dict[str, str]] = {
    "all": {"nb": "i alle sektorer", "en": "in all sectors"},
    "care": {"nb": "i pleie og omsorg", "en": "in health and care"},
    "education": {"nb": "i oppvekst", "en": "in education"},
    "other": {"nb": "i andre sektorer", "en": "in other sectors"},
}

_WEIGHTING: dict[str, dict[str, str]] = {
    "units": {"nb": "kommunene likt vektet", "en": "municipalities weighted equally"},
    "days": {"nb": "vektet med avtalte dagsverk", "en": "weighted by contracted working days"},
}


#: The weighting as an adverbial phrase ("... is estimated <phrase>").
_WITH: dict[str, dict[str, str]] = {
    "units": {"nb": "med kommunene likt vektet", "en": "with municipalities weighted equally"},
    "days": {"nb": "vektet med avtalte dagsverk", "en": "weighted by contracted working days"},
}

#: Sector names inside a sentence.
_SECTOR_NAME: dict[str, dict[str, str]] = {
    "all": {"nb": "alle sektorer", "en": "all sectors"},
    "care": {"nb": "pleie og omsorg", "en": "health and care"},
    "education": {"nb": "oppvekst", "en": "education"},
    "other": {"nb": "andre sektorer", "en": "other sectors"},
}


def cohort_label(pulje: Any, first_quarter: Any, lang: str = "nb") -> str:
    """A cohort as tables and figures name it: ``"Pulje I (2. kv. 2007)"`` /
    ``"Cohort I (2007 Q2)"``.  ``first_quarter`` is a Period, a ``"2007Q2"`` string or the
    integer quarter index (``gname``)."""
    lang = check_lang(lang)
    if isinstance(first_quarter, numbers.Integral) and not isinstance(first_quarter, bool):
        from ..periods import index_to_quarter

        first_quarter = index_to_quarter(int(first_quarter))
    word = label("pulje", lang)
    if _is_missing(pulje) or str(pulje) in ("", "<NA>"):
        return f"{word} ({fmt_quarter(first_quarter, lang)})"
    return f"{word} {pulje} ({fmt_quarter(first_quarter, lang)})"


def comparison_phrase(control_group: str, lang: str = "nb") -> str:
    """Who the participants are compared with: never-treated municipalities, or those plus
    participants that have not started yet."""
    lang = check_lang(lang)
    if control_group == "notyettreated":
        return (
            "kommuner som aldri deltok og deltakerkommuner som ennå ikke hadde startet"
            if lang == "nb"
            else "municipalities that never took part and participants that had not yet started"
        )
    return "kommuner som aldri deltok" if lang == "nb" else "municipalities that never took part"


def sector_phrase(sector: str, lang: str = "nb") -> str:
    """``"i pleie og omsorg"`` / ``"in health and care"``."""
    lang = check_lang(lang)
    return _SECTOR_IN.get(sector, {"nb": f"i {sector}", "en": f"in {sector}"})[lang]


def spec_subtitle(spec: Any, lang: str = "nb") -> str:
    """The specification in one line for the subtitle: sector, measure, comparison group,
    base period, estimator, anticipation, weighting, cohorts and window."""
    lang = check_lang(lang)
    nb = lang == "nb"
    cohorts = list(spec.cohorts)
    pul = (
        ("alle puljer" if nb else "all cohorts")
        if len(cohorts) == 4
        else (("pulje " if len(cohorts) == 1 else "puljene ") if nb else "cohorts ")
        + ", ".join(cohorts)
    )
    window = ""
    if spec.start and spec.end:
        window = f"{fmt_quarter(spec.start, lang)}–{fmt_quarter(spec.end, lang)}"
    control = label(
        "never_treated" if spec.control_group == "nevertreated" else "notyet_treated", lang
    )
    base = {"varying": ("varierende", "varying"), "universal": ("universell", "universal")}[
        spec.base_period
    ][0 if nb else 1]
    parts = [
        label(spec.sector, lang),
        label(spec.measure, lang).lower() if nb else label(spec.measure, lang).lower(),
        ("kontrollgruppe: " if nb else "control group: ") + control,
        ("basisperiode: " if nb else "base period: ") + base,
        ("estimator: " if nb else "estimator: ") + spec.est_method,
        ("forventning: " if nb else "anticipation: ")
        + f"{spec.anticipation}{_NBSP}{'kv.' if nb else 'q.'}",
        _WEIGHTING[spec.weighting][lang],
        pul,
    ]
    if spec.balance_e is not None:
        parts.append(
            f"balansert vindu 0–{spec.balance_e}{_NBSP}kv."
            if nb
            else f"balanced window 0–{spec.balance_e}{_NBSP}q."
        )
    if window:
        parts.append(window)
    parts.append(
        ("bootstrap-inferens" if nb else "bootstrap inference")
        if spec.inference == "bootstrap"
        else ("analytisk inferens" if nb else "analytic inference")
    )
    return " · ".join(parts)


def profile_subtitle(
    sector: str, measure: str, start: Any = None, end: Any = None, lang: str = "nb"
) -> str:
    """A municipality profile's subtitle: the programme, then what its numbers are (sector,
    measure, window), so a profile of one sector or measure says so where it begins."""
    lang = check_lang(lang)
    parts = [label("subtitle_programme", lang), label(sector, lang), label(measure, lang).lower()]
    if start and end:
        parts.append(f"{fmt_quarter(start, lang)}–{fmt_quarter(end, lang)}")
    return " · ".join(parts)


def estimate_label(key: str, lang: str = "nb", results: Any = None) -> str:
    """The row label of an overall estimate (keys of
    :meth:`~kvk_analysis.report.evaluation.EvaluationResults.estimates`); one label per key,
    never shared by two aggregations or specifications."""
    lang = check_lang(lang)
    nb = lang == "nb"
    getattr(results, "spec", None)
    kind, _, rest = key.partition(":")
    if key == "headline":
        return AGGREGATION_LABELS["group"][lang]
    if kind == "aggregation":
        return AGGREGATION_LABELS[rest][lang]
    if kind == "weighting":
        return (
            f"Samlet effekt, {_WEIGHTING[rest]['nb']}"
            if nb
            else f"Overall effect, {_WEIGHTING[rest]['en']}"
        )
    if kind == "control_group":
        return (
            f"Kontrollgruppe: {comparison_phrase(rest, lang)}"
            if nb
            else f"Control group: {comparison_phrase(rest, lang)}"
        )
    if kind == "base_period":
        return f"Basisperiode: {rest}" if nb else f"Base period: {rest}"
    if kind == "est_method":
        return f"Estimator: {rest}"
    if key == "covariates":
        return (
            "Med kovariater (sykefravær før programmet, folketall)"
            if nb
            else "With covariates (pre-programme sick leave, population)"
        )
    if kind == "balanced":
        return (
            f"Balansert vindu: kvartal 0–{rest} etter oppstart, puljer observert hele vinduet"
            if nb
            else f"Balanced window: quarters 0–{rest} after the start, cohorts observed throughout"
        )
    if kind == "leave_out":
        return f"Uten pulje {rest}" if nb else f"Without cohort {rest}"
    if kind == "placebo":
        k, _, pulje = rest.partition(":")
        return (
            f"Placebo: oppstart {k} kvartaler for tidlig, pulje {pulje}"
            if nb
            else f"Placebo: start {k} quarters early, cohort {pulje}"
        )
    if key == "matched":
        return (
            "Matchet sammenligningsgruppe (aldri deltatt)"
            if nb
            else "Matched comparison group (never treated)"
        )
    if kind == "sector":
        return label(rest, lang)
    if kind == "size":
        return _SIZE_WORDS.get(rest, {"nb": rest, "en": rest})[lang].capitalize()
    return key


def _sign_word(value: float, lang: Lang) -> str:
    if lang == "nb":
        return "lavere" if value < 0 else "høyere"
    return "lower" if value < 0 else "higher"


def headline_sentences(results: Any, lang: str = "nb", *, decimals: int = 2) -> str:
    """The headline estimate with its name, weighting, sector and comparison group, and the
    other weighting beside it."""
    lang = check_lang(lang)
    spec = results.spec
    head = results.row("headline")
    other = results.row(f"weighting:{spec.other_weighting}")
    outcome = (
        f"sykefraværet {sector_phrase(spec.sector, lang)}"
        if lang == "nb"
        else f"sick leave {sector_phrase(spec.sector, lang)}"
    )
    main = summarise_overall(head, lang, decimals=decimals, outcome=outcome)
    name = AGGREGATION_LABELS["group"][lang].lower()
    comp = comparison_phrase(spec.control_group, lang)
    other_ci = fmt_ci(other["conf_low"], other["conf_high"], lang, decimals, level=1 - spec.alpha)
    if _is_missing(other["estimate"]):  # e.g. no contracted working days in published tables
        if lang == "nb":
            return (
                f"{main} Tallet er hovedestimatet, {name}, {_WITH[spec.weighting]['nb']}, "
                f"og deltakerne sammenlignes med {comp}. Et anslag "
                f"{_WITH[spec.other_weighting]['nb']} kan ikke lages: dataene mangler avtalte "
                "dagsverk for noen kommune-kvartaler."
            )
        return (
            f"{main} This is the headline estimate, the {name}, "
            f"{_WITH[spec.weighting]['en']}, and participants are compared with {comp}. No "
            f"estimate {_WITH[spec.other_weighting]['en']} can be made: the data lack contracted "
            "working days for some municipality-quarters."
        )
    if lang == "nb":
        return (
            f"{main} Tallet er hovedestimatet, {name}, {_WITH[spec.weighting]['nb']}, "
            f"og deltakerne sammenlignes med {comp}. "
            f"{_WITH[spec.other_weighting]['nb'].capitalize()} blir anslaget "
            f"{fmt_pp(other['estimate'], lang, decimals)} ({other_ci})."
        )
    return (
        f"{main} This is the headline estimate, the {name}, "
        f"{_WITH[spec.weighting]['en']}, and participants are compared with {comp}. "
        f"{_WITH[spec.other_weighting]['en'].capitalize()}, the estimate is "
        f"{fmt_pp(other['estimate'], lang, decimals)} ({other_ci})."
    )


def evaluation_sample_sentence(results: Any, lang: str = "nb") -> str:
    """Who is in the estimation sample and who serves as comparison (by control group)."""
    lang = check_lang(lang)
    sample = results.sample
    spec = results.spec
    units = sample.drop_duplicates("kommunenummer")
    treated = units.loc[units["gname"] > 0]
    n_never = int((units["gname"] == 0).sum())
    puljer = sorted(
        treated["pulje"].dropna().astype(str).unique(), key=["I", "II", "III", "IV"].index
    )
    sep = " og " if lang == "nb" else " and "
    joined = sep.join([", ".join(puljer[:-1]), puljer[-1]] if len(puljer) > 1 else puljer)
    where = sector_phrase(spec.sector, lang)
    if lang == "nb":
        text = (
            f"Analysen gjelder sykefraværet {where}. Estimeringsutvalget har "
            f"{count_sentence(len(treated), 'deltakerkommune', 'deltakerkommuner', lang)} i "
            f"{'puljene' if len(puljer) > 1 else 'pulje'} {joined} og "
            f"{count_sentence(n_never, 'kommune', 'kommuner', lang)} som aldri deltok."
        )
        if spec.control_group == "notyettreated":
            text += (
                " Sammenligningsgruppen er kommunene som aldri deltok sammen med "
                "deltakerkommuner som ennå ikke hadde startet."
            )
        else:
            text += " Sammenligningsgruppen er kommunene som aldri deltok."
        return text
    text = (
        f"The analysis is about sick leave {where}. The estimation sample has "
        f"{count_sentence(len(treated), 'participating municipality', 'participating municipalities', lang)} "
        f"in {'cohorts' if len(puljer) > 1 else 'cohort'} {joined} and "
        f"{count_sentence(n_never, 'municipality', 'municipalities', lang)} that never took part."
    )
    if spec.control_group == "notyettreated":
        text += (
            " The comparison group is the municipalities that never took part together with "
            "participants that had not yet started."
        )
    else:
        text += " The comparison group is the municipalities that never took part."
    return text


def honest_pretrend_sentence(
    test: Any, lang: str = "nb", *, dynamic: Any = None, effect: Any = None
) -> str:
    """The pre-trend test in words without reading a non-rejection as evidence.

    A rejection says the pre-period estimates differ from zero; a non-rejection says only
    that the test did not detect a difference, together with how large the pre-period
    estimates and their pointwise intervals are (``dynamic``: the event-study
    aggregation), so the reader sees what could have gone undetected.  Use
    :func:`pretrend_power_sentence` for the power of the test against linear trends.
    """
    lang = check_lang(lang)
    p_value = getattr(test, "p_value", test)
    if _is_missing(p_value):
        return (
            "Testen av at effektene før oppstart er null, kunne ikke gjennomføres."
            if lang == "nb"
            else "The test that the effects before the start are zero could not be computed."
        )
    times = list(getattr(test, "event_times", ()) or ())
    est = list(getattr(test, "estimates", ()) or ())
    ses = list(getattr(test, "std_errors", ()) or ())
    p = fmt_p(p_value, lang)
    alpha = float(getattr(test, "alp", 0.05))
    n = len(times)
    if lang == "nb":
        what = (
            f"hypotesen om at effektene i de {fmt_int(n, lang)} kvartalene før oppstart er null"
            if n
            else "hypotesen om at effektene før oppstart er null"
        )
    else:
        what = (
            f"the hypothesis that the effects in the {fmt_int(n, lang)} quarters before the "
            "start are zero"
            if n
            else "the hypothesis that the effects before the start are zero"
        )
    if float(p_value) < alpha:
        return (
            f"En felles test forkaster {what} ({p}): sykefraværet i deltakerkommunene utviklet "
            "seg annerledes enn i sammenligningsgruppen allerede før oppstart, og effektanslagene "
            "kan være skjeve."
            if lang == "nb"
            else f"A joint test rejects {what} ({p}): sick leave in the participating "
            "municipalities already developed differently from the comparison group before the "
            "start, and the effect estimates may be biased."
        )
    size = ""
    if est and ses:
        largest = max(abs(float(x)) for x in est)
        half = max(1.96 * float(s) for s in ses)
        if lang == "nb":
            size = (
                f" Estimatene før oppstart er høyst {fmt_pp(largest, lang, 2)} i absoluttverdi, "
                f"men de punktvise intervallene er opptil ±{fmt_pp(half, lang, 2)} brede"
            )
            if not _is_missing(effect):
                size += (
                    f", mens hovedeffekten er {fmt_pp(effect, lang, 2)}; ulike trender av "
                    "samme størrelsesorden som effekten kan derfor ikke utelukkes"
                )
            size += "."
        else:
            size = (
                f" The estimates before the start are at most {fmt_pp(largest, lang, 2)} in "
                f"absolute value, but their pointwise intervals are up to "
                f"±{fmt_pp(half, lang, 2)} wide"
            )
            if not _is_missing(effect):
                size += (
                    f", while the main effect is {fmt_pp(effect, lang, 2)}; differing trends of "
                    "the same order as the effect can therefore not be ruled out"
                )
            size += "."
    if lang == "nb":
        return (
            f"En felles test forkaster ikke {what} ({p}). Det betyr at testen ikke fant "
            "forskjeller i trend før oppstart, ikke at trendene var parallelle." + size
        )
    return (
        f"A joint test does not reject {what} ({p}). This means the test found no difference "
        "in trends before the start, not that the trends were parallel." + size
    )


def _rejected(pretest: Any) -> bool:
    p = getattr(pretest, "p_value", pretest)
    return not _is_missing(p) and float(p) < float(getattr(pretest, "alp", 0.05))


def pretrend_power_sentence(
    power: Any,
    pretest: Any,
    lang: str = "nb",
    *,
    headline_bias: Any = None,
    effect: Any = None,
) -> str:
    """What the pre-test could have detected (Roth 2022): the slope of a linear difference in
    trends (pp per quarter) that the test detects with 80 % and 50 % probability, and the
    bias such a trend would cause after the start.

    ``power`` has ``slope_50``, ``slope_80`` and ``bias`` (DataFrame ``event_time, bias``);
    ``pretest`` gives the p-value (``p_value``, ``alp``).  ``headline_bias`` (pp): the bias of
    the headline under the 80 % slope (:attr:`EvaluationResults.power_headline_bias`), compared
    with the headline ``effect`` (pp); without it the average bias over the post-start event
    times of ``power.bias`` is given.  A non-rejection is never read as parallel trends: the
    sentence then says that trends of this size may be present."""
    lang = check_lang(lang)
    nb = lang == "nb"
    s50 = getattr(power, "slope_50", None)
    s80 = getattr(power, "slope_80", None)
    if power is None or _is_missing(s80):
        return (
            "Styrken til testen før oppstart kunne ikke beregnes."
            if nb
            else "The power of the pre-test could not be computed."
        )
    a80 = fmt_pp(abs(float(s80)), lang, 3)
    if nb:
        text = (
            f"Testen oppdager en lineær forskjell i trend før oppstart på {a80} per kvartal "
            "med 80 % sannsynlighet"
            + (
                f" og en på {fmt_pp(abs(float(s50)), lang, 3)} per kvartal med 50 % sannsynlighet"
                if not _is_missing(s50)
                else ""
            )
            + " (Roth 2022)."
        )
    else:
        text = (
            f"The test detects a linear difference in trends before the start of {a80} per "
            "quarter with 80 % probability"
            + (
                f" and one of {fmt_pp(abs(float(s50)), lang, 3)} per quarter with 50 % probability"
                if not _is_missing(s50)
                else ""
            )
            + " (Roth 2022)."
        )
    if not _is_missing(headline_bias):
        hb = abs(float(headline_bias))
        ratio = abs(hb / float(effect)) if not _is_missing(effect) and float(effect) != 0 else None
        if nb:
            text += (
                " Fortsatte en slik trend, som testen overser i ett av fem tilfeller, etter "
                f"oppstart, ville den flytte hovedestimatet med {fmt_pp(hb, lang, 2)} (opp eller "
                "ned etter trendens fortegn)"
                + (
                    f", {fmt_num(ratio, lang, 1)} ganger hovedestimatets størrelse "
                    f"({fmt_pp(effect, lang, 2)})."
                    if ratio is not None
                    else "."
                )
            )
        else:
            text += (
                " Were such a trend, which the test misses one time in five, to continue after "
                f"the start, it would shift the headline estimate by {fmt_pp(hb, lang, 2)} (up or "
                "down with the sign of the trend)"
                + (
                    f", {fmt_num(ratio, lang, 1)} times the size of the headline estimate "
                    f"({fmt_pp(effect, lang, 2)})."
                    if ratio is not None
                    else "."
                )
            )
    else:
        bias = getattr(power, "bias", None)
        if bias is not None and len(bias):
            post = bias.loc[bias["event_time"] >= 0, "bias"]
            if len(post):
                mean = fmt_pp(float(post.mean()), lang, 2)
                text += (
                    " En slik trend, som testen overser i ett av fem tilfeller, ville skjevt "
                    f"effektanslagene etter oppstart med i gjennomsnitt {mean}."
                    if nb
                    else " Such a trend, which the test misses one time in five, would bias the "
                    f"post-start estimates by {mean} on average."
                )
    if not _rejected(pretest):
        text += (
            " At testen ikke forkastet, utelukker derfor ikke trender av denne størrelsen."
            if nb
            else " That the test did not reject therefore does not rule out trends of this size."
        )
    return text


def _honest_parameter(honest: Any, lang: str) -> str:
    """The parameter of a HonestResult in words ("the average effect in quarters 0–11 after
    the start")."""
    times = tuple(getattr(honest, "event_times", ()) or ())
    param = str(getattr(honest, "parameter", ""))
    nb = lang == "nb"
    if param == "average" and times:
        lo, hi = min(times), max(times)
        if lo == hi:
            return (
                f"effekten i kvartal {lo} etter oppstart"
                if nb
                else (f"the effect in quarter {lo} after the start")
            )
        return (
            f"gjennomsnittseffekten i kvartal {lo}–{hi} etter oppstart"
            if nb
            else f"the average effect in quarters {lo}–{hi} after the start"
        )
    if param.startswith("e="):
        return (
            f"effekten i kvartal {param[2:]} etter oppstart"
            if nb
            else f"the effect in quarter {param[2:]} after the start"
        )
    return "effektene etter oppstart" if nb else "the post-start effects"


def _honest_grid(honest: Any) -> tuple[str, list[float]]:
    robust = getattr(honest, "robust", None)
    col = "mbar" if getattr(honest, "type", "relative_magnitude") == "relative_magnitude" else "m"
    if robust is None or col not in getattr(robust, "columns", ()):
        return col, []
    return col, sorted(float(x) for x in robust[col])


def honest_sentence(honest: Any, lang: str = "nb", *, cite: bool = True) -> str:
    """Rambachan-Roth sensitivity in words, true in every case.

    ``honest``: a :class:`~kvk_analysis.evaluation.honest.HonestResult` (``.type``
    ``"relative_magnitude"`` or ``"smoothness"``, ``.breakdown``, ``.robust``, ``.original``,
    ``.parameter``, ``.event_times``).  Names the parameter and (a) when the usual interval
    already includes zero, says so (there is no breakdown value and nothing to be robust);
    (b) when the robust interval includes zero already at the smallest value considered, says
    that the conclusion is robust to none of the departures considered; (c) otherwise gives
    the breakdown value with its resolution: the next value tested, at which the interval
    includes zero (or "at least" when it never does on the grid).  ``None``: the analysis
    could not be computed."""
    lang = check_lang(lang)
    nb = lang == "nb"
    if honest is None:
        return (
            "Sensitivitetsanalysen for brudd på parallelle trender kunne ikke beregnes."
            if nb
            else "The sensitivity analysis for violations of parallel trends could not be computed."
        )
    rm = getattr(honest, "type", "relative_magnitude") == "relative_magnitude"
    cite_txt = (" (Rambachan og Roth 2023)" if nb else " (Rambachan and Roth 2023)") if cite else ""
    if nb:
        who = (
            "Sensitivitetsanalysen med " + ("relative størrelser" if rm else "glatthet") + cite_txt
        )
    else:
        who = (
            "The sensitivity analysis with "
            + ("relative magnitudes" if rm else "smoothness")
            + cite_txt
        )
    param = _honest_parameter(honest, lang)
    col, grid = _honest_grid(honest)
    name = "M̄" if rm else "M"
    b = getattr(honest, "breakdown", float("nan"))
    orig = getattr(honest, "original", None)
    o_lb = float(orig["lb"].iloc[0]) if orig is not None and len(orig) else float("nan")
    o_ub = float(orig["ub"].iloc[0]) if orig is not None and len(orig) else float("nan")

    def value(x: float) -> str:
        return format_sensitivity_value(x, "relative_magnitude" if rm else "smoothness", lang)

    if not _is_missing(o_lb) and o_lb <= 0 <= o_ub:
        ci = f"{fmt_num(o_lb, lang, 2)} {label('to', lang)} {fmt_num(o_ub, lang, 2)}"
        return (
            f"Allerede det vanlige konfidensintervallet for {param} omfatter null ({ci} pp), "
            "så det finnes ingen bruddverdi: selv med helt parallelle trender er den ikke "
            "signifikant forskjellig fra null, og sensitivitetsanalysen kan ikke gjøre den "
            "sikrere."
            if nb
            else f"Already the usual confidence interval for {param} includes zero ({ci} pp), so "
            "there is no breakdown value: even under exactly parallel trends it is not "
            "significantly different from zero, and the sensitivity analysis cannot make it more "
            "certain."
        )
    if _is_missing(b):
        smallest = grid[0] if grid else 0.0
        meaning = (
            ("ingen brudd etter oppstart" if nb else "no violation after the start")
            if rm
            else (
                "en trend før oppstart som fortsetter lineært"
                if nb
                else "a pre-start trend that continues linearly"
            )
        )
        return (
            f"{who} gir for {param} et intervall som omfatter null allerede ved den minste "
            f"verdien som er undersøkt ({name} = {value(smallest)}: {meaning}), selv om det "
            "vanlige intervallet utelukker null: konklusjonen om en effekt tåler ingen av de "
            "undersøkte avvikene fra parallelle trender."
            if nb
            else f"{who} gives for {param} an interval that includes zero already at the "
            f"smallest value considered ({name} = {value(smallest)}: {meaning}), although the "
            "usual interval excludes zero: the conclusion of an effect withstands none of the "
            "departures from parallel trends considered."
        )
    b = float(b)
    above = [g for g in grid if g > b + 1e-12]
    if b <= 0 and above:  # excludes zero only with no violation at all (the smallest value)
        exact = (
            (
                "helt parallelle trender etter oppstart"
                if nb
                else "exactly parallel trends after the start"
            )
            if rm
            else (
                "at trenden før oppstart fortsetter helt lineært"
                if nb
                else "the pre-start trend continuing exactly linearly"
            )
        )
        return (
            f"{who} viser at {param} er signifikant forskjellig fra null bare under {exact} "
            f"({name} = {value(b)}); allerede ved neste verdi som er prøvd, {value(above[0])}, "
            "omfatter intervallet null: konklusjonen om en effekt tåler nesten ingen avvik fra "
            "parallelle trender."
            if nb
            else f"{who} shows that {param} is significantly different from zero only under "
            f"{exact} ({name} = {value(b)}); already at the next value tested, "
            f"{value(above[0])}, the interval includes zero: the conclusion of an effect "
            "withstands almost no departure from parallel trends."
        )
    if rm:
        core = (
            f"{who} viser at {param} er signifikant forskjellig fra null så lenge avviket fra "
            "parallelle trender etter oppstart endrer seg fra ett kvartal til det neste med "
            f"høyst {value(b)} ganger den største slike endringen før oppstart (bruddverdi "
            f"{name} = {value(b)}"
            if nb
            else f"{who} shows that {param} is significantly different from zero as long as the "
            "departure from parallel trends after the start changes from one quarter to the "
            f"next by at most {value(b)} times the largest such change before the start "
            f"(breakdown value {name} = {value(b)}"
        )
    else:
        core = (
            f"{who} viser at {param} er signifikant forskjellig fra null så lenge helningen i "
            f"forskjellen i trend endrer seg med høyst {fmt_pp(b, lang, 3)} per kvartal "
            f"(bruddverdi {name} = {value(b)}"
            if nb
            else f"{who} shows that {param} is significantly different from zero as long as "
            f"the slope of the difference in trends changes by at most {fmt_pp(b, lang, 3)} per "
            f"quarter (breakdown value {name} = {value(b)}"
        )
    if above:
        nxt = above[0]
        core += (
            f"; ved neste verdi som er prøvd, {value(nxt)}, omfatter intervallet null, så den "
            f"eksakte bruddverdien ligger mellom {value(b)} og {value(nxt)})."
            if nb
            else f"; at the next value tested, {value(nxt)}, the interval includes zero, so the "
            f"exact breakdown value lies between {value(b)} and {value(nxt)})."
        )
        if rm and nxt < 1:
            core += (
                " Endringer i avviket etter oppstart som er mindre enn den største før oppstart, "
                "kan altså være nok til at intervallet omfatter null."
                if nb
                else " Changes in the departure after the start smaller than the largest one "
                "before the start could thus be enough for the interval to include zero."
            )
    else:
        core += (
            "; intervallet utelukker null for alle verdier som er prøvd, så bruddverdien er "
            "minst så stor)."
            if nb
            else "; the interval excludes zero for every value tested, so the breakdown value is "
            "at least this large)."
        )
    return core


def format_sensitivity_value(x: float, kind: str, lang: str = "nb") -> str:
    """A HonestDiD ``Mbar`` (``kind="relative_magnitude"``: as few decimals, 2 to 4, as show
    the grid value exactly, 0,5 or 0,0625) or ``M`` (``"smoothness"``, pp per quarter: 3
    decimals), as the text and the sensitivity figure both print it."""
    if kind != "relative_magnitude":
        return fmt_num(x, lang, 3)
    return fmt_num(x, lang, next((d for d in (2, 3, 4) if abs(round(x, d) - x) < 1e-9), 4))


def honest_caption(honest: Any, lang: str = "nb") -> str:
    """Caption of the sensitivity figure: what is plotted, what ``Mbar`` (or ``M``) means and,
    when a robust interval reaches the edge of the search range, that it is open there."""
    lang = check_lang(lang)
    nb = lang == "nb"
    rm = getattr(honest, "type", "relative_magnitude") == "relative_magnitude"
    param = _honest_parameter(honest, lang)
    alpha = float(getattr(honest, "alpha", 0.05))
    level = fmt_pct((1 - alpha) * 100, lang, 0)
    if rm:
        what = (
            f"Robuste {level}-konfidensintervaller for {param} (prosentpoeng) når avviket fra "
            "parallelle trender etter oppstart kan endre seg fra ett kvartal til det neste med "
            "opptil M̄ ganger den største slike endringen før oppstart (relative størrelser, "
            "Rambachan og Roth 2023, metode C-LF); M̄ = 0 betyr parallelle trender etter "
            "oppstart, M̄ = 1 endringer like store som den største før oppstart. Til venstre det "
            "vanlige intervallet"
            if nb
            else f"Robust {level} confidence intervals for {param} (percentage points) when the "
            "departure from parallel trends after the start may change from one quarter to the "
            "next by up to M̄ times the largest such change before the start (relative "
            "magnitudes, Rambachan and Roth 2023, method C-LF); M̄ = 0 means parallel trends "
            "after the start, M̄ = 1 changes as large as the largest before the start. Left: the "
            "usual interval"
        )
    else:
        what = (
            f"Robuste {level}-konfidensintervaller for {param} (prosentpoeng) når helningen i "
            "forskjellen i trend kan endre seg med høyst M prosentpoeng per kvartal (glatthet, "
            "Rambachan og Roth 2023); M = 0 betyr at en lineær trend før oppstart fortsetter. "
            "Til venstre det vanlige intervallet"
            if nb
            else f"Robust {level} confidence intervals for {param} (percentage points) when the "
            "slope of the difference in trends may change by at most M percentage points per "
            "quarter (smoothness, Rambachan and Roth 2023); M = 0 means a linear pre-start "
            "trend continues. Left: the usual interval"
        )
    text = what + "."
    robust = getattr(honest, "robust", None)
    search = getattr(honest, "search_range", None)
    if rm and robust is not None and search is not None:
        lo_edge, hi_edge = search
        tol = 0.01 * (hi_edge - lo_edge)
        if ((robust["lb"] <= lo_edge + tol) | (robust["ub"] >= hi_edge - tol)).any():
            text += (
                " Intervaller som når kanten av søkeområdet (20 standardfeil rundt anslaget), "
                "er åpne der og egentlig bredere enn tegnet."
                if nb
                else " Intervals that reach the edge of the search range (20 standard errors "
                "around the estimate) are open there and really wider than drawn."
            )
    return text


def placebo_sentence(results: Any, lang: str = "nb") -> str:
    """Placebo starts :data:`~kvk_analysis.report.evaluation.PLACEBO_SHIFT` quarters early,
    described by their size relative to the headline effect (thresholds
    :data:`PLACEBO_SMALL`, :data:`PLACEBO_LARGE`) and by significance."""
    lang = check_lang(lang)
    rob = results.robustness
    plac = rob.loc[(rob["kind"] == "placebo") & rob["estimate"].notna()]
    if plac.empty:
        return ""
    effect = abs(float(results.row("headline")["estimate"]))
    ratios = plac["estimate"].abs() / effect if effect > 0 else plac["estimate"].abs() * math.inf
    largest = float(ratios.max())
    n_large = int((ratios >= PLACEBO_LARGE).sum())
    n_sig = int(((plac["conf_high"] < 0) | (plac["conf_low"] > 0)).sum())
    n = len(plac)
    n_ci = int((plac["conf_low"].notna() & plac["conf_high"].notna()).sum())
    pct = fmt_pct(largest * 100, lang, 0)
    if lang == "nb":
        text = (
            f"Placebo-estimatene (oppstart satt kunstig tidligere, bare data fra før den virkelige "
            f"oppstarten) er opptil {pct} av hovedeffekten i absoluttverdi; "
            + _significance_count(n_sig, n_ci, n, lang)
        )
        if largest < PLACEBO_SMALL:
            text += " De er små i forhold til effekten."
        elif n_large:
            text += (
                f" I {fmt_int(n_large, lang)} av dem er placebo-estimatet "
                f"minst {fmt_pct(PLACEBO_LARGE * 100, lang, 0)} av effekten: forskjeller av "
                "samme størrelsesorden fantes før programmet, og det svekker tolkningen av "
                "hovedeffekten som en programeffekt."
            )
        else:
            text += " De er ikke små i forhold til effekten, så de avkrefter ikke ulike trender."
        return text
    text = (
        "The placebo estimates (start set artificially earlier, only data from before the real "
        f"start) are up to {pct} of the main effect in absolute value; "
        + _significance_count(n_sig, n_ci, n, lang)
    )
    if largest < PLACEBO_SMALL:
        text += " They are small relative to the effect."
    elif n_large:
        text += (
            f" In {fmt_int(n_large, lang)} of them the placebo is at least "
            f"{fmt_pct(PLACEBO_LARGE * 100, lang, 0)} of the effect: differences of the same "
            "order existed before the programme, which weakens reading the main effect as a "
            "programme effect."
        )
    else:
        text += (
            " They are not small relative to the effect, so they do not rule out differing trends."
        )
    return text


def robustness_summary(results: Any, lang: str = "nb") -> str:
    """How many alternative specifications (placebo rows and the headline excluded) agree
    with the headline in sign and exclude zero."""
    lang = check_lang(lang)
    rob = results.robustness
    alt = rob.loc[(rob["kind"] == "robustness") & rob["estimate"].notna()]
    missing = unavailable_sentences(results, lang)
    if alt.empty:
        return " ".join(
            [
                "Ingen av de alternative spesifikasjonene kunne estimeres på disse dataene."
                if lang == "nb"
                else "None of the alternative specifications could be estimated on these data.",
                *missing,
            ]
        )
    est = float(results.row("headline")["estimate"])
    neg = est < 0
    same = int(((alt["estimate"] < 0) if neg else (alt["estimate"] > 0)).sum())
    excl = int(((alt["conf_high"] < 0) if neg else (alt["conf_low"] > 0)).sum())
    lo, hi = float(alt["estimate"].min()), float(alt["estimate"].max())
    n = len(alt)
    if lang == "nb":
        return (
            f"I {fmt_int(same, lang)} av {fmt_int(n, lang)} alternative spesifikasjoner har "
            f"estimatet samme fortegn som hovedestimatet, og i {fmt_int(excl, lang)} av dem "
            f"utelukker konfidensintervallet null; estimatene ligger mellom "
            f"{fmt_pp(lo, lang, 2)} og {fmt_pp(hi, lang, 2)}."
        ) + "".join(" " + m for m in missing)
    return (
        f"In {fmt_int(same, lang)} of {fmt_int(n, lang)} alternative specifications the estimate "
        f"has the same sign as the headline, and in {fmt_int(excl, lang)} of them the confidence "
        f"interval excludes zero; the estimates range from {fmt_pp(lo, lang, 2)} to "
        f"{fmt_pp(hi, lang, 2)}."
    ) + "".join(" " + m for m in missing)


def _other_weighting_missing(results: Any) -> bool:
    """True when the estimate with the other weighting could not be made (no days)."""
    try:
        return _is_missing(results.row(f"weighting:{results.spec.other_weighting}")["estimate"])
    except Exception:  # a results object without that row
        return False


def _significance_count(n_sig: int, n_ci: int, n: int, lang: str) -> str:
    """``"k of n are statistically significant."``, counted only among the estimates that have
    an interval, and saying how many have none (their significance is unknown)."""
    nb = lang == "nb"
    if n_ci == n:
        return (
            f"{fmt_int(n_sig, lang)} av {fmt_int(n, lang)} er statistisk signifikante."
            if nb
            else f"{fmt_int(n_sig, lang)} of {fmt_int(n, lang)} are statistically significant."
        )
    if n_ci == 0:
        return (
            "ingen av dem har standardfeil, så om de er statistisk signifikante, er ukjent."
            if nb
            else "none of them has a standard error, so whether they are statistically "
            "significant is unknown."
        )
    return (
        f"{fmt_int(n_sig, lang)} av de {fmt_int(n_ci, lang)} som har standardfeil, er statistisk "
        f"signifikante ({fmt_int(n - n_ci, lang)} mangler standardfeil)."
        if nb
        else f"{fmt_int(n_sig, lang)} of the {fmt_int(n_ci, lang)} with a standard error are "
        f"statistically significant ({fmt_int(n - n_ci, lang)} "
        f"{'has' if n - n_ci == 1 else 'have'} none)."
    )


def _unavailable_reason(row: Any, results: Any, lang: str) -> str:
    nb = lang == "nb"
    note = str(getattr(row, "note", "") or "")
    sample = getattr(results, "sample", None)
    if "contracted working days" in note:
        return (
            "dataene mangler avtalte dagsverk for noen kommune-kvartaler"
            if nb
            else "the data lack contracted working days for some municipality-quarters"
        )
    if "never-treated" in note or "gname == 0" in note:
        return (
            "ingen kommune som aldri deltok å sammenligne med"
            if nb
            else "no municipality that never took part to compare with"
        )
    if (
        row.key == "covariates"
        and sample is not None
        and "pre_level" in sample
        and sample["pre_level"].isna().any()
    ):
        return (
            "sykefraværet før programmet (2005–2006, regnet fra avtalte dagsverk) mangler i "
            "disse dataene"
            if nb
            else "the pre-programme sick-leave level (2005–2006, computed from contracted "
            "working days) is missing in these data"
        )
    return "kunne ikke estimeres på disse dataene" if nb else "could not be estimated on these data"


def unavailable_sentences(results: Any, lang: str = "nb") -> list[str]:
    """Sentences naming the rows of the robustness table (placebos excluded: see
    :func:`placebo_sentence`) and of the sector/size tables that have no estimate (with the
    reason when it is known) or an estimate without a standard error; empty when every row
    has both.  For small or incomplete panels (few documented participants, no contracted
    days), where the tables show a dash."""
    import pandas as pd

    lang = check_lang(lang)
    nb = lang == "nb"
    frames = [results.robustness.loc[results.robustness["kind"] == "robustness"]]
    sub = getattr(results, "subgroups", None)
    if sub is not None and len(sub):
        frames.append(sub.loc[sub["key"] != "sector:all"])
    rows = pd.concat(frames, ignore_index=True)
    out = []
    none = rows.loc[rows["estimate"].isna()]
    if len(none):
        parts = [
            f"{_first_lower(estimate_label(r.key, lang, results))}: "
            f"{_unavailable_reason(r, results, lang)}"
            for r in none.itertuples()
        ]
        out.append(
            ("Uten estimat (strek i tabellene): " if nb else "No estimate (a dash in the tables): ")
            + "; ".join(parts)
            + "."
        )
    no_se = rows.loc[rows["estimate"].notna() & rows["std_error"].isna()]
    if len(no_se):
        names = ", ".join(_first_lower(estimate_label(k, lang, results)) for k in no_se["key"])
        out.append(
            f"Uten standardfeil, så om estimatet skiller seg fra null er ukjent: {names}."
            if nb
            else f"Without a standard error, so whether the estimate differs from zero is "
            f"unknown: {names}."
        )
    return out


def _first_lower(label: str) -> str:
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def twfe_bacon_sentences(results: Any, lang: str = "nb") -> str:
    """TWFE beside the headline and what the Goodman-Bacon decomposition says, with the
    thresholds :data:`TWFE_CLOSE`, :data:`BACON_FORBIDDEN` and :data:`BACON_NEGATIVE`."""
    lang = check_lang(lang)
    if results.twfe is None:
        return (
            "TWFE-modellen kunne ikke estimeres på dette utvalget."
            if lang == "nb"
            else "The TWFE regression could not be estimated on this sample."
        )
    cs = float(results.row("headline")["estimate"])
    tw = float(results.twfe.overall)
    days = getattr(getattr(results, "spec", None), "weighting", "units") == "days"
    weighting = _WITH["days" if days else "units"]
    weighting = {k: v.removeprefix("med ").removeprefix("with ") for k, v in weighting.items()}
    unweighted = (
        {"nb": " (av den uvektede TWFE-regresjonen)", "en": " (of the unweighted TWFE regression)"}
        if days
        else {"nb": "", "en": ""}
    )
    diff = tw - cs
    close = abs(diff) < TWFE_CLOSE * abs(cs) if cs != 0 else abs(diff) == 0
    b = results.bacon
    warn = b is not None and (
        b.forbidden_share >= BACON_FORBIDDEN or b.negative_weight_share >= BACON_NEGATIVE
    )
    if lang == "nb":
        text = (
            f"En vanlig toveis faste effekter-regresjon (TWFE, {weighting['nb']}) gir "
            f"{fmt_pp(tw, lang, 2)} mot hovedestimatets {fmt_pp(cs, lang, 2)} (forskjell "
            f"{fmt_pp(diff, lang, 2, signed=True)}); "
            + (
                f"forskjellen er under {fmt_pct(TWFE_CLOSE * 100, lang, 0)} av hovedeffekten, så "
                "de to er nære."
                if close
                else f"forskjellen er minst {fmt_pct(TWFE_CLOSE * 100, lang, 0)} av hovedeffekten."
            )
        )
        if b is not None:
            text += (
                f" I Goodman-Bacon-dekomponeringen{unweighted['nb']} kommer "
                f"{fmt_pct(b.forbidden_share * 100, lang, 0)} "
                "av TWFE-vekten fra sammenligninger der tidligere deltakere brukes som kontroll for "
                f"senere, og {fmt_pct(b.negative_weight_share * 100, lang, 0)} av cellevektene er "
                "negative."
            )
            if warn and not close:
                text += (
                    " Når effekten endrer seg over tid, kan slike sammenligninger trekke TWFE bort "
                    "fra den gjennomsnittlige effekten, og det kan forklare forskjellen."
                )
            elif warn:
                text += (
                    " Slike sammenligninger kan gjøre TWFE misvisende når effekten endrer seg over "
                    "tid, men her er de to anslagene nære."
                )
            elif close:
                text += " Dekomponeringen gir ikke grunn til å mistro TWFE-anslaget her."
            else:
                text += (
                    " Dekomponeringen viser lite vekt på slike sammenligninger, så forskjellen "
                    "kommer trolig av at TWFE veier puljer og kvartaler annerledes enn "
                    "hovedestimatet, ikke av problematiske sammenligninger."
                )
        return text
    text = (
        f"A conventional two-way fixed effects regression (TWFE, {weighting['en']}) "
        f"gives {fmt_pp(tw, lang, 2)} against the headline's {fmt_pp(cs, lang, 2)} (difference "
        f"{fmt_pp(diff, lang, 2, signed=True)}); "
        + (
            f"the difference is below {fmt_pct(TWFE_CLOSE * 100, lang, 0)} of the main effect, "
            "so the two are close."
            if close
            else f"the difference is at least {fmt_pct(TWFE_CLOSE * 100, lang, 0)} of the main "
            "effect."
        )
    )
    if b is not None:
        text += (
            f" In the Goodman-Bacon decomposition{unweighted['en']} "
            f"{fmt_pct(b.forbidden_share * 100, lang, 0)} of "
            "the TWFE weight comes from comparisons that use earlier participants as controls for "
            f"later ones, and {fmt_pct(b.negative_weight_share * 100, lang, 0)} of the cell weights "
            "are negative."
        )
        if warn and not close:
            text += (
                " When effects change over time such comparisons can pull TWFE away from the "
                "average effect, which may explain the difference."
            )
        elif warn:
            text += (
                " Such comparisons can make TWFE mislead when effects change over time, but here "
                "the two estimates are close."
            )
        elif close:
            text += " The decomposition gives no reason to distrust the TWFE estimate here."
        else:
            text += (
                " The decomposition puts little weight on such comparisons, so the difference "
                "probably comes from TWFE weighting cohorts and quarters differently from the "
                "headline, not from problematic comparisons."
            )
    return text


def _dynamics(results: Any) -> dict[str, Any] | None:
    eff = results.effects("dynamic")
    post = eff.loc[eff["index"] >= 0].sort_values("index")
    if post.empty:
        return None
    head = float(results.row("headline")["estimate"])
    sign = -1.0 if head < 0 else 1.0
    peak_row = post.loc[(post["estimate"] * sign).idxmax()]
    tail = post.tail(FADE_QUARTERS)
    ident = results.identification.set_index("event_time")
    last_e = int(post["index"].max())
    return {
        "first": float(post.iloc[0]["estimate"]),
        "peak": float(peak_row["estimate"]),
        "peak_e": int(peak_row["index"]),
        # the peak is taken in the direction of the headline estimate, and named so (a
        # "largest" effect of -0.15 beside a quarter of +0.40 would otherwise mislead)
        "direction_en": "reduction" if sign < 0 else "increase",
        "direction_nb": "nedgangen" if sign < 0 else "økningen",
        "tail": float(tail["estimate"].mean()),
        "tail_from": int(tail["index"].min()),
        "tail_to": last_e,
        "fades": abs(float(tail["estimate"].mean())) < FADE_SHARE * abs(float(peak_row["estimate"]))
        and int(peak_row["index"]) < int(tail["index"].min()),
        "tail_cohorts": tuple(ident.loc[last_e, "cohorts"]) if last_e in ident.index else (),
        "fewer": last_e in ident.index
        and int(ident.loc[last_e, "n_cohorts"]) < int(ident["n_cohorts"].max()),
    }


def conclusions(
    results: Any,
    lang: str = "nb",
    *,
    power: Any = None,
    honest: Any = None,
    appendix: str | None = "B",
) -> list[str]:
    """Conclusions generated from the results, one paragraph each: the effect and its size
    relative to the pre-programme level; its dynamics (build-up, peak, fade); heterogeneity
    that stands out; intention-to-treat and leavers; selection on the pre-programme level and
    balance after matching; what the evidence cannot rule out (pre-test, placebo, and when
    given, the pre-test power and the sensitivity breakdown value)."""
    lang = check_lang(lang)
    nb = lang == "nb"
    spec = results.spec
    head = results.row("headline")
    est = float(head["estimate"])
    excludes = head["conf_high"] < 0 or head["conf_low"] > 0
    out: list[str] = []
    # 1 effect and relative size
    rel = abs(est) / results.pre_level * 100 if results.pre_level else float("nan")
    where = sector_phrase(spec.sector, lang)
    if nb:
        out.append(
            f"Hovedestimatet, {AGGREGATION_LABELS['group']['nb'].lower()}, er "
            f"{fmt_pp(est, lang, 2)} {where}"
            + (
                ", og konfidensintervallet utelukker null."
                if excludes
                else ", men konfidensintervallet omfatter null."
            )
            + f" Før oppstart lå sykefraværet i deltakerkommunene på {fmt_pct(results.pre_level, lang)}"
            f" (snitt av de fire kvartalene før start, kommunene likt vektet), så anslaget svarer "
            f"til {fmt_pct(rel, lang)} av nivået."
        )
    else:
        out.append(
            f"The headline estimate, the {AGGREGATION_LABELS['group']['en'].lower()}, is "
            f"{fmt_pp(est, lang, 2)} {where}"
            + (
                ", and its confidence interval excludes zero."
                if excludes
                else ", but its confidence interval includes zero."
            )
            + " Before the start, sick leave in the participating municipalities was "
            f"{fmt_pct(results.pre_level, lang)} (mean of the four quarters before the start, "
            f"municipalities weighted equally), so the estimate is {fmt_pct(rel, lang)} of that "
            "level."
        )
    # 2 dynamics
    d = _dynamics(results)
    if d is not None:
        coh = ", ".join(d["tail_cohorts"])
        if nb:
            text = (
                f"Punktestimatet per kvartal er {fmt_pp(d['first'], lang, 2)} i "
                f"oppstartskvartalet; den største {d['direction_nb']} er "
                f"{fmt_pp(d['peak'], lang, 2)}, {fmt_int(d['peak_e'], lang)} kvartaler etter "
                "oppstart. "
                if d["peak_e"] > 0
                else f"Den største {d['direction_nb']} per kvartal er i oppstartskvartalet "
                f"({fmt_pp(d['peak'], lang, 2)}). "
            )
            text += (
                f"I kvartal {d['tail_from']}–{d['tail_to']} etter oppstart er den i snitt "
                f"{fmt_pp(d['tail'], lang, 2)}"
                + (
                    ", med motsatt fortegn av toppen: effekten er borte eller snur."
                    if d["fades"] and d["tail"] * d["peak"] < 0
                    else f", under {fmt_pct(FADE_SHARE * 100, lang, 0)} av toppen: effekten avtar."
                    if d["fades"]
                    else ", så den avtar ikke tydelig."
                )
            )
            if d["fewer"]:
                text += (
                    " De seneste kvartalene bygger bare på "
                    f"{'puljene' if len(d['tail_cohorts']) > 1 else 'pulje'} {coh}"
                    f"{f' (se vedlegg {appendix})' if appendix else ''}, så endringen over tid kan "
                    "også skyldes at sammensetningen av puljer endrer seg."
                )
        else:
            text = (
                f"The point estimate by quarter is {fmt_pp(d['first'], lang, 2)} in the quarter "
                f"of the start; the largest {d['direction_en']} is {fmt_pp(d['peak'], lang, 2)}, "
                f"{fmt_int(d['peak_e'], lang)} quarters after the start. "
                if d["peak_e"] > 0
                else f"The largest {d['direction_en']} by quarter is in the quarter of the start "
                f"({fmt_pp(d['peak'], lang, 2)}). "
            )
            text += (
                f"In quarters {d['tail_from']}–{d['tail_to']} after the start it averages "
                f"{fmt_pp(d['tail'], lang, 2)}"
                + (
                    ", with the opposite sign of the peak: the effect is gone or reverses."
                    if d["fades"] and d["tail"] * d["peak"] < 0
                    else f", below {fmt_pct(FADE_SHARE * 100, lang, 0)} of the peak: the effect fades."
                    if d["fades"]
                    else ", so it does not clearly fade."
                )
            )
            if d["fewer"]:
                text += (
                    " The latest quarters rest on "
                    f"{'cohorts' if len(d['tail_cohorts']) > 1 else 'cohort'} {coh} only"
                    f"{f' (see appendix {appendix})' if appendix else ''}, so the change over time "
                    "may also reflect the changing mix of cohorts."
                )
        out.append(text)
    # 3 heterogeneity (sectors against the all-sector estimate, sizes against the headline)
    sub = results.subgroups
    has_all = bool((sub["key"] == "sector:all").any())
    ref = float(results.row("sector:all")["estimate"]) if has_all else est
    stand = []
    for r in sub.itertuples():
        if r.key == "sector:all" or _is_missing(r.estimate):
            continue
        base = est if r.kind == "size" else ref
        if _is_missing(base) or base == 0 or (r.n_treated or 0) < MIN_SUBGROUP_TREATED:
            continue
        ratio = float(r.estimate) / base
        if ratio >= HETEROGENEITY_RATIO or ratio <= 1 / HETEROGENEITY_RATIO:
            stand.append((r.key, float(r.estimate), ratio, r.kind))
    ratio_txt = fmt_num(HETEROGENEITY_RATIO, lang, 1)
    if stand:
        parts = []
        for key, value, ratio, kind in stand:
            if kind == "sector":
                name = _SECTOR_NAME.get(key.partition(":")[2], {lang: key})[lang]
                if key == f"sector:{spec.sector}":
                    name += " (denne analysen)" if nb else " (this analysis)"
            else:
                name = estimate_label(key, lang, results).lower()
            parts.append(
                f"{name} {fmt_pp(value, lang, 2)} ({fmt_num(ratio, lang, 1)} "
                + ("ganger referansen)" if nb else "times the reference)")
            )
        if nb:
            out.append(
                f"Effekten varierer mer enn en faktor {ratio_txt} mellom undergrupper: "
                + "; ".join(parts)
                + ". Referansen er estimatet for alle sektorer (for sektorer) og hovedestimatet "
                "(for kommunestørrelser). Forskjellene er ikke testet formelt og kan skyldes "
                "tilfeldigheter når intervallene overlapper."
            )
        else:
            out.append(
                f"The effect varies by more than a factor {ratio_txt} between subgroups: "
                + "; ".join(parts)
                + ". The reference is the all-sector estimate (for sectors) and the headline (for "
                "municipality sizes). The differences are not formally tested and may be chance "
                "where the intervals overlap."
            )
    elif len(sub) and not any(
        r.key != "sector:all"
        and not _is_missing(r.estimate)
        and (r.n_treated or 0) >= MIN_SUBGROUP_TREATED
        for r in sub.itertuples()
    ):
        out.append(
            f"Ingen sektor eller kommunestørrelse har et estimat med minst "
            f"{MIN_SUBGROUP_TREATED} deltakere, så forskjeller mellom undergrupper er ikke vurdert."
            if nb
            else "No sector or municipality size has an estimate with at least "
            f"{MIN_SUBGROUP_TREATED} participants, so differences between subgroups are not "
            "assessed."
        )
    elif len(sub):
        out.append(
            f"Ingen sektor eller kommunestørrelse har et estimat som avviker mer enn en faktor "
            f"{ratio_txt} fra referansen."
            if nb
            else "No sector or municipality size has an estimate that differs by more than a "
            f"factor {ratio_txt} from the reference."
        )
    # 4 intention to treat
    n_left = len(results.leavers)
    if nb:
        out.append(
            "Estimatet er en effekt av å bli tatt opp i programmet (intention-to-treat): "
            + (
                f"{count_sentence(n_left, 'kommune', 'kommuner', lang)} gikk ut av programmet "
                "underveis, men regnes fortsatt som deltakere fra oppstart, så effekten av å "
                "gjennomføre programmet kan være større."
                if n_left
                else "ingen deltakere er registrert som utgått av programmet."
            )
        )
    else:
        out.append(
            "The estimate is the effect of being admitted to the programme (intention to treat): "
            + (
                f"{count_sentence(n_left, 'municipality', 'municipalities', lang)} left the "
                "programme early but still count as participants from their start, so the effect "
                "of completing the programme may be larger."
                if n_left
                else "no participant is recorded as having left the programme."
            )
        )
    # 5 selection and balance
    gap = results.pre_level - results.comparison_pre_level
    sel_nb = (
        "omtrent like høyt som"
        if abs(gap) < SELECTION_SAME_PP
        else f"{fmt_pp(abs(gap), lang, 1)} {_sign_word(gap, 'nb')} enn"
    )
    sel_en = (
        "about the same as"
        if abs(gap) < SELECTION_SAME_PP
        else f"{fmt_pp(abs(gap), lang, 1)} {_sign_word(gap, 'en')} than"
    )
    bal = ""
    if results.matching is not None:
        smd = results.matching.balance["smd_after"].abs()
        worst = float(smd.max())
        if nb:
            bal = (
                f" Etter matching er den største standardiserte forskjellen {fmt_num(worst, lang, 2)}"
                + (
                    f", over grensen {fmt_num(BALANCE_SMD, lang, 1)}: balansen er ufullstendig."
                    if worst > BALANCE_SMD
                    else f", under grensen {fmt_num(BALANCE_SMD, lang, 1)}."
                )
            )
        else:
            bal = (
                f" After matching the largest standardised difference is {fmt_num(worst, lang, 2)}"
                + (
                    f", above the threshold {fmt_num(BALANCE_SMD, lang, 1)}: balance is imperfect."
                    if worst > BALANCE_SMD
                    else f", below the threshold {fmt_num(BALANCE_SMD, lang, 1)}."
                )
            )
    if nb:
        out.append(
            f"Deltakerne valgte selv å søke: før oppstart lå sykefraværet deres {sel_nb} i kommunene "
            "som aldri deltok i de samme kvartalene. Forskjell-i-forskjeller fjerner faste "
            "nivåforskjeller, men ikke forskjeller i trend som følger av hvorfor kommunene søkte."
            + bal
        )
    else:
        out.append(
            "Participants chose to apply: before the start their sick leave was "
            f"{sel_en} that of the never-participating municipalities in the same quarters. "
            "Difference-in-differences removes fixed level differences, but not differences in "
            "trend linked to why municipalities applied." + bal
        )
    # 6 what cannot be ruled out
    lim = []
    if results.pretest is not None:
        lim.append(
            honest_pretrend_sentence(results.pretest, lang, dynamic=results.dynamic, effect=est)
        )
    if power is not None:
        lim.append(
            pretrend_power_sentence(
                power,
                results.pretest,
                lang,
                headline_bias=getattr(results, "power_headline_bias", None),
                effect=est,
            )
        )
    pl = placebo_sentence(results, lang)
    if pl:
        lim.append(pl)
    if honest is not None:
        lim.append(honest_sentence(honest, lang))
    lim.append(
        "Dataene kan heller ikke utelukke smitteeffekter til nabokommuner eller at andre tiltak "
        "startet samtidig med programmet."
        if nb
        else "Nor can the data rule out spillovers to neighbouring municipalities or other "
        "measures that started at the same time as the programme."
    )
    out.append(" ".join(lim))
    return out


#: Full citations of every work the reports cite (author-year keys as in the text).
#: Reference list, sorted by first author (``de`` ignored).
REFERENCES: tuple[str, ...] = tuple(
    sorted(
        (
            "Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W. og Wager, S. (2021). "
            "Synthetic difference-in-differences. American Economic Review, 111(12), 4088–4118.",
            "Borusyak, K., Jaravel, X. og Spiess, J. (2024). Revisiting event-study designs: Robust and "
            "efficient estimation. Review of Economic Studies, 91(6), 3253–3285.",
            "de Chaisemartin, C. og D'Haultfœuille, X. (2024). Difference-in-differences estimators of "
            "intertemporal treatment effects. Review of Economics and Statistics, "
            "doi:10.1162/rest_a_01414.",
            "Gardner, J. (2022). Two-stage differences in differences. arXiv:2207.05943.",
            "Sun, L. og Abraham, S. (2021). Estimating dynamic treatment effects in event studies with "
            "heterogeneous treatment effects. Journal of Econometrics, 225(2), 175–199.",
            "Wing, C., Freedman, S. M. og Hollingsworth, A. (2024). Stacked difference-in-differences. "
            "NBER Working Paper 32054.",
            "Abadie, A. (2021). Using synthetic controls: Feasibility, data requirements, and "
            "methodological aspects. Journal of Economic Literature, 59(2), 391–425.",
            "Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline "
            "covariates between treatment groups in propensity-score matched samples. Statistics in "
            "Medicine, 28(25), 3083–3107.",
            "Callaway, B. og Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time "
            "periods. Journal of Econometrics, 225(2), 200–230.",
            "Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing. "
            "Journal of Econometrics, 225(2), 254–277.",
            "Rambachan, A. og Roth, J. (2023). A more credible approach to parallel trends. Review of "
            "Economic Studies, 90(5), 2555–2591.",
            "Roth, J. (2022). Pretest with caution: Event-study estimates after testing for parallel "
            "trends. American Economic Review: Insights, 4(3), 305–322.",
            "Sant'Anna, P. H. C. og Zhao, J. (2020). Doubly robust difference-in-differences "
            "estimators. Journal of Econometrics, 219(1), 101–122.",
        ),
        key=lambda r: r.removeprefix("de ").lower(),
    )
)


def references(lang: str = "nb") -> str:
    """The reference list as a markdown list (``og`` between authors in nb, ``and`` in en)."""
    lang = check_lang(lang)
    items = REFERENCES if lang == "nb" else tuple(r.replace(" og ", " and ") for r in REFERENCES)
    return "\n".join(f"- {r}" for r in items)


def methods_appendix(results: Any, lang: str = "nb") -> str:
    """The methods appendix as markdown (``###`` sub-headings): estimand and headline,
    assumptions, identification by event time, base period, inference and weighting, and the
    thresholds of generated wording.  The identification table and the thresholds table are
    shown beside it (:func:`kvk_analysis.report.tables.identification_table_report`,
    :func:`kvk_analysis.report.tables.thresholds_table`)."""
    lang = check_lang(lang)
    spec = results.spec
    comp = comparison_phrase(spec.control_group, lang)
    ant = int(spec.anticipation)
    ident = results.identification
    full = ident.loc[ident["n_cohorts"] == ident["n_cohorts"].max(), "event_time"]
    lo, hi = (int(full.min()), int(full.max())) if len(full) else (0, 0)
    universal = spec.base_period == "universal"
    level = fmt_pct((1 - spec.alpha) * 100, lang, 0)
    if lang == "nb":
        base = (
            "Med universell basisperiode måles alle effekter, også før oppstart, mot kvartalet "
            f"rett før oppstart{' (minus forventningsperioden)' if ant else ''}; dette kvartalet "
            "er null per definisjon. Punktene før oppstart er da avvik i nivå fra basiskvartalet."
            if universal
            else "Med varierende basisperiode (standard i R `did`) er effektene etter oppstart "
            "målt mot kvartalet rett før oppstart, mens hvert punkt før oppstart er endringen "
            "fra kvartalet før: punktene før oppstart er kvartal-til-kvartal-endringer, ikke nivå, "
            "og kan ikke leses som en kumulativ trend. Basisperioden endrer ikke estimatene etter "
            "oppstart, og uten kovariater gir dr, ipw og reg de samme tallene; ingen av delene er "
            "derfor egne rader i robusthetstabellen."
        )
        inference = (
            "Usikkerheten er anslått med multiplikator-bootstrap klynget på kommune "
            f"({fmt_int(spec.biters, lang)} trekk). Samlede effekter har punktvise {level}-intervaller. "
            "Effekter per kvartal siden oppstart, per pulje og per kalenderkvartal vises med både "
            "punktvise intervaller (med tilhørende p-verdi) og uniforme (simultane) bånd, som "
            "dekker alle punktene samtidig; p-verdiene hører til de punktvise intervallene."
            if spec.bootstrap
            else "Usikkerheten er anslått analytisk fra influensfunksjonene, klynget på kommune. "
            f"Alle intervaller er punktvise {level}-intervaller med tilhørende p-verdier; det er "
            "ingen uniforme bånd."
        )
        return "\n\n".join(
            [
                "### Estimand og hovedestimat",
                "Hovedestimatet er den gjennomsnittlige effekten for deltakerne (ATT) samlet som "
                f"*{AGGREGATION_LABELS['group']['nb'].lower()}*: hver pulje sin gjennomsnittseffekt "
                "over egne kvartaler etter oppstart, veid med puljestørrelse (Callaway og Sant'Anna "
                "2021). Det er valgt fordi hver deltakerkommune teller likt uansett når den startet; "
                "gjennomsnittet over alle pulje-kvartaler gir tidlige puljer mer vekt fordi de er "
                "observert lenger, og gjennomsnittet over kvartaler etter oppstart gir sene "
                "kvartaler, som bare de tidligste puljene bidrar til, samme vekt som de første. "
                f"{_WITH[spec.weighting]['nb'].capitalize()} svarer estimatet på effekten "
                + (
                    "i en gjennomsnittlig deltakerkommune"
                    if spec.weighting == "units"
                    else "per avtalt dagsverk"
                )
                + (
                    f"; anslaget {_WITH[spec.other_weighting]['nb']} vises ved siden av. Vektene er "
                    "hver kommunes avtalte dagsverk i første kvartal i utvalget."
                    if not _other_weighting_missing(results)
                    else f"; et anslag {_WITH[spec.other_weighting]['nb']} kan ikke lages, fordi "
                    "dataene mangler avtalte dagsverk for noen kommune-kvartaler."
                ),
                "### Forutsetninger",
                f"1. *Parallelle trender:* uten programmet ville sykefraværet i deltakerkommunene "
                f"ha utviklet seg som i sammenligningsgruppen ({comp}).\n"
                + (
                    "2. *Ingen forventningseffekt:* kommunene reagerer ikke før oppstart"
                    if ant == 0
                    else f"2. *Begrenset forventningseffekt:* kommunene kan reagere høyst {ant} "
                    "kvartal(er) før oppstart, men ikke tidligere"
                )
                + ", heller ikke mellom opptak og oppstart.\n"
                "3. *Ingen smitteeffekter:* programmet påvirker ikke sykefraværet i "
                "sammenligningskommunene.\n"
                "4. *Fast deltakelse:* en kommune regnes som deltaker fra oppstart og ut perioden "
                "(intention-to-treat), også om den gikk ut av programmet.",
                "### Identifikasjon etter tid siden oppstart",
                "Hvert punkt i hendelsesstudien er et gjennomsnitt over de puljene som er observert "
                "så mange kvartaler før eller etter oppstart. Sammensetningen endrer seg derfor "
                f"langs aksen: alle puljer bidrar fra kvartal {fmt_int(lo, lang)} til {fmt_int(hi, lang)}, mens punktene lenger ute "
                "bygger på færre puljer (tabellen under). Et balansert vindu, der bare puljer som er "
                "observert hele vinduet tas med, holder sammensetningen fast; det er et valg i "
                "spesifikasjonen (`balance_e`) og en rad i robusthetstabellen.",
                "### Basisperiode",
                base,
                "### Inferens",
                inference,
                "### Andre estimatorer",
                _comparison_method(lang),
                "### Terskler i den genererte teksten",
                "Ord som avhenger av tallene (for eksempel «nære», «avtar», «skiller seg ut») følger "
                "faste terskler i programkoden, listet i tabellen under.",
            ]
        )
    base = (
        "With a universal base period every effect, also before the start, is measured against "
        f"the quarter just before the start{' (less the anticipation period)' if ant else ''}; "
        "that quarter is zero by definition. The pre-start points are then level differences "
        "from the base quarter."
        if universal
        else "With a varying base period (the default of R `did`) the effects after the start are "
        "measured against the quarter just before the start, while each pre-start point is the "
        "change from the quarter before: the pre-start points are quarter-on-quarter changes, "
        "not levels, and cannot be read as a cumulative trend. The base period does not change "
        "the post-start estimates, and without covariates dr, ipw and reg give the same numbers; "
        "neither is therefore a row of the robustness table."
    )
    inference = (
        "Uncertainty comes from a multiplier bootstrap clustered by municipality "
        f"({fmt_int(spec.biters, lang)} draws). Overall effects have pointwise {level} intervals. "
        "Effects by quarters since the start, by cohort and by calendar quarter are shown with "
        "both pointwise intervals (with their p-values) and uniform (simultaneous) bands that "
        "cover all points at once; the p-values belong to the pointwise intervals."
        if spec.bootstrap
        else "Uncertainty is estimated analytically from the influence functions, clustered by "
        f"municipality. All intervals are pointwise {level} intervals with their p-values; there "
        "are no uniform bands."
    )
    return "\n\n".join(
        [
            "### Estimand and headline estimate",
            "The headline is the average effect on the participants (ATT) aggregated as the "
            f"*{AGGREGATION_LABELS['group']['en'].lower()}*: each cohort's average effect over its "
            "own quarters after the start, weighted by cohort size (Callaway and Sant'Anna 2021). "
            "It is chosen because every participating municipality counts equally whenever it "
            "started; the average over all cohort-quarters gives early cohorts more weight because "
            "they are observed longer, and the average over quarters since the start gives late "
            "quarters, to which only the earliest cohorts contribute, the same weight as the first. "
            f"{_WITH[spec.weighting]['en'].capitalize()}, the estimate answers the effect "
            + (
                "in an average participating municipality"
                if spec.weighting == "units"
                else "per contracted working day"
            )
            + (
                f"; the estimate {_WITH[spec.other_weighting]['en']} is shown beside it. "
                "The weights are each municipality's contracted working days in its first quarter "
                "in the sample."
                if not _other_weighting_missing(results)
                else f"; no estimate {_WITH[spec.other_weighting]['en']} can be made, as the data "
                "lack contracted working days for some municipality-quarters."
            ),
            "### Assumptions",
            "1. *Parallel trends:* without the programme, sick leave in the participating "
            f"municipalities would have developed as in the comparison group ({comp}).\n"
            + (
                "2. *No anticipation:* municipalities do not react before the start"
                if ant == 0
                else f"2. *Limited anticipation:* municipalities may react at most {ant} "
                "quarter(s) before the start, but not earlier"
            )
            + ", not even between admission and start.\n"
            "3. *No spillovers:* the programme does not affect sick leave in the comparison "
            "municipalities.\n"
            "4. *Fixed participation:* a municipality counts as a participant from its start to "
            "the end of the period (intention to treat), also if it left the programme.",
            "### Identification by time since the start",
            "Each point of the event study averages the cohorts observed that many quarters before "
            "or after their start. The composition therefore changes along the axis: all cohorts "
            f"contribute from quarter {fmt_int(lo, lang)} to {fmt_int(hi, lang)}, while points further out rest on fewer cohorts "
            "(table below). A balanced window, which keeps only cohorts observed throughout the "
            "window, holds the composition fixed; it is an option of the specification "
            "(`balance_e`) and a row of the robustness table.",
            "### Base period",
            base,
            "### Inference",
            inference,
            "### Other estimators",
            _comparison_method(lang),
            "### Thresholds of the generated text",
            "Words that depend on the numbers (such as 'close', 'fades', 'stands out') follow fixed "
            "thresholds in the code, listed in the table below.",
        ]
    )


def sensitivity_methods(results: Any, lang: str = "nb") -> str:
    """The methods-appendix section on pre-test power (Roth 2022) and sensitivity bounds
    (Rambachan and Roth 2023) as markdown (``###`` heading), generated from the results:
    the pre-test's event times, the sensitivity parameter's window, the ``Mbar`` grid and how
    the breakdown value is read (its resolution)."""
    from .evaluation import HONEST_MBAR_GRID, HONEST_MIN_E, HONEST_REFINE_STEPS

    lang = check_lang(lang)
    nb = lang == "nb"
    power = getattr(results, "power", None)
    honest = getattr(results, "honest", None)
    grid = ", ".join(fmt_num(g, lang, 1) for g in HONEST_MBAR_GRID)
    step = (HONEST_MBAR_GRID[1] - HONEST_MBAR_GRID[0]) / 2 ** int(HONEST_REFINE_STEPS)
    res = fmt_num(step, lang, 4).rstrip("0")
    param = _honest_parameter(honest, lang) if honest is not None else None
    spec = getattr(results, "spec", None)
    universal = getattr(spec, "base_period", "varying") == "universal"
    balanced = getattr(spec, "balance_e", None) is not None
    parts = ["### Sensitivitet og styrke" if nb else "### Sensitivity and power"]
    if nb:
        times = (
            f"kvartal {fmt_int(min(power.event_times), lang)} til "
            f"{fmt_int(max(power.event_times), lang)}"
            if power is not None
            else "kvartalene før oppstart"
        )
        parts.append(
            "*Styrken til testen før oppstart* (Roth 2022): testen av at effektene i "
            f"{times} før oppstart er null (maks-|t| med bootstrap-kritisk verdi) oppdager "
            "en lineær forskjell i trend med en sannsynlighet som avhenger av helningen. "
            "Rapporten gir helningen (prosentpoeng per kvartal) som oppdages med 50 % og 80 % "
            "sannsynlighet, regnet ut fra kovariansen til hendelsesstudiens estimater, og "
            "skjevheten en slik trend med 80 %-helningen ville gi i estimatene etter oppstart "
            "hvis den fortsatte: ubetinget, og betinget av at testen ikke forkaster (å "
            "velge analyser etter en test kan endre skjevheten). At testen ikke forkaster, "
            "utelukker ikke trender av denne størrelsen."
        )
        parts.append(
            "*Sensitivitet for brudd på parallelle trender* (Rambachan og Roth 2023): "
            + (
                "hendelsesstudien med universell basisperiode (som i hovedanalysen) brukes, "
                if universal
                else "hendelsesstudien estimeres på nytt med universell basisperiode (samme "
                "spesifikasjon ellers), "
            )
            + "og robuste konfidensintervaller beregnes for "
            f"{param or 'gjennomsnittseffekten etter oppstart'} ("
            + (
                "det balanserte vinduet i spesifikasjonen"
                if balanced
                else "kvartalene der alle puljer bidrar"
            )
            + "). Med *relative størrelser* kan avviket fra "
            "parallelle trender endre seg fra ett kvartal til det neste etter oppstart med "
            "høyst M̄ ganger den største slike endringen i kvartal "
            f"{fmt_int(HONEST_MIN_E, lang)} til −1 (metode C-LF); med *glatthet* kan helningen i forskjellen "
            "i trend endre seg med høyst M prosentpoeng per kvartal (metode FLCI). "
            f"*Bruddverdien* er den største M̄ der intervallet (og intervallet ved alle mindre "
            f"M̄) utelukker null. Den søkes på rutenettet M̄ = {grid} og forfines med "
            f"{fmt_int(HONEST_REFINE_STEPS, lang)} halveringer mellom siste verdi som utelukker "
            f"null og neste (oppløsning {res}); den eksakte bruddverdien ligger mellom den "
            "oppgitte og neste prøvde verdi. Omfatter det vanlige intervallet null, finnes "
            "ingen bruddverdi."
        )
    else:
        times = (
            f"quarters {fmt_int(min(power.event_times), lang)} to "
            f"{fmt_int(max(power.event_times), lang)}"
            if power is not None
            else "the quarters before the start"
        )
        parts.append(
            "*Power of the pre-test* (Roth 2022): the test that the effects in "
            f"{times} before the start are zero (max-|t| with a bootstrap critical value) "
            "detects a linear difference in trends with a probability that depends on its "
            "slope. The report gives the slope (percentage points per quarter) detected with "
            "50 % and 80 % probability, computed from the covariance of the event-study "
            "estimates, and the bias a trend with the 80 % slope would cause in the post-start "
            "estimates if it continued: unconditionally, and conditional on the test not "
            "rejecting (choosing analyses after a test can change the bias). That the test does "
            "not reject does not rule out trends of this size."
        )
        parts.append(
            "*Sensitivity to violations of parallel trends* (Rambachan and Roth 2023): "
            + (
                "the event study with a universal base period (as in the main analysis) is used, "
                if universal
                else "the event study is re-estimated with a universal base period (otherwise "
                "the same specification), "
            )
            + "and robust confidence intervals are computed for "
            f"{param or 'the average effect after the start'} ("
            + (
                "the balanced window of the specification"
                if balanced
                else "the quarters to which every cohort contributes"
            )
            + "). Under *relative magnitudes* the "
            "departure from parallel trends may change from one quarter to the next after the "
            "start by at most M̄ times the largest such change in quarters "
            f"{fmt_int(HONEST_MIN_E, lang)} to −1 (method C-LF); under *smoothness* the slope of the "
            "difference in trends may change by at most M percentage points per quarter (method "
            f"FLCI). The *breakdown value* is the largest M̄ at which the interval (and the "
            f"interval at every smaller M̄) excludes zero. It is searched on the grid M̄ = {grid} "
            f"and refined by {fmt_int(HONEST_REFINE_STEPS, lang)} bisections between the last "
            f"value that excludes zero and the next (resolution {res}); the exact breakdown value "
            "lies between the one reported and the next value tested. When the usual interval "
            "includes zero there is no breakdown value."
        )
    return "\n\n".join(parts)


def method_summary(results: Any, lang: str = "nb", *, appendix: str | None = "B") -> str:
    """The method in a paragraph, generated from the specification: estimator, comparison
    group, base period, aggregation named as the headline, weighting and inference."""
    lang = check_lang(lang)
    spec = results.spec
    comp = comparison_phrase(spec.control_group, lang)
    level = fmt_pct((1 - spec.alpha) * 100, lang, 0)
    ant = int(spec.anticipation)
    if lang == "nb":
        base = (
            "kvartalet rett før oppstart"
            if ant == 0
            else f"kvartalet {ant + 1} kvartaler før oppstart (forventningseffekt {ant} kv.)"
        )
        inf = (
            "multiplikator-bootstrap klynget på kommune; effekter per kvartal, pulje og "
            f"kalenderkvartal har i tillegg uniforme (simultane) {level}-bånd"
            if spec.bootstrap
            else f"analytiske standardfeil klynget på kommune, med punktvise {level}-intervaller"
        )
        return (
            "Effekten anslås med forskjell-i-forskjeller for forskjøvet oppstart (Callaway og "
            f"Sant'Anna 2021, estimator {spec.est_method}). For hver pulje og hvert kvartal "
            f"sammenlignes endringen i sykefraværet {sector_phrase(spec.sector, lang)} siden {base} "
            f"med den samme endringen hos {comp}. Effektene veies sammen per pulje, per "
            "kalenderkvartal og etter tid siden oppstart; hovedestimatet er "
            f"*{AGGREGATION_LABELS['group']['nb'].lower()}*, "
            f"{_WITH[spec.weighting]['nb']}. Usikkerheten er anslått med {inf}. Effekter "
            "måles i prosentpoeng, fordi sykefraværet måles i prosent av avtalte dagsverk."
            + (f" Detaljer og forutsetninger står i vedlegg {appendix}." if appendix else "")
        )
    base = (
        "the quarter just before the start"
        if ant == 0
        else f"the quarter {ant + 1} quarters before the start (anticipation {ant} q.)"
    )
    inf = (
        "a multiplier bootstrap clustered by municipality; effects by quarter, cohort and "
        f"calendar quarter also have uniform (simultaneous) {level} bands"
        if spec.bootstrap
        else f"analytic standard errors clustered by municipality, with pointwise {level} intervals"
    )
    return (
        "The effect is estimated by difference-in-differences for staggered adoption (Callaway "
        f"and Sant'Anna 2021, estimator {spec.est_method}). For each cohort and quarter the change "
        f"in sick leave {sector_phrase(spec.sector, lang)} since {base} is compared with the same "
        f"change among {comp}. The effects are averaged by cohort, by calendar quarter and by "
        "time since the start; the headline is the "
        f"*{AGGREGATION_LABELS['group']['en'].lower()}*, {_WITH[spec.weighting]['en']}. "
        f"Uncertainty comes from {inf}. Effects are in percentage points, because sick leave is "
        "measured in percent of contracted working days."
        + (f" Details and assumptions are in appendix {appendix}." if appendix else "")
    )


def report_subtitle(spec: Any, lang: str = "nb") -> str:
    """The subtitle of a report: what is analysed (sector, window) and then the full
    specification (:func:`spec_subtitle`)."""
    lang = check_lang(lang)
    where = sector_phrase(spec.sector, lang)
    head = (
        f"Sykefravær {where} før og etter deltakelse"
        if lang == "nb"
        else f"Sick leave {where} before and after taking part"
    )
    return f"{head}. {spec_subtitle(spec, lang)}"


# --------------------------------------------------------------------------------------------
# the estimator comparison (EvaluationResults.comparison)
# --------------------------------------------------------------------------------------------


def _estimator_name(name: str, lang: Lang) -> str:
    from ..evaluation.estimators import ESTIMATORS

    # two-author names with an en dash, as "Callaway–Sant'Anna" everywhere in the reports
    pairs = ("callaway_santanna", "sun_abraham", "dcdh")
    return ESTIMATORS[name][lang].replace("-", "–", 1) if name in pairs else ESTIMATORS[name][lang]


def comparison_quantity(quantity: str, lang: str = "nb") -> str:
    """What an overall number of the estimator comparison is: ``"post_mean"`` (mean of the
    event-time effects 0..max_e after the start) or ``"own"`` (the estimator's own single
    number)."""
    from .evaluation import COMPARISON_MAX_E

    lang = check_lang(lang)
    if quantity == "post_mean":
        return (
            f"snitt av kvartal 0–{COMPARISON_MAX_E} etter oppstart"
            if lang == "nb"
            else f"mean of quarters 0–{COMPARISON_MAX_E} after the start"
        )
    return "eget samlet estimat" if lang == "nb" else "its own single estimate"


def comparison_caption(results: Any, lang: str = "nb", *, figure: bool = False) -> str:
    """Caption of the estimator-comparison table (or, with ``figure``, the event-study
    figure): the quantity each overall number is, the comparison units of each estimator,
    the intervals, the synthetic-DiD bootstrap and, where they apply, the report's weighting
    and base period."""
    from .evaluation import COMPARISON_MAX_E, COMPARISON_MIN_E, SDID_REPLICATIONS

    lang = check_lang(lang)
    nb = lang == "nb"
    spec = results.spec
    where = sector_phrase(spec.sector, lang)
    comp = comparison_phrase(spec.control_group, lang)
    if figure:
        head = (
            f"Effekt {where} etter kvartaler før og etter oppstart med ulike estimatorer "
            f"(prosentpoeng, kvartal {fmt_num(COMPARISON_MIN_E, lang, 0)} til "
            f"{COMPARISON_MAX_E}), punktvise 95 % konfidensintervaller; for "
            "regresjonsestimatorene er kvartalet før oppstart referansen (0 per konstruksjon)"
            if nb
            else f"Effect {where} by quarters before and after the start by estimator "
            f"(percentage points, quarters {fmt_num(COMPARISON_MIN_E, lang, 0)} to "
            f"{COMPARISON_MAX_E}), pointwise 95 % intervals; for the regression estimators the "
            "quarter before the start is the reference (0 by construction)"
        )
        if spec.base_period == "varying":
            head += (
                ", mens Callaway–Sant'Annas punkter før oppstart er endringer fra kvartalet før"
                if nb
                else ", while Callaway–Sant'Anna's points before the start are changes from the "
                "quarter before"
            )
    else:
        head = (
            f"Samlet effekt {where} med ulike estimatorer, prosentpoeng. Hendelsesstudie-"
            f"estimatorene gir snittet av effektene i kvartal 0–{COMPARISON_MAX_E} etter "
            "oppstart (samme størrelse for alle); statisk TWFE og syntetisk DiD gir hvert sitt "
            "eget samlet estimat, et annet vektet gjennomsnitt av effektene, og er ikke samme "
            "størrelse. Punktvise 95 % konfidensintervaller"
            if nb
            else f"Overall effect {where} by estimator, percentage points. The event-study "
            f"estimators give the mean of the effects in quarters 0–{COMPARISON_MAX_E} after "
            "the start (the same quantity for all); static TWFE and synthetic DiD each give "
            "their own single estimate, a differently weighted average of the effects, not the "
            "same quantity. Pointwise 95 % intervals"
        )
    if spec.control_group == "nevertreated":
        units = (
            ". Sammenligning: Callaway–Sant'Anna, de Chaisemartin–D'Haultfœuille, stablet DiD, "
            f"Sun–Abraham og syntetisk DiD med {comp}; "
            if nb
            else ". Comparison: Callaway–Sant'Anna, de Chaisemartin–D'Haultfœuille, stacked "
            f"DiD, Sun–Abraham and synthetic DiD with {comp}; "
        )
    else:
        units = (
            ". Sammenligning: Callaway–Sant'Anna, de Chaisemartin–D'Haultfœuille og stablet DiD "
            f"med {comp}; Sun–Abraham og syntetisk DiD med kommuner som aldri deltok; "
            if nb
            else ". Comparison: Callaway–Sant'Anna, de Chaisemartin–D'Haultfœuille and stacked "
            f"DiD with {comp}; Sun–Abraham and synthetic DiD with municipalities that never "
            "took part; "
        )
    units += (
        "to-trinns/imputasjon med alle ennå ikke behandlede observasjoner; TWFE med alle andre "
        "observasjoner"
        if nb
        else "two-stage/imputation with every not-yet-treated observation; TWFE with all "
        "other observations"
    )
    cs = (
        ". Callaway–Sant'Anna er rapportens egne ATT(g,t), aggregert over kvartal "
        f"{fmt_num(COMPARISON_MIN_E, lang, 0)} til {COMPARISON_MAX_E} med rapportens inferens"
        if nb
        else ". Callaway–Sant'Anna is the report's own ATT(g,t), aggregated over quarters "
        f"{fmt_num(COMPARISON_MIN_E, lang, 0)} to {COMPARISON_MAX_E} with the report's inference"
    )
    if spec.weighting == "days":
        cs += (
            " og vektet med avtalte dagsverk; de andre estimatorene vekter kommunene likt"
            if nb
            else " and weighted by contracted working days; the other estimators weight "
            "municipalities equally"
        )
    sdid = (
        f". Standardfeilen til syntetisk DiD er en bootstrap over kommuner med bare "
        f"{SDID_REPLICATIONS} trekk (for å spare tid), så den er selv usikker med omtrent "
        f"{fmt_pct(100 / math.sqrt(2 * (SDID_REPLICATIONS - 1)), lang, 0)}"
        if nb
        else f". Synthetic DiD's standard error is a bootstrap over municipalities with only "
        f"{SDID_REPLICATIONS} draws (to save time), so it is itself uncertain by about "
        f"{fmt_pct(100 / math.sqrt(2 * (SDID_REPLICATIONS - 1)), lang, 0)}"
    )
    if figure:
        return head + units + cs + "."
    refs = (
        " (Sun og Abraham 2021; Gardner 2022; Borusyak mfl. 2024; de Chaisemartin og "
        "D'Haultfœuille 2024; Wing mfl. 2024; Arkhangelsky mfl. 2021)"
        if nb
        else " (Sun and Abraham 2021; Gardner 2022; Borusyak et al. 2024; de Chaisemartin and "
        "D'Haultfœuille 2024; Wing et al. 2024; Arkhangelsky et al. 2021)"
    )
    return head + units + cs + sdid + refs + "."


def comparison_sentences(results: Any, lang: str = "nb") -> str:
    """What the estimator comparison shows, with the threshold :data:`ESTIMATORS_AGREE`:
    the range of the event-study estimators' means over quarters 0..max_e, how many of their
    intervals exclude zero, whether each lies within ``ESTIMATORS_AGREE`` of
    Callaway-Sant'Anna's, and the two single-number estimators named as other quantities."""
    from .evaluation import COMPARISON_MAX_E

    lang = check_lang(lang)
    nb = lang == "nb"
    rows = results.comparison_estimates()
    if rows.empty:
        return (
            "Sammenligningen av estimatorer kunne ikke beregnes på dette utvalget."
            if nb
            else "The estimator comparison could not be computed on this sample."
        )
    post = rows.loc[(rows["quantity"] == "post_mean") & rows["estimate"].notna()]
    own = rows.loc[rows["quantity"] == "own"]
    n = len(post)
    lo, hi = float(post["estimate"].min()), float(post["estimate"].max())
    excl = int(((post["conf_low"] > 0) | (post["conf_high"] < 0)).sum())
    cs_row = post.loc[post["estimator"] == "callaway_santanna"]
    cs = float(cs_row["estimate"].iloc[0]) if len(cs_row) else float("nan")
    share = fmt_pct(ESTIMATORS_AGREE * 100, lang, 0)
    if nb:
        text = (
            f"Snittet av effektene i kvartal 0–{COMPARISON_MAX_E} etter oppstart ligger mellom "
            f"{fmt_pp(lo, lang, 2)} og {fmt_pp(hi, lang, 2)} for de {n} "
            "hendelsesstudie-estimatorene"
            + (f" (Callaway–Sant'Anna: {fmt_pp(cs, lang, 2)})" if math.isfinite(cs) else "")
            + f", og {excl} av deres {n} punktvise 95 % konfidensintervaller utelukker null."
        )
    else:
        text = (
            f"The mean of the effects in quarters 0–{COMPARISON_MAX_E} after the start lies "
            f"between {fmt_pp(lo, lang, 2)} and {fmt_pp(hi, lang, 2)} for the {n} event-study "
            "estimators"
            + (f" (Callaway–Sant'Anna: {fmt_pp(cs, lang, 2)})" if math.isfinite(cs) else "")
            + f", and {excl} of their {n} pointwise 95 % intervals exclude zero."
        )
    if math.isfinite(cs) and cs != 0:
        others = post.loc[post["estimator"] != "callaway_santanna"]
        far = others.loc[(others["estimate"] - cs).abs() >= ESTIMATORS_AGREE * abs(cs)]
        if far.empty:
            text += (
                f" Alle ligger mindre enn {share} av Callaway–Sant'Annas snitt fra det, så de "
                "er samstemte etter dette målet; det sier ikke at forutsetningene de deler "
                "(parallelle trender, ingen forventning), holder."
                if nb
                else f" All lie within {share} of Callaway–Sant'Anna's mean, so they agree by "
                "this yardstick; that does not show that the assumptions they share (parallel "
                "trends, no anticipation) hold."
            )
        else:
            names = ", ".join(_estimator_name(e, lang) for e in far["estimator"])
            text += (
                f" Minst {share} av Callaway–Sant'Annas snitt fra det ligger: {names}; "
                "estimatorene bruker ulike sammenligningsgrupper og vekter, så forskjellen kan "
                "komme av hvilke kommuner og kvartaler de sammenligner."
                if nb
                else f" At least {share} of Callaway–Sant'Anna's mean away from it: {names}; "
                "the estimators use different comparison units and weights, so the difference "
                "can come from which municipalities and quarters they compare."
            )
    if not own.empty:
        inline = {
            "twfe_static": {"nb": "statisk TWFE", "en": "static TWFE"},
            "sdid": {"nb": "syntetisk DiD", "en": "synthetic DiD"},
        }
        parts = [
            f"{inline.get(r.estimator, {}).get(lang) or _estimator_name(r.estimator, lang)} "
            f"{fmt_pp(r.estimate, lang, 2)}"
            for r in own.itertuples()
        ]
        text += (
            f" Statisk TWFE og syntetisk DiD gir hvert sitt eget samlede tall ({', '.join(parts)}), "
            "et annet vektet gjennomsnitt av effektene over hele perioden etter oppstart, så de "
            "er ikke samme størrelse og sammenlignes ikke med terskelen."
            if nb
            else f" Static TWFE and synthetic DiD each give their own single number "
            f"({', '.join(parts)}), a differently weighted average of the effects over the whole "
            "period after the start, so they are not the same quantity and are not judged by "
            "the threshold."
        )
    return text


def bacon_caption(results: Any, lang: str = "nb") -> str:
    """Caption of the Goodman-Bacon scatter (the decomposition is of the unweighted TWFE)."""
    lang = check_lang(lang)
    where = sector_phrase(results.spec.sector, lang)
    if lang == "nb":
        return (
            f"Goodman-Bacon-dekomponering av den uvektede statiske TWFE-regresjonen {where}: "
            "hvert 2×2-estimat (prosentpoeng) mot vekten i TWFE-estimatet, etter type "
            "sammenligning (forklaringen gir hver types samlede vekt); stiplet linje: "
            "TWFE-estimatet"
        )
    return (
        f"Goodman-Bacon decomposition of the unweighted static TWFE regression {where}: each "
        "2×2 estimate (percentage points) against its weight in the TWFE estimate, by type of "
        "comparison (the legend gives each type's total weight); dashed line: the TWFE estimate"
    )


def _comparison_method(lang: Lang) -> str:
    """The methods appendix's paragraph on the estimator comparison."""
    from .evaluation import COMPARISON_MAX_E, COMPARISON_MIN_E, SDID_REPLICATIONS

    rel = fmt_pct(100 / math.sqrt(2 * (SDID_REPLICATIONS - 1)), lang, 0)
    lo = fmt_num(COMPARISON_MIN_E, lang, 0)
    if lang == "nb":
        return (
            "Callaway–Sant'Anna sammenlignes med andre estimatorer som tåler at effekten "
            "varierer mellom puljer og over tid: Sun og Abrahams interaksjonsvektede regresjon, "
            "to-trinns-DiD (Gardner 2022), som gir samme punktestimater som "
            "imputasjonsestimatoren til Borusyak mfl., de Chaisemartin og D'Haultfœuilles "
            "DID_l, stablet DiD med korrigerende vekter og syntetisk DiD, kjørt pulje for pulje "
            "mot kommunene som aldri deltok, i tillegg til TWFE. For hendelsesstudie-"
            f"estimatorene er det samlede tallet snittet av effektene i kvartal 0–"
            f"{COMPARISON_MAX_E} etter oppstart; Callaway–Sant'Anna er her rapportens egne "
            f"ATT(g,t) aggregert over kvartal {lo} til {COMPARISON_MAX_E}, et annet tall enn "
            "snittet over alle kvartaler etter oppstart i hovedtabellene. Statisk TWFE og "
            "syntetisk DiD gir hvert sitt eget samlede tall (andre vektede gjennomsnitt av "
            "effektene). Standardfeilen til syntetisk DiD er en bootstrap over kommuner med "
            f"{SDID_REPLICATIONS} trekk for å spare tid; med så få trekk er standardfeilen selv "
            f"usikker med omtrent {rel}."
        )
    return (
        "Callaway–Sant'Anna is compared with other estimators that allow effects to vary "
        "across cohorts and over time: Sun and Abraham's interaction-weighted regression, "
        "two-stage DiD (Gardner 2022), which gives the same point estimates as the imputation "
        "estimator of Borusyak et al., de Chaisemartin and D'Haultfœuille's DID_l, stacked DiD "
        "with corrective weights and synthetic DiD, run cohort by cohort against the "
        "municipalities that never took part, besides TWFE. For the event-study estimators the "
        f"overall number is the mean of the effects in quarters 0–{COMPARISON_MAX_E} after the "
        "start; Callaway–Sant'Anna is here the report's own ATT(g,t) aggregated over quarters "
        f"{lo} to {COMPARISON_MAX_E}, a different number from the average over all quarters "
        "after the start in the main tables. Static TWFE and synthetic DiD each give their own "
        "single number (other weighted averages of the effects). Synthetic DiD's standard error "
        f"is a bootstrap over municipalities with {SDID_REPLICATIONS} draws to save time; with "
        f"so few draws the standard error is itself uncertain by about {rel}."
    )
