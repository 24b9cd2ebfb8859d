"""The run folder of a training run: checked, started and resumed in one place.

Every rule about what may happen to `--out` lives here:
- one run at a time: the main process holds OUT/.lock (runlock.py) from the checks to the end;
  a second run is refused with the first one's PID, a lock left by a killed run is taken over;
- never clobber: without --resume or --force an existing run is refused; a folder that holds
  no run but holds a file of a run's names (the user's own preview.png, say) is refused even
  with --force; --force deletes only what a run writes (RUN_FILES, checkpoints/step_*), never
  anything else in the folder;
- requeue-safe --resume: a folder with no run yet, or a run preempted before its first
  checkpoint, starts from step 0 (with a notice) instead of failing, so that an automatic
  requeue of the same command works at any moment; a run that already reached train.steps is
  finished (final previews) instead of refused (train/trainer.py);
- resume only what matches (model/data settings), from the latest checkpoint, dropping the
  metrics rows logged after it. Layout: checkpoint.py.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from canvasmar import checkpoint as ckpt
from canvasmar.config import config_from_json, save_config_json, to_dict
from canvasmar.errors import UserError
from canvasmar.runlock import RunLock
from canvasmar.train import dist
from canvasmar.train.observe import truncate_metrics

# What a run writes at the top of its folder (besides checkpoints/step_*): --force deletes these
# and nothing else; a folder holding one of them but no run is never written into.
RUN_FILES = ("config.json", "latest", "metrics.jsonl", "losses.png", "preview.png",
             "preview.mp4")
RUN_DIRS = ("tensorboard", "previews")


def _notice(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a resumed run starts from: its folder, training state and step."""

    path: Path
    state: dict = field(repr=False)

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def train_seconds(self) -> float:
        return float(self.state.get("train_seconds", 0.0))


@dataclass(frozen=True)
class RunFolder:
    """`out` for one kind of run: `fixed` config sections must match on --resume, `parse`
    reads the saved config.json (the CanvasMAR and the VAE configs differ)."""

    out: Path
    fixed: tuple[str, ...] = ("model", "tokenizer", "data", "loss")
    parse: Callable[[str], Any] = config_from_json

    def has_run(self) -> bool:
        return (self.out / "config.json").is_file() or (self.out / ckpt.LATEST).is_file()

    def check(self, cfg: Any, resume: bool, force: bool, notices: bool = True) -> bool:
        """Refuse to clobber a run or the user's files, or to resume a run that does not match
        (read-only). Returns whether there is a checkpoint to resume from."""
        say = _notice if notices else (lambda message: None)
        if not self.has_run():
            theirs = [n for n in (*RUN_FILES, *RUN_DIRS) if (self.out / n).exists()]
            if theirs:
                raise UserError(f"{self.out / theirs[0]} already exists and {self.out} holds no "
                                f"run: choose another --out (training replaces only files of "
                                f"its own runs)")
            if resume:
                say(f"--resume: {self.out} holds no run yet; starting one")
            return False
        if not (self.out / ckpt.LATEST).is_file():  # a start that failed or was preempted early:
            say(f"the run in {self.out} has no checkpoint yet; starting it over")  # nothing
            return False  # of value to lose, and a requeue or a corrected command just works
        if not resume:
            if not force:
                raise UserError(f"{self.out} already holds a run; pass --resume to continue it "
                                f"or --force to start over (deletes its checkpoints)")
            return False
        saved = ckpt.load_checkpoint_config(self.out, self.parse)
        for section in self.fixed:
            if to_dict(getattr(saved, section)) != to_dict(getattr(cfg, section)):
                raise UserError(f"--resume: the {section}.* settings differ from the run in "
                                f"{self.out}; only train.* may change when resuming")
        return True

    def init(self, cfg: Any) -> None:
        """Start a fresh run in the folder (after `check` allowed it); main process only.
        Deletes only what a run writes: its files, checkpoints/step_* and its folders."""
        for name in RUN_FILES:
            (self.out / name).unlink(missing_ok=True)
        for name in RUN_DIRS:
            shutil.rmtree(self.out / name, ignore_errors=True)
        for old in (self.out / "checkpoints").glob("*step_*"):
            shutil.rmtree(old, ignore_errors=True)
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt.write_text_atomic(self.out / "config.json", save_config_json(cfg))

    @contextmanager
    def locked(self, is_main: bool = True) -> Iterator[None]:
        """Hold OUT/.lock for the block (main process): a second run is refused."""
        if not is_main:
            yield
            return
        with RunLock(self.out) as lock:
            if lock.previous_pid is not None:
                _notice(f"{self.out} was locked by process {lock.previous_pid}, which no "
                        f"longer runs; taking the folder over")
            yield

    def prepare(self, cfg: Any, resume: bool, force: bool,
                ctx: dist.DistContext | None = None, notices: bool = True
                ) -> ResumePoint | None:
        """check (every process; again under the lock) and the point to resume from (None:
        a fresh start, for which `start_fresh` is called once the task is built, so that a
        task that cannot be built, e.g. for a wrong data path, leaves the folder alone).
        Call inside `locked`."""
        ctx = ctx or dist.DistContext()
        resume = self.check(cfg, resume, force, notices)
        return self.resume_point(ctx.is_main) if resume else None

    def start_fresh(self, cfg: Any, ctx: dist.DistContext) -> None:
        """init on the main process, between barriers."""
        dist.barrier(ctx)
        if ctx.is_main:
            self.init(cfg)
        dist.barrier(ctx)

    def resume_point(self, is_main: bool) -> ResumePoint:
        """The latest checkpoint and its state; metrics rows after it are dropped (they are
        logged again) by the main process."""
        path = ckpt.resolve_checkpoint(self.out)
        point = ResumePoint(path, ckpt.load_train_state(path))
        if is_main:
            truncate_metrics(self.out / "metrics.jsonl", point.step)
        return point

    def save(self, step: int, weights: dict[str, torch.Tensor], cfg: Any, state: dict,
             keep_last: int, ema: dict[str, torch.Tensor] | None = None) -> Path:
        """checkpoints/step_N (atomic) and `latest`; main process only."""
        return ckpt.save_checkpoint(self.out, step, weights, cfg, state, keep_last=keep_last,
                                    ema=ema)
