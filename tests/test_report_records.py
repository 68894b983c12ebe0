"""Records of what produced a report; resume and "nothing changed" compare them; failures in
the analyst's terms; --timeout; stale temporary files."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from kvk_analysis.cli import build_parser, main
from kvk_analysis.errors import ReportError
from kvk_analysis.report import batch, cli
from kvk_analysis.report.batch import DONE_SUFFIX, Job, is_done, run_batch, with_record
from kvk_analysis.report.execute import clean_stale_temporaries, run_report
from kvk_analysis.report.records import differences, report_record

PARAMS = (
    'kommunenummer: str = "0219"  # municipality number\n'
    'data_path: str = ""  # an input file\n'
    'lang: str = "nb"  # report language: nb | en\n'
    "fail: bool = False  # fail on purpose\n"
    "nap: float = 0.0  # seconds to sleep\n"
)
BODY = (
    "import time\n"
    "from kvk_analysis import report\n"
    'report.start(f"Profil {kommunenummer}", lang=lang)\n'
    "time.sleep(nap)\n"
    'report.say(f"Kommune {kommunenummer}.")'
)
FAILING = "# Check the window\nimport pandas as pd\nif fail:\n    raise ValueError('no treated units in the window')"


def make_nb(path, body=BODY, extra=()):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body), *extra]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def profile_nb(tmp_path):
    return make_nb(tmp_path / "profile.ipynb")


def test_record_changes_with_what_produced_the_report(profile_nb, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    base = report_record(profile_nb, {"data_path": str(data)})
    assert base == report_record(profile_nb, {"data_path": str(data)})
    assert set(base) >= {"notebook_sha256", "parameters", "inputs", "kvk_version", "code"}
    assert str(data) in base["inputs"]  # a parameter naming a file is an input
    assert any(k.endswith("cohort_registry_demo.csv") for k in base["inputs"])
    en = report_record(profile_nb, {"data_path": str(data), "lang": "en"})
    assert differences(base, en) == ["parameters changed"]
    data.write_text("a\n2\n", encoding="utf-8")
    assert differences(base, report_record(profile_nb, {"data_path": str(data)})) == [
        "input data changed"
    ]
    make_nb(profile_nb, body=BODY + "\n")
    assert "notebook changed" in differences(
        base, report_record(profile_nb, {"data_path": str(data)})
    )


def test_done_means_same_record_and_files(profile_nb, tmp_path):
    job = with_record(Job("p", profile_nb, {"lang": "nb"}, tmp_path, formats=("html",)))
    (tmp_path / "p.html").write_text("report")
    marker = tmp_path / f".p{DONE_SUFFIX}"
    # a marker without a record (today's format) is not "finished"
    marker.write_text(json.dumps({"files": {}}))
    assert not is_done(job)
    marker.write_text(
        json.dumps({"record": job.record, "files": {"html": str(tmp_path / "p.html")}})
    )
    assert is_done(job)
    assert not is_done(Job("p", profile_nb, {"lang": "en"}, tmp_path, formats=("html",)))
    (tmp_path / "p.html").unlink()
    assert not is_done(job)


def test_batch_resume_reruns_on_new_parameters_and_new_data(profile_nb, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    out = tmp_path / "profiles"
    kw = {"workers": 1, "formats": ("html",), "progress": False}
    first = run_batch(profile_nb, ["0101", "0219"], out, params={"data_path": str(data)}, **kw)
    assert [r.status for r in first] == ["done", "done"]
    again = run_batch(profile_nb, ["0101", "0219"], out, params={"data_path": str(data)}, **kw)
    assert [r.status for r in again] == ["skipped", "skipped"]
    # another language: new reports beside the old ones, not "finished earlier"
    en = run_batch(
        profile_nb, ["0101"], out, params={"data_path": str(data), "lang": "en"}, lang="en", **kw
    )
    assert en[0].status == "done" and en[0].job.name.startswith("profile-0101-")
    assert "-en-" in en[0].job.name or en[0].job.name.endswith("-en")
    # new raw data: made again
    data.write_text("a\n2\n", encoding="utf-8")
    new = run_batch(profile_nb, ["0101"], out, params={"data_path": str(data)}, **kw)
    assert new[0].status == "done"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "data_path = " in index and "<td>nb</td>" in index


@pytest.fixture
def tiny_main(tmp_path, monkeypatch):
    """``kvk run`` on two small notebooks, without the demo data and the build."""
    nbs = {
        "01-a": make_nb(tmp_path / "01-a.ipynb"),
        "04-b": make_nb(tmp_path / "04-b.ipynb"),
    }
    monkeypatch.setattr(cli, "MAIN_NOTEBOOKS", (("01-a", "01-a"), ("04-b", "report-b")))
    monkeypatch.setattr(cli, "resolve_notebook", lambda stem, folder=None: nbs[stem])
    monkeypatch.setattr(cli, "_ensure_demo", lambda: ["demo data: present"])
    monkeypatch.setattr(cli, "_build", lambda: ["data: up to date"])
    return tmp_path / "reports"


def test_kvk_run_with_nothing_changed_is_a_no_op_that_says_so(tiny_main, capsys):
    out = tiny_main
    argv = ["run", "--out", str(out), "--no-pdf", "--workers", "1"]
    stale = out / ".01-a-0219.kvk-999999999-abcdefgh"
    stale.mkdir(parents=True)
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "index: " in first
    names = sorted(p.name for p in out.glob("*.html"))
    assert names == ["01-a-0219.html", "index.html", "report-b-0219.html"]
    stamp = {p.name: p.stat().st_mtime_ns for p in out.glob("*.html") if p.name != "index.html"}
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="01-a-0219.html"' in index and "<td>nb</td>" in index

    assert main(argv) == 0
    again = capsys.readouterr().out
    assert again.startswith("kvk run: nothing changed")
    assert "2 reports in" in again and "up to date" in again
    stale.mkdir()  # left by a run killed meanwhile: even a run with nothing to do removes it
    assert main(argv) == 0 and not stale.exists()
    capsys.readouterr()
    assert stamp == {p: (out / p).stat().st_mtime_ns for p in stamp}

    # another language is a change: new reports, the Norwegian ones stay
    assert main([*argv, "--lang", "en"]) == 0
    assert "nothing changed" not in capsys.readouterr().out
    assert (out / "01-a-0219-en.html").is_file() and (out / "01-a-0219.html").is_file()


def test_failure_names_the_step_parameters_and_message_not_code(tmp_path):
    heading = nbformat.v4.new_markdown_cell("## Estimating the effect\n\nText.")
    nb = make_nb(tmp_path / "broken.ipynb", extra=[heading, nbformat.v4.new_code_cell(FAILING)])
    out = tmp_path / "out"
    (out / "executed").mkdir(parents=True)
    # a previous run's executed notebook must not survive a failed run
    (out / "executed" / "broken.ipynb").write_text("{}")
    with pytest.raises(ReportError) as info:
        run_report(nb, {"fail": True, "kommunenummer": "0101"}, out, ("html",))
    msg = str(info.value)
    assert msg.startswith('broken.ipynb failed at step "Estimating the effect" (cell 4)')
    assert "parameters fail=True, kommunenummer='0101'" in msg
    assert msg.endswith("ValueError: no treated units in the window")
    assert "import pandas" not in msg and "In [" not in msg
    assert not (out / "executed" / "broken.ipynb").exists()
    assert [p.name for p in out.rglob("*") if p.is_file()] == []


def test_timeout_is_checked_rounded_and_passed_to_the_batch(
    profile_nb, tmp_path, monkeypatch, capsys
):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "01", "--timeout", "0"])
    assert "must be more than 0 seconds" in capsys.readouterr().err
    status = main(
        [
            "report",
            str(profile_nb),
            "-p",
            "nap",
            "4",
            "--timeout",
            "0.5",
            "--out",
            str(tmp_path),
            "--no-pdf",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert "a cell ran longer than the timeout of 1 s per cell" in err
    seen = {}

    def fake_run_batch(*args, **kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    main(
        [
            "report",
            "--batch",
            "profiles",
            "--kommuner",
            "0219",
            "--timeout",
            "30",
            "--out",
            str(tmp_path),
        ]
    )
    assert seen["timeout"] == 30


def test_stale_temporaries_of_earlier_runs_are_cleaned(tmp_path):
    out = tmp_path
    old = out / ".03-programme-effect.ab12cd_9"  # the naming before the process id
    old.mkdir()
    (old / "03-programme-effect.ipynb").write_text("{}")
    dead = out / ".03-programme-effect.kvk-999999999-abcdefgh"
    dead.mkdir()
    alive = out / f".03-programme-effect.kvk-{os.getpid()}-abcdefgh"  # a concurrent run
    alive.mkdir()
    keep = out / ".git"
    keep.mkdir()
    partial = out / ".profile-0219.k2j4h5g6.pdf"
    partial.write_text("%PDF")
    os.utime(partial, (1, 1))
    removed = clean_stale_temporaries(out)
    assert sorted(p.name for p in removed) == sorted([old.name, dead.name, partial.name])
    assert alive.is_dir() and keep.is_dir()
    # the example of issue 11, and a folder that only looks similar
    xxxx = out / ".03-programme-effect.xxxx"
    xxxx.mkdir()
    mine = out / ".settings.backup"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert clean_stale_temporaries(out) == [xxxx]
    assert mine.is_dir()
    # a report run cleans its output folder first, even when the notebook then fails
    old.mkdir()
    with pytest.raises(ReportError):
        run_report(tmp_path / "missing.ipynb", {}, out, ("html",))
    assert not old.exists()


def test_a_kept_kernel_starts_each_notebook_with_a_clean_namespace(tmp_path):
    first = make_nb(tmp_path / "first.ipynb", body="leftover = 1\nimport os\nprint(os.getpid())")
    check = (
        "import os\n"
        "assert 'leftover' not in globals(), 'namespace of the previous notebook'\n"
        "from kvk_analysis import report\n"
        "report.start('Second', lang=lang)\n"
        "report.say(str(os.getpid()))"
    )
    second = make_nb(tmp_path / "second.ipynb", body=check)
    out = tmp_path / "out"
    jobs = [
        Job("a", first, {}, out, formats=("html",)),
        Job("b", second, {}, out, formats=("html",)),
    ]
    results = batch.run_jobs(jobs, workers=1, reuse_kernel=True, progress=False)
    assert [r.status for r in results] == ["done", "done"], [r.error for r in results]
    executed = nbformat.read(str(out / "executed" / "a.ipynb"), as_version=4)
    (pid_cell,) = [c for c in executed.cells if "print(os.getpid())" in c.source]
    pid = pid_cell.outputs[0]["text"].strip()
    # the same kernel ran both (one worker, kept kernel), and the second saw nothing of the first
    assert f"<p>{pid}</p>" in (out / "b.html").read_text(encoding="utf-8")


def test_a_kept_kernel_keeps_its_client_and_resets_after_each_notebook(tmp_path):
    """The client of a kept kernel serves the next notebook too (no new connection), and the
    reset is sent when a notebook ends; the next notebook waits for it and starts clean."""
    from kvk_analysis.report import execute

    first = make_nb(tmp_path / "first.ipynb", body="leftover = 1")
    second = make_nb(
        tmp_path / "second.ipynb", body="assert 'leftover' not in globals(), 'not reset'"
    )
    km = batch._worker_kernel("python3", tmp_path, reuse=False)
    try:
        execute.execute_notebook(first, tmp_path / "a.ipynb", {}, km=km, cwd=tmp_path)
        kept = execute._KEPT[id(km)]
        client = kept["kc"]
        assert client is not None and kept.get("reset")  # reset sent, not waited for
        execute.execute_notebook(second, tmp_path / "b.ipynb", {}, km=km, cwd=tmp_path)
        assert execute._KEPT[id(km)]["kc"] is client
    finally:
        batch.kill_kernel(km)
    assert id(km) not in execute._KEPT  # the client went with its kernel
