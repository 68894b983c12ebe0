"""Project-level checks: declared dependencies agree, the layout exists, the CLI starts."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = list(data["project"]["dependencies"]) + list(
        data["project"]["optional-dependencies"]["test"]
    )
    out = {}
    for text in reqs:
        req = Requirement(text)
        out[_norm(req.name)] = str(req.specifier)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    out = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str):
            continue  # a nested `pip:` list
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep)
        assert m, dep
        name, spec = _norm(m.group(1)), m.group(2).replace(" ", "")
        if name in {"python", "pip"}:
            continue
        out[name] = str(Requirement(f"x{spec}").specifier)
    return out


def test_environment_yml_and_pyproject_declare_the_same_dependencies():
    py = _pyproject_requirements()
    env = _environment_requirements()
    assert set(py) == set(env), (
        f"only in pyproject: {sorted(set(py) - set(env))}; "
        f"only in environment.yml: {sorted(set(env) - set(py))}"
    )
    differing = {k: (py[k], env[k]) for k in py if py[k] != env[k]}
    assert not differing, f"lower bounds differ (pyproject, environment.yml): {differing}"


def test_every_dependency_has_a_lower_bound():
    for name, spec in _pyproject_requirements().items():
        assert ">=" in spec, f"{name} has no tested lower bound"


def test_layout_exists():
    for rel in (
        "kvk_analysis",
        "notebooks",
        "data/raw",
        "data/processed",
        "reports",
        "tests",
        "environment.yml",
        "README.md",
        "pyproject.toml",
        ".ci/run",
    ):
        assert (ROOT / rel).exists(), rel


def test_raw_reference_files_have_provenance():
    for folder in (ROOT / "data" / "raw").iterdir():
        if folder.is_dir():
            assert (folder / "PROVENANCE.md").exists() or (folder / "README.md").exists(), folder


def test_kvk_command_starts_and_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "kvk_analysis.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "data" in out.stdout


def test_kvk_version():
    out = subprocess.run(
        [sys.executable, "-m", "kvk_analysis.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.startswith("kvk ")


def test_lazy_public_names_resolve():
    import kvk_analysis

    for name in kvk_analysis.__all__:
        assert callable(getattr(kvk_analysis, name)), name
