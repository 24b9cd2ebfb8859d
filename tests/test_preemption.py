"""A real training process killed (SIGKILL) or asked to stop (SIGTERM) resumes exactly;
non-finite steps are skipped and too many stop the run. CanvasMAR and VAE training share
these parts (train/trainer.py), so both are checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from canvasmar import losses
from canvasmar.cli import main
from tests.conftest import micro_overrides
from tests.kill_series import kill_series, metric_rows, run_to_end

RUN = [*micro_overrides(), "train.batch_size=2", "train.eval_every=1000", "train.eval_clips=2",
       "train.warmup_steps=2", "train.tensorboard=false", "train.threads=1",
       "train.device=cpu"]


def _curve(run_dir) -> dict[int, float]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _start(out, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "canvasmar.cli", "train", "tiny", "--out", str(out),
           "--no-progress", *RUN, *extra]
    return subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(out, step: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (out / "metrics.jsonl").is_file() and max(_curve(out), default=0) >= step:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no step {step} within {timeout} s")


@pytest.mark.slow
def test_sigkill_at_any_moment_then_resume_gives_the_uninterrupted_curve(tmp_path):
    steps = ["train.steps=30", "train.save_every=5"]
    full = tmp_path / "full"
    assert main(["train", "tiny", "--out", str(full), *RUN, *steps]) == 0
    reference = _curve(full)

    killed = tmp_path / "killed"
    proc = _start(killed, *steps)
    _wait_for_step(killed, 13, proc)  # past the step-10 checkpoint, before step 15's
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (killed / "latest").read_text().strip() in ("step_00000010", "step_00000015")
    assert main(["train", "tiny", "--out", str(killed), *RUN, *steps, "--resume"]) == 0
    resumed = _curve(killed)
    assert sorted(resumed) == list(range(1, 31))  # rows after the checkpoint were replaced
    for step in range(1, 31):
        assert abs(resumed[step] - reference[step]) <= 1e-6 * abs(reference[step]), step


SERIES = [*micro_overrides(), "train.steps=8", "train.save_every=1", "train.keep_last=2",
          "train.eval_every=1000", "train.eval_clips=2", "train.batch_size=2",
          "train.warmup_steps=2", "train.tensorboard=false", "train.device=cpu",
          "sample.steps=1", "sample.flow_steps=2"]  # the final preview: seconds, not a minute


@pytest.mark.slow
def test_sigkill_series_in_the_default_environment_ends_bitwise_equal(tmp_path):
    """A user's CPU run (no OMP_NUM_THREADS, no train.threads: torch's own thread count),
    killed with SIGKILL at least 10 times and requeued with the same `train --resume` command
    each time, ends bitwise equal to the same run left alone: the final checkpoint's weights,
    EMA weights and optimizer state (torch.equal on every tensor), the metrics.jsonl rows of
    every step (loss and its parts, grad norm, lr, the final validation), and the kept
    checkpoints. The kills (tests/kill_series.py) land at seeded, random moments of the run's
    life: while Python imports, right after the run lock is taken (two of them before the
    first checkpoint), inside checkpoint writes (a checkpoint every step; a `.tmp_step_*`
    folder of the killed process left behind, at least 2 such kills: `write` kills go on
    until they are seen), right after a step is logged, inside a step; later ones after the
    process's 2nd checkpoint or step, so that resumes start from later, pruned checkpoints.
    Every restart runs either to the end (exit 0) or until it is killed (no error, no
    traceback), and a lock left by a killed run is taken over with a notice."""
    from safetensors.torch import load_file

    reference = tmp_path / "reference"
    done = run_to_end(reference, SERIES)
    assert done.returncode == 0, done.stderr
    killed = tmp_path / "killed"
    kinds = ["import", "locked", "locked", "write", "row", "import", "write2", "step", "locked",
             "write2", "row2"]
    series = kill_series(killed, SERIES, final_step=8, seed=13, kinds=kinds)
    print(series.summary())

    assert len(series.kills) >= 10, series.summary()
    assert series.during_writes >= 2, series.summary()
    assert series.before_first_checkpoint >= 2, series.summary()
    for process in series.processes:  # the final run and any that ended before its kill
        assert process.killed or process.code == 0, process.stderr
        assert "Traceback" not in process.stderr and "error:" not in process.stderr
    assert series.processes[-1].kind == "final" and not series.processes[-1].lock_left
    for pid, stderr in series.takeovers():  # a killed run's lock was taken over, with a notice
        assert f"was locked by process {pid}, which no longer runs" in stderr, stderr

    rows, expected = metric_rows(killed), metric_rows(reference)
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))  # each step once
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):  # losses, grad norm, lr, validation
        assert row == want, f"step {want['step']}: {row} != {want}"
    assert (killed / "latest").read_text() == (reference / "latest").read_text()
    kept = sorted(p.name for p in (reference / "checkpoints").iterdir())
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == kept  # no .tmp left
    a, b = (run / "checkpoints" / kept[-1] for run in (reference, killed))
    for name in ("model.safetensors", "ema.safetensors"):
        _assert_bitwise_equal(load_file(str(a / name)), load_file(str(b / name)), name)
    _assert_bitwise_equal(torch.load(a / "train_state.pt", weights_only=True),
                          torch.load(b / "train_state.pt", weights_only=True), "train_state")


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    proc = _start(out, "train.steps=10000", "train.save_every=10000")
    _wait_for_step(out, 3, proc)
    proc.send_signal(signal.SIGTERM)
    out_text, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "(SIGTERM); checkpoint written: continue with --resume" in out_text
    last = max(_curve(out))
    assert (out / "latest").read_text().strip() == f"step_{last:08d}"
    state = torch.load(out / "checkpoints" / f"step_{last:08d}" / "train_state.pt",
                       weights_only=True)
    assert state["step"] == last


def test_nonfinite_steps_are_skipped_then_stop_the_run(tmp_path, monkeypatch, capsys):
    real = losses.training_losses
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        if calls["n"] == 2 or calls["n"] >= 4:  # step 2, then every step from step 4
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(losses, "training_losses", poisoned)
    out = tmp_path / "run"
    code = main(["train", "tiny", "--out", str(out), *RUN, "train.steps=20",
                 "train.save_every=1", "train.max_nonfinite=3", "train.keep_last=10"])
    assert code == 2
    assert "3 training steps in a row" in capsys.readouterr().err
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    skipped = [r["step"] for r in rows if "skipped" in r]
    assert skipped == [2, 4, 5, 6]
    # a skipped step leaves the weights alone: checkpoints 1 and 2 are identical
    from safetensors.torch import load_file

    one, two, three = (load_file(str(out / f"checkpoints/step_0000000{s}/model.safetensors"))
                       for s in (1, 2, 3))
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert any(not torch.equal(two[k], three[k]) for k in two)  # step 3 was applied


# The VAE trainer shares the skeleton (train/trainer.py): the same stop and guard.
VAE = ["model.base_channels=4", "model.max_channels=8", "model.latent_channels=4",
       "data.resolution=16", "data.frames=3", "model.temporal=1", "train.batch_size=2",
       "train.eval_clips=2", "stats_clips=4", "train.warmup_steps=1", "train.threads=1",
       "train.tensorboard=false", "crop=8", "loss.disc_weight=0.1", "loss.disc_start=2",
       "loss.disc_channels=4", "loss.disc_layers=2"]


def _vae(out, *extra: str) -> int:
    return main(["vae", "train", "vae-tiny", "--out", str(out), "--no-progress", *VAE, *extra])


def _assert_bitwise_equal(a, b, where: str = "") -> None:
    """Nested train states / state dicts: same keys, tensors equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if key != "train_seconds":  # wall-clock time
                _assert_bitwise_equal(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_bitwise_equal(x, y, f"{where}/{i}")
    else:
        assert a == b, where


def _poison_kl(monkeypatch, effect) -> None:
    """Wrap the VAE trainer's KL term (called once per training step) with effect(call, kl)."""
    from canvasmar.train import vae as vae_train

    real, calls = vae_train.kl_divergence, {"n": 0}

    def wrapped(*args):
        calls["n"] += 1
        return effect(calls["n"], real(*args))

    monkeypatch.setattr(vae_train, "kl_divergence", wrapped)


def test_vae_sigterm_checkpoints_and_the_resumed_run_ends_bitwise_equal(tmp_path, monkeypatch,
                                                                       capsys):
    from safetensors.torch import load_file

    steps = ["train.steps=6", "train.save_every=100", "train.eval_every=100"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _vae(full, *steps) == 0

    def sigterm_in_step_3(call, kl):
        if call == 3:  # a real signal, in the middle of step 3 (the discriminator is on)
            os.kill(os.getpid(), signal.SIGTERM)
        return kl

    _poison_kl(monkeypatch, sigterm_in_step_3)
    assert _vae(cut, *steps) == 0
    assert ("stopped at step 3 (SIGTERM); checkpoint written: continue with --resume"
            in capsys.readouterr().out)
    assert (cut / "latest").read_text() == "step_00000003"
    assert not (cut / "checkpoints/step_00000003/latent_stats.json").exists()  # not finished
    monkeypatch.undo()
    assert _vae(cut, *steps, "--resume") == 0
    assert max(_curve(cut)) == 6 and _curve(cut) == _curve(full)
    a, b = (run / "checkpoints/step_00000006" for run in (full, cut))
    _assert_bitwise_equal(load_file(str(a / "model.safetensors")),
                          load_file(str(b / "model.safetensors")))
    _assert_bitwise_equal(torch.load(a / "train_state.pt", weights_only=True),
                          torch.load(b / "train_state.pt", weights_only=True))  # Adam, disc
    assert (a / "latent_stats.json").read_text() == (b / "latent_stats.json").read_text()


def test_vae_nonfinite_steps_are_skipped_then_stop_the_run(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    _poison_kl(monkeypatch, lambda call, kl: kl * float("nan") if call == 2 or call >= 4 else kl)
    out = tmp_path / "run"
    assert _vae(out, "train.steps=20", "train.save_every=1", "train.eval_every=100",
                "train.max_nonfinite=3", "train.keep_last=10") == 2
    assert "3 training steps in a row" in capsys.readouterr().err
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "skipped" in r] == [2, 4, 5, 6]
    one, two, three = (load_file(str(out / f"checkpoints/step_0000000{s}/model.safetensors"))
                       for s in (1, 2, 3))
    assert all(torch.equal(one[k], two[k]) for k in one)  # the skipped step changed nothing
    assert any(not torch.equal(two[k], three[k]) for k in two)
