"""The CanvasMAR generation loop (paper Fig. 2 left), written against the model's public steps.

For each new frame:
  1. one temporal step gives z_t (KV cache; the context was prefilled once);
  2. one Canvas ViT pass gives the canvas z_c and the staticness map, from the previous frame
     noise-augmented with r (Eq. 11); z_c is augmented with r' (Eq. 12);
  3. K spatial steps with MaskGIT's cosine schedule; at each step the tokens to reveal are
     chosen by the motion-aware order (masking.reveal_scores), the Spatial MAR runs once on a
     batch holding every guidance condition, and the flow head integrates its ODE only for
     the revealed tokens, with compositional guidance (Eq. 9) applied to the velocity at every
     ODE step. Revealed tokens replace their canvas tokens for the next step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from canvasmar import flow
from canvasmar.augment import noise_augment, noise_device
from canvasmar.config import SampleConfig
from canvasmar.masking import masked_after_step, reveal_scores, tokens_to_reveal
from canvasmar.models.canvasmar import CanvasMAR

# Condition passes of Eq. 9 as (drop_temporal, drop_canvas).
PASSES = {"null": (True, True), "temporal": (False, True), "full": (False, False)}


def guidance_weights(cfg_canvas: float, cfg_temporal: float, has_canvas: bool
                     ) -> dict[str, float]:
    """Eq. 9 rewritten as a weighted sum of the passes actually needed:
        v = v_null + w_t (v_t - v_null) + w_s (v_ts - v_t)
          = (1 - w_t) v_null + (w_t - w_s) v_t + w_s v_ts.
    Passes with weight 0 are skipped, so w_s = w_t = 1 costs one pass (plain sampling).
    Without a canvas only temporal guidance exists: v = (1 - w_t) v_null + w_t v_t.
    """
    if has_canvas:
        weights = {"null": 1 - cfg_temporal, "temporal": cfg_temporal - cfg_canvas,
                   "full": cfg_canvas}
    else:
        weights = {"null": 1 - cfg_temporal, "temporal": cfg_temporal}
    return {name: w for name, w in weights.items() if w != 0}


@dataclass
class GeneratedFrame:
    latent: torch.Tensor  # (B, C, h, w) the new latent frame
    canvas: torch.Tensor | None  # (B, C, h, w) the canvas latent, None without a canvas
    staticness: torch.Tensor | None  # (B, h, w) in (0, 1)
    reveal_step: torch.Tensor  # (B, h, w) long: the spatial step that revealed each token


@torch.no_grad()
def generate_frame(model: CanvasMAR, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                   opts: SampleConfig, generator: torch.Generator | None = None
                   ) -> GeneratedFrame:
    """z_t (B, n, D), previous frame tokens (B, n, C) -> one new frame (Sec. 4.2-4.4)."""
    b, n = z_t.shape[:2]
    c, h, w = model.latent_shape
    device = z_t.device
    canvas = None
    canvas_embedding = staticness = None
    if model.has_canvas:
        canvas = model.predict_canvas(z_t, noise_augment(prev_tokens, opts.frame_noise,
                                                         generator))
        canvas_embedding = noise_augment(canvas.embedding, opts.canvas_noise, generator)
        staticness = canvas.staticness
    weights = guidance_weights(opts.cfg_canvas, opts.cfg_temporal, model.has_canvas)
    passes = list(weights)
    coeffs = torch.tensor([weights[p] for p in passes], device=device).view(-1, 1, 1)
    drop_t = torch.tensor([PASSES[p][0] for p in passes], device=device).repeat_interleave(b)
    drop_c = torch.tensor([PASSES[p][1] for p in passes], device=device).repeat_interleave(b)
    n_pass = len(passes)

    def batched(x: torch.Tensor | None) -> torch.Tensor | None:  # one copy per pass
        return None if x is None else x.repeat(n_pass, *([1] * (x.dim() - 1)))

    tokens = torch.zeros(b, n, c, device=device, dtype=z_t.dtype)
    mask = torch.ones(b, n, dtype=torch.bool, device=device)
    reveal_step = torch.zeros(b, n, dtype=torch.long, device=device)
    order_conf = staticness if opts.order == "motion" else None
    z_t_all, canvas_all = batched(z_t), batched(canvas_embedding)
    for step in range(opts.steps):
        # tokens revealed at this step, from the schedule alone: reading the mask's count
        # (`int(mask.sum())`) would be a host-device sync at every MAR step on a GPU
        before = n if step == 0 else masked_after_step(step - 1, opts.steps, n)
        count = before - masked_after_step(step, opts.steps, n)
        scores = reveal_scores(mask, step, opts.steps, order_conf, opts.temperature, generator)
        idx = tokens_to_reveal(mask, scores, count)  # (B, k)
        cond = model.predict_tokens(z_t_all, batched(tokens), batched(mask), canvas_all,
                                    drop_t, drop_c)  # (P*B, n, D)
        cond = cond.view(n_pass, b, n, -1)
        cond = torch.gather(cond, 2, idx[None, :, :, None].expand(n_pass, -1, -1,
                                                                   cond.shape[-1]))
        cond = cond.reshape(n_pass * b * count, -1)

        def velocity(x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor = cond
                     ) -> torch.Tensor:
            v = model.velocity(x.repeat(n_pass, 1), t.repeat(n_pass), cond)
            # Eq. 9, combined in float32 (coeffs) and returned in the model's dtype
            return (v.view(n_pass, x.shape[0], -1) * coeffs).sum(0).to(x.dtype)

        # Drawn in float32 on the generator's device, then moved: a CPU generator gives the
        # same values whatever the model's device or dtype.
        noise = torch.randn((b * count, c), generator=generator, device=noise_device(generator))
        noise = noise.to(device, z_t.dtype)
        noise = noise * opts.head_temperature
        values = flow.euler_sample(velocity, noise, opts.flow_steps, opts.time_shift)
        tokens.scatter_(1, idx[..., None].expand(-1, -1, c), values.view(b, count, c))
        mask.scatter_(1, idx, False)
        reveal_step.scatter_(1, idx, step)
    return GeneratedFrame(
        latent=model.from_tokens(tokens),
        canvas=None if canvas is None else model.from_tokens(canvas.tokens),
        staticness=None if staticness is None else staticness.view(b, h, w),
        reveal_step=reveal_step.view(b, h, w),
    )


@torch.no_grad()
def canvas_frame(model: CanvasMAR, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                 opts: SampleConfig, generator: torch.Generator | None = None
                 ) -> GeneratedFrame:
    """The canvas-only baseline: the one-pass blurry prediction is the frame (no MAR steps)."""
    canvas = model.predict_canvas(z_t, noise_augment(prev_tokens, opts.frame_noise, generator))
    _, h, w = model.latent_shape
    latent = model.from_tokens(canvas.tokens)
    return GeneratedFrame(latent=latent, canvas=latent,
                          staticness=canvas.staticness.view(-1, h, w),
                          reveal_step=torch.zeros(latent.shape[0], h, w, dtype=torch.long,
                                                  device=latent.device))


@torch.no_grad()
def rollout(model: CanvasMAR, context: torch.Tensor, num_frames: int, opts: SampleConfig,
            generator: torch.Generator | None = None, use_kv_cache: bool = True,
            canvas_only: bool = False) -> Iterator[GeneratedFrame]:
    """context latents (B, T, C, h, w), T >= 1 -> yields `num_frames` new frames one by one.

    Frames here are latent frames, the autoregressive units: with a VAE that compresses time
    by k, each one stands for k pixel frames (the first latent frame for pixel frame 0 alone),
    and the pipeline converts pixel counts to latent counts and decodes (pipeline.py).

    The temporal KV cache keeps `opts.window` input frames (sliding window): the newest ones,
    with the BOS frame pinned among them when `opts.keep_bos`, so memory and time per frame
    stay flat however long the rollout. `use_kv_cache=False`
    recomputes the whole history each frame with the same windowed attention (for checking).
    `canvas_only=True` rolls out the canvas alone (the baseline the evaluation scores).
    """
    make_frame = canvas_frame if canvas_only else generate_frame
    window = opts.window or None
    history = context
    if use_kv_cache:
        cache = model.new_cache(window, opts.keep_bos)
        z_t = model.encode_history(context, cache)
    prev = context[:, -1]
    for i in range(num_frames):
        if not use_kv_cache:
            z_t = model.temporal_embeddings(history, window, opts.keep_bos)[:, -1]
        frame = make_frame(model, z_t, model.to_tokens(prev), opts, generator)
        yield frame
        prev = frame.latent
        if not use_kv_cache:
            history = torch.cat([history, prev[:, None]], dim=1)
        elif i + 1 < num_frames:
            z_t = model.temporal_step(prev, cache)
