"""Batch runs: parallel profiles, resumable skip, index.html, failures, and the CLI."""

from __future__ import annotations

import nbformat
import pytest

from kvk_analysis.cli import main
from kvk_analysis.errors import ReportError
from kvk_analysis.report import batch
from kvk_analysis.report.batch import is_done, profile_jobs, run_batch
from kvk_analysis.report.cli import parse_value, resolve_notebook

PARAMS = 'kommunenummer: str = "0219"  # municipality\nlang: str = "nb"  # language\n'
BODY = (
    "from kvk_analysis import report\n"
    'report.start(f"Profil {kommunenummer}", lang=lang)\n'
    'assert kommunenummer != "9999", f"no municipality {kommunenummer}"\n'
    'report.say(f"Kommune {kommunenummer}.")'
)


@pytest.fixture
def profile_nb(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(BODY)]
    path = tmp_path / "profile.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_batch_parallel_resume_and_failure(profile_nb, tmp_path):
    out = tmp_path / "reports" / "profiles"
    names = {"0101": "Halden", "9999": "Nowhere"}
    results = run_batch(
        profile_nb,
        ["0101", "0219", "9999"],
        out,
        names=names,
        workers=2,
        formats=("html",),
        progress=False,
    )
    status = {r.job.name: r.status for r in results}
    assert status == {"profile-0101": "done", "profile-0219": "done", "profile-9999": "failed"}
    assert (out / "profile-0101.html").is_file() and (out / "profile-0219.html").is_file()
    assert not (out / "profile-9999.html").exists()
    assert "no municipality 9999" in results[2].error
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="profile-0101.html"' in index and "0101 Halden" in index
    assert "no municipality 9999" in index and "feilet" in index
    assert "2 / 3 OK" in index
    assert "Kommune 0219." in (out / "profile-0219.html").read_text(encoding="utf-8")
    # how long it took: each report by step, the run in total with the steps summed
    import re

    summary = re.search(r'<p class="summary">(.*?)</p>', index).group(1)
    assert re.search(r"Kjøringen tok \d+ sekunder \(2 × [\d.]+ sekunder; sum over", summary)
    assert "kjøring av notatboken" in summary and "HTML" in summary
    steps = re.findall(r"ferdig \(([\d.]+) sekunder: kjøring av notatboken ([\d.]+), HTML", index)
    assert len(steps) == 2 and all(float(total) >= float(run) for total, run in steps)

    # resumable: the finished ones are skipped, the failed one is tried again
    first_mtime = (out / "profile-0101.html").stat().st_mtime_ns
    again = run_batch(
        profile_nb, ["0101", "0219", "9999"], out, workers=2, formats=("html",), progress=False
    )
    assert [r.status for r in again] == ["skipped", "skipped", "failed"]
    assert (out / "profile-0101.html").stat().st_mtime_ns == first_mtime

    # a report file without its done marker is not taken as finished
    job = profile_jobs(profile_nb, ["0219"], out, formats=("html",))[0]
    assert is_done(job)
    (out / ".profile-0219.done.json").unlink()
    assert not is_done(job)


def test_cli_report_and_batch_exit_status(profile_nb, tmp_path, capsys):
    out = tmp_path / "rep"
    status = main(
        ["report", str(profile_nb), "-p", "kommunenummer", "0301", "--out", str(out), "--no-pdf"]
    )
    assert status == 0
    # the municipality is part of a profile's name
    html = (out / "profile-0301.html").read_text(encoding="utf-8")
    assert "Profil 0301" in html
    assert "profile-0301.html" in capsys.readouterr().out
    # 9999 is no municipality: stopped before a kernel starts, nearest valid codes named
    status = main(["report", str(profile_nb), "-p", "kommunenummer", "9999", "--out", str(out)])
    assert status == 2
    err = capsys.readouterr().err
    assert "kommunenummer: 9999" in err and "nearest valid: " in err
    status = main(
        [
            "report",
            str(profile_nb),
            "--batch",
            "profiles",
            "--kommuner",
            "0301,0219",
            "--workers",
            "1",
            "--out",
            str(out),
            "--run",
            "b",
            "--no-pdf",
        ]
    )
    assert status == 0
    assert (out / "b" / "index.html").is_file()
    assert main(["report", "--batch", "profiles", "--kommuner", "12", "--out", str(out)]) == 2


def test_parse_value_and_resolve(tmp_path):
    assert parse_value("0219") == "0219"
    assert parse_value("3") == 3
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value("[I, II]") == ["I", "II"]
    assert parse_value("Bærum") == "Bærum"
    (tmp_path / "03-programme-effect.ipynb").write_text("{}")
    (tmp_path / "04-municipality-profile.ipynb").write_text("{}")
    assert resolve_notebook("03", tmp_path).name == "03-programme-effect.ipynb"
    assert resolve_notebook("04-municipality-profile", tmp_path).stem == "04-municipality-profile"
    with pytest.raises(ReportError, match="ambiguous"):
        resolve_notebook("0", tmp_path)
    with pytest.raises(ReportError, match="no notebook"):
        resolve_notebook("07", tmp_path)


def test_parameter_types_keep_codes_as_text(profile_nb):
    from kvk_analysis.cli import build_parser
    from kvk_analysis.report.cli import collect_parameters, parameter_types

    types = parameter_types(profile_nb)
    assert types == {"kommunenummer": "str", "lang": "str"}
    args = build_parser().parse_args(
        ["report", str(profile_nb), "-p", "kommunenummer", "1149", "-p", "draws", "99"]
    )
    assert collect_parameters(args, types) == {"kommunenummer": "1149", "draws": 99}


def test_parameters_file_coerces_codes_for_str_parameters(profile_nb, tmp_path):
    from kvk_analysis.cli import build_parser
    from kvk_analysis.report.cli import collect_parameters, parameter_types

    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text('kommunenummer: 1149\nlang: "en"\ndraws: 5\n', encoding="utf-8")
    args = build_parser().parse_args(["report", str(profile_nb), "-f", str(yaml_file)])
    params = collect_parameters(args, parameter_types(profile_nb))
    assert params == {"kommunenummer": "1149", "lang": "en", "draws": 5}
    yaml_file.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(ReportError, match="mapping"):
        collect_parameters(args, {})


def test_workers_come_from_the_fork_server_only_with_its_environment(monkeypatch):
    """Forked workers inherit the fork server's environment: with another environment in this
    process (KVK_ROOT, settings) the workers are spawned, as before the fork server."""
    import multiprocessing

    first = batch.worker_context().get_start_method()
    if "forkserver" in multiprocessing.get_all_start_methods():
        # ours unless another module started a fork server first (then spawn)
        assert first in {"forkserver", "spawn"}
        assert batch.worker_context().get_start_method() == first
    else:
        assert first == "spawn"
    monkeypatch.setenv("KVK_TEST_OTHER_ENVIRONMENT", "1")
    assert batch.worker_context().get_start_method() == "spawn"
    monkeypatch.delenv("KVK_TEST_OTHER_ENVIRONMENT")
    assert batch.worker_context().get_start_method() == first


def test_variables_libraries_set_on_import_keep_the_fork_server():
    """pandera sets SPARK_LOCAL_IP and PYARROW_IGNORE_TIMEZONE when imported and they are
    missing: imported in this process after the fork server started (``kvk run`` starts it
    first), they do not make its environment another one (a worker sets them again on the same
    import); any other added or changed variable does, and so does changing them."""
    server = {"PATH": "/bin", "KVK_ROOT": "/a"}
    assert batch._same_env(dict(server), server)
    added = {**server, "SPARK_LOCAL_IP": "127.0.0.1", "PYARROW_IGNORE_TIMEZONE": "1"}
    assert batch._same_env(added, server)
    assert not batch._same_env({**added, "KVK_ROOT": "/b"}, server)
    assert not batch._same_env({**server, "KVK_SETTINGS": "x"}, server)
    assert not batch._same_env({"PATH": "/bin"}, server)
    with_ip = {**server, "SPARK_LOCAL_IP": "127.0.0.1"}
    assert not batch._same_env({**server, "SPARK_LOCAL_IP": "10.0.0.1"}, with_ip)


def test_kvk_run_starts_the_fork_server_first_unless_every_report_is_marked(tmp_path):
    from kvk_analysis.report.cli import MAIN_NOTEBOOKS, _all_marked

    assert not _all_marked(tmp_path)
    for _, base in MAIN_NOTEBOOKS[:-1]:
        (tmp_path / f".{base}-en{batch.DONE_SUFFIX}").write_text("{}", encoding="utf-8")
    assert not _all_marked(tmp_path)
    (tmp_path / f".{MAIN_NOTEBOOKS[-1][1]}{batch.DONE_SUFFIX}").write_text("{}", encoding="utf-8")
    assert _all_marked(tmp_path)
