"""The CanvasMAR training objective, Eq. 10: L = L_MAR + 0.1 L_canvas + 0.1 L_static.

All frames of a clip are supervised in one pass (Sec. 4.1): one Temporal ViT pass gives every
target frame's z_t, then the Canvas ViT, the Spatial MAR and the head run on all B*T frames
at once, each frame with its own mask ratio, mask, noise levels and condition dropout.

Reductions: the per-token canvas error l_j of Eq. 6 is, as the paper writes it, the squared
L2 norm over the token's channels, so the staticness target exp(-l_j) of Eq. 7 is sharp (near
1 only where the canvas is right) and log s spans a useful range for the motion-aware order.
Eq. 5 and 7 sum over the n tokens of a frame; we average over tokens and frames instead, so the
loss weights of Eq. 10 do not depend on the frame size. L_MAR averages over masked tokens (and
their repeats) and channels, as MAR does.
"""

from __future__ import annotations

import torch
from einops import rearrange

from canvasmar import flow
from canvasmar.augment import condition_dropout, noise_augment, uniform
from canvasmar.config import LossConfig
from canvasmar.masking import random_masks, sample_mask_ratios
from canvasmar.models.canvasmar import CanvasMAR


def canvas_error(canvas_tokens: torch.Tensor, target_tokens: torch.Tensor) -> torch.Tensor:
    """Per-token canvas error l_j (Eq. 6), (..., n): squared L2 norm over the channels."""
    return (canvas_tokens - target_tokens).pow(2).sum(dim=-1)


def staticness_target(error: torch.Tensor) -> torch.Tensor:
    """s_j = exp(-l_j) under stop-gradient (Eq. 7)."""
    return torch.exp(-error.detach())


def previous_frames(latents: torch.Tensor) -> torch.Tensor:
    """(B, T, C, h, w) -> the frame before each target; zeros (the mean frame) before frame 0."""
    return torch.cat([torch.zeros_like(latents[:, :1]), latents[:, :-1]], dim=1)


def training_losses(model: CanvasMAR, latents: torch.Tensor, cfg: LossConfig,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """latents (B, T, C, h, w), normalised -> {'loss', 'mar', 'canvas', 'static'} scalars."""
    b, t = latents.shape[:2]
    frames = b * t
    targets = rearrange(model.to_tokens(latents), "b t n c -> (b t) n c")
    z_t = rearrange(model.temporal_embeddings(latents[:, :-1]), "b t n d -> (b t) n d")
    losses: dict[str, torch.Tensor] = {}

    canvas_embedding = None
    if model.has_canvas:
        prev = rearrange(model.to_tokens(previous_frames(latents)), "b t n c -> (b t) n c")
        r = uniform((frames,), cfg.frame_noise_min, cfg.frame_noise_max, generator)
        canvas = model.predict_canvas(z_t, noise_augment(prev, r, generator))
        error = canvas_error(canvas.tokens, targets)  # (BT, n)
        losses["canvas"] = error.mean()
        losses["static"] = (canvas.staticness - staticness_target(error)).pow(2).mean()
        r_c = uniform((frames,), cfg.canvas_noise_min, cfg.canvas_noise_max, generator)
        canvas_embedding = noise_augment(canvas.embedding, r_c, generator)

    ratios = sample_mask_ratios((frames,), cfg.mask_ratio_min, cfg.mask_ratio_std, generator)
    mask = random_masks(ratios, model.num_tokens, generator).to(latents.device)
    drop_temporal, drop_canvas = condition_dropout(
        (frames,), cfg.drop_canvas, cfg.drop_temporal, cfg.drop_both, generator)
    cond = model.predict_tokens(z_t, targets, mask, canvas_embedding,
                                drop_temporal.to(latents.device), drop_canvas.to(latents.device))

    # Flow-matching loss on masked tokens only, each repeated with fresh noise and time.
    cond_m = cond[mask].repeat(cfg.head_repeat, 1)  # (M*k, D)
    x_m = targets[mask].repeat(cfg.head_repeat, 1)  # (M*k, C)
    time = flow.sample_time((x_m.shape[0],), generator).to(x_m.device)
    noise = torch.randn(x_m.shape, generator=generator).to(x_m.device)
    v = model.velocity(flow.interpolate(x_m, noise, time), time, cond_m)
    losses["mar"] = (v - flow.velocity_target(x_m, noise)).pow(2).mean()

    total = losses["mar"]
    if model.has_canvas:
        total = total + cfg.canvas_weight * losses["canvas"] + cfg.static_weight * losses["static"]
    losses["loss"] = total
    return losses
