"""`canvasmar train`: the single-process training loop.

Determinism: the batch of step s is a pure function of (seed, step) (data/sampling.py) and
the loss's randomness comes from a generator seeded with (seed, step), so a run resumed from a
checkpoint continues the exact loss curve of an uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from canvasmar.config import RunConfig, config_from_json, save_config_json, to_dict
from canvasmar.data import build_dataset
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.errors import UserError
from canvasmar.losses import training_losses
from canvasmar.models.factory import build_model
from canvasmar.train import checkpoint as ckpt
from canvasmar.train.optim import build_optimizer, learning_rate
from canvasmar.train.preview import plot_losses, write_canvas_preview
from canvasmar.train.validation import validate


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step + 17)


def prepare_run_dir(out: Path, cfg: RunConfig, resume: bool, force: bool,
                    fixed: tuple[str, ...] = ("model", "tokenizer", "data", "loss"),
                    parse: Callable[[str], Any] = config_from_json) -> RunConfig:
    """Create DIR, or check it may be reused. Returns the config to train with.
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
        return cfg
    if has_run:
        if not force:
            raise UserError(f"{out} already holds a run; pass --resume to continue it or "
                            f"--force to start over (deletes its checkpoints)")
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        for name in ("latest", "metrics.jsonl"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    ckpt.write_text_atomic(out / "config.json", save_config_json(cfg))
    return cfg


def train(cfg: RunConfig, out: Path, resume: bool = False, force: bool = False,
          progress: bool = True) -> dict:
    """Train; returns the last validation metrics. Writes checkpoints, metrics and previews."""
    out = Path(out)
    cfg = prepare_run_dir(out, cfg, resume, force)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)
    model, tokenizer = build_model(cfg)
    optimizer = build_optimizer(model, cfg.train)
    start = 0
    if resume:
        last = ckpt.resolve_checkpoint(out)
        ckpt.load_weights(model, last)
        state = ckpt.load_train_state(last)
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["step"])
        if start >= cfg.train.steps:
            raise UserError(f"the run in {out} already reached step {start}; raise "
                            f"train.steps to train further")

    tc = cfg.train
    if cfg.tokenizer.cache:  # pre-encoded latents (canvasmar vae cache), clip i = train clip i
        from canvasmar.vae.latent_cache import LatentShards

        dataset = LatentShards(cfg.tokenizer.cache, cfg)
    else:
        dataset = build_dataset(cfg.data, "train", seed=tc.seed)
    val_videos = torch.stack([build_dataset(cfg.data, "val", seed=0)[i]
                              for i in range(tc.eval_clips)])
    loader = DataLoader(dataset, num_workers=cfg.data.num_workers,
                        batch_sampler=StepBatchSampler(len(dataset), tc.batch_size, tc.seed,
                                                       start, tc.steps))
    metrics_file = (out / "metrics.jsonl").open("a")
    bar = tqdm(total=tc.steps, initial=start, disable=not progress, dynamic_ncols=True,
               desc=f"train {cfg.name}")
    model.train()
    val: dict[str, float] = {}
    t_last, step = time.perf_counter(), start

    def log(row: dict) -> None:
        metrics_file.write(json.dumps(row) + "\n")
        metrics_file.flush()

    def save(step_done: int) -> None:
        ckpt.save_checkpoint(out, step_done, model, cfg,
                             {"step": step_done, "optimizer": optimizer.state_dict()},
                             keep_last=tc.keep_last)

    for step, video in enumerate(loader, start=start):
        lr = learning_rate(step, tc)
        for group in optimizer.param_groups:
            group["lr"] = lr
        latents = video if cfg.tokenizer.cache else tokenizer.encode(video)
        losses = training_losses(model, latents, cfg.loss, step_generator(tc.seed, step))
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()

        now = time.perf_counter()
        row = {"step": step + 1, "lr": lr, "grad_norm": grad_norm.item(),
               "sec_per_step": now - t_last, **{k: v.item() for k, v in losses.items()}}
        t_last = now
        log(row)
        bar.set_postfix({k: f"{row[k]:.4f}" for k in ("mar", "canvas", "static") if k in row}
                        | {"clips/s": f"{tc.batch_size / row['sec_per_step']:.1f}"})
        bar.update(1)
        done = step + 1
        if done % tc.eval_every == 0 or done == tc.steps:
            val = validate(model, tokenizer, val_videos, cfg.loss)
            log({"step": done, **val})
            bar.write(f"step {done}: " + ", ".join(f"{k}={v:.5f}" for k, v in val.items()))
        if done % tc.save_every == 0 or done == tc.steps:
            save(done)
    bar.close()
    metrics_file.close()
    write_canvas_preview(model, tokenizer, val_videos, out)
    plot_losses(out / "metrics.jsonl", out / "losses.png")
    return val
