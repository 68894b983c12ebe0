"""Small report tables and the analysis sample, built from the panel and result objects.

These keep the notebooks thin: each function turns a panel or a result (read through
``tidy()``) into the table a report shows.  Rates are always recomputed from summed days
(never averaged percentages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from ..errors import ReportError
from .text import MISSING, check_lang, fmt_num, fmt_quarter, label

PULJER = ("I", "II", "III", "IV")

#: Decimals of an effects table in a report (:func:`effects_table`, :func:`subgroup_effects`,
#: :func:`sensitivity_report_table`): effects in pp with two decimals, p-values with three.
EFFECT_DECIMALS: dict[str, int] = {
    "estimate": 2,
    "std_error": 2,
    "conf_low": 2,
    "conf_high": 2,
    "p_value": 3,
}


def input_files(build: Any) -> list[Path]:
    """The raw input files of a :class:`kvk_analysis.build.BuildResult` (sick-leave files and
    cohort registry, from its manifest) plus the panel and manifest it wrote."""
    from .. import config

    manifest = getattr(build, "manifest", {}) or {}
    files: list[Path] = []
    for group in ("sickleave", "registry"):
        for name in (manifest.get("inputs", {}) or {}).get(group, {}):
            path = Path(name)
            files.append(path if path.is_absolute() else config.ROOT / path)
    outputs = getattr(build, "outputs", {}) or {}
    if "panel.parquet" in outputs:
        files.append(Path(outputs["panel.parquet"]))
    processed = getattr(build, "processed_dir", None)
    if processed is not None and (Path(processed) / "manifest.json").is_file():
        files.append(Path(processed) / "manifest.json")
    return files


def analysis_sample(
    panel: pd.DataFrame,
    *,
    sector: str = "all",
    cohorts: Sequence[str] | None = PULJER,
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """The estimation sample: one sector, a period window, never-treated units plus the
    participants of the chosen puljer.

    Participants whose cohort is unknown (``gname`` NA) are always dropped: their first
    treated quarter is never guessed, and they must not serve as never-treated controls.
    So are participants of puljer not in ``cohorts`` (``None``: every pulje).  ``gname`` is
    returned as a plain integer column (0 = never treated).
    """
    if sector not in set(pd.unique(panel["sector"].astype(str))):  # not every row
        raise ReportError(
            f"sector {sector!r} is not in the panel (has {sorted(panel['sector'].unique())})"
        )
    data = panel.loc[panel["sector"].astype(str) == sector]
    if start:
        data = data.loc[data["period"] >= pd.Period(start, freq="Q")]
    if end:
        data = data.loc[data["period"] <= pd.Period(end, freq="Q")]
    keep = data["never_treated"].astype(bool)
    participant = ~keep
    if cohorts is not None:
        wanted = {str(c).strip().upper() for c in cohorts}
        bad = wanted - set(PULJER)
        if bad:
            raise ReportError(f"unknown pulje(r) {sorted(bad)}; use I, II, III and/or IV")
        in_cohort = data["pulje"].astype("string").isin(wanted).fillna(False).astype(bool)
        keep = keep | (participant & in_cohort)
    else:
        keep = keep | participant
    keep = keep & data["gname"].notna()
    out = data.loc[keep].copy()
    if out.empty:
        raise ReportError("the analysis sample is empty: check sector, cohorts and period window")
    out["gname"] = out["gname"].fillna(0).astype("int64")
    return out.reset_index(drop=True)


class MainEstimates(NamedTuple):
    """The main analysis of a report (:func:`main_estimates`); unpacks as
    ``sample, gt, overall, dynamic, calendar, pretest``."""

    sample: pd.DataFrame
    gt: Any
    overall: Any
    dynamic: Any
    calendar: Any
    pretest: Any


def main_estimates(
    panel: pd.DataFrame,
    *,
    sector: str = "all",
    cohorts: Sequence[str] | None = PULJER,
    start: str | None = None,
    end: str | None = None,
    seed: int | None = None,
    **att_gt_kwargs: Any,
) -> MainEstimates:
    """The main Callaway-Sant'Anna analysis shown by the effect and evaluation reports.

    The sample of :func:`analysis_sample`, ``att_gt`` of the rate (``att_gt_kwargs``: e.g.
    ``control_group``, ``est_method``, ``anticipation``, ``base_period``, ``biters``), its
    aggregations by cohort (``overall``, ``type="group"``), event time and calendar quarter,
    and the event-study pre-trend test (:func:`kvk_analysis.did.pretrend_test`); ``seed``
    seeds both bootstraps.
    """
    from ..did import aggte, att_gt, pretrend_test

    sample = analysis_sample(panel, sector=sector, cohorts=cohorts, start=start, end=end)
    gt = att_gt(sample, "rate", "tname", "kommunenummer", "gname", seed=seed, **att_gt_kwargs)
    return MainEstimates(
        sample=sample,
        gt=gt,
        overall=aggte(gt, type="group"),
        dynamic=aggte(gt, type="dynamic"),
        calendar=aggte(gt, type="calendar"),
        pretest=pretrend_test(gt, seed=seed),
    )


def _rate(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = df.groupby(keys, observed=True, dropna=False)[["lost_days", "contracted_days"]].sum(
        min_count=1
    )
    out["rate"] = out["lost_days"] / out["contracted_days"] * 100
    return out.reset_index()


def group_label(panel: pd.DataFrame, lang: str = "nb") -> pd.Series:
    """A text label per row: "Pulje I (2. kv. 2007)" ... (the pulje with its first quarter,
    as in every table and figure, :func:`~kvk_analysis.report.text.cohort_label`),
    "Sammenligning"/"Comparison" (never treated) or "Ukjent pulje"/"Cohort unknown"."""
    from .text import cohort_label

    lang = check_lang(lang)
    pulje = panel["pulje"].astype("string")
    never = panel["never_treated"].astype(bool)
    word = label("pulje", lang)
    first = (
        panel.loc[~never & pulje.notna()]
        .groupby(pulje[~never & pulje.notna()])["first_treated"]
        .min()
    )
    names = {str(k): cohort_label(k, v, lang) for k, v in first.items() if pd.notna(v)}
    out = pulje.map(lambda v: names.get(str(v), f"{word} {v}") if pd.notna(v) else f"{word} ?")
    out = out.astype(object)
    out[never.to_numpy()] = "Sammenligning" if lang == "nb" else "Comparison"
    unknown = (~never) & pulje.isna()
    out[unknown.to_numpy()] = "Ukjent pulje" if lang == "nb" else "Cohort unknown"
    return pd.Series(out, index=panel.index, dtype=object)


def coverage_table(panel: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """Cells per sector by status (ok, missing, confidential, zero, ...), with units and
    quarters, for the data-quality section."""
    lang = check_lang(lang)
    status = panel["status"].astype(str) if "status" in panel else pd.Series("ok", panel.index)
    counts = pd.crosstab(panel["sector"].astype(str), status)
    counts.columns.name = None
    counts.insert(0, "quarters", panel.groupby("sector")["period"].nunique())
    counts.insert(0, "units", panel.groupby("sector")["kommunenummer"].nunique())
    counts["cells"] = counts[[c for c in counts.columns if c not in ("units", "quarters")]].sum(
        axis=1
    )
    counts.index = [label(s, lang) for s in counts.index]
    names = {
        "nb": {
            "units": "Enheter",
            "quarters": "Kvartaler",
            "ok": "Gyldige",
            "missing": "Mangler",
            "confidential": "Skjult (:)",
            "zero": "Null (-)",
            "cells": "Celler",
            "not_applicable": "Ikke aktuelt",
        },
        "en": {
            "units": "Units",
            "quarters": "Quarters",
            "ok": "Valid",
            "missing": "Missing",
            "confidential": "Suppressed (:)",
            "zero": "Zero (-)",
            "cells": "Cells",
            "not_applicable": "Not applicable",
        },
    }[lang]
    counts = counts.rename(columns=names)
    counts.index.name = label("sector", lang)
    return counts.reset_index()


def missing_by_year(panel: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """Share of unit x quarter x sector cells without a rate, per year and sector (percent)."""
    lang = check_lang(lang)
    miss = panel["rate"].isna()
    table = miss.groupby([panel["year"], panel["sector"].astype(str)]).mean().mul(100).unstack()
    table.columns = [label(c, lang) for c in table.columns]
    table.index.name = "År" if lang == "nb" else "Year"
    return table.reset_index()


def cohort_table(panel: pd.DataFrame, lang: str = "nb", *, sector: str = "all") -> pd.DataFrame:
    """One row per pulje (and the comparison group): municipalities, documented vs simulated
    membership, first treated quarter, population, sick leave in ``sector`` before the
    programme (2005-06, percent from summed days)."""
    lang = check_lang(lang)
    units = panel.drop_duplicates("kommunenummer").copy()
    units["group"] = group_label(units, lang).to_numpy()
    base = panel.loc[panel["sector"].astype(str) == sector].copy()
    pre = base.loc[(base["year"] >= 2005) & (base["year"] <= 2006)]
    pre = pre.assign(group=group_label(pre, lang).to_numpy())
    pre_rate = _rate(pre, ["group"]).set_index("group")["rate"]
    src = units["membership_source"].astype(str)
    first = units.groupby("group")["first_treated"].agg(lambda s: fmt_quarter(s.min(), lang))
    table = pd.DataFrame(
        {
            "n": units.groupby("group").size(),
            "documented": (src == "documented").groupby(units["group"]).sum(),
            "simulated": (src == "simulated").groupby(units["group"]).sum(),
            "first": first,
            "population": units.groupby("group")["population"].median(),
            "pre_rate": pre_rate,
        }
    )
    names = {
        "nb": [
            "Kommuner",
            "Dokumentert",
            "Simulert",
            "Første kvartal",
            "Innbyggere (median)",
            "Sykefravær 2005–06 (%)",
        ],
        "en": [
            "Municipalities",
            "Documented",
            "Simulated",
            "First quarter",
            "Population (median)",
            "Sick leave 2005–06 (%)",
        ],
    }[lang]
    table.columns = names
    table.index.name = label("pulje", lang)
    return table.reset_index()


def group_trends(panel: pd.DataFrame, sector: str = "all", lang: str = "nb") -> pd.DataFrame:
    """Sick-leave rate per quarter for each pulje and the comparison group (summed days)."""
    data = panel.loc[panel["sector"].astype(str) == sector]
    data = data.assign(group=group_label(data, lang).to_numpy())
    return _rate(data, ["group", "period"])


def effects_table(result: Any, lang: str = "nb", *, index: str | None = None) -> pd.DataFrame:
    """A result's ``tidy()`` as a report table: the index column (event time, cohort, period
    or term), estimate, CI, p-value and band, with labels in ``lang``.

    ``index`` picks the index column; by default the first of ``event_time``, ``group``,
    ``time`` that is filled, else ``term``.
    """
    lang = check_lang(lang)
    tidy = result.tidy() if hasattr(result, "tidy") else pd.DataFrame(result)
    if index is None:
        index = next(
            (c for c in ("event_time", "group", "time") if c in tidy and tidy[c].notna().any()),
            "term",
        )
    cols = [index, "estimate", "std_error", "conf_low", "conf_high", "p_value"]
    out = tidy[[c for c in cols if c in tidy]].copy()
    if index in ("group", "time"):
        from ..periods import index_to_quarter

        out[index] = [
            fmt_quarter(index_to_quarter(int(v)), lang)
            if pd.notna(v)
            else ("Samlet" if lang == "nb" else "Overall")
            for v in out[index]
        ]
    elif index == "event_time":
        out[index] = (
            out[index]
            .astype("Int64")
            .astype(object)
            .where(out[index].notna(), "Samlet" if lang == "nb" else "Overall")
        )
    return out


def select_rows(frame: pd.DataFrame, column: str, values: Iterable[Any]) -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` is in ``values`` (keeps the order of the frame)."""
    wanted = set(values)
    return frame.loc[frame[column].isin(wanted)].reset_index(drop=True)


def changed_codes(mapping: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """Rows of a code-mapping report whose code changed (mergers, splits, recodings), with
    column names in ``lang``."""
    lang = check_lang(lang)
    out = mapping.loc[mapping["from_code"].astype(str) != mapping["to_code"].astype(str)]
    names = {
        "nb": {
            "from_code": "Fra kode",
            "from_name": "Fra navn",
            "to_code": "Til kode",
            "to_name": "Til navn",
            "rule": "Regel",
            "n_rows": "Rader",
        },
        "en": {
            "from_code": "From code",
            "from_name": "From name",
            "to_code": "To code",
            "to_name": "To name",
            "rule": "Rule",
            "n_rows": "Rows",
        },
    }[lang]
    rules = _RULE_WORDS[lang]
    out = (
        out.assign(rule=[rules.get(str(r), str(r)) for r in out["rule"]]) if "rule" in out else out
    )
    return out.reset_index(drop=True).rename(columns=names)


#: Code-mapping rules (``MappingReport.table["rule"]``) in words.
_RULE_WORDS: dict[str, dict[str, str]] = {
    "nb": {
        "identity": "uendret",
        "merged_2008": "sammenslått 2008",
        "predecessor": "forløper",
        "recoded": "nytt nummer",
        "merged": "sammenslått",
        "split": "delt",
        "not_municipality": "ikke kommune",
    },
    "en": {
        "identity": "unchanged",
        "merged_2008": "merged 2008",
        "predecessor": "predecessor",
        "recoded": "renumbered",
        "merged": "merged",
        "split": "split",
        "not_municipality": "not a municipality",
    },
}


def quality_summary(quality: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """Flags of :func:`kvk_analysis.quality.data_quality_table` counted by check and sector."""
    lang = check_lang(lang)
    if quality.empty:
        return pd.DataFrame({label("sector", lang): [], "n": []})
    checks = [_CHECKS.get(c, {}).get(lang, c) for c in quality["check"].astype(str)]
    table = pd.crosstab(pd.Series(checks, index=quality.index), quality["sector"].astype(str))
    table.columns = [label(c, lang) for c in table.columns]
    table.columns.name = None
    table.index.name = "Kontroll" if lang == "nb" else "Check"
    return table.reset_index()


def unit_info(panel: pd.DataFrame, kommunenummer: str) -> dict[str, Any]:
    """Name, county, pulje, first treated quarter, population and size group of one unit."""
    rows = panel.loc[panel["kommunenummer"].astype(str) == str(kommunenummer)]
    if rows.empty:
        raise ReportError(f"municipality {kommunenummer} is not in the panel")
    first = rows.iloc[0]
    return {
        "kommunenummer": str(kommunenummer),
        "kommune": str(first["kommune"]),
        "fylke": str(first["fylke"]),
        "participant": bool(first["participant"]),
        "pulje": None if pd.isna(first["pulje"]) else str(first["pulje"]),
        "first_treated": first["first_treated"],
        "gname": None if pd.isna(first["gname"]) else int(first["gname"]),
        "membership_source": str(first["membership_source"]),
        "population": float(first["population"]),
        "size_group": str(first["size_group"]),
    }


def profile_table(
    panel: pd.DataFrame, kommunenummer: str, sector: str = "all", lang: str = "nb"
) -> pd.DataFrame:
    """Yearly sick-leave rate (percent) of one municipality, its pulje and the comparison
    municipalities (never treated)."""
    lang = check_lang(lang)
    info = unit_info(panel, kommunenummer)
    data = panel.loc[panel["sector"].astype(str) == sector]
    own = _rate(data.loc[data["kommunenummer"].astype(str) == str(kommunenummer)], ["year"])
    cols = {info["kommune"]: own.set_index("year")["rate"]}
    if info["pulje"] is not None:
        cohort = data.loc[data["pulje"].astype("string") == info["pulje"]]
        from .text import cohort_label

        name = (
            cohort_label(info["pulje"], info["first_treated"], lang)
            if pd.notna(info["first_treated"])
            else f"{label('pulje', lang)} {info['pulje']}"
        )
        cols[name] = _rate(cohort, ["year"]).set_index("year")["rate"]
    never = data.loc[data["never_treated"].astype(bool)]
    cols["Sammenligning" if lang == "nb" else "Comparison"] = _rate(never, ["year"]).set_index(
        "year"
    )["rate"]
    table = pd.DataFrame(cols)
    table.index.name = "År" if lang == "nb" else "Year"
    return table.reset_index()


def subgroup_effects(
    panel: pd.DataFrame,
    by: str,
    *,
    lang: str = "nb",
    cohorts: Sequence[str] | None = PULJER,
    start: str | None = None,
    end: str | None = None,
    **att_gt_kwargs: Any,
) -> pd.DataFrame:
    """The overall ATT (simple aggregation) estimated separately per sector (``by="sector"``)
    or per value of a unit-level column such as ``size_group``; analytic standard errors.

    A subgroup that cannot be estimated keeps its row with NaN and the reason in ``note``.
    """
    from ..did import aggte, att_gt
    from ..errors import KvkError

    lang = check_lang(lang)
    kwargs = {"bstrap": False, "cband": False, **att_gt_kwargs}
    if by == "sector":
        groups = [
            s
            for s in ("all", "care", "education", "other")
            if s in set(panel["sector"].astype(str))
        ]
        samples = {
            label(s, lang): analysis_sample(panel, sector=s, cohorts=cohorts, start=start, end=end)
            for s in groups
        }
    else:
        base = analysis_sample(panel, cohorts=cohorts, start=start, end=end)
        values = sorted(base[by].dropna().astype(str).unique())
        if by == "size_group":
            values = [g for g in SIZE_GROUPS if g in values] + [
                v for v in values if v not in SIZE_GROUPS
            ]
        samples = {str(v): base.loc[base[by].astype(str) == str(v)] for v in values}
    rows = []
    for name, data in samples.items():
        row: dict[str, Any] = {
            "group": name,
            "n_treated": data.loc[data["gname"] > 0, "kommunenummer"].nunique(),
            "note": "",
        }
        try:
            res = aggte(
                att_gt(data, "rate", "tname", "kommunenummer", "gname", **kwargs),
                type="simple",
                na_rm=True,
            )
            ov = res.overall
            row.update(
                estimate=ov.estimate,
                conf_low=ov.conf_low,
                conf_high=ov.conf_high,
                p_value=ov.p_value,
            )
        except (KvkError, ValueError) as exc:
            row.update(
                estimate=float("nan"),
                conf_low=float("nan"),
                conf_high=float("nan"),
                p_value=float("nan"),
                note=str(exc)[:120],
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    head = (
        label("sector", lang) if by == "sector" else ("Størrelse" if lang == "nb" else "Size group")
    )
    names = {
        "group": head,
        "n_treated": "Deltakere" if lang == "nb" else "Participants",
        "note": label("note", lang),
    }
    out = out.rename(columns=names)
    cols = [head, names["n_treated"], "estimate", "conf_low", "conf_high", "p_value"]
    if out[names["note"]].astype(str).str.len().gt(0).any():
        cols.append(names["note"])  # only when some subgroup could not be estimated
    return out[cols]


#: Labels of :func:`kvk_analysis.evaluation.sensitivity.sensitivity_table` specifications.
_SPEC_LABELS = {
    "baseline": {
        "nb": "Hovedanalyse (aldri deltatt som kontroll)",
        "en": "Main analysis (never treated as controls)",
    },
    "not_yet_treated": {
        "nb": "Ennå ikke deltatt også som kontroll",
        "en": "Not-yet-treated also as controls",
    },
    "covariates": {
        "nb": "Med kovariater (sykefravær før programmet, folketall)",
        "en": "With covariates (pre-programme sick leave, population)",
    },
    "leave_out": {"nb": "Uten pulje", "en": "Without cohort"},
    "placebo": {"nb": "Placebo: oppstart", "en": "Placebo: start"},
    "matched": {"nb": "Matchet sammenligningsgruppe", "en": "Matched comparison group"},
}


def sensitivity_report_table(table: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """A :func:`~kvk_analysis.evaluation.sensitivity.sensitivity_table` with the specifications
    named in ``lang`` (leave-one-out and placebo rows keep their cohort and shift)."""
    lang = check_lang(lang)
    names = []
    for spec in table["spec"].astype(str):
        if spec.startswith("leave_out_"):
            names.append(f"{_SPEC_LABELS['leave_out'][lang]} {spec.removeprefix('leave_out_')}")
        elif spec.startswith("placebo_"):
            parts = spec.split("_")  # placebo_<k>q_<cohort>
            k = parts[1].removesuffix("q") if len(parts) > 1 else "?"
            cohort = parts[2] if len(parts) > 2 else ""
            unit = "kvartaler før" if lang == "nb" else "quarters early"
            names.append(
                f"{_SPEC_LABELS['placebo'][lang]} {k} {unit}, "
                f"{label('pulje', lang).lower()} {cohort}".strip()
            )
        else:
            names.append(_SPEC_LABELS.get(spec, {}).get(lang, spec))
    spec_col = "Spesifikasjon" if lang == "nb" else "Specification"
    out = pd.DataFrame({spec_col: names})
    for c in ("estimate", "conf_low", "conf_high", "p_value", "n_treated"):
        if c in table:
            out[c] = table[c].to_numpy()
    return out.rename(columns={"n_treated": "Deltakere" if lang == "nb" else "Participants"})


#: Display order of size groups.
SIZE_GROUPS = ("<5k", "5-20k", ">=20k")


def units_by(
    panel: pd.DataFrame, column: str, lang: str = "nb", *, groups_as_columns: bool = False
) -> pd.DataFrame:
    """Municipalities counted by cohort group and ``column`` (e.g. ``size_group``, ``fylke``).

    Cohort groups are rows (``groups_as_columns=False``) or columns.
    """
    lang = check_lang(lang)
    units = panel.drop_duplicates("kommunenummer")
    groups = group_label(units, lang)
    values = units[column].astype(str)
    if groups_as_columns:
        table = pd.crosstab(values, groups)
        order = sorted(
            table.columns, key=lambda g: (not str(g).startswith(label("pulje", lang)), str(g))
        )
        table = table[order]
        table.index.name = {"fylke": "Fylke" if lang == "nb" else "County"}.get(column, column)
    else:
        table = pd.crosstab(groups, values)
        if column == "size_group":
            table = table[[g for g in SIZE_GROUPS if g in table.columns]]
        table.index.name = label("pulje", lang)
    table.columns.name = None
    return table.reset_index()


def before_after_report(table: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """The printable columns of
    :func:`~kvk_analysis.evaluation.before_after.before_after_table`: levels before and after
    (percent), changes and the difference-in-differences (percentage points)."""
    lang = check_lang(lang)
    names = {
        "nb": {
            "pulje": "Pulje",
            "sector": "Sektor",
            "treated_before": "Deltakere før",
            "treated_after": "Deltakere etter",
            "treated_change": "Endring deltakere",
            "comparison_before": "Sammenl. før",
            "comparison_after": "Sammenl. etter",
            "comparison_change": "Endring sammenl.",
            "estimate": "Forskjell (DiD)",
            "conf_low": "KI nedre",
            "conf_high": "KI øvre",
        },
        "en": {
            "pulje": "Cohort",
            "sector": "Sector",
            "treated_before": "Participants before",
            "treated_after": "Participants after",
            "treated_change": "Change participants",
            "comparison_before": "Comparison before",
            "comparison_after": "Comparison after",
            "comparison_change": "Change comparison",
            "estimate": "Difference (DiD)",
            "conf_low": "CI low",
            "conf_high": "CI high",
        },
    }[lang]
    keep = [c for c in names if c in table.columns]
    out = table[keep].copy()
    if "sector" in out:
        out["sector"] = [label(s, lang) for s in out["sector"].astype(str)]
    if "pulje" in out:
        out["pulje"] = out["pulje"].astype(str).replace({"all": "Alle" if lang == "nb" else "All"})
    return out.rename(columns=names)


def synth_weights(
    synth_result: Any, panel: pd.DataFrame, n: int = 8, lang: str = "nb"
) -> pd.DataFrame:
    """The (at most) ``n`` donors with the largest weights in a synthetic control, with their
    names; donors whose weight rounds to 0.000 are left out."""
    lang = check_lang(lang)
    names = panel[["kommunenummer", "kommune"]].drop_duplicates("kommunenummer")
    w = synth_result.weights.sort_values("weight", ascending=False)
    w = w[w["weight"] >= 0.0005].head(n)  # donors that would show as 0.000 are left out
    out = w.merge(names, left_on="unit", right_on="kommunenummer", how="left")
    return out[["kommunenummer", "kommune", "weight"]].rename(
        columns={"weight": "Vekt" if lang == "nb" else "Weight"}
    )


def specification_table(result: Any, lang: str = "nb") -> pd.DataFrame:
    """The specification of an ``att_gt`` result (``.params``) as a two-column table."""
    lang = check_lang(lang)
    p = result.params
    nb = lang == "nb"
    control = {
        "nevertreated": label("never_treated", lang),
        "notyettreated": label("notyet_treated", lang),
    }.get(p.control_group, p.control_group)
    methods = {
        "dr": ("dobbelt robust (dr)", "doubly robust (dr)"),
        "ipw": ("invers sannsynlighetsvekting (ipw)", "inverse probability weighting (ipw)"),
        "reg": ("utfallsregresjon (reg)", "outcome regression (reg)"),
    }
    bases = {"varying": ("varierende", "varying"), "universal": ("universell", "universal")}
    outcome = {"rate": ("sykefravær", "sick leave")}.get(p.yname, (p.yname, p.yname))
    pick = 0 if nb else 1
    rows = [
        (
            "Utfall" if nb else "Outcome",
            f"{outcome[pick]} ({'prosent' if nb else 'percent'})"
            if p.yname == "rate"
            else str(p.yname),
        ),
        ("Kontrollgruppe" if nb else "Control group", control),
        ("Estimator" if nb else "Estimator", methods.get(p.est_method, (p.est_method,) * 2)[pick]),
        (
            "Forventningseffekt (kvartaler)" if nb else "Anticipation (quarters)",
            str(p.anticipation),
        ),
        (
            "Basisperiode" if nb else "Base period",
            bases.get(p.base_period, (p.base_period,) * 2)[pick],
        ),
        (
            "Kovariater" if nb else "Covariates",
            ", ".join(p.covariates) or ("ingen" if nb else "none"),
        ),
        ("Bootstrap-trekk" if nb else "Bootstrap draws", str(p.biters) if p.bstrap else MISSING),
        ("Seed", str(p.seed)),
        ("Kommuner" if nb else "Municipalities", str(p.n_units)),
        (
            "Balansert panel" if nb else "Balanced panel",
            ("ja" if p.balanced else "nei") if nb else ("yes" if p.balanced else "no"),
        ),
    ]
    return pd.DataFrame(
        rows, columns=["Spesifikasjon" if nb else "Setting", "Verdi" if nb else "Value"]
    )


_REGISTRY_COLUMNS = {
    "nb": {
        "documented": "Dokumentert",
        "simulated": "Simulert",
        "total": "I alt",
        "boroughs": "Bydeler",
        "unknown": "ukjent",
    },
    "en": {
        "documented": "Documented",
        "simulated": "Simulated",
        "total": "Total",
        "boroughs": "Boroughs",
        "unknown": "unknown",
    },
}

_CHECKS = {
    "jump": {"nb": "Brått hopp mellom kvartaler", "en": "Jump between quarters"},
    "tiny_unit": {"nb": "Svært liten enhet", "en": "Very small unit"},
    "gap": {"nb": "Hull i tidsserien", "en": "Gap in the series"},
    "suppressed": {"nb": "Skjult eller mangler", "en": "Suppressed or missing"},
}


def registry_report(registry: pd.DataFrame, lang: str = "nb") -> pd.DataFrame:
    """:func:`kvk_analysis.cohorts.registry_summary` with labels in ``lang``: participants by
    pulje and source of membership (documented / simulated)."""
    from ..cohorts import registry_summary

    lang = check_lang(lang)
    names = _REGISTRY_COLUMNS[lang]
    table = registry_summary(registry).rename(columns=names)
    table.index = [names.get(str(i), str(i)) for i in table.index]
    table.index.name = label("pulje", lang)
    return table.reset_index()


def matching_balance(match: Any, lang: str = "nb") -> pd.DataFrame:
    """Standardised mean differences of the matching covariates before and after matching
    (from :class:`kvk_analysis.evaluation.matching.MatchResult`)."""
    lang = check_lang(lang)
    names = {
        "pre_level": {"nb": "Sykefravær 2005–06 (%)", "en": "Sick leave 2005–06 (%)"},
        "pre_trend": {"nb": "Trend 2005–06 (pp per år)", "en": "Trend 2005–06 (pp per year)"},
        "log_pop": {"nb": "Folketall (log)", "en": "Population (log)"},
    }
    bal = match.balance.reset_index()
    out = pd.DataFrame(
        {
            "Kovariat" if lang == "nb" else "Covariate": [
                names.get(c, {}).get(lang, c) for c in bal["covariate"].astype(str)
            ],
            "Deltakere" if lang == "nb" else "Participants": bal["mean_treated"],
            "Alle kontroller" if lang == "nb" else "All controls": bal["mean_control_before"],
            "Matchede kontroller" if lang == "nb" else "Matched controls": bal[
                "mean_control_after"
            ],
            "SMD før" if lang == "nb" else "SMD before": bal["smd_before"],
            "SMD etter" if lang == "nb" else "SMD after": bal["smd_after"],
        }
    )
    return out


# --------------------------------------------------------------------------------------------
# Tables of an evaluation (kvk_analysis.report.evaluation.EvaluationResults)
# --------------------------------------------------------------------------------------------

_EFFECT_COLUMNS = {
    "nb": {
        "estimate": "Estimat",
        "std_error": "Std.feil",
        "conf_low": "KI nedre (punktvis)",
        "conf_high": "KI øvre (punktvis)",
        "p_value": "p-verdi (punktvis)",
        "band_low": "Uniformt bånd nedre",
        "band_high": "Uniformt bånd øvre",
        "n_treated": "Deltakere",
    },
    "en": {
        "estimate": "Estimate",
        "std_error": "Std. error",
        "conf_low": "CI low (pointwise)",
        "conf_high": "CI high (pointwise)",
        "p_value": "p-value (pointwise)",
        "band_low": "Uniform band low",
        "band_high": "Uniform band high",
        "n_treated": "Participants",
    },
}

#: Decimals of the evaluation tables (columns named in the report's language).
REPORT_DECIMALS: dict[str, int] = {
    **{v: 2 for lang in _EFFECT_COLUMNS.values() for k, v in lang.items() if k != "p_value"},
    **{v: 3 for lang in _EFFECT_COLUMNS.values() for k, v in lang.items() if k == "p_value"},
    "Deltakere": 0,
    "Participants": 0,
}


def _named(frame: pd.DataFrame, first: str, lang: str) -> pd.DataFrame:
    names = _EFFECT_COLUMNS[lang]
    cols = [first] + [c for c in names if c in frame.columns]
    out = frame[cols].rename(columns=names)
    if "n_treated" in frame.columns:
        out[names["n_treated"]] = frame["n_treated"].astype("Int64").to_numpy()
    return out


def effects_report(results: Any, aggregation: str, lang: str = "nb") -> pd.DataFrame:
    """Effects by event time (``dynamic``), cohort (``group``) or calendar quarter
    (``calendar``) with the overall row first, named as everywhere in the report.

    Pointwise intervals with their p-values, and (bootstrap) the uniform band in separate,
    labelled columns; percentage points."""
    from ..periods import index_to_quarter
    from .text import AGGREGATION_LABELS, cohort_label, estimate_label

    lang = check_lang(lang)
    eff = results.effects(aggregation)
    if aggregation == "dynamic":
        head = label("event_time", lang)
        eff[head] = eff["index"].astype(int).astype(object)
    elif aggregation == "group":
        head = label("pulje", lang)
        eff[head] = [
            cohort_label(results.cohort_names.get(int(g)), int(g), lang) for g in eff["index"]
        ]
    else:
        head = label("period", lang)
        eff[head] = [fmt_quarter(index_to_quarter(int(t)), lang) for t in eff["index"]]
    key = "headline" if aggregation == "group" else f"aggregation:{aggregation}"
    ov = results.row(key)
    overall = pd.DataFrame(
        [
            {
                head: estimate_label(key, lang, results)
                if key == "headline"
                else AGGREGATION_LABELS[aggregation][lang],
                **{c: ov[c] for c in ("estimate", "std_error", "conf_low", "conf_high", "p_value")},
                "band_low": float("nan"),
                "band_high": float("nan"),
            }
        ]
    )
    table = pd.concat([overall, eff.drop(columns=["index"])], ignore_index=True)
    if not results.spec.bootstrap:
        table = table.drop(columns=["band_low", "band_high"])
    return _named(table, head, lang)


def estimates_report(results: Any, keys: Sequence[str], lang: str = "nb") -> pd.DataFrame:
    """Overall estimates by key (:meth:`EvaluationResults.estimates`) with their labels,
    pointwise intervals, p-values and participants."""
    from .text import estimate_label

    lang = check_lang(lang)
    est = results.estimates().set_index("key")
    keys = [k for k in keys if k in est.index]
    head = "Spesifikasjon" if lang == "nb" else "Specification"
    frame = est.loc[keys].reset_index()
    frame[head] = [estimate_label(k, lang, results) for k in keys]
    return _named(
        frame[[head, "estimate", "std_error", "conf_low", "conf_high", "p_value", "n_treated"]],
        head,
        lang,
    )


def robustness_report(results: Any, lang: str = "nb") -> pd.DataFrame:
    """The headline and every robustness and placebo row, all with the run's specification
    except the one choice each varies."""
    keys = list(results.robustness["key"])
    return estimates_report(results, keys, lang)


def subgroup_report(results: Any, by: str, lang: str = "nb") -> pd.DataFrame:
    """Sector (``by="sector"``) or size-group (``by="size"``) effects with the run's
    specification (headline aggregation)."""
    lang = check_lang(lang)
    sub = results.subgroups
    keys = list(sub.loc[sub["kind"] == by, "key"])
    out = estimates_report(results, keys, lang)
    head = (
        label("sector", lang)
        if by == "sector"
        else ("Kommunestørrelse" if lang == "nb" else "Municipality size")
    )
    return out.rename(columns={out.columns[0]: head})


def specification_report(results: Any, lang: str = "nb") -> pd.DataFrame:
    """Every choice of the run as a two-column table (sector, measure, comparison group,
    estimator, anticipation, base period, weighting, headline aggregation, inference,
    cohorts, window, balanced window, seed, municipalities)."""
    from .text import AGGREGATION_LABELS, comparison_phrase

    lang = check_lang(lang)
    nb = lang == "nb"
    spec = results.spec
    p = results.gt.params
    methods = {
        "dr": ("dobbelt robust (dr)", "doubly robust (dr)"),
        "ipw": ("invers sannsynlighetsvekting (ipw)", "inverse probability weighting (ipw)"),
        "reg": ("utfallsregresjon (reg)", "outcome regression (reg)"),
    }
    pick = 0 if nb else 1
    bases = {"varying": ("varierende", "varying"), "universal": ("universell", "universal")}
    weighting = {
        "units": ("kommunene likt vektet", "municipalities weighted equally"),
        "days": ("vektet med avtalte dagsverk", "weighted by contracted working days"),
    }
    inference = {
        "bootstrap": (
            f"multiplikator-bootstrap, {spec.biters} trekk, uniforme bånd",
            f"multiplier bootstrap, {spec.biters} draws, uniform bands",
        ),
        "analytic": ("analytisk, punktvise intervaller", "analytic, pointwise intervals"),
    }
    window = f"{fmt_quarter(results.sample['period'].min(), lang)}–{fmt_quarter(results.sample['period'].max(), lang)}"
    rows = [
        ("Sektor" if nb else "Sector", label(spec.sector, lang)),
        (
            "Utfall" if nb else "Outcome",
            f"{label(spec.measure, lang)} ({'prosent' if nb else 'percent'})",
        ),
        (
            "Sammenligningsgruppe" if nb else "Comparison group",
            comparison_phrase(spec.control_group, lang),
        ),
        ("Estimator", methods[spec.est_method][pick]),
        (
            "Forventningseffekt (kvartaler)" if nb else "Anticipation (quarters)",
            str(spec.anticipation),
        ),
        ("Basisperiode" if nb else "Base period", bases[spec.base_period][pick]),
        (
            "Vekting (hovedestimat)" if nb else "Weighting (headline)",
            weighting[spec.weighting][pick],
        ),
        ("Hovedestimat" if nb else "Headline", AGGREGATION_LABELS["group"][lang]),
        ("Inferens" if nb else "Inference", inference[spec.inference][pick]),
        ("Puljer" if nb else "Cohorts", ", ".join(spec.cohorts)),
        ("Periode" if nb else "Window", window),
        (
            "Balansert vindu" if nb else "Balanced window",
            ("ingen" if nb else "none") if spec.balance_e is None else f"0–{spec.balance_e}",
        ),
        (
            "Kovariater" if nb else "Covariates",
            ", ".join(p.covariates) or ("ingen" if nb else "none"),
        ),
        ("Seed", str(spec.seed)),
        ("Kommuner" if nb else "Municipalities", str(p.n_units)),
    ]
    return pd.DataFrame(
        rows, columns=["Spesifikasjon" if nb else "Setting", "Verdi" if nb else "Value"]
    )


def identification_report(results: Any, lang: str = "nb") -> pd.DataFrame:
    """Which cohorts identify each event time, as ranges of event times with the same
    contributing cohorts."""
    lang = check_lang(lang)
    ident = results.identification
    rows: list[dict[str, Any]] = []
    for r in ident.itertuples():
        names = ", ".join(r.cohorts)
        if rows and rows[-1]["_c"] == names and rows[-1]["_hi"] == r.event_time - 1:
            rows[-1]["_hi"] = r.event_time
        else:
            rows.append({"_lo": r.event_time, "_hi": r.event_time, "_c": names, "_n": r.n_cohorts})
    head = label("event_time", lang)
    out = pd.DataFrame(
        {
            head: [
                fmt_num(r["_lo"], lang, 0)
                if r["_lo"] == r["_hi"]
                else f"{fmt_num(r['_lo'], lang, 0)} {label('to', lang)} {fmt_num(r['_hi'], lang, 0)}"
                for r in rows
            ],
            "Puljer" if lang == "nb" else "Cohorts": [r["_c"] for r in rows],
            "Antall puljer" if lang == "nb" else "Number of cohorts": [r["_n"] for r in rows],
        }
    )
    return out


def thresholds_table(lang: str = "nb") -> pd.DataFrame:
    """The thresholds of number-dependent wording (name in the code, value, meaning)."""
    from .text import thresholds

    lang = check_lang(lang)
    items = thresholds(lang)
    return pd.DataFrame(
        {
            "Konstant" if lang == "nb" else "Constant": list(items),
            "Verdi" if lang == "nb" else "Value": [float(v) for v, _ in items.values()],
            "Betydning" if lang == "nb" else "Meaning": [d for _, d in items.values()],
        }
    )


def comparison_report(results: Any, lang: str = "nb") -> pd.DataFrame:
    """Overall effects of the estimator comparison (:meth:`EvaluationResults.comparison_estimates`),
    one row per estimator, with the quantity each number is (mean of quarters 0..max_e after
    the start, or the estimator's own single estimate), pointwise intervals and p-values
    (percentage points)."""
    from .text import _estimator_name, comparison_quantity

    lang = check_lang(lang)
    rows = results.comparison_estimates()
    head = "Estimator"
    what = "Tallet som vises" if lang == "nb" else "Quantity shown"
    frame = rows.copy()
    frame[head] = [_estimator_name(e, lang) for e in rows["estimator"]]
    frame[what] = [comparison_quantity(q, lang) for q in rows["quantity"]]
    cols = [head, what, "estimate", "std_error", "conf_low", "conf_high", "p_value"]
    names = _EFFECT_COLUMNS[lang]
    return frame[cols].rename(columns=names).reset_index(drop=True)


def sector_panel(panel: pd.DataFrame, sector: str = "all") -> pd.DataFrame:
    """The rows of one sector (``all``, ``care``, ``education``, ``other``) of the analysis
    panel, for descriptive tables and figures about the sector analysed; an unknown sector
    is a :class:`~kvk_analysis.errors.ReportError` naming the sectors the panel has."""
    values = panel["sector"].astype(str)
    if sector not in set(values):
        raise ReportError(
            f"sector {sector!r} is not in the panel; it has {' | '.join(sorted(set(values)))}"
        )
    return panel.loc[values == sector]


def pretrend_bias_report(results: Any, lang: str = "nb") -> pd.DataFrame:
    """Bias of the post-start event-study estimates under the linear pre-trend that the
    report's pre-test detects with 80 % power (Roth 2022), beside the estimates: event time,
    estimate, bias, bias given that the pre-test does not reject (percentage points).  The
    first row is the headline (its unconditional bias).  Empty without ``results.power``."""
    from .text import estimate_label

    lang = check_lang(lang)
    nb = lang == "nb"
    head = label("event_time", lang)
    cols = (
        ["Anslått effekt", "Skjevhet", "Skjevhet når testen ikke forkaster"]
        if nb
        else ["Estimated effect", "Bias", "Bias when the test does not reject"]
    )
    power = getattr(results, "power", None)
    if power is None:
        return pd.DataFrame(columns=[head, *cols])
    bias = power.bias.loc[power.bias["event_time"] >= 0]
    eff = results.effects("dynamic").set_index("index")["estimate"]
    rows = [
        {
            head: estimate_label("headline", lang, results),
            cols[0]: float(results.headline["estimate"]),
            cols[1]: float(results.power_headline_bias),
            cols[2]: float("nan"),
        }
    ]
    for r in bias.itertuples():
        e = int(r.event_time)
        rows.append(
            {
                head: e,
                cols[0]: float(eff.get(e, float("nan"))),
                cols[1]: float(r.bias),
                cols[2]: float(r.bias_conditional),
            }
        )
    out = pd.DataFrame(rows, columns=[head, *cols])
    out[head] = out[head].astype(object)
    return out
