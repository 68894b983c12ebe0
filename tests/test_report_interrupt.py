"""Interrupting ``kvk report`` and batches: Ctrl-C and kill -9 at chosen points.

Each test runs ``kvk`` in a subprocess on a small notebook whose cell writes a marker file
(the kernel's and its worker's process ids) and then sleeps; the signal is sent once the
marker exists, i.e. while a kernel is running a cell (not after sleeping and hoping).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import kvk_analysis

PACKAGE_ROOT = Path(kvk_analysis.__file__).resolve().parents[1]
PARAMS = (
    'kommunenummer: str = "0219"  # municipality number\n'
    'marker_dir: str = ""  # where the cell says it is running\n'
    "nap: float = 0.0  # seconds the cell sleeps\n"
)
BODY = (
    "import os, pathlib, time\n"
    "from kvk_analysis import report\n"
    'report.start(f"Profil {kommunenummer}", lang="nb")\n'
    "if marker_dir:\n"
    '    pathlib.Path(marker_dir, f"{kommunenummer}.started").write_text(\n'
    '        f"{os.getpid()} {os.getppid()}")\n'
    "time.sleep(nap)\n"
    'report.say(f"Kommune {kommunenummer}.")'
)


@pytest.fixture
def sleepy(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("## Sleeping"), nbformat.v4.new_code_cell(BODY)]
    path = tmp_path / "sleepy.ipynb"
    nbformat.write(nb, str(path))
    (tmp_path / "markers").mkdir()
    return path


def kvk(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "kvk_analysis.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> list[int]:
    """The pids in ``path`` once the notebook wrote it (fails if the run ends first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return [int(x) for x in path.read_text().split()]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def hidden_temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if not p.name.endswith(".json"))


def test_ctrl_c_stops_kernel_and_worker_and_exits_130(sleepy, tmp_path):
    out = tmp_path / "reports"
    markers = tmp_path / "markers"
    # a finished report of another municipality must stay
    done = kvk("report", str(sleepy), "-p", "kommunenummer", "0101", "--out", str(out), "--no-pdf")
    assert done.wait(180) == 0, done.communicate()
    finished = (out / "sleepy-0101.html").read_bytes()
    proc = kvk(
        "report", str(sleepy), "-p", "marker_dir", str(markers), "-p", "nap", "600",
        "--out", str(out), "--no-pdf",
    )  # fmt: skip
    kernel, worker = wait_for(markers / "0219.started", proc)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("kvk report hung after Ctrl-C") from None
    assert proc.returncode == 130
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    assert gone_within([kernel, worker], 10)
    assert hidden_temporaries(out) == []
    assert (out / "sleepy-0101.html").read_bytes() == finished
    assert not list(out.glob("sleepy-0219*.html"))


def test_ctrl_c_on_a_batch_runs_nothing_queued(sleepy, tmp_path):
    out = tmp_path / "reports"
    markers = tmp_path / "markers"
    proc = kvk(
        "report", str(sleepy), "--batch", "profiles", "--kommuner", "0101,0104,0105",
        "--workers", "1", "-p", "marker_dir", str(markers), "-p", "nap", "600",
        "--out", str(out), "--no-pdf",
    )  # fmt: skip
    kernel, worker = wait_for(markers / "0101.started", proc)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the batch hung after Ctrl-C") from None
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "DeadKernelError" not in err
    assert gone_within([kernel, worker], 10)
    # the queued municipalities never start (nothing is left that could start them)
    assert sorted(p.name for p in markers.iterdir()) == ["0101.started"]
    assert not list(out.rglob("*.html"))
    assert hidden_temporaries(out) == []


def test_kill_9_of_the_main_process_leaves_no_orphans(sleepy, tmp_path):
    out = tmp_path / "reports"
    markers = tmp_path / "markers"
    proc = kvk(
        "report", str(sleepy), "--batch", "profiles", "--kommuner", "0101,0104",
        "--workers", "1", "-p", "marker_dir", str(markers), "-p", "nap", "600",
        "--out", str(out), "--no-pdf",
    )  # fmt: skip
    kernel, worker = wait_for(markers / "0101.started", proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert gone_within([kernel, worker], 15), "worker or kernel still running"
    assert sorted(p.name for p in markers.iterdir()) == ["0101.started"]
    # whatever a killed process left is cleaned by the next run
    again = kvk(
        "report", str(sleepy), "--batch", "profiles", "--kommuner", "0101",
        "--workers", "1", "--out", str(out), "--no-pdf",
    )  # fmt: skip
    assert again.wait(180) == 0, again.communicate()
    assert hidden_temporaries(out / "profiles") == []
    assert (out / "profiles" / "profile-0101.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(6))
def test_ctrl_c_never_hangs_with_two_workers(sleepy, tmp_path, trial):
    """Issue 11: 7 of 27 Ctrl-C on a batch hung.  Two workers with kept kernels, signal at
    the moment the first, then the second worker runs a cell."""
    out = tmp_path / "reports"
    markers = tmp_path / "markers"
    proc = kvk(
        "report", str(sleepy), "--batch", "profiles", "--kommuner", "0101,0104,0105,0106",
        "--workers", "2", "-p", "marker_dir", str(markers), "-p", "nap", str(trial % 2 * 600),
        "--out", str(out), "--no-pdf",
    )  # fmt: skip
    first = wait_for(markers / "0101.started", proc)
    if trial % 3 == 2:  # wait until both workers run a cell
        wait_for(markers / "0104.started", proc)
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("hung after Ctrl-C") from None
    assert proc.returncode in (0, 130)  # 0: everything finished before the signal arrived
    assert gone_within(first, 10)
    assert hidden_temporaries(out) == []
