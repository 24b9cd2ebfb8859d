"""The run folder of a training run: checked, started and resumed in one place.

Every rule about what may happen to `--out` lives here (refuse to clobber a run, refuse to
resume one whose model/data settings differ, wipe a run on `--force`, find the checkpoint to
resume from and drop the metrics rows logged after it), so that a lock on the folder can later
be taken here too. Layout: checkpoint.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from canvasmar import checkpoint as ckpt
from canvasmar.config import config_from_json, save_config_json, to_dict
from canvasmar.errors import UserError
from canvasmar.train import dist
from canvasmar.train.observe import truncate_metrics


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

    def check(self, cfg: Any, resume: bool, force: bool) -> None:
        """Refuse to clobber a run, or to resume one that does not match (read-only)."""
        has_run = (self.out / "config.json").exists() or (self.out / "checkpoints").exists()
        if resume:
            if not has_run:
                raise UserError(f"--resume: {self.out} holds no run to resume; drop --resume "
                                f"to start one")
            saved = ckpt.load_checkpoint_config(self.out, self.parse)
            for section in self.fixed:
                if to_dict(getattr(saved, section)) != to_dict(getattr(cfg, section)):
                    raise UserError(f"--resume: the {section}.* settings differ from the run "
                                    f"in {self.out}; only train.* may change when resuming")
        elif has_run and not force:
            raise UserError(f"{self.out} already holds a run; pass --resume to continue it or "
                            f"--force to start over (deletes its checkpoints)")

    def init(self, cfg: Any, resume: bool) -> None:
        """Start a fresh run folder (after `check` allowed it); main process only."""
        if resume:
            return
        shutil.rmtree(self.out / "checkpoints", ignore_errors=True)
        shutil.rmtree(self.out / "tensorboard", ignore_errors=True)
        for name in ("latest", "metrics.jsonl"):
            (self.out / name).unlink(missing_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt.write_text_atomic(self.out / "config.json", save_config_json(cfg))

    def prepare(self, cfg: Any, resume: bool, force: bool,
                ctx: dist.DistContext | None = None) -> ResumePoint | None:
        """check (every process), init (the main one), and the point to resume from."""
        ctx = ctx or dist.DistContext()
        self.check(cfg, resume, force)
        dist.barrier(ctx)
        if ctx.is_main:
            self.init(cfg, resume)
        dist.barrier(ctx)
        return self.resume_point(cfg.train.steps, ctx.is_main) if resume else None

    def resume_point(self, steps: int, is_main: bool) -> ResumePoint:
        """The latest checkpoint and its state; metrics rows after it are dropped (they are
        logged again) by the main process. Reaching train.steps already is an error."""
        path = ckpt.resolve_checkpoint(self.out)
        point = ResumePoint(path, ckpt.load_train_state(path))
        if point.step >= steps:
            raise UserError(f"the run in {self.out} already reached step {point.step}; raise "
                            f"train.steps to train further")
        if is_main:
            truncate_metrics(self.out / "metrics.jsonl", point.step)
        return point

    def save(self, step: int, weights: dict[str, torch.Tensor], cfg: Any, state: dict,
             keep_last: int, ema: dict[str, torch.Tensor] | None = None) -> Path:
        """checkpoints/step_N (atomic) and `latest`; main process only."""
        return ckpt.save_checkpoint(self.out, step, weights, cfg, state, keep_last=keep_last,
                                    ema=ema)
