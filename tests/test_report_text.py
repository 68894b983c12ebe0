"""Report language: number formatting and generated sentences in nb and en."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from kvk_analysis.errors import ReportError
from kvk_analysis.report import text

NBSP = "\u00a0"
MINUS = "\u2212"


@pytest.mark.parametrize(
    ("x", "lang", "decimals", "expected"),
    [
        (-1234.56, "nb", 1, f"{MINUS}1{NBSP}234,6"),
        (-1234.56, "en", 1, f"{MINUS}1,234.6"),
        (0.4, "nb", 2, "0,40"),
        (-0.04, "nb", 1, "0,0"),  # rounds to zero: no sign
        (-0.04, "en", 1, "0.0"),
        (1234567, "nb", 0, f"1{NBSP}234{NBSP}567"),
        (float("nan"), "nb", 1, "–"),
        (None, "en", 1, "–"),
    ],
)
def test_fmt_num(x, lang, decimals, expected):
    assert text.fmt_num(x, lang, decimals) == expected


def test_fmt_num_signed_and_infinite():
    assert text.fmt_num(0.25, "nb", 1, signed=True) == "+0,2"  # round half to even
    assert text.fmt_num(0.04, "en", 1, signed=True) == "0.0"
    assert text.fmt_num(-math.inf, "nb") == f"{MINUS}∞"


def test_units_and_intervals():
    assert text.fmt_pp(-0.4, "nb") == f"{MINUS}0,4{NBSP}pp"
    assert text.fmt_pp(-0.4, "en", long=True) == f"{MINUS}0.4{NBSP}percentage points"
    assert text.fmt_pct(6.234, "nb") == f"6,2{NBSP}%"
    assert text.fmt_pct(6.234, "en", 2) == f"6.23{NBSP}%"
    assert text.fmt_ci(-0.7, -0.1, "en") == f"95{NBSP}% CI {MINUS}0.7 to {MINUS}0.1"
    assert text.fmt_ci(-0.7, -0.1, "nb") == f"95{NBSP}% KI {MINUS}0,7 til {MINUS}0,1"
    assert text.fmt_ci(-0.7, -0.1, "nb", level=0.9).startswith(f"90{NBSP}% KI")
    assert text.fmt_p(0.0004, "nb") == "p < 0,001"
    assert text.fmt_p(0.034, "en") == "p = 0.03"
    assert text.fmt_p(0.0042, "nb") == "p = 0,004"
    assert text.fmt_quarter("2009Q1", "nb") == f"1.{NBSP}kv.{NBSP}2009"
    assert text.fmt_quarter(pd.Period("2008Q3", freq="Q"), "en") == f"2008{NBSP}Q3"


def _plain(s: str) -> str:
    return s.replace(NBSP, " ")


def test_effect_sentence_reduction_matches_issue_wording():
    en = _plain(text.effect_sentence(-0.4, -0.7, -0.1, "en"))
    nb = _plain(text.effect_sentence(-0.4, -0.7, -0.1, "nb"))
    assert en == f"reduced sick leave by 0.4 percentage points (95 % CI {MINUS}0.7 to {MINUS}0.1)"
    assert nb == f"redusert sykefraværet med 0,4 prosentpoeng (95 % KI {MINUS}0,7 til {MINUS}0,1)"


def test_effect_sentence_increase_and_zero_and_missing():
    assert text.effect_sentence(0.5, 0.2, 0.8, "en").startswith("increased sick leave by 0.5")
    assert text.effect_sentence(0.5, 0.2, 0.8, "nb").startswith("økt sykefraværet med 0,5")
    en = text.effect_sentence(-0.2, -0.5, 0.1, "en")
    assert "not statistically distinguishable from zero" in en
    assert en.startswith(f"changed sick leave by {MINUS}0.2")
    nb = text.effect_sentence(-0.2, -0.5, 0.1, "nb")
    assert "ikke er statistisk signifikant forskjellig fra null" in nb
    assert "redusert" not in nb and "reduced" not in en
    assert "could not be estimated" in text.effect_sentence(float("nan"), None, None, "en")
    assert "usikkerheten" in text.effect_sentence(-0.3, None, None, "nb")
    # other units and decimals
    assert "1.25 working days" in text.effect_sentence(-1.25, -2, -0.5, "en", "days", decimals=2)
    with pytest.raises(ReportError):
        text.effect_sentence(1, 0.5, 2, "en", unit="furlongs")


def test_summarise_overall_reads_tidy_and_overall_attribute():
    tidy = pd.DataFrame(
        {
            "term": ["overall", "event"],
            "estimate": [-0.4, -1.0],
            "conf_low": [-0.7, -1.5],
            "conf_high": [-0.1, -0.5],
        }
    )
    en = _plain(text.summarise_overall(tidy, "en"))
    assert en == (
        "The programme is estimated to have reduced sick leave by 0.4 percentage points "
        f"(95 % CI {MINUS}0.7 to {MINUS}0.1)."
    )

    class Result:
        overall = {"estimate": 0.31, "conf_low": -0.1, "conf_high": 0.7}

    nb = text.summarise_overall(Result(), "nb")
    assert nb.startswith("Programmet anslås å ha endret sykefraværet med 0,3")
    assert "ikke er statistisk signifikant" in nb
    missing = pd.DataFrame({"term": ["overall"], "estimate": [float("nan")]})
    assert "could not be estimated" in text.summarise_overall(missing, "en")
    with pytest.raises(ReportError):
        text.overall_row(pd.DataFrame({"term": ["a", "b"], "estimate": [1.0, 2.0]}))


def test_pretrend_sentence_both_outcomes():
    assert "not rejected (p = 0.42)" in text.pretrend_sentence(0.42, "en")
    assert "forkastes (p = 0,01)" in text.pretrend_sentence(0.012, "nb")
    assert "forkastes ikke" in text.pretrend_sentence(0.5, "nb")
    assert "holdepunkter" not in text.pretrend_sentence(0.5, "nb")  # no proof by non-rejection
    assert "does not show that the trends were parallel" in text.pretrend_sentence(0.5, "en")
    assert "could not be computed" in text.pretrend_sentence(None, "en")


def test_labels_and_lang_checks():
    assert text.label("figure", "nb") == "Figur"
    assert text.label("figure", "en") == "Figure"
    assert text.label("no_such_key", "en") == "no_such_key"
    assert text.check_lang("nb-NO") == "nb"
    assert text.check_lang("EN") == "en"
    with pytest.raises(ReportError):
        text.check_lang("sv")
    for key, entry in text.LABELS.items():
        assert set(entry) == {"nb", "en"}, key
    assert text.count_sentence(1, "kommune", "kommuner", "nb") == "1 kommune"
    assert text.count_sentence(1200, "kommune", "kommuner", "nb") == f"1{NBSP}200 kommuner"
    comp = _plain(text.compare_sentence("CS", -0.4, "TWFE", -0.3, "en"))
    assert comp == f"CS: {MINUS}0.4 pp; TWFE: {MINUS}0.3 pp (difference +0.1 pp)."


def test_interval_bound_near_zero_gets_more_decimals_and_context():
    nb = _plain(text.effect_sentence(-0.2, -0.39, -0.02, "nb"))
    assert nb.endswith(f"(95 % KI {MINUS}0,39 til {MINUS}0,02)")
    assert nb.startswith("redusert")
    en = _plain(text.effect_sentence(0.3, 0.004, 0.6, "en"))
    assert "(95 % CI 0.004 to 0.600)" in en
    tidy = pd.DataFrame(
        {"term": ["overall"], "estimate": [-0.4], "conf_low": [-0.7], "conf_high": [-0.1]}
    )
    nb = text.summarise_overall(tidy, "nb", context="Med en matchet sammenligningsgruppe")
    assert nb.startswith("Med en matchet sammenligningsgruppe anslås programmet å ha redusert")
    en = text.summarise_overall(tidy, "en", context="With a matched comparison group")
    assert en.startswith("With a matched comparison group, the programme is estimated to have")


def _synth_stub(donors: str, rule: str, n: int, rank: int = 3):
    from types import SimpleNamespace

    path = pd.DataFrame({"actual": [9.0, 9.5, 8.0, 8.5], "post": [False, False, True, True]})
    return SimpleNamespace(
        params={"donors": donors, "donor_rule": rule, "n_donors": n},
        weights=pd.DataFrame({"unit": ["a"], "weight": [1.0]}),
        placebo_stats=pd.DataFrame({"unit": [f"d{k}" for k in range(n)]}),
        rank=rank,
        effect=-0.5,
        path=path,
    )


def test_synth_method_states_the_donor_pool():
    auto = _synth_stub(
        "auto",
        "never-participants, size group <5k, 40 nearest by pre-period path and log population",
        40,
    )
    nb = text.synth_method(auto, "nb")
    assert f"40 kommuner som aldri deltok, alle med under 5{NBSP}000 innbyggere" in nb
    assert "nærmest kommunen i sykefravær før oppstart og i folketall" in nb
    assert "Abadie 2021" in nb
    en = text.synth_method(auto, "en")
    assert "40 municipalities that never took part, all with under 5,000 inhabitants" in en
    every = text.synth_method(_synth_stub("all", "all never-participants", 285), "en")
    assert "285 municipalities that never took part." in every
    assert "Abadie" not in every and "closest" not in every
    listed = text.synth_method(_synth_stub("list", "as given", 5), "nb")
    assert "5 valgte sammenligningskommuner" in listed
    # the placebo rank counts the municipality itself among the placebos
    figures = text.profile_key_figures({"pulje": "IV"}, auto, "en")
    assert figures["Placebo rank"] == "3 / 41"


def test_pretrend_sentence_from_event_study_test():
    from kvk_analysis.did import EventStudyPretest

    test = EventStudyPretest(
        method="sup-t",
        statistic=1.2,
        p_value=0.61,
        critical_value=2.8,
        event_times=tuple(range(-8, 0)),
        estimates=(0.0,) * 8,
        std_errors=(0.1,) * 8,
        alp=0.05,
        biters=999,
    )
    nb = text.pretrend_sentence(test, "nb")
    assert "de 8 kvartalene før oppstart" in nb and "forkastes ikke (p = 0,61)" in nb
    assert "the 8 quarters before joining" in text.pretrend_sentence(test, "en")


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_profile_subtitle_names_sector_measure_and_window(lang) -> None:
    # a profile of one sector or measure said only "sick leave in the municipalities"
    sub = text.profile_subtitle("care", "self_certified", "2006Q1", "2010Q4", lang)
    assert sub.startswith(text.label("subtitle_programme", lang))
    assert text.label("care", lang) in sub
    assert text.label("self_certified", lang).lower() in sub
    assert text.fmt_quarter("2006Q1", lang) in sub and text.fmt_quarter("2010Q4", lang) in sub
    other = text.profile_subtitle("education", "total", None, None, lang)
    assert text.label("education", lang) in other and text.label("care", lang) not in other


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_synth_sentence_gap_that_rounds_to_zero_is_neither_lower_nor_higher(lang) -> None:
    level = text.synth_sentence("Oslo", -0.003, 10, 22, 0.45, lang)
    assert not any(w in level for w in ("lavere", "høyere", "lower", "higher"))
    assert text.fmt_pp(0.0, lang, 2, long=True) in level and "p = 0" in level
    lower = text.synth_sentence("Oslo", -0.16, 10, 22, 0.45, lang)
    assert ("lavere" if lang == "nb" else "lower") in lower
