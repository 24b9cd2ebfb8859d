"""`canvasmar train`: one loop for a CPU process and for torchrun (DDP / FSDP2) on GPUs.

Determinism: the clips of step s are a pure function of (seed, step) (data/sampling.py), and
all the loss's randomness for the step's global batch is drawn from a generator seeded with
(seed, step) (losses.draw_randomness); each process and accumulation step takes its slice.
So a run resumed from a checkpoint continues the exact loss curve of an uninterrupted one,
and the losses do not depend on how the global batch is split over processes.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from canvasmar import checkpoint as ckpt
from canvasmar.config import RunConfig, config_from_json, save_config_json, to_dict
from canvasmar.data import build_dataset
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.errors import UserError
from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model
from canvasmar.nn.blocks import Block
from canvasmar.train import dist
from canvasmar.train.ema import EMA, full_tensor
from canvasmar.train.observe import RunLog, truncate_metrics
from canvasmar.train.optim import build_optimizer, learning_rate
from canvasmar.train.preview import plot_losses, write_canvas_preview, write_sample_preview
from canvasmar.train.stopping import NonfiniteGuard, StopRequest
from canvasmar.train.validation import validate

LOSS_KEYS = ("loss", "mar", "canvas", "static")


def step_generator(seed: int, step: int, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + step + 17)


def _keyed_by_position(optimizer_state: dict) -> bool:
    """torch's own optimizer.state_dict() numbers parameters; ours names them."""
    return any(isinstance(k, int) for k in optimizer_state.get("state", {}))


def check_run_dir(out: Path, cfg: RunConfig, resume: bool, force: bool,
                  fixed: tuple[str, ...] = ("model", "tokenizer", "data", "loss"),
                  parse: Callable[[str], Any] = config_from_json) -> None:
    """Refuse to clobber a run, or to resume one that does not match (read-only).

    `fixed` sections must match on --resume; `parse` reads the saved config (VAE runs too)."""
    has_run = (out / "config.json").exists() or (out / "checkpoints").exists()
    if resume:
        if not has_run:
            raise UserError(f"--resume: {out} holds no run to resume; drop --resume to start one")
        saved = ckpt.load_checkpoint_config(out, parse)
        for section in fixed:
            if to_dict(getattr(saved, section)) != to_dict(getattr(cfg, section)):
                raise UserError(f"--resume: the {section}.* settings differ from the run in "
                                f"{out}; only train.* may change when resuming")
    elif has_run and not force:
        raise UserError(f"{out} already holds a run; pass --resume to continue it or "
                        f"--force to start over (deletes its checkpoints)")


def init_run_dir(out: Path, cfg: Any, resume: bool) -> None:
    """Start a fresh run folder (after check_run_dir allowed it); main process only."""
    if resume:
        return
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)
    for name in ("latest", "metrics.jsonl"):
        (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    ckpt.write_text_atomic(out / "config.json", save_config_json(cfg))


def prepare_run_dir(out: Path, cfg: Any, resume: bool, force: bool,
                    fixed: tuple[str, ...] = ("model", "tokenizer", "data", "loss"),
                    parse: Callable[[str], Any] = config_from_json) -> Any:
    """Single-process check + init (the VAE trainer uses it with its own config type)."""
    check_run_dir(out, cfg, resume, force, fixed, parse)
    init_run_dir(out, cfg, resume)
    return cfg


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
          progress: bool = True) -> dict:
    """Train; returns the last validation metrics. Writes checkpoints, metrics and previews."""
    ctx = dist.init_distributed(cfg.train)
    try:
        return _train(cfg, Path(out), resume, force, progress, ctx)
    finally:
        dist.shutdown(ctx)


def _train(cfg: RunConfig, out: Path, resume: bool, force: bool, progress: bool,
           ctx: dist.DistContext) -> dict:
    tc = cfg.train
    check_run_dir(out, cfg, resume, force)
    dist.barrier(ctx)
    if ctx.is_main:
        init_run_dir(out, cfg, resume)
    dist.barrier(ctx)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)  # the same initial weights in every process
    model, tokenizer = build_model(cfg)
    start, last, state = 0, None, {}
    if resume:
        last = ckpt.resolve_checkpoint(out)
        ckpt.load_weights(model, last)
        state = ckpt.load_train_state(last)
        start = int(state["step"])
        if start >= tc.steps:
            raise UserError(f"the run in {out} already reached step {start}; raise "
                            f"train.steps to train further")
        if ctx.is_main:
            truncate_metrics(out / "metrics.jsonl", start)
    model.to(ctx.device)
    tokenizer.to(ctx.device)
    wrapped = dist.wrap_for_training(TrainingObjective(model, cfg.loss), tc, ctx, Block)
    optimizer = build_optimizer(model, tc)
    ema = EMA(model, tc.ema_decay) if tc.ema_decay > 0 else None
    if last is not None:
        try:
            if _keyed_by_position(state["optimizer"]) and not ctx.distributed:
                optimizer.load_state_dict(state["optimizer"])  # written by canvasmar 0.1
            else:
                dist.load_optimizer_state(model, optimizer, state["optimizer"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise UserError(f"{last} holds optimizer state this version cannot read "
                            f"({type(exc).__name__}); start a new run from its weights") from None
        if ema is not None:
            ema.load(ckpt.read_weights(last, ckpt.EMA_WEIGHTS) if ckpt.has_ema(last)
                     else model.state_dict())

    micro = dist.micro_batches(tc, ctx)
    if cfg.tokenizer.cache:  # pre-encoded latents (canvasmar vae cache), clip i = train clip i
        from canvasmar.data.latent_cache import LatentShards

        dataset = LatentShards(cfg.tokenizer.cache, cfg)
    else:
        dataset = build_dataset(cfg.data, "train", seed=tc.seed)
    sampler = StepBatchSampler(len(dataset), tc.batch_size, tc.seed, start, tc.steps,
                               parts=ctx.world * tc.grad_accum,
                               first_part=ctx.rank * tc.grad_accum, count=tc.grad_accum)
    loader = iter(DataLoader(dataset, num_workers=cfg.data.num_workers, batch_sampler=sampler,
                             pin_memory=ctx.device.type == "cuda"))
    val_videos = eval_model = None
    if ctx.is_main:
        val_data = build_dataset(cfg.data, "val", seed=0)  # a folder may hold fewer clips
        val_videos = torch.stack([val_data[i] for i in range(min(tc.eval_clips,
                                                                   len(val_data)))]).to(ctx.device)
        eval_model = build_model(cfg)[0].to(ctx.device)

    log = RunLog(out, ctx.is_main, tc.tensorboard)
    bar = tqdm(total=tc.steps, initial=start, disable=not (progress and ctx.is_main),
               dynamic_ncols=True, desc=f"train {cfg.name}")
    guard = NonfiniteGuard(tc.max_nonfinite)
    val: dict[str, float] = {}
    t_last = time.perf_counter()

    def save(step_done: int) -> None:
        weights = dist.full_model_state(model, tc, ctx)
        ema_weights = ema.state_dict(model) if ema is not None else None
        optim_state = dist.full_optimizer_state(model, optimizer)
        if ctx.is_main:
            ckpt.save_checkpoint(out, step_done, weights, cfg,
                                 {"step": step_done, "optimizer": optim_state},
                                 keep_last=tc.keep_last, ema=ema_weights)
        dist.barrier(ctx)

    def evaluate(step_done: int) -> dict[str, float]:
        """Validation losses and canvas MSE of the current weights; previews of EMA ones."""
        weights = dist.full_model_state(model, tc, ctx)
        ema_weights = ema.state_dict(model) if ema is not None else None
        result: dict[str, float] = {}
        if ctx.is_main:
            eval_model.load_state_dict(weights)
            result = validate(eval_model, tokenizer, val_videos, cfg.loss)
            if ema_weights is not None:
                eval_model.load_state_dict(ema_weights)
                ema_val = validate(eval_model, tokenizer, val_videos, cfg.loss)
                result |= {f"ema_{k}": v for k, v in ema_val.items() if "copy_last" not in k}
            previews = out / "previews"
            name = f"step_{step_done:08d}"
            canvas_grid = write_canvas_preview(eval_model, tokenizer, val_videos,
                                               previews, name=f"{name}_canvas")
            if canvas_grid is not None:
                log.image("preview/canvas (rows: truth, canvas, staticness)", canvas_grid,
                          step_done)
            grid = write_sample_preview(eval_model, tokenizer, val_videos,
                                        previews / f"{name}_sample.mp4", cfg.sample)
            log.image("preview/sample (rows: truth, sampled)", grid, step_done)
        dist.barrier(ctx)
        return result

    stop = StopRequest(tc.time_limit_min)
    step = start
    with stop:
        for step in range(start, tc.steps):
            lr = learning_rate(step, tc)
            for group in optimizer.param_groups:
                group["lr"] = lr
            sums = torch.zeros(len(LOSS_KEYS) + 1, device=ctx.device)
            randomness = None
            for part in range(tc.grad_accum):
                video = next(loader).to(ctx.device, non_blocking=True)
                latents = video if cfg.tokenizer.cache else tokenizer.encode(video)
                if randomness is None:  # one draw for the step's whole global batch
                    generator = step_generator(tc.seed, step, ctx.device)
                    randomness = draw_randomness(model, tc.batch_size, latents.shape[1],
                                                 cfg.loss, generator)
                share = randomness.clips((ctx.rank * tc.grad_accum + part) * micro, micro)
                with gradient_sync(wrapped, part == tc.grad_accum - 1), \
                        autocast(cfg, ctx.device):
                    losses = wrapped(latents, share)
                # Each share is already divided by the global counts; DDP/FSDP average the
                # gradients over processes, so scale back to a sum over processes.
                (losses["loss"] * ctx.world).backward()
                sums[:-1] += torch.stack([losses.get(k, torch.zeros((), device=ctx.device))
                                          .detach().float() for k in LOSS_KEYS])
            sums[-1] = float(stop.requested())
            totals = dist.all_reduce_sum(sums, ctx).tolist()
            row = {"step": step + 1, "lr": lr}
            row |= {k: v for k, v in zip(LOSS_KEYS, totals, strict=False)
                    if k in losses or k == "loss"}
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            grad_norm = float(full_tensor(grad_norm))  # a DTensor under FSDP2
            finite = all(map(math.isfinite, [*totals[:-1], grad_norm]))
            if guard.check(finite):
                optimizer.step()
                if ema is not None:
                    ema.update(step)
            else:
                row["skipped"] = "non-finite loss or gradient"
                bar.write(f"step {step + 1}: non-finite loss or gradient, update skipped "
                          f"({guard.in_a_row} in a row)")
            optimizer.zero_grad(set_to_none=True)
            now = time.perf_counter()
            row |= {"grad_norm": grad_norm, "sec_per_step": now - t_last,
                    "clips_per_sec": tc.batch_size / max(now - t_last, 1e-9)}
            if ctx.device.type == "cuda":
                row["gpu_peak_gib"] = torch.cuda.max_memory_allocated(ctx.device) / 2**30
            t_last = now
            log.row(row)
            guard.raise_if_exhausted(step + 1)
            bar.set_postfix({k: f"{row[k]:.4f}" for k in ("mar", "canvas", "static")
                             if k in row} | {"clips/s": f"{row['clips_per_sec']:.1f}"})
            bar.update(1)
            done = step + 1
            stopping = totals[-1] > 0
            val = {}
            if done % tc.eval_every == 0 or done == tc.steps:
                val = evaluate(done)
                log.row({"step": done, **val}, group="val")
                if val:
                    bar.write(f"step {done}: " + ", ".join(f"{k}={v:.5f}"
                                                          for k, v in val.items()))
            if done % tc.save_every == 0 or done == tc.steps or stopping:
                save(done)
            t_last = time.perf_counter()  # evaluation and saving do not count as step time
            if stopping:
                bar.write(f"stopped at step {done} ({stop.reason or 'another process'}); "
                          f"checkpoint written: continue with --resume")
                break
    bar.close()
    log.close()
    if ctx.is_main:
        plot_losses(out / "metrics.jsonl", out / "losses.png")
    if ctx.is_main and val:  # the last step was evaluated: eval_model holds its weights
        write_canvas_preview(eval_model, tokenizer, val_videos, out)
    return val

