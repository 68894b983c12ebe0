"""Shared by the SSB readers: variable names, region codes, dimensions -> tidy rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..numbers import NumberFormatError, parse_number_series
from . import _text
from .tidy import VALUE_COLUMNS, combine_status, finish, sector_code

_REGION_RE = re.compile(r"^\s*(?:K-)?(\d{4})(?:\s|$)")
_SEX = {
    "begge kjønn": "all", "begge kjønn i alt": "all", "i alt": "all", "alle": "all",
    "both sexes": "all", "menn": "male", "mann": "male", "males": "male", "men": "male",
    "kvinner": "female", "kvinne": "female", "females": "female", "women": "female",
    "1": "male", "2": "female", "0": "all",
}  # fmt: skip


def measure_from_text(text: str) -> str | None:
    """``total``/``self_certified``/``doctor_certified`` from a label or title, or ``None``."""
    t = text.lower()
    if "egen- og legemeldt" in t or ("egenmeldt" in t and "legemeldt" in t):
        return "total"
    if "legemeldt" in t or "doctor" in t:
        return "doctor_certified"
    if "egenmeldt" in t or "self-certified" in t or "self certified" in t:
        return "self_certified"
    return None


def classify_variable(label: str) -> tuple[str, str | None] | None:
    """Statistics variable -> (tidy column, measure hint) or ``None`` if not a sick-leave value."""
    t = " ".join(str(label).lower().split())
    hint = measure_from_text(t)
    if "endring" in t or "change" in t:
        return None
    if "prosent" in t or "%" in t or "per cent" in t or "percent" in t:
        return "rate", hint
    if "avtalte" in t or "contracted" in t:
        return "contracted_days", hint
    if "dagsverk" in t or "lost working days" in t or "lost days" in t:
        return "lost_days", hint
    if any(
        w in t
        for w in ("lønnstakere", "arbeidstakere", "ansatte", "sysselsatte", "employees", "employed")
    ):
        return "employees", hint
    return None


def region_code(label: object) -> str | None:
    """``"0101 Halden"``, ``"K-0101 Halden"``, ``"0101"`` -> ``"0101"``; others -> ``None``."""
    m = _REGION_RE.match(str(label))
    return m.group(1) if m else None


def dimension_name(header: str, values: pd.Series) -> str:
    """Tidy name for an extra dimension column of an SSB table."""
    h = " ".join(header.lower().split())
    if "kjønn" in h or h in ("sex", "kjonn"):
        return "sex"
    if "sykefraværstype" in h or "type sykefravær" in h or h == "fraværstype":
        return "measure"
    if "sektor" in h or h == "sector":
        if values.map(sector_code).notna().all():
            return "sector"
        return "ssb_sector"
    if "næring" in h or "industry" in h:
        return "industry"
    if "alder" in h or h == "age":
        return "age"
    slug = re.sub(r"[^a-z0-9]+", "_", h.replace("æ", "ae").replace("ø", "o").replace("å", "aa"))
    return slug.strip("_") or "dimension"


def to_tidy(
    long: pd.DataFrame,
    dims: dict[str, str],
    *,
    path: str | Path,
    source: str,
    default_measure: str,
    column_names: dict[str, str],
    decimal: str = ",",
) -> tuple[pd.DataFrame, list[str]]:
    """Long SSB cells -> tidy rows.

    ``long`` has ``region``, ``period`` (Period), ``variable``, ``value`` (raw text or float),
    optional ``status`` (if the values are already parsed), ``_line`` and one column per key
    of ``dims`` (source column -> tidy name from :func:`dimension_name`).  ``column_names``
    names the file's columns for messages (keys ``region``, ``variable``, ``value``).
    Returns the tidy frame (before :func:`finish`) and notes.
    """
    notes: list[str] = []
    lines = long["_line"].to_numpy(dtype=object)
    if "status" in long:
        values, status = long["value"].astype(float), long["status"].astype("str")
    else:
        try:
            values, status = parse_number_series(long["value"], decimal=decimal)
        except NumberFormatError as exc:
            pos = exc.position or 0
            col = long["_column"].iloc[pos] if "_column" in long else column_names.get("value")
            raise InputError(
                "a cell is not a number",
                path=path,
                row=_text._line_at(lines, pos),
                column=col,
                expected=exc.expected,
                found=exc.text,
            ) from None
    frame = pd.DataFrame(
        {
            "value": values,
            "cell_status": status,
            "_line": pd.to_numeric(long["_line"], errors="coerce").astype("float64"),
        }
    )
    frame["kommunenummer"] = long["region"].map(region_code)
    not_muni = frame["kommunenummer"].isna()
    if not_muni.any():
        labels = sorted(set(long.loc[not_muni, "region"].astype(str)))
        notes.append(
            f"{int(not_muni.sum())} cells of regions that are not municipalities left out: "
            + ", ".join(labels[:8])
            + (" ..." if len(labels) > 8 else "")
        )
    classes = long["variable"].map(lambda v: classify_variable(v) or (None, None))
    frame["target"] = classes.map(lambda t: t[0])
    hint = classes.map(lambda t: t[1])
    unknown = frame["target"].isna()
    if unknown.all():
        raise InputError(
            "no sick-leave variable in the table",
            path=path,
            row=_text._line_at(lines, 0) if len(lines) else None,
            column=column_names.get("variable"),
            expected="a variable such as 'Sykefraværsprosent', 'Tapte dagsverk' or 'Avtalte dagsverk'",
            found=sorted(set(long["variable"].astype(str)))[:5],
        )
    if unknown.any():
        notes.append(
            "variables left out (not a sick-leave measure): "
            + ", ".join(sorted(set(long.loc[unknown, "variable"].astype(str))))
        )
    frame["period"] = long["period"]
    frame["measure"] = hint.fillna(default_measure)
    frame["sector"] = "all"
    extra = []
    for col, name in dims.items():
        raw = long[col].astype(str).str.strip()
        if name == "measure":
            frame["measure"] = _text.map_labels_located(
                raw, lines, measure_from_text, path=path, column=col,
                expected="a sick-leave type: 'Egenmeldt', 'Legemeldt' or 'Egenmeldt og legemeldt'",
            )  # fmt: skip
        elif name == "sector":
            frame["sector"] = raw.map(sector_code)
        elif name == "sex":
            frame["sex"] = raw.map(lambda v: _SEX.get(v.lower(), v))
            extra.append("sex")
        else:
            frame[name] = raw
            extra.append(name)
    frame = frame[~not_muni & ~unknown]
    if frame.empty:
        raise InputError(
            "no municipality in the table",
            path=path,
            row=_text._line_at(lines, 0) if len(lines) else None,
            column=column_names.get("region"),
            expected="regions with four-digit municipality numbers, e.g. '0101 Halden'",
            found=sorted(set(long["region"].astype(str)))[:5],
        )
    if "measure" not in dims.values():
        # Contracted days and employees are the same whatever the measure: a variable without
        # egenmeldt/legemeldt in its name is copied to every measure the table has.
        shared = (
            frame["target"].isin(["contracted_days", "employees"])
            & hint.reindex(frame.index).isna()
        )
        measures = sorted(
            set(frame.loc[~frame["target"].isin(["contracted_days", "employees"]), "measure"])
        )
        if shared.any() and measures:
            copies = [frame[shared].assign(measure=m) for m in measures]
            frame = pd.concat([frame[~shared], *copies], ignore_index=True)
    keys = ["kommunenummer", "period", "sector", "measure", *extra]
    dup = frame.duplicated(keys + ["target"], keep="first")
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        row = frame.iloc[pos]
        raise InputError(
            "the same municipality, quarter and variable occur twice",
            path=path,
            row=None if pd.isna(row["_line"]) else int(row["_line"]),
            column=column_names.get("region"),
            expected="one value per municipality x quarter x variable",
            found=f"{row['kommunenummer']} {row['period']} {row['target']}",
        )
    wide = frame.pivot(index=keys, columns="target", values=["value", "cell_status", "_line"])
    out = pd.DataFrame(index=wide.index)
    statuses = []
    for col in VALUE_COLUMNS:
        if ("value", col) in wide.columns:
            out[col] = wide[("value", col)].astype(float)
            st = wide[("cell_status", col)]
            statuses.append(st.where(st.notna(), "ok").astype("str"))
        else:
            out[col] = np.nan
    line = wide["_line"].astype("float64").min(axis=1)
    out["_line"] = line.astype("Int64")
    out["status"] = combine_status(*statuses).to_numpy() if statuses else "ok"
    out = out.reset_index()
    out = out.sort_values(["_line", *keys], kind="stable", na_position="last")
    return out, notes


def finish_ssb(out: pd.DataFrame, source: str, path: str | Path) -> pd.DataFrame:
    """:func:`finish` with the SSB source label ``<source>:<file name>``."""
    return finish(out, f"{source}:{Path(path).name}")
