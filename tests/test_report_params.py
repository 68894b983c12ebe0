"""Report parameters checked before a kernel starts; report names that never collide."""

from __future__ import annotations

import nbformat
import pytest

from kvk_analysis.cli import main
from kvk_analysis.report import batch
from kvk_analysis.report.params import (
    ParameterError,
    check_participant,
    check_participants,
    parameter_specs,
    report_name,
    resolve_municipality,
    validate_parameters,
)

# a parameters cell in the project's convention, with parameters no code here knows of
PARAMS = """# Parameters
kommunenummer: str = "0219"  # municipality number (4 digits)
sector: str = "all"  # sector analysed: all | care | education | other
cohorts: list = ["I", "II", "III", "IV"]  # puljer (cohorts) included
start: str = "2005Q1"  # first quarter of the analysis window
end: str = "2011Q4"  # last quarter of the analysis window
lang: str = "nb"  # report language: nb (bokmål) | en (English)
control_group: str = "nevertreated"  # comparison units: nevertreated | notyettreated
weighting: str = "none"  # weights of the municipalities: none | population | employees
inference: list = ["bootstrap"]  # intervals shown: bootstrap | analytic
alpha: float = 0.05  # significance level
draws: int = 999  # bootstrap draws
placebo: bool = True  # placebo runs
subtitle = "Evaluering"
"""


def make_nb(path, params=PARAMS, body="x = 1"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def nb(tmp_path):
    return make_nb(tmp_path / "03-effect.ipynb")


def test_specs_are_read_from_the_parameters_cell(nb):
    specs = parameter_specs(nb)
    assert list(specs)[:3] == ["kommunenummer", "sector", "cohorts"]
    assert specs["weighting"].choices == ("none", "population", "employees")
    assert specs["lang"].choices == ("nb", "en")
    assert specs["inference"].choices == ("bootstrap", "analytic")
    assert specs["alpha"].type == "float" and specs["alpha"].default == 0.05
    assert specs["subtitle"].type == "str"  # no annotation: the default's type
    assert specs["start"].kind == "quarter" and specs["cohorts"].kind == "cohorts"
    assert specs["kommunenummer"].kind == "municipality"
    assert specs["alpha"].choices == () and specs["draws"].description == "bootstrap draws"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"control": "notyettreated"},
            "unknown parameter 'control' for 03-effect; did you mean 'control_group'?",
        ),
        (
            {"control_group": "notyettreatd"},
            "parameter control_group: 'notyettreatd' is not one of nevertreated | notyettreated; did you mean 'notyettreated'?",
        ),
        ({"weighting": "populaton"}, "did you mean 'population'?"),
        (
            {"sector": "helse"},
            "parameter sector: 'helse' is not one of all | care | education | other",
        ),
        ({"lang": "de"}, "parameter lang: 'de' is not one of nb | en"),
        (
            {"inference": ["bootstrap", "exact"]},
            "parameter inference: 'exact' is not one of bootstrap | analytic",
        ),
        (
            {"cohorts": ["I", "V"]},
            "parameter cohorts: 'V' is not a cohort (pulje); use I, II, III, IV",
        ),
        ({"draws": "many"}, "parameter draws: expected a whole number (int), found 'many'"),
        ({"draws": True}, "parameter draws: expected a whole number"),
        ({"alpha": "five"}, "parameter alpha: expected a number (float), found 'five'"),
        ({"placebo": "maybe"}, "parameter placebo: expected true or false"),
        (
            {"start": "2006K9"},
            "parameter start: '2006K9' is not a quarter (write e.g. 2006Q1, 2006K1",
        ),
        (
            {"start": "2006-3"},
            "parameter start: '2006-3' is ambiguous (a month or a quarter?); write the quarter as e.g. 2006Q3",
        ),
        ({"start": "2010Q1", "end": "2006Q1"}, "start 2010Q1 and end 2006Q1: start is after end"),
        (
            {"kommunenummer": "7777"},
            "parameter kommunenummer: 7777 is not a municipality of the analysis frame (2008) and no crosswalk maps it onto one; nearest valid: ",
        ),
    ],
)
def test_each_mistake_names_the_parameter_and_the_fix(nb, params, expected):
    with pytest.raises(ParameterError) as info:
        validate_parameters(nb, params)
    assert expected in str(info.value)


def test_values_are_converted_and_normalised(nb):
    params, notes = validate_parameters(
        nb,
        {
            "start": "2006K1",
            "end": "1. kvartal 2010",
            "cohorts": "iv, II",
            "draws": "99",
            "alpha": "0,1",
            "placebo": "nei",
            "kommunenummer": 219,
            "inference": "analytic",
        },
    )
    assert params == {
        "start": "2006Q1",
        "end": "2010Q1",
        "cohorts": ["II", "IV"],
        "draws": 99,
        "alpha": 0.1,
        "placebo": False,
        "kommunenummer": "0219",
        "inference": ["analytic"],
    }
    assert "start: 2006K1 read as 2006Q1" in notes
    assert "kommunenummer: 219 read as 0219 Bærum" in notes
    assert validate_parameters(nb, {"start": "2006Q1"}) == ({"start": "2006Q1"}, [])


def test_municipalities_of_any_vintage_map_onto_the_frame():
    m = resolve_municipality("5001")
    assert (m.code, m.name) == ("1601", "Trondheim")
    assert m.note.startswith("kommunenummer: 5001 Trondheim")
    assert "is 1601 Trondheim in the analysis frame (2008)" in m.note and "1662 Klæbu" in m.note
    assert resolve_municipality("5401").code == "1902"  # Tromsø 2020-2023
    assert resolve_municipality("3024").code == "0219"  # Bærum 2020-2023
    assert resolve_municipality("0219").note == ""
    assert resolve_municipality("Bærum").code == "0219"
    with pytest.raises(ParameterError, match="did you mean 0219 Bærum"):
        resolve_municipality("Barum")
    with pytest.raises(ParameterError, match=r"9999 \(Uoppgitt kommune.*nearest valid"):
        resolve_municipality("9999")


def test_a_non_participant_profile_stops_with_the_participants_of_its_county():
    with pytest.raises(ParameterError) as info:
        check_participant("1902")
    msg = str(info.value)
    assert msg.startswith(
        "1902 Tromsø did not take part in the programme: a profile needs a participant; "
        "participants in Troms: "
    )
    assert "1924 Målselv" in msg
    check_participant("0219")  # Bærum took part


def test_a_batch_reads_the_registry_once_and_stops_at_its_first_non_participant(monkeypatch):
    from kvk_analysis import cohorts

    reads = []
    real = cohorts.read_registry
    monkeypatch.setattr(cohorts, "read_registry", lambda *a, **k: reads.append(a) or real(*a, **k))
    check_participants(["0219", "1924", "0301"])
    assert len(reads) == 1
    with pytest.raises(ParameterError, match=r"^1902 Tromsø did not take part"):
        check_participants(["0219", "1902", "9999"])
    check_participants([])


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if anything tries to run a notebook."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(batch, "run_jobs", refuse)
    monkeypatch.setattr(batch, "run_batch", refuse)
    return calls


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["03", "-p", "control", "notyettreated"], "did you mean 'control_group'?"),
        (["03", "-p", "start", "2006-13"], "parameter start"),
        (["03", "-p", "cohorts", "[I, VI]"], "'VI' is not a cohort"),
        (["04", "-p", "kommunenummer", "1902"], "1902 Tromsø did not take part in the programme"),
        (["04", "-p", "kommunenummer", "7777"], "nearest valid: "),
        (["--batch", "profiles", "--kommuner", "0219,1902"], "1902 Tromsø did not take part"),
        (["--batch", "profiles", "--kommuner", "0219", "-p", "lnag", "en"], "did you mean 'lang'?"),
    ],
)
def test_cli_stops_before_any_kernel_starts(argv, expected, no_kernel, capsys, tmp_path):
    status = main(["report", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert expected in err and "Traceback" not in err
    assert err.count("\n") == 1  # one line
    assert no_kernel == []


def test_cli_notes_mapped_codes(no_kernel, monkeypatch, capsys, tmp_path):
    seen = {}

    def fake_run_jobs(jobs, **kwargs):
        seen["jobs"] = jobs
        return [batch.JobResult(jobs[0], "skipped")]

    monkeypatch.setattr(batch, "run_jobs", fake_run_jobs)
    # Bærum's code 2020-2023; Bærum took part
    assert main(["report", "04", "-p", "kommunenummer", "3024", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "note: kommunenummer: 3024 Bærum (2020-2023) is 0219 Bærum" in out
    (job,) = seen["jobs"]
    assert job.params == {"kommunenummer": "0219"}
    assert job.name == "04-municipality-profile-0219"


def test_names_say_what_distinguishes_a_report(nb):
    def name(**p):
        return report_name(nb, validate_parameters(nb, p)[0])

    assert name() == "03-effect-0219"
    assert name(kommunenummer="1149") == "03-effect-1149"
    assert name(lang="en") == "03-effect-0219-en"
    assert name(lang="nb") == name()  # the default language adds nothing
    assert name(start="2006K1") == name(start="2006Q1")  # same parameters, same name
    assert name(start="2005K1") == name()  # the default written another way
    a = name(control_group="notyettreated")
    assert a.startswith("03-effect-0219-notyettreated-")
    assert a == name(control_group="notyettreated")
    names = {
        name(),
        name(lang="en"),
        name(kommunenummer="1149"),
        a,
        name(draws=99),
        name(draws=199),
        name(control_group="notyettreated", draws=99),
        name(cohorts=["I", "II"]),
        name(cohorts=["I", "III"]),
    }
    assert len(names) == 9  # different parameters never share a name
    assert report_name(nb, {"draws": 99}, tag="quick") == "03-effect-0219-quick"
    assert "draws-99" in name(draws=99)


def test_batch_names_carry_language_and_specification(tmp_path):
    nb = make_nb(tmp_path / "profile.ipynb")
    nb_jobs = batch.profile_jobs(nb, ["0219"], tmp_path, params={"lang": "nb"}, timeout=7)
    en_jobs = batch.profile_jobs(nb, ["0219"], tmp_path, params={"lang": "en"})
    assert nb_jobs[0].name == "profile-0219" and en_jobs[0].name == "profile-0219-en"
    assert nb_jobs[0].timeout == 7
