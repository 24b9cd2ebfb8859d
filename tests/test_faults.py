"""Faults a user meets with real processes: a second run in a running run's folder, a killed
run's stale lock, a run killed while writing its final outputs, signals during `eval` and
`sample`. (Bad inputs: tests/test_probes.py; SIGKILL series: tests/test_preemption.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from canvasmar.cli import main
from tests.probe_world import RUN_OVERRIDES, make_world


def _default_signals() -> None:
    """In the child: SIGINT as a terminal delivers it (a job started in the background, as CI
    or nohup may run the tests, inherits SIGINT ignored, and Python then keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "canvasmar", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s")


def _steps_logged(out: Path) -> int:
    path = out / "metrics.jsonl"
    if not path.is_file():
        return 0
    return max((json.loads(x).get("step", 0) for x in path.read_text().splitlines() if x),
               default=0)


@pytest.mark.slow
def test_a_second_run_is_refused_and_a_killed_runs_lock_is_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    train = ["train", "tiny", "--out", str(out), "--no-progress", *RUN_OVERRIDES,
             "train.steps=100000", "train.save_every=2", "train.eval_every=100000"]
    first = _start(*train)
    try:
        _wait_for(lambda: _steps_logged(out) >= 3, first)
        for extra in (["--resume"], ["--force"]):
            assert main([*train, *extra]) == 2
            err = capsys.readouterr().err
            assert f"in use by a run of process {first.pid}" in err, err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert main([*train[:-3], "train.steps=4", "train.save_every=2", "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"locked by process {first.pid}, which no longer runs" in err, err


def test_a_run_killed_while_writing_its_final_outputs_is_finished_by_a_rerun(tmp_path, capsys):
    out = tmp_path / "run"
    train = ["train", "tiny", "--out", str(out), "--no-progress", *RUN_OVERRIDES]
    assert main(train) == 0
    finals = [out / name for name in ("preview.png", "preview.mp4", "losses.png")]
    for path in finals:  # killed after the last checkpoint, before these were written
        path.unlink()
    capsys.readouterr()
    assert main([*train, "--resume"]) == 0  # a requeue of the same command
    assert "already reached step 2 (train.steps=2)" in capsys.readouterr().err
    assert all(path.is_file() and path.stat().st_size > 1000 for path in finals)


@pytest.mark.slow
def test_sigterm_during_eval_saves_its_state_and_the_same_command_continues(tmp_path):
    world = make_world(tmp_path / "user")
    out, log = tmp_path / "eval.json", tmp_path / "stderr.txt"
    argv = ["eval", "--checkpoint", str(world["run"]), "--protocol", "builtin-quick",
            "--num-videos", "32", "--samples", "2", "--batch-size", "1", "--flow-steps", "2",
            "--out", str(out)]
    with log.open("w") as stderr:  # the progress bar says when scoring has begun
        proc = subprocess.Popen([sys.executable, "-m", "canvasmar", *argv], stderr=stderr,
                                stdout=subprocess.DEVNULL, text=True)
        _wait_for(lambda: max(map(int, re.findall(r"(\d+)%\|", log.read_text())),
                              default=0) >= 2, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 130
    err = log.read_text()
    assert "state is saved in OUT.partial.pt" in err and "Traceback" not in err, err
    partial = tmp_path / "eval.partial.pt"
    assert partial.is_file() and not out.exists()
    assert main([*argv, "--no-progress"]) == 0  # continues from the saved batch
    assert out.is_file() and not partial.exists()
    reference = tmp_path / "reference.json"
    assert main([*argv[:-1], str(reference), "--no-progress"]) == 0
    assert json.loads(out.read_text())["results"] == json.loads(reference.read_text())["results"]


@pytest.mark.slow
def test_ctrl_c_in_sample_says_nothing_was_written(tmp_path):
    world = make_world(tmp_path / "user")
    out, log = tmp_path / "s.mp4", tmp_path / "stderr.txt"
    argv = ["sample", "--checkpoint", str(world["run"]), "--out", str(out), "--frames", "400",
            "--clips", "4"]
    # Ctrl-C once sampling runs (its progress bar has started): on a loaded machine a fixed
    # sleep could land in Python's start-up imports, before the command's own handler exists
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "canvasmar", *argv], stderr=stderr,
                                stdout=subprocess.DEVNULL, text=True,
                                preexec_fn=_default_signals)
        _wait_for(lambda: re.search(r"\d+%\|", log.read_text()) is not None, proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    err = log.read_text()
    # A shell reports 130 both for `return 130` and for a process that ends by SIGINT (-2
    # here); the second was seen once in CI under load (2026-12-02), after the message was
    # printed, so what the user sees is the same: the message, no output, no traceback.
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "interrupted; nothing was written" in err, err
    assert "--resume" not in err and "Traceback" not in err
    assert not out.exists()


def test_python_dash_m_canvasmar_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "canvasmar", "info", "tiny"],
                          capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert done.returncode == 0 and "total parameters" in done.stdout


def test_a_data_folder_with_a_broken_link_a_pipe_and_junk_still_trains(tmp_path, capsys):
    """Once a dangling .mp4 link stopped `train` and `data inspect` with a traceback and a
    FIFO named .mp4 hung the loader: now both are skipped and reported like any bad file."""
    world = make_world(tmp_path / "user")
    for i in range(5):  # enough good videos for a train and a val split
        shutil.copy(world["data"] / "good.mp4", world["data"] / f"good{i}.mp4")
    assert main(["data", "inspect", str(world["data"]), "--sheet",
                 str(tmp_path / "sheet.png"), "--frames", "4"]) == 0
    out = capsys.readouterr().out
    assert "dangling.mp4: broken symbolic link" in out
    assert "pipe.mp4: not a regular file" in out and "junk.mp4: unreadable" in out
    assert main(["train", "tiny", "--out", str(tmp_path / "run"), "--data", str(world["data"]),
                 *RUN_OVERRIDES, "train.steps=1", "data.val_fraction=0.5"]) == 0
    assert (tmp_path / "run" / "checkpoints" / "step_00000001").is_dir()
