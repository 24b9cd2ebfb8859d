"""The shared training skeleton (train/trainer.py) on a toy task: when it validates and saves,
how it stops on a signal or a time limit and resumes bitwise, and how it skips non-finite
steps. The CanvasMAR and VAE tasks are tested through the command line (test_preemption.py,
test_cli.py, test_vae_tokenizer.py)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
from dataclasses import dataclass, field

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from canvasmar import checkpoint as ckpt
from canvasmar.config import TrainConfig, from_dict
from canvasmar.config.loading import migrate
from canvasmar.errors import UserError
from canvasmar.train.optim import build_optimizer
from canvasmar.train.run_folder import ResumePoint, RunFolder
from canvasmar.train.trainer import CheckpointParts, StepOutcome, run_training, step_generator


@dataclass(frozen=True)
class ToyModel:
    width: int = 4


@dataclass(frozen=True)
class ToyConfig:
    name: str = "toy"
    model: ToyModel = field(default_factory=ToyModel)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=8, batch_size=4, lr=0.05, warmup_steps=1, eval_every=3, save_every=4,
        keep_last=20, tensorboard=False, ema_decay=0.0))


class ToyTask:
    """Linear regression; `poison`: 1-based steps whose loss is NaN; `signal_at`: the step
    during which the process sends itself SIGTERM."""

    def __init__(self, cfg: ToyConfig, start: ResumePoint | None, poison: tuple = (),
                 signal_at: int = 0) -> None:
        self.cfg, self.name, self.poison, self.signal_at = cfg, "toy", poison, signal_at
        self.net = nn.Linear(cfg.model.width, 1)
        self.optimizers = [build_optimizer(self.net, cfg.train)]
        if start is not None:
            ckpt.load_weights(self.net, start.path)
            self.optimizers[0].load_state_dict(start.state["optimizer"])
        self.finished = None

    def train_step(self, step, stop_requested):
        x = torch.randn(4, self.cfg.model.width, generator=step_generator(0, step))
        loss = (self.net(x) - x.sum(1, keepdim=True)).pow(2).mean()
        if step + 1 in self.poison:
            loss = loss * float("nan")
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.net.parameters(), 1.0).item()
        if step + 1 == self.signal_at:
            os.kill(os.getpid(), signal.SIGTERM)  # as SLURM would, in the middle of a step
        finite = math.isfinite(loss.item()) and math.isfinite(grad_norm)
        return StepOutcome({"loss": loss.item(), "grad_norm": grad_norm}, finite,
                           stop_requested())

    def apply_update(self, step):
        self.optimizers[0].step()

    def validate(self, progress, log):
        return {"val_step": float(progress.step)}

    def describe(self, progress, val):
        return f"validated at {progress.step}"

    def postfix(self, row):
        return {}

    def checkpoint(self, progress):
        return CheckpointParts(self.net.state_dict(),
                               {"optimizer": self.optimizers[0].state_dict()})

    def finish(self, outcome):
        self.finished = outcome
        return outcome


def _folder(out) -> RunFolder:
    return RunFolder(out, fixed=("model",),
                     parse=lambda text: from_dict(ToyConfig, migrate(json.loads(text))))


def _train(out, cfg: ToyConfig | None = None, resume=False, **task_kw):
    cfg = cfg or ToyConfig()
    return run_training(lambda start: ToyTask(cfg, start, **task_kw), _folder(out), cfg,
                        resume, False, False)


def _rows(out) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def _with(cfg: ToyConfig, **train) -> ToyConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train))


def test_validates_and_saves_on_schedule_and_at_the_end(tmp_path):
    outcome = _train(tmp_path)
    assert outcome.completed and outcome.progress.step == 8
    rows = _rows(tmp_path)
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))
    assert [r["step"] for r in rows if "val_step" in r] == [3, 6, 8]
    assert outcome.val == outcome.last_val == {"val_step": 8.0}
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_00000004", "step_00000008"]
    assert outcome.checkpoint == ckpt.resolve_checkpoint(tmp_path)
    state = ckpt.load_train_state(outcome.checkpoint)
    assert state["step"] == 8 and state["train_seconds"] > 0 and "optimizer" in state
    assert all(r["sec_per_step"] > 0 and "lr" in r for r in rows if "loss" in r)


@pytest.mark.parametrize("how", ["sigterm", "time_limit"])
def test_a_stop_request_checkpoints_then_resume_ends_bitwise_equal(tmp_path, capsys, how):
    full = tmp_path / "full"
    _train(full)
    stopped, handler = tmp_path / "stopped", signal.getsignal(signal.SIGTERM)
    if how == "sigterm":
        outcome = _train(stopped, signal_at=3)
        reason, step = "SIGTERM", 3
    else:  # a limit that has passed by the first step's end
        outcome = _train(stopped, _with(ToyConfig(), time_limit_min=1e-9))
        reason, step = "train.time_limit_min", 1
    assert not outcome.completed and outcome.progress.step == step
    assert (f"stopped at step {step} ({reason}); checkpoint written: continue with --resume"
            in capsys.readouterr().out)
    assert (stopped / "latest").read_text() == f"step_{step:08d}"
    assert signal.getsignal(signal.SIGTERM) is handler  # the previous handler is put back
    assert _train(stopped, resume=True).completed
    a, b = (load_file(str(run / "checkpoints/step_00000008/model.safetensors"))
            for run in (full, stopped))
    assert all(torch.equal(a[k], b[k]) for k in a)
    losses = [[r["loss"] for r in _rows(run) if "loss" in r] for run in (full, stopped)]
    assert losses[0] == losses[1]


def test_nonfinite_steps_are_skipped_and_too_many_stop_the_run(tmp_path, capsys):
    cfg = _with(ToyConfig(), steps=20, save_every=1, max_nonfinite=3)
    with pytest.raises(UserError, match="3 training steps in a row up to step 6"):
        _train(tmp_path, cfg, poison=(2, 4, 5, 6, 7))
    assert [r["step"] for r in _rows(tmp_path) if "skipped" in r] == [2, 4, 5, 6]
    assert "step 2: non-finite loss or gradient, update skipped (1 in a row)" in \
        capsys.readouterr().out
    one, two, three = (load_file(str(tmp_path / f"checkpoints/step_0000000{s}/model.safetensors"))
                       for s in (1, 2, 3))
    assert all(torch.equal(one[k], two[k]) for k in one)  # the skipped step changed nothing
    assert any(not torch.equal(two[k], three[k]) for k in two)


def test_resume_drops_metrics_after_the_checkpoint_and_finishes_a_finished_run(tmp_path,
                                                                                capsys):
    _train(tmp_path, _with(ToyConfig(), steps=4))
    with (tmp_path / "metrics.jsonl").open("a") as f:  # rows of a run killed after step 4
        f.write(json.dumps({"step": 5, "loss": 1.0}) + "\n")
    point = _folder(tmp_path).resume_point(is_main=True)
    assert point.step == 4 and point.path.name == "step_00000004"
    assert max(r["step"] for r in _rows(tmp_path)) == 4
    rows = len(_rows(tmp_path))
    # Killed while writing its final outputs, the run is requeued with --resume: nothing is
    # trained, the final weights are validated again and finish() runs (its outputs written).
    outcome = _train(tmp_path, _with(ToyConfig(), steps=4), resume=True)
    assert outcome.completed and outcome.val == {"val_step": 4.0}
    assert outcome.checkpoint == point.path and len(_rows(tmp_path)) == rows
    assert "already reached step 4 (train.steps=4)" in capsys.readouterr().err
    with pytest.raises(UserError, match="the model.\\* settings differ"):
        _folder(tmp_path).check(ToyConfig(model=ToyModel(width=5)), resume=True, force=False)


def test_force_deletes_only_what_a_run_wrote(tmp_path):
    _train(tmp_path, _with(ToyConfig(), steps=4))
    mine = {"notes.txt": b"the user's notes", "checkpoints/keep.txt": b"a file of theirs",
            "data/clip.mp4": b"their data"}
    for name, content in mine.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError, match="already holds a run; pass --resume"):
        _train(tmp_path, _with(ToyConfig(), steps=4))
    outcome = run_training(lambda start: ToyTask(ToyConfig(), start), _folder(tmp_path),
                           _with(ToyConfig(), steps=2), False, True, False)
    assert outcome.progress.step == 2
    assert all((tmp_path / name).read_bytes() == content for name, content in mine.items())
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_00000002"]


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_of_the_users_files_is_never_trained_into(tmp_path, force):
    (tmp_path / "preview.png").write_bytes(b"the user's own picture")
    with pytest.raises(UserError, match="preview.png already exists and .* holds no run"):
        run_training(lambda start: ToyTask(ToyConfig(), start), _folder(tmp_path), ToyConfig(),
                     False, force, False)
    assert (tmp_path / "preview.png").read_bytes() == b"the user's own picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preview.png"]  # not even a lock


def test_resume_works_before_the_first_checkpoint(tmp_path, capsys):
    """A requeued job runs the same command with --resume at any moment: before the folder
    exists, and after the run started but before its first checkpoint."""
    fresh = _train(tmp_path / "new", _with(ToyConfig(), steps=2), resume=True)
    assert fresh.progress.step == 2
    assert "holds no run yet; starting one" in capsys.readouterr().err
    early = tmp_path / "early"
    _train(early, _with(ToyConfig(), steps=2))
    for path in (early / "checkpoints").iterdir():  # preempted before its first checkpoint
        import shutil

        shutil.rmtree(path)
    (early / "latest").unlink()
    again = _train(early, _with(ToyConfig(), steps=2), resume=True)
    assert again.progress.step == 2 and [r["step"] for r in _rows(early) if "loss" in r] == [
        1, 2]
    assert "has no checkpoint yet; starting it over" in capsys.readouterr().err


def test_a_second_run_in_the_same_folder_is_refused_with_the_first_ones_pid(tmp_path):
    import subprocess
    import sys

    hold = ("import sys, time\nfrom canvasmar.runlock import RunLock\n"
            "with RunLock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for resume in (False, True):
            with pytest.raises(UserError, match=f"in use by a run of process {holder.pid}"):
                _train(tmp_path, resume=resume)
    finally:
        holder.kill()
        holder.wait()
    outcome = _train(tmp_path, _with(ToyConfig(), steps=1))  # the stale lock is taken over
    assert outcome.progress.step == 1
