"""Held-out measurements during training: validation losses and canvas vs copy-last MSE.

The canvas is the model's one-pass guess of each next frame given the true history
(teacher forcing), with the previous frame noise-augmented at the sampling level r = 0.3
(Table 3). Its pixel MSE is compared with the trivial baseline of copying the last frame,
on the same frames (targets 1..T-1: frame 0 has no last frame to copy).
"""

from __future__ import annotations

import dataclasses

import torch
from einops import rearrange

from canvasmar.augment import noise_augment
from canvasmar.config import LossConfig, SampleConfig
from canvasmar.evaluation.diagnostics import diagnose
from canvasmar.history_inputs import previous_frames
from canvasmar.losses import training_losses
from canvasmar.models import CanvasMAR, Tokenizer

SAMPLING_FRAME_NOISE = 0.3  # r at inference, Table 3 (BAIR / UCF-101)


@torch.no_grad()
def teacher_forced_canvas(model: CanvasMAR, latents: torch.Tensor, frame_noise: float,
                          generator: torch.Generator | None = None,
                          actions: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """latents (B, T, C, h, w) (and their actions (B, T-1[, N]), model.actions > 0) ->
    canvas latents (B, T, C, h, w), staticness (B, T, h, w). A next-K model's canvases come
    K at a time, each group's from the history before it (App. B)."""
    b, t, _, h, w = latents.shape
    z_t = rearrange(model.group_starts(model.temporal_embeddings(latents[:, :-1],
                                                                 actions=actions)),
                    "b t n d -> (b t) n d")
    prev = rearrange(model.to_tokens(model.group_starts(previous_frames(latents))),
                     "b t n c -> (b t) n c")
    canvas = model.predict_canvas(z_t, noise_augment(prev, frame_noise, generator), prev)
    canvas_latents = rearrange(model.from_tokens(canvas.tokens), "(b t) c h w -> b t c h w", b=b)
    static = rearrange(canvas.staticness, "(b t) (h w) -> b t h w", b=b, h=h)
    return canvas_latents, static


@torch.no_grad()
def validate(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor, loss_cfg: LossConfig,
             seed: int = 1234, batch_size: int = 16, actions: torch.Tensor | None = None
             ) -> dict[str, float]:
    """videos (N, T, C, H, W) in [0, 1] (and their actions (N, T-1[, N]), model.actions > 0)
    -> mean validation losses and pixel MSEs."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    g = torch.Generator().manual_seed(seed)
    for start in range(0, len(videos), batch_size):
        video = videos[start:start + batch_size]
        acts = None if actions is None else actions[start:start + batch_size]
        latents = tokenizer.encode(video)
        # L_MAR is measured even while loss.mar_weight=0 trains the canvas path alone, on
        # real histories (no loss.history_freeze or own_history) and unweighted (no
        # loss.moving_weight), so runs compare
        measured = dataclasses.replace(loss_cfg, mar_weight=1.0, history_freeze=0.0,
                                       own_history=0.0, moving_weight=1.0)
        losses = training_losses(model, latents, measured, g, actions=acts)
        parts = {f"val_{k}": v.item() for k, v in losses.items()}
        parts["val_copy_last_mse"] = (video[:, 1:] - video[:, :-1]).pow(2).mean().item()
        if model.has_canvas:
            canvas, _ = teacher_forced_canvas(model, latents, SAMPLING_FRAME_NOISE, g, acts)
            pixels = tokenizer.decode(canvas)
            parts["val_canvas_mse"] = (pixels[:, 1:] - video[:, 1:]).pow(2).mean().item()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * len(video)
    model.train(was_training)
    return {k: v / len(videos) for k, v in sums.items()}


DIAGNOSTIC_SAMPLES = 4  # head draws per token for the calibration numbers during training


@torch.no_grad()
def diagnostics_row(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor,
                    opts: SampleConfig, actions: torch.Tensor | None = None
                    ) -> dict[str, float]:
    """The learning diagnostics (evaluation/diagnostics.py: swap test, head calibration, canvas
    on static tokens) of the validation clips, as `diag_*` metrics: tracked over training, they
    show whether the Spatial MAR starts to use the tokens it has revealed."""
    if len(videos) < 2:
        return {}
    values = diagnose(model, tokenizer.encode(videos), opts, samples=DIAGNOSTIC_SAMPLES,
                      actions=actions)
    return {f"diag_{k}": v for k, v in values.items()}
