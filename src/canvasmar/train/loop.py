"""`canvasmar train`: the CanvasMAR task of the shared Trainer (train/trainer.py), for one CPU
process and for torchrun (DDP / FSDP2) on GPUs.

What is CanvasMAR's own: the network wrapped for distributed training, gradient
accumulation over micro-batches, EMA weights, validation losses and canvas MSE, previews.

Determinism: the clips of step s are a pure function of (seed, step) (data/sampling.py), and
all the loss's randomness for the step's global batch is drawn from a generator seeded with
(seed, step) (losses.draw_randomness); each process and accumulation step takes its slice.
So a run resumed from a checkpoint continues the exact loss curve of an uninterrupted one,
and the losses do not depend on how the global batch is split over processes.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from canvasmar import checkpoint as ckpt
from canvasmar.config import RunConfig
from canvasmar.config.checks import check_group_frames
from canvasmar.data import build_dataset
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.errors import UserError
from canvasmar.losses import LossRandomness, TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model
from canvasmar.models.flops import latent_frames, run_training_flops
from canvasmar.nn.blocks import Block
from canvasmar.train import dist
from canvasmar.train.ema import EMA, full_tensor
from canvasmar.train.observe import RunLog
from canvasmar.train.optim import build_optimizer
from canvasmar.train.preview import plot_losses, write_canvas_preview, write_sample_preview
from canvasmar.train.run_folder import ResumePoint, RunFolder
from canvasmar.train.trainer import (
    CheckpointParts,
    Progress,
    RunOutcome,
    StepOutcome,
    run_training,
    step_generator,
)
from canvasmar.train.validation import diagnostics_row, validate

LOSS_KEYS = ("loss", "mar", "canvas", "static", "warp", "mean")


def _keyed_by_position(optimizer_state: dict) -> bool:
    """torch's own optimizer.state_dict() numbers parameters; ours names them."""
    return any(isinstance(k, int) for k in optimizer_state.get("state", {}))


def autocast(cfg: RunConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when train.precision=bf16 (matmuls in bf16, reductions in fp32)."""
    if cfg.train.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def gradient_sync(wrapped: nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """Skip the all-reduce on all but the last accumulation step (DDP no_sync / FSDP2)."""
    inner = getattr(wrapped, "_orig_mod", wrapped)  # under torch.compile
    if isinstance(inner, nn.parallel.DistributedDataParallel) and not sync:
        return inner.no_sync()
    if hasattr(inner, "set_requires_gradient_sync"):  # FSDP2
        inner.set_requires_gradient_sync(sync)
    return contextlib.nullcontext()


def train(cfg: RunConfig, out: Path, resume: bool = False, force: bool = False,
          progress: bool = True, quiet: bool = False) -> dict:
    """Train; returns the last validation metrics. Writes checkpoints, metrics and previews.
    `progress`: the bar; `quiet`: no bar and no notes (stops and errors are still said)."""
    ctx = dist.init_distributed(cfg.train)
    folder = RunFolder(Path(out))
    try:
        return run_training(lambda start: CanvasMARTask(cfg, ctx, folder.out, start), folder,
                            cfg, resume, force, progress, ctx, quiet)
    finally:
        dist.shutdown(ctx)


def init_from(model: nn.Module, folder: str, say: bool = True) -> None:
    """train.init_from: load the matching weights of the run or checkpoint `folder`
    (checkpoint.load_matching_weights: the EMA ones when saved) and, with `say`, print one
    line of what was loaded and what is new. A next-K model from a next-1 one: the new
    layers start as the identity (models/group.py), so training starts from next-1 frames."""
    try:
        path = ckpt.resolve_checkpoint(folder)
    except UserError as exc:
        raise UserError(f"train.init_from={folder}: {exc}") from None
    used, loaded, new = ckpt.load_matching_weights(model, path)
    if say:
        parts = Counter(".".join(name.split(".")[:2]) for name in new)
        fresh = ", ".join(f"{part}.* ({count})" for part, count in parts.items()) or "none"
        print(f"init_from {path} ({used}): loaded {len(loaded)} tensors; new: {fresh}",
              file=sys.stderr)


class CanvasMARTask:
    """CanvasMAR training as a TrainTask: built (and restored from `start`) on construction."""

    def __init__(self, cfg: RunConfig, ctx: dist.DistContext, out: Path,
                 start: ResumePoint | None, validation: bool = True) -> None:
        tc = cfg.train
        self.cfg, self.ctx, self.out = cfg, ctx, out
        self.name = f"train {cfg.name}"
        self.validating = ("validation, diagnostics and previews" if tc.diagnostics else
                           "validation and previews")
        self.finishing = "writing losses.png and preview.png/mp4"
        self.model, self.tokenizer = build_model(cfg)
        check_group_frames(cfg.model.group, latent_frames(cfg.data.frames,
                                                          self.tokenizer.temporal_factor),
                           cfg.data.frames)  # App. B: clips of whole groups
        self.flops_per_clip = run_training_flops(  # analytic, for MFU (models/flops.py)
            cfg, ctx.device.type, self.model.latent_shape, self.tokenizer.temporal_factor)
        if start is not None:  # before wrapping: FSDP2 shards the loaded weights
            ckpt.load_weights(self.model, start.path)
        elif tc.init_from:  # a fresh run from another model's weights (App. B fine-tuning)
            init_from(self.model, tc.init_from, ctx.is_main)
        self.model.to(ctx.device)
        self.tokenizer.to(ctx.device)
        self.wrapped = dist.wrap_for_training(TrainingObjective(self.model, cfg.loss,
                                                                sample=cfg.sample), tc, ctx,
                                              Block)
        self.optimizer = build_optimizer(self.model, tc)
        self.optimizers = [self.optimizer]
        self.ema = EMA(self.model, tc.ema_decay) if tc.ema_decay > 0 else None
        if start is not None:
            self._restore(start)
        self.micro = dist.micro_batches(tc, ctx)
        self.batches = self._batches(start.step if start else 0)
        self.val_videos = self.val_actions = self.eval_model = None
        if ctx.is_main and validation:  # validation=False: a bench's task, never validated
            val_data = build_dataset(cfg.data, "val", seed=0, actions=cfg.model.actions,
                                     action_kind=cfg.model.action_kind)  # may hold fewer clips
            items = [val_data[i] for i in range(min(tc.eval_clips, len(val_data)))]
            if cfg.model.actions:  # items are (clip, its actions)
                self.val_actions = torch.stack([a for _, a in items]).to(ctx.device)
                items = [clip for clip, _ in items]
            self.val_videos = torch.stack(items).to(ctx.device)
            self.eval_model = build_model(cfg)[0].to(ctx.device)

    def _restore(self, start: ResumePoint) -> None:
        """Optimizer state and EMA shadows of the checkpoint (the weights are loaded)."""
        state = start.state
        try:
            if _keyed_by_position(state["optimizer"]) and not self.ctx.distributed:
                self.optimizer.load_state_dict(state["optimizer"])  # written by canvasmar 0.1
            else:
                dist.load_optimizer_state(self.model, self.optimizer, state["optimizer"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise UserError(f"{start.path} holds optimizer state this version cannot read "
                            f"({type(exc).__name__}); start a new run from its weights") from None
        if self.ema is not None:
            self.ema.load(ckpt.read_weights(start.path, ckpt.EMA_WEIGHTS)
                          if ckpt.has_ema(start.path) else self.model.state_dict())

    def _batches(self, start: int) -> Iterator[torch.Tensor | list[torch.Tensor]]:
        """This process's micro-batches from step `start` on (clips or cached latents; with
        model.actions, [clips, actions])."""
        cfg, tc, ctx = self.cfg, self.cfg.train, self.ctx
        if cfg.tokenizer.cache and cfg.model.actions:
            raise UserError("model.actions trains on recordings, not on a latent cache: drop "
                            "tokenizer.cache, or set model.actions=0")
        if cfg.tokenizer.cache:  # pre-encoded latents (canvasmar vae cache), clip i = train clip i
            from canvasmar.data.latent_cache import LatentShards

            dataset = LatentShards(cfg.tokenizer.cache, cfg)
        else:
            dataset = build_dataset(cfg.data, "train", seed=tc.seed, actions=cfg.model.actions,
                                    action_kind=cfg.model.action_kind)
        sampler = StepBatchSampler(len(dataset), tc.batch_size, tc.seed, start, tc.steps,
                                   parts=ctx.world * tc.grad_accum,
                                   first_part=ctx.rank * tc.grad_accum, count=tc.grad_accum)
        return iter(DataLoader(dataset, num_workers=cfg.data.num_workers, batch_sampler=sampler,
                               pin_memory=ctx.device.type == "cuda"))

    def _next_latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next micro-batch's latents and, with model.actions, its actions."""
        batch, actions = next(self.batches), None
        if self.cfg.model.actions:
            batch, actions = batch
            actions = actions.to(self.ctx.device, non_blocking=True)
        video = batch.to(self.ctx.device, non_blocking=True)
        return (video if self.cfg.tokenizer.cache else self.tokenizer.encode(video)), actions

    def _micro_step(self, latents: torch.Tensor, actions: torch.Tensor | None,
                    share: LossRandomness, last: bool) -> dict[str, torch.Tensor]:
        """Forward and backward of one micro-batch; its loss parts (detached)."""
        with gradient_sync(self.wrapped, last), autocast(self.cfg, self.ctx.device):
            losses = self.wrapped(latents, share, actions)
        # Each share is already divided by the global counts; DDP/FSDP average the
        # gradients over processes, so scale back to a sum over processes.
        (losses["loss"] * self.ctx.world).backward()
        return {k: v.detach() for k, v in losses.items()}

    def train_step(self, step: int, stop_requested: Callable[[], bool]) -> StepOutcome:
        tc, ctx = self.cfg.train, self.ctx
        sums = torch.zeros(len(LOSS_KEYS) + 1, device=ctx.device)
        randomness = None
        for part in range(tc.grad_accum):
            latents, actions = self._next_latents()
            if randomness is None:  # one draw for the step's whole global batch
                randomness = draw_randomness(self.model, tc.batch_size, latents.shape[1],
                                             self.cfg.loss,
                                             step_generator(tc.seed, step, ctx.device))
            share = randomness.clips((ctx.rank * tc.grad_accum + part) * self.micro, self.micro)
            losses = self._micro_step(latents, actions, share, part == tc.grad_accum - 1)
            sums[:-1] += torch.stack([losses.get(k, torch.zeros((), device=ctx.device))
                                      .float() for k in LOSS_KEYS])
        sums[-1] = float(stop_requested())  # the stop travels with the losses' all-reduce
        totals = dist.all_reduce_sum(sums, ctx).tolist()
        row = {k: v for k, v in zip(LOSS_KEYS, totals, strict=False)
               if k in losses or k == "loss"}
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        row["grad_norm"] = float(full_tensor(grad_norm))  # a DTensor under FSDP2
        finite = all(map(math.isfinite, [*totals[:-1], row["grad_norm"]]))
        return StepOutcome(row, finite, stop=totals[-1] > 0)

    def apply_update(self, step: int) -> None:
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(step)

    def _full_weights(self) -> tuple[dict, dict | None]:
        """Raw and EMA weights, unsharded (collectives under FSDP2)."""
        weights = dist.full_model_state(self.model, self.cfg.train, self.ctx)
        return weights, self.ema.state_dict(self.model) if self.ema is not None else None

    def validate(self, progress: Progress, log: RunLog) -> dict[str, float]:
        """Validation losses and canvas MSE of the current weights; previews of EMA ones."""
        weights, ema_weights = self._full_weights()
        result: dict[str, float] = {}
        if self.ctx.is_main:
            model, tok, videos = self.eval_model, self.tokenizer, self.val_videos
            acts = self.val_actions
            model.load_state_dict(weights)
            result = validate(model, tok, videos, self.cfg.loss, actions=acts)
            if self.cfg.train.diagnostics:  # is the MAR learning to use revealed tokens?
                result |= diagnostics_row(model, tok, videos, self.cfg.sample, acts)
            if ema_weights is not None:
                model.load_state_dict(ema_weights)
                ema_val = validate(model, tok, videos, self.cfg.loss, actions=acts)
                result |= {f"ema_{k}": v for k, v in ema_val.items() if "copy_last" not in k}
            self._previews(progress.step, log)
        dist.barrier(self.ctx)
        return result

    def _previews(self, step: int, log: RunLog) -> None:
        """Canvas and sampled-rollout previews of the eval model's weights (files + images)."""
        model, tok, videos = self.eval_model, self.tokenizer, self.val_videos
        previews, name = self.out / "previews", f"step_{step:08d}"
        canvas_grid = write_canvas_preview(model, tok, videos, previews, name=f"{name}_canvas",
                                           actions=self.val_actions)
        if canvas_grid is not None:
            log.image("preview/canvas (rows: truth, canvas, staticness)", canvas_grid, step)
        grid = write_sample_preview(model, tok, videos, previews / f"{name}_sample.mp4",
                                    self.cfg.sample, actions=self.val_actions)
        log.image("preview/sample (rows: truth, sampled)", grid, step)

    def describe(self, progress: Progress, val: dict[str, float]) -> str:
        return f"step {progress.step}: " + ", ".join(f"{k}={v:.5f}" for k, v in val.items())

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        shown = ({k: f"{row[k]:.4f}" for k in ("mar", "canvas", "static") if k in row}
                 | {"clips/s": f"{row['clips_per_sec']:.1f}"})
        if "mfu" in row:
            shown["MFU"] = f"{row['mfu']:.1%}"
        return shown

    def checkpoint(self, progress: Progress) -> CheckpointParts:
        weights, ema_weights = self._full_weights()
        optim_state = dist.full_optimizer_state(self.model, self.optimizer)
        return CheckpointParts(weights, {"optimizer": optim_state}, ema_weights)

    def finish(self, outcome: RunOutcome) -> dict[str, float]:
        """losses.png; preview.png/mp4 if the last step was evaluated (the eval model holds
        its weights). Returns that last validation ({} if none)."""
        if self.ctx.is_main:
            plot_losses(self.out / "metrics.jsonl", self.out / "losses.png")
            if outcome.val:
                write_canvas_preview(self.eval_model, self.tokenizer, self.val_videos, self.out,
                                     actions=self.val_actions)
        return outcome.val
