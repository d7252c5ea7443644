"""python -m graphrec.serve as a user runs it (a process, its port, its errors), the bench's
load client against it, and the --help of serve, recommend and export."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT
from graphrec.serving.export import export
from serving_runs import train_run

pytestmark = pytest.mark.slow
pytest.importorskip("uvicorn")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def python(*args, **kw):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=ENV, text=True,
                          capture_output=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    run = train_run(tmp_path_factory.mktemp("mf"), ["model=mf", "trainer.epochs=1"])
    out = tmp_path_factory.mktemp("bundle") / "b"
    export(run, out)
    return out


@pytest.mark.parametrize("command, says", [
    ("serve", ["BUNDLE|RUN_DIR", "--port", "--host", "--max-users", "--max-body-mb",
               "127.0.0.1", "/health", "POST /new-items", "curl"]),
    ("recommend", ["RUN_DIR|BUNDLE", "--users", "--all", "--k", "--new-items", "examples:"]),
    ("export", ["RUN_DIR", "OUT", "--force", "example:"]),
])
def test_help_is_conventional(command, says, capsys):
    import importlib

    main = importlib.import_module(f"graphrec.serving.{command}").main
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out, err = capsys.readouterr()
    assert stop.value.code == 0 and not err
    assert out.startswith(f"usage: python -m graphrec.{command} ")
    assert "options:" in out and "-h, --help" in out
    assert max(map(len, out.splitlines())) <= 100  # nothing left unwrapped
    for word in says:
        assert word in out, word


def test_the_command_serves_and_refuses_a_taken_port(bundle):
    from graphrec.bench.serve import _free_port

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "graphrec.serve", str(bundle), "--port",
                             str(port)], cwd=ROOT, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()  # printed once listening
        assert first.startswith("serving mf (300 users x 160 items) on "
                                f"http://127.0.0.1:{port}"), first
        end, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/recommend?user=3&k=2",
                                            timeout=10) as r:
                    answer = json.loads(r.read())
            except OSError:
                time.sleep(0.2)
        assert answer["user"] == 3 and len(answer["list"]) == 2
        taken = python("graphrec.serve", str(bundle), "--port", str(port))
        err = taken.stderr.strip().splitlines()
        assert taken.returncode == 2 and len(err) == 1, taken.stderr
        assert err[0].startswith(f"error: --host 127.0.0.1 --port {port}: cannot listen there")
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down cleanly
        assert proc.wait(30) == 130
        assert "Traceback" not in proc.stderr.read()


def test_a_bad_source_or_limit_is_one_line_and_exit_2(tmp_path, capsys):
    from graphrec.serving.serve import main

    assert main([str(tmp_path / "absent"), "--port", "0"]) == 2
    assert capsys.readouterr().err == \
        f"error: {tmp_path / 'absent'}: no such folder (pass a run folder or a bundle)\n"
    assert main([str(tmp_path), "--max-users", "0"]) == 2
    assert "error: --max-users=0 is invalid: allowed > 0" in capsys.readouterr().err


def test_bench_serve_counts_no_wrong_or_dropped_answer(bundle, tmp_path):
    from graphrec.bench import main

    rows = main(["serve", str(bundle), "--requests", "60", "--concurrency", "4",
                 "--seconds", "60", "--users-per-request", "2", "--out", str(tmp_path),
                 "--results", ""])
    (row,) = rows
    assert "requests/s, p50" in row["result"], row
    assert "60/60 answered, 0 wrong, 0 dropped, 0 failed" in row["result"], row
    assert "POST /recommend, 2 users a request" in row["configuration"]
    assert "load avg" in row["note"]
