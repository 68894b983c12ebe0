"""``kvk run``: the data are built while the worker processes start their kernels, exactly once
per run (also when every report is up to date), and a failed build stops the workers before
any report is made."""

from __future__ import annotations

import multiprocessing
import time

import nbformat
import pytest
from test_report_records import make_nb

from kvk_analysis.build import _locked
from kvk_analysis.cli import main
from kvk_analysis.errors import InputError
from kvk_analysis.report import cli

#: What every notebook of ``kvk run`` does first (its ``build_data`` call): wait for the
#: build's lock on the data folder.  Stand-in builds below hold the same lock.
WAIT_FOR_BUILD = (
    "from pathlib import Path\n"
    "from kvk_analysis.build import _locked\n"
    "with _locked(Path({data!r})):\n"
    "    pass\n"
)


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "processed"
    folder.mkdir()
    return folder


@pytest.fixture
def two_notebooks(tmp_path, monkeypatch, data_dir):
    wait = nbformat.v4.new_code_cell(WAIT_FOR_BUILD.format(data=str(data_dir)))
    nbs = {name: make_nb(tmp_path / f"{name}.ipynb", extra=[wait]) for name in ("01-a", "04-b")}
    monkeypatch.setattr(cli, "MAIN_NOTEBOOKS", (("01-a", "01-a"), ("04-b", "report-b")))
    monkeypatch.setattr(cli, "resolve_notebook", lambda stem, folder=None: nbs[stem])
    monkeypatch.setattr(cli, "_ensure_demo", lambda: ["demo data: present"])
    return tmp_path / "reports"


def test_build_runs_once_while_the_workers_start(two_notebooks, monkeypatch, capsys):
    out = two_notebooks
    builds: list[int] = []

    def build() -> list[str]:
        # the workers start while the data are built (the build does not wait for them)
        deadline = time.monotonic() + 60
        while not multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.02)
        builds.append(len(multiprocessing.active_children()))  # worker processes running
        return ["data: built"]

    monkeypatch.setattr(cli, "_build", build)
    argv = ["run", "--out", str(out), "--no-pdf", "--workers", "2"]
    assert main(argv) == 0
    assert len(builds) == 1 and builds[0] >= 1  # the pool was up while the data were built
    first = capsys.readouterr().out
    assert "data: built" in first and (out / "01-a-0219.html").is_file()

    # nothing to run: no worker is started, and the data are still checked (built) once
    assert main(argv) == 0
    assert len(builds) == 2 and builds[1] == 0
    assert capsys.readouterr().out.startswith("kvk run: nothing changed")


@pytest.mark.parametrize("after", [0.0, 2.5])  # at once; once the kernels are starting
def test_failed_build_stops_the_workers_and_makes_no_report(
    two_notebooks, data_dir, monkeypatch, capsys, after
):
    out = two_notebooks

    def build() -> list[str]:
        with _locked(data_dir):  # as build_data: the notebooks wait for this lock
            time.sleep(after)
            raise InputError("bad sick-leave file", path="x.csv", row=3, column="rate")

    monkeypatch.setattr(cli, "_build", build)
    assert main(["run", "--out", str(out), "--no-pdf", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "bad sick-leave file" in err and "x.csv" in err
    assert not list(out.glob("*.html")) and not list(out.glob(".*.done.json"))
    assert not multiprocessing.active_children()
    # no temporary report folder either (a worker may have made the output folder)
    assert not out.exists() or not [p for p in out.iterdir() if ".kvk-" in p.name]


def test_the_build_runs_while_the_workers_are_still_being_started(monkeypatch):
    """Starting a worker waits for the fork server's imports: the data build (``on_start``)
    runs meanwhile, not after; a failed build stops the workers once all are started."""
    import threading

    from kvk_analysis.report import batch

    started = threading.Event()

    class SlowPool:  # submit returns only once the build has begun
        def __init__(self) -> None:
            self.submitted: list = []

        def submit(self, fn, job, **kwargs):
            assert started.wait(30), "the build did not start while the workers were started"
            self.submitted.append(job)
            return object()

    jobs = [object(), object()]
    pool, futures = SlowPool(), {}
    batch._submit_while(pool, [0, 1], jobs, futures, True, lambda p: started.set())
    assert pool.submitted == jobs and sorted(futures.values()) == [0, 1]

    stopped = []
    started.clear()

    def failing_build(p):
        started.set()
        raise InputError("bad sick-leave file", path="x.csv", row=3, column="rate")

    monkeypatch.setattr(batch, "_stop_workers", lambda p: stopped.append(len(p.submitted)))
    pool, futures = SlowPool(), {}
    with pytest.raises(InputError, match="bad sick-leave"):
        batch._submit_while(pool, [0, 1], jobs, futures, True, failing_build)
    assert stopped == [2]  # stopped after every worker was started


def test_a_first_run_starts_the_longest_notebooks_first(tmp_path):
    """Without done markers (after ``make clean``) the order comes from TYPICAL_SECONDS: 05
    and 03 (which share their evaluation), then the short ones longest first."""
    from pathlib import Path

    from kvk_analysis.report.batch import Job

    jobs = [
        Job(name=stem, notebook=Path(f"notebooks/{stem}.ipynb"), params={}, out_dir=tmp_path)
        for stem, _ in cli.MAIN_NOTEBOOKS
    ]
    order = sorted(jobs, key=lambda j: -cli._previous_seconds(j))
    assert [j.name[:2] for j in order] == ["05", "03", "02", "01", "04"]
