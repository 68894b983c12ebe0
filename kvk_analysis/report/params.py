"""Notebook parameters checked before a kernel starts.

A report notebook declares its parameters in the cell tagged ``parameters``, one per line::

    name: type = default  # description: choice1 | choice2 | ...

:func:`parameter_specs` reads that cell (whatever parameters it declares: nothing here lists
them) and :func:`validate_parameters` checks a user's overrides against it: unknown names are
an error suggesting the closest valid name (:mod:`difflib`), values are converted to the
declared type and checked against the declared choices (lists element-wise), quarters accept
every notation :func:`kvk_analysis.periods.parse_quarter` reads and are normalised to
``2006Q1``, municipality numbers of any vintage 1994-2024 are mapped onto the 2008 analysis
frame (:func:`kvk_analysis.municipalities.code_info`) with a one-line note, and cohort lists are
checked against the puljer ``I``-``IV``.  Every mistake is a :class:`ParameterError` naming the
parameter and the fix; nothing here starts a kernel.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ReportError


class ParameterError(ReportError):
    """A report parameter that cannot be used: names the parameter and what to pass instead."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter of a notebook.

    ``kind`` is the meaning read from the declaration: ``"quarter"`` (default parses as a
    quarter), ``"municipality"`` (a municipality number), ``"cohorts"`` (a list of puljer) or
    ``""``; ``choices`` are the alternatives listed after the description's colon.
    """

    name: str
    type: str
    default: Any
    description: str = ""
    choices: tuple[str, ...] = ()
    kind: str = ""


_MUNICIPALITY_NAMES = frozenset({"kommunenummer", "kommunenr", "municipality"})
_QUARTER_TEXT = re.compile(r"^\d{4}\s*[-_ ]?\s*[QqKk][1-4]$")


def _comment(lines: list[str], node: ast.stmt) -> str:
    line = lines[(node.end_lineno or node.lineno) - 1]
    rest = line[node.end_col_offset or 0 :]
    return rest.split("#", 1)[1].strip() if "#" in rest else ""


def _choices(comment: str) -> tuple[str, tuple[str, ...]]:
    """``"comparison units: a | b (note)"`` -> ``("comparison units", ("a", "b"))``."""
    head, sep, tail = comment.rpartition(":")
    if not sep or "|" not in tail:
        return comment, ()
    alts = []
    for part in tail.split("|"):
        word = part.strip().split(" (")[0].split()
        if word:
            alts.append(word[0])
    return head.strip(), tuple(alts)


def _kind(name: str, type_: str, default: Any, description: str) -> str:
    from ..cohorts import PULJER

    desc = description.casefold()
    if name in _MUNICIPALITY_NAMES or "municipality number" in desc:
        return "municipality"
    if type_.startswith("list") and (
        name in {"cohorts", "puljer"}
        or (isinstance(default, list) and default and all(v in PULJER for v in default))
    ):
        return "cohorts"
    if type_ == "str" and isinstance(default, str) and _QUARTER_TEXT.match(default.strip()):
        return "quarter"
    return ""


def parameter_specs(notebook: str | Path | Mapping[str, Any]) -> dict[str, ParamSpec]:
    """The parameters declared in the cell tagged ``parameters`` of ``notebook`` (a path or
    the notebook JSON), in order; empty when the notebook has no such cell."""
    from .render import parameters_cell

    if isinstance(notebook, Mapping):
        nb = notebook
    else:
        try:
            nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"cannot read notebook {notebook}: {exc}") from exc
    found = parameters_cell(nb.get("cells", []))
    if found is None:
        return {}
    source, tree = found
    lines = source.splitlines()
    specs: dict[str, ParamSpec] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, type_, value = node.target.id, ast.unparse(node.annotation), node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, type_, value = node.targets[0].id, "", node.value
        else:
            continue
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError:
            default = ast.unparse(value) if value is not None else None
        if not type_ and default is not None:
            type_ = type(default).__name__
        description, choices = _choices(_comment(lines, node))
        specs[name] = ParamSpec(
            name, type_, default, description, choices, _kind(name, type_, default, description)
        )
    return specs


def _suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.5)
    if not close:
        folded = {o.casefold(): o for o in options}
        close = difflib.get_close_matches(str(word).casefold(), list(folded), n=1, cutoff=0.5)
        close = [folded[c] for c in close]
    return f"; did you mean {close[0]!r}?" if close else ""


_TRUE = {"true", "yes", "ja", "1", "on"}
_FALSE = {"false", "no", "nei", "0", "off"}


def _convert(spec: ParamSpec, value: Any) -> Any:
    """``value`` as the declared type (raises ``ValueError`` with what was expected)."""
    t = spec.type.split("[")[0].strip()
    if t == "bool":
        if isinstance(value, bool):
            return value
        if str(value).strip().casefold() in _TRUE:
            return True
        if str(value).strip().casefold() in _FALSE:
            return False
        raise ValueError("true or false")
    if t == "int":
        if isinstance(value, bool):
            raise ValueError("a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise ValueError("a whole number")
    if t == "float":
        if isinstance(value, bool):
            raise ValueError("a number")
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value).replace(",", "."))
        except ValueError:
            raise ValueError("a number") from None
    if t == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ValueError("text")
    if t == "list":
        if isinstance(value, list | tuple):
            return list(value)
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return [value]
    return value


def _check_choice(spec: ParamSpec, value: Any, shown: str) -> Any:
    if not spec.choices:
        return value
    if str(value) in spec.choices:
        return str(value) if isinstance(value, str) else value
    folded = {c.casefold(): c for c in spec.choices}
    if str(value).casefold() in folded:
        return folded[str(value).casefold()]
    raise ParameterError(
        f"parameter {spec.name}: {shown} is not one of {' | '.join(spec.choices)}"
        f"{_suggest(str(value), spec.choices)}"
    )


def _quarter(spec: ParamSpec, value: Any) -> str:
    from ..periods import parse_quarter

    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{1,2}", text):
        q = text[5:].lstrip("0") if text[5:].lstrip("0") in {"1", "2", "3", "4"} else "1"
        raise ParameterError(
            f"parameter {spec.name}: {text!r} is ambiguous (a month or a quarter?); "
            f"write the quarter as e.g. {text[:4]}Q{q} or {text[:4]}K{q}"
        )
    try:
        return str(parse_quarter(text))
    except ValueError:
        raise ParameterError(
            f"parameter {spec.name}: {value!r} is not a quarter "
            "(write e.g. 2006Q1, 2006K1 or '1. kvartal 2006')"
        ) from None


def _cohorts(spec: ParamSpec, values: list[Any]) -> list[str]:
    from ..cohorts import PULJER

    arabic = {str(i + 1): p for i, p in enumerate(PULJER)}
    out = []
    for v in values:
        text = str(v).strip()
        text = re.sub(r"(?i)^pulje\s+", "", text)
        got = text.upper() if text.upper() in PULJER else arabic.get(text)
        if got is None:
            raise ParameterError(
                f"parameter {spec.name}: {v!r} is not a cohort (pulje); "
                f"use {', '.join(PULJER)} (e.g. -p {spec.name} '[I, II]')"
            )
        if got not in out:
            out.append(got)
    if not out:
        raise ParameterError(f"parameter {spec.name}: name at least one of {', '.join(PULJER)}")
    return [p for p in PULJER if p in out]


@dataclass(frozen=True)
class Municipality:
    """A municipality number resolved onto the 2008 analysis frame."""

    code: str
    name: str
    county: str
    note: str = ""


def resolve_municipality(value: Any, parameter: str = "kommunenummer") -> Municipality:
    """A municipality number of any vintage 1994-2024 (or a name) as a 2008 frame unit.

    ``219`` -> ``0219`` (note), ``5001`` -> ``1601 Trondheim`` (note), a name such as
    ``Bærum`` -> ``0219``.  Raises :class:`ParameterError` naming the nearest valid codes when
    the value cannot be mapped.
    """
    from ..municipalities import code_info, load_frame

    frame = load_frame(2008)
    names = dict(zip(frame["kommunenummer"], frame["kommune"].astype(str), strict=True))
    county = dict(zip(frame["kommunenummer"], frame["fylke"].astype(str), strict=True))
    text = str(value).strip()
    notes: list[str] = []
    if not re.fullmatch(r"\d{1,4}", text):
        by_name = {n.casefold(): c for c, n in names.items()}
        if text.casefold() in by_name:
            code = by_name[text.casefold()]
            return Municipality(
                code, names[code], county[code], f"{parameter}: {text} is {code} {names[code]}"
            )
        close = difflib.get_close_matches(text.casefold(), list(by_name), n=3, cutoff=0.6)
        hint = ", ".join(f"{by_name[c]} {names[by_name[c]]}" for c in close)
        raise ParameterError(
            f"parameter {parameter}: {text!r} is not a municipality number (4 digits, e.g. 0219)"
            + (f"; did you mean {hint}?" if hint else "")
        )
    if len(text) < 4:
        padded = text.zfill(4)
        notes.append(f"{text} read as {padded}")
        text = padded
    if text in names:
        note = f"{parameter}: {'; '.join(notes)} {names[text]}" if notes else ""
        return Municipality(text, names[text], county[text], note)
    info = code_info(text)
    terr = sorted(info.territory) if info is not None else []
    if info is not None and len(terr) > 1:
        from ..municipalities import _name_keys  # same name comparison as the crosswalk

        same = [c for c in terr if _name_keys(names.get(c, "")) & _name_keys(info.label)]
        if len(same) == 1:
            terr = same
        else:
            parts = ", ".join(f"{c} {names.get(c, '')}".strip() for c in terr)
            raise ParameterError(
                f"parameter {parameter}: {text} {info.label} covers several municipalities "
                f"of the analysis frame (2008): {parts}; choose one of them"
            )
    if info is not None and len(terr) == 1 and terr[0] in names:
        code = terr[0]
        others = sorted(set(info.territory) - {code})
        extra = (
            f" (it also covers {', '.join(f'{c} {names.get(c, c)}' for c in others)})"
            if others
            else ""
        )
        notes.append(f"{text} {info.label} is {code} {names[code]} in the analysis frame (2008)")
        return Municipality(
            code, names[code], county[code], f"{parameter}: {'; '.join(notes)}{extra}"
        )
    num = int(text)
    nearest = sorted(names, key=lambda c: (abs(int(c) - num), c))[:3]
    what = f" ({info.label}: no single municipality of 2008)" if info is not None else ""
    raise ParameterError(
        f"parameter {parameter}: {text}{what} is not a municipality of the analysis frame "
        f"(2008) and no crosswalk maps it onto one; nearest valid: "
        + ", ".join(f"{c} {names[c]}" for c in sorted(nearest))
    )


def validate_parameters(
    notebook: str | Path, params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Check ``params`` against the parameters ``notebook`` declares; return the normalised
    parameters and one-line notes (mapped or padded codes, rewritten quarters).

    A notebook without a parameters cell accepts anything (nothing to check against).

    Raises
    ------
    ParameterError
        Unknown name (with the closest valid one), wrong type, a value outside the declared
        choices, a quarter that does not parse, a municipality that cannot be mapped.
    """
    specs = parameter_specs(notebook)
    if not specs:
        return dict(params), []
    out: dict[str, Any] = {}
    notes: list[str] = []
    nb_name = Path(notebook).stem
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            raise ParameterError(
                f"unknown parameter {name!r} for {nb_name}{_suggest(name, list(specs))} "
                f"(parameters: {', '.join(specs)})"
            )
        shown = repr(value)
        try:
            value = _convert(spec, value)
        except ValueError as exc:
            raise ParameterError(
                f"parameter {name}: expected {exc} ({spec.type}), found {shown}"
            ) from None
        if spec.kind == "quarter":
            new = _quarter(spec, value)
            if new != value:
                notes.append(f"{name}: {value} read as {new}")
            value = new
        elif spec.kind == "municipality":
            m = resolve_municipality(value, name)
            if m.note:
                notes.append(m.note)
            value = m.code
        elif spec.kind == "cohorts":
            value = _cohorts(spec, value)
        elif isinstance(value, list):
            value = [_check_choice(spec, v, repr(v)) for v in value]
        else:
            value = _check_choice(spec, value, shown)
        out[name] = value
    # a window that ends before it starts
    quarters = {n for n, s in specs.items() if s.kind == "quarter"}
    if {"start", "end"} <= quarters:
        start = out.get("start", specs["start"].default)
        end = out.get("end", specs["end"].default)
        from ..periods import parse_quarter

        try:
            if parse_quarter(start) > parse_quarter(end):
                raise ParameterError(f"parameters start {start} and end {end}: start is after end")
        except ValueError:
            pass
    return out, notes


def effective_parameters(notebook: str | Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """The declared defaults of ``notebook`` overridden by ``params`` (what the kernel sees)."""
    specs = parameter_specs(notebook)
    return {**{n: s.default for n, s in specs.items()}, **dict(params)}


def check_participant(code: str, registry_path: str | Path | None = None) -> None:
    """Stop with an analyst's message when ``code`` (a 2008 frame unit) did not take part in
    the programme according to the cohort registry (default: the demo registry); the message
    lists the participants of the same county.  Does nothing when the registry is missing (the
    notebook then reports it)."""
    check_participants([code], registry_path)


def check_participants(codes: Sequence[str], registry_path: str | Path | None = None) -> None:
    """:func:`check_participant` for each of ``codes`` in turn (the first non-participant
    stops), the registry read once (a batch of 145 profiles read it 145 times, 6 s)."""
    from .. import config
    from ..build import DEFAULT_REGISTRY
    from ..cohorts import read_registry
    from ..municipalities import load_frame

    path = Path(registry_path) if registry_path else config.DEMO_DIR / DEFAULT_REGISTRY
    if not path.is_absolute():
        path = config.ROOT / path
    if not path.is_file():
        return
    if not codes:
        return
    reg = read_registry(path)
    participants = {str(c)[:4] for c in reg["kommunenummer"].astype(str) if len(str(c)) == 4}
    for code in codes:
        if code in participants:
            continue
        frame = load_frame(2008)
        names = dict(zip(frame["kommunenummer"], frame["kommune"].astype(str), strict=True))
        county = dict(zip(frame["kommunenummer"], frame["fylke"].astype(str), strict=True))
        fylke = county.get(code, "")
        same = sorted(c for c in participants if county.get(c) == fylke)
        listed = ", ".join(f"{c} {names[c]}" for c in same) or "none"
        raise ParameterError(
            f"{code} {names.get(code, '')} did not take part in the programme: a profile needs a "
            f"participant; participants in {fylke}: {listed}"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-.")


def specification_tag(changed: Mapping[str, Any], specs: Mapping[str, ParamSpec]) -> str:
    """A short file-name tag for parameters that differ from the defaults: readable values
    (a declared choice by itself, other parameters as ``name-value``), cut to 32 characters,
    then 6 hex digits of a hash of all of them (so different parameters never share a tag)."""
    import hashlib

    words = []
    for name, value in changed.items():
        shown = "+".join(map(str, value)) if isinstance(value, list) else str(value)
        spec = specs.get(name)
        if spec is not None and shown in spec.choices:
            words.append(shown)
        elif "/" in shown or "\\" in shown or len(shown) > 16:  # paths, long lists: the name
            words.append(name)
        else:
            words.append(f"{name}-{shown}")
    readable = _slug("_".join(words))[:32].strip("-._")
    digest = hashlib.sha256(
        json.dumps(dict(changed), sort_keys=True, default=str).encode()
    ).hexdigest()[:6]
    return f"{readable}-{digest}" if readable else digest


def report_name(
    notebook: str | Path,
    params: Mapping[str, Any],
    *,
    base: str | None = None,
    tag: str | None = None,
) -> str:
    """The file name (without suffix) of a report of ``notebook`` with (validated) ``params``.

    ``<base>[-<municipality>][-<lang>][-<tag>]``: the municipality of a profile always, the
    language when it is not the notebook's default, and ``tag`` (``--name``) or a
    :func:`specification_tag` when other parameters differ from the defaults.  The same
    parameters give the same name; different parameters never do (unless ``tag`` says so).
    """
    specs = parameter_specs(notebook)
    parts = [base or Path(notebook).stem]
    muni = [n for n, s in specs.items() if s.kind == "municipality"]
    for n in muni:
        parts.append(str(params.get(n, specs[n].default)))
    lang_default = specs["lang"].default if "lang" in specs else "nb"
    lang = params.get("lang", lang_default)
    if lang != lang_default:
        parts.append(str(lang))
    changed = {
        n: v
        for n, v in params.items()
        if n not in muni and n != "lang" and (n not in specs or v != specs[n].default)
    }
    if tag:
        parts.append(_slug(tag))
    elif changed:
        parts.append(specification_tag(changed, specs))
    return "-".join(p for p in parts if p)
