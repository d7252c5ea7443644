"""Surroundings that go away: a closed pipe, a closed terminal, SIGHUP, SIGTERM under nohup;
and the progress display (a bar on a terminal, plain lines elsewhere).

Each test is a row of docs/faults.md. The real signals, pipes and terminals need their own
process: those few tests are marked slow."""
from __future__ import annotations

import io
import itertools
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from tqdm import tqdm

from graphrec.training import progress_bar, streams, train
from graphrec.training.faults import InterruptFlag
from conftest import ROOT, make_cfg


def _broken_pipe():
    """A text stream whose reader is gone: the next flush raises BrokenPipeError."""
    r, w = os.pipe()
    os.close(r)
    return open(w, "w")


# ------------------------------------------------------------------ the progress display
def test_progress_lines_off_a_terminal_at_a_steady_interval():
    out, now = io.StringIO(), iter([0.0, 10.0, 29.0, 31.0, 45.0, 61.5, 70.0])
    bar = progress_bar.make(100, 0, "epoch 3", True, every_s=30, stream=out,
                            clock=lambda: next(now))
    assert isinstance(bar, progress_bar.Lines)
    bar.set_postfix(loss="0.5000", samples_s="1,000")
    for _ in range(6):  # at t = 10, 29, 31, 45, 61.5, 70
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()  # at t=31 and t=61.5
    assert lines[0] == "epoch 3: 3/100 steps (3%) loss=0.5000 samples_s=1,000 | ETA 16:42"


def test_progress_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = progress_bar.make(10, 0, "epoch 0", True, 30, stream=Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress_bar.make(10, 0, "e", False, 30, stream=Terminal()),
                      progress_bar.Quiet)


# ------------------------------------------------------------------ streams and signals
def test_a_closed_stream_is_dropped_and_reported_once():
    causes = []
    undo = streams.on_lost(causes.append)
    try:
        stream = streams.GuardedStream(_broken_pipe(), "stdout")
        stream.write("a line\n")
        stream.flush()  # the pipe's error surfaces here, and is dropped
        stream.write("another\n")
        stream.flush()
    finally:
        undo()
    assert stream.lost and not stream.isatty() and causes == ["stdout closed"]


def test_text_the_stream_cannot_encode_still_raises():
    raw = io.BytesIO()
    stream = streams.GuardedStream(io.TextIOWrapper(raw, encoding="ascii"), "stdout")
    with pytest.raises(UnicodeEncodeError):
        stream.write("\u00e9")
    assert not stream.lost


def test_sighup_is_an_interrupt_and_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as nohup does for SIGHUP
    # the suite itself may run under nohup, which ignores SIGHUP: this test needs it live
    hup = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with InterruptFlag() as stop:
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)
            assert stop.is_set and stop.cause == "SIGHUP"
            signal.raise_signal(signal.SIGINT)  # another kind while stopping: nothing
            with pytest.raises(KeyboardInterrupt):  # the same kind again: the user insists
                signal.raise_signal(signal.SIGHUP)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, hup)


def test_closed_stderr_stops_the_run_like_an_interrupt(tmp_path, monkeypatch, caplog):
    """The progress line's write fails (its pipe closed): the step finishes, last.pt and the
    record are written, and the log's last line says how to resume."""
    monkeypatch.setattr(sys, "stderr", streams.GuardedStream(_broken_pipe(), "stderr"))
    ticks = itertools.count(0, 100.0)  # every step is a progress line's time
    monkeypatch.setattr(progress_bar, "_now", lambda: next(ticks))
    with caplog.at_level(logging.WARNING, logger="graphrec"):
        m = train(make_cfg(["trainer.progress=true"]), out_dir=str(tmp_path))
    assert m["status"] == "interrupted"
    assert m["interrupted_at"] == {"epoch": 0, "step": 1, "cause": "stderr closed"}
    assert (tmp_path / "last.pt").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    last = [r.getMessage() for r in caplog.records][-1]
    assert last.startswith("interrupted (stderr closed) at epoch 0 step 1: resumable checkpoint")
    assert f"resume with: python train.py trainer.resume={tmp_path}" in last


# ------------------------------------------------------------------ real processes
TINY = ["data.n_users=200", "data.n_items=300", "sampling=neg128", "model=mf",
        "trainer.epochs=300", "trainer.patience=0"]


def _cmd(run_dir, *extra):
    return [sys.executable, str(ROOT / "train.py"), f"hydra.run.dir={run_dir}", *TINY, *extra]


def _env():
    return {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


@contextmanager
def _reaped(proc):
    """No run left behind by a failed test."""
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_for(path, proc=None, timeout=180):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        assert proc is None or proc.poll() is None, "the run ended early"
        time.sleep(0.1)


def _stopped_cleanly(run_dir, causes):
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["interrupted_at"]["cause"] in causes
    assert (run_dir / "last.pt").exists()
    last = (run_dir / "train.log").read_text().strip().splitlines()[-1]
    assert f"resume with: python train.py trainer.resume={run_dir}" in last, last
    return record


@pytest.mark.slow
@pytest.mark.parametrize("ctrl_c", [False, True])
def test_cli_pipe_closed_by_its_reader_stops_cleanly(tmp_path, ctrl_c):
    """``python train.py | head``; and ``2>&1 | tee log`` then Ctrl-C, which kills tee too
    (SIGINT to the whole foreground group): the run's next write finds the pipe closed."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(_cmd(run_dir), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    seen = b""
    with _reaped(proc):
        while b"epoch 1 |" not in seen:  # the reader reads a little, then goes away
            line = proc.stdout.readline()
            assert line, seen.decode()[-2000:]
            seen += line
        if ctrl_c:  # the run, then tee
            os.killpg(proc.pid, signal.SIGINT)
        proc.stdout.close()
        assert proc.wait(timeout=180) == 130
    assert b"\r" not in seen  # no progress bar redraws in a pipe
    _stopped_cleanly(run_dir, ("SIGINT",) if ctrl_c else ("stdout closed", "stderr closed"))


@pytest.mark.slow
def test_cli_terminal_closed_stops_cleanly(tmp_path):
    """The terminal goes (SIGHUP to its session, then EIO on every write)."""
    pty = pytest.importorskip("pty")
    run_dir = tmp_path / "run"
    pid, fd = pty.fork()
    if pid == 0:  # the child: train.py on the terminal
        try:
            os.chdir(tmp_path)
            os.execve(sys.executable, _cmd(run_dir), _env())
        finally:
            os._exit(127)
    seen, status = b"", None
    try:
        deadline = time.monotonic() + 180
        while b"epoch 1 |" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 1.0)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the run ended early
                    break
                if not chunk:
                    break
                seen += chunk
        os.close(fd)  # the terminal closes
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130, seen.decode()[-2000:]
    assert b"\r" in seen  # on a terminal, the bar
    _stopped_cleanly(run_dir, ("SIGHUP", "stdout closed", "stderr closed"))


@pytest.mark.slow
def test_cli_nohup_ignores_sighup_and_stops_cleanly_on_sigterm(tmp_path):
    run_dir = tmp_path / "run"
    with open(tmp_path / "out.log", "w") as log:
        proc = subprocess.Popen(["nohup", *_cmd(run_dir)], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, env=_env())
    with _reaped(proc):
        _wait_for(run_dir / "best.pt", proc)
        proc.send_signal(signal.SIGHUP)  # nohup execs the run: the same process
        rows = (run_dir / "epochs.csv").read_text().count("\n")
        deadline = time.monotonic() + 120
        while (run_dir / "epochs.csv").read_text().count("\n") < rows + 2:  # still training
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=180) == 130
    _stopped_cleanly(run_dir, ("SIGTERM",))
