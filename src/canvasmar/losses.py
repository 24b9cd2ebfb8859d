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

Sharding: all randomness of a step is drawn for the whole global batch (`draw_randomness`)
and each process or micro-batch takes its slice (`LossRandomness.clips`); the means are then
sums divided by the global counts. So the summed contributions of any split of the batch
(processes x gradient-accumulation steps) equal the one-process loss on the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from einops import rearrange
from torch import nn

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


@dataclass(frozen=True)
class LossRandomness:
    """Every random draw of one training step; frame-indexed tensors have F = clips x T rows.

    `total_frames` / `total_masked` are the counts of the whole global batch, the denominators
    of the means, so a slice's loss is its share of the global loss.
    """

    frame_noise_level: torch.Tensor  # r of Eq. 11, (F,)
    frame_noise: torch.Tensor  # eps of Eq. 11, (F, n, C)
    canvas_noise_level: torch.Tensor  # r' of Eq. 12, (F,)
    canvas_noise: torch.Tensor  # eps of Eq. 12, (F, n, D)
    mask: torch.Tensor  # MAR mask, (F, n) bool
    drop_temporal: torch.Tensor  # (F,) bool
    drop_canvas: torch.Tensor  # (F,) bool
    time: torch.Tensor  # flow times, (k, F, n): used at masked tokens only
    head_noise: torch.Tensor  # flow noise, (k, F, n, C)
    frames_per_clip: int
    total_frames: int
    total_masked: int

    def clips(self, start: int, count: int) -> LossRandomness:
        """The draws of clips start .. start+count-1 (global counts kept)."""
        lo, hi = start * self.frames_per_clip, (start + count) * self.frames_per_clip
        parts = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = value[:, lo:hi] if f.name in ("time", "head_noise") else value[lo:hi]
            parts[f.name] = value
        return LossRandomness(**parts)

    def to(self, device: torch.device | str) -> LossRandomness:
        return LossRandomness(**{f.name: (v.to(device) if isinstance(v, torch.Tensor) else v)
                                 for f in fields(self) for v in [getattr(self, f.name)]})


def draw_randomness(model: CanvasMAR, clips: int, frames_per_clip: int, cfg: LossConfig,
                    generator: torch.Generator | None = None) -> LossRandomness:
    """All draws for a global batch of `clips` clips of `frames_per_clip` latent frames.

    Drawn on the generator's device: on a GPU, drawing the ~10^7 noise values of a step on
    the CPU and copying them over took longer than the step itself (measured, docs/speed.md).
    The numbers depend on (seed, step, device type) only, not on how the batch is split.
    """
    device = generator.device if generator is not None else torch.device("cpu")
    with device:
        return _draw(model, clips, frames_per_clip, cfg, generator, device)


def _draw(model: CanvasMAR, clips: int, frames_per_clip: int, cfg: LossConfig,
          generator: torch.Generator | None, device: torch.device) -> LossRandomness:
    f, n, c, d, k = (clips * frames_per_clip, model.num_tokens, model.token_dim, model.cfg.dim,
                     cfg.head_repeat)
    ratios = sample_mask_ratios((f,), cfg.mask_ratio_min, cfg.mask_ratio_std, generator)
    mask = random_masks(ratios, n, generator)
    drop_temporal, drop_canvas = condition_dropout(
        (f,), cfg.drop_canvas, cfg.drop_temporal, cfg.drop_both, generator)
    return LossRandomness(
        frame_noise_level=uniform((f,), cfg.frame_noise_min, cfg.frame_noise_max, generator),
        frame_noise=torch.randn((f, n, c), generator=generator),
        canvas_noise_level=uniform((f,), cfg.canvas_noise_min, cfg.canvas_noise_max, generator),
        canvas_noise=torch.randn((f, n, d), generator=generator),
        mask=mask, drop_temporal=drop_temporal, drop_canvas=drop_canvas,
        time=flow.sample_time((k, f, n), generator, device=device),
        head_noise=torch.randn((k, f, n, c), generator=generator),
        frames_per_clip=frames_per_clip, total_frames=f, total_masked=int(mask.sum()) * k)


def training_losses(model: CanvasMAR, latents: torch.Tensor, cfg: LossConfig,
                    generator: torch.Generator | None = None,
                    randomness: LossRandomness | None = None) -> dict[str, torch.Tensor]:
    """latents (B, T, C, h, w), normalised -> {'loss', 'mar', 'canvas', 'static'} scalars.

    With `randomness` (a slice of a global batch's draws) the values are this slice's shares
    of the global means; without it the draws come from `generator` for this batch alone.
    """
    b, t = latents.shape[:2]
    if randomness is None:
        randomness = draw_randomness(model, b, t, cfg, generator)
    rnd = randomness.to(latents.device)
    targets = rearrange(model.to_tokens(latents), "b t n c -> (b t) n c")
    z_t = rearrange(model.temporal_embeddings(latents[:, :-1]), "b t n d -> (b t) n d")
    losses: dict[str, torch.Tensor] = {}

    canvas_embedding = None
    if model.has_canvas:
        prev = rearrange(model.to_tokens(previous_frames(latents)), "b t n c -> (b t) n c")
        noisy_prev = noise_augment(prev, rnd.frame_noise_level, noise=rnd.frame_noise)
        canvas = model.predict_canvas(z_t, noisy_prev)
        error = canvas_error(canvas.tokens.float(), targets)  # (BT, n)
        per_token = rnd.total_frames * model.num_tokens
        losses["canvas"] = error.sum() / per_token
        static = (canvas.staticness.float() - staticness_target(error)).pow(2)
        losses["static"] = static.sum() / per_token
        canvas_embedding = noise_augment(canvas.embedding, rnd.canvas_noise_level,
                                         noise=rnd.canvas_noise)

    cond = model.predict_tokens(z_t, targets, rnd.mask, canvas_embedding,
                                rnd.drop_temporal, rnd.drop_canvas)

    # Flow-matching loss on masked tokens only, each repeated (k) with fresh noise and time.
    k = cfg.head_repeat
    cond_m = cond[rnd.mask].repeat(k, 1)  # (k*M, D), repeat-major
    x_m = targets[rnd.mask].repeat(k, 1)  # (k*M, C)
    time = rnd.time[:, rnd.mask].reshape(-1)  # (k*M,), same order
    noise = rnd.head_noise[:, rnd.mask].reshape(-1, x_m.shape[-1])
    v = model.velocity(flow.interpolate(x_m, noise, time), time, cond_m)
    sq = (v.float() - flow.velocity_target(x_m, noise)).pow(2)
    losses["mar"] = sq.sum() / (max(rnd.total_masked, 1) * x_m.shape[-1])

    total = losses["mar"]
    if model.has_canvas:
        total = total + cfg.canvas_weight * losses["canvas"] + cfg.static_weight * losses["static"]
    losses["loss"] = total
    return losses


class TrainingObjective(nn.Module):
    """The network and Eq. 10 as one module: what DDP, FSDP2 and torch.compile wrap, since
    they act on a module's forward (the network itself is a set of steps, not one forward)."""

    def __init__(self, model: CanvasMAR, cfg: LossConfig) -> None:
        super().__init__()
        self.model, self.cfg = model, cfg

    def forward(self, latents: torch.Tensor, randomness: LossRandomness
                ) -> dict[str, torch.Tensor]:
        return training_losses(self.model, latents, self.cfg, randomness=randomness)
