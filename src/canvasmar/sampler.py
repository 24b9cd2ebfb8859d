"""The CanvasMAR generation loop (paper Fig. 2 left), written against the model's public steps.

For each new frame:
  1. one temporal step gives z_t (KV cache; the context was prefilled once); with
     model.actions the previous frame enters with the action taken after it (`TemporalState`);
  2. one Canvas ViT pass gives the canvas z_c and the staticness map, from the previous frame
     noise-augmented with r (Eq. 11); z_c is augmented with r' (Eq. 12);
  3. K spatial steps with MaskGIT's cosine schedule; at each step the tokens to reveal are
     chosen by the motion-aware order (masking.reveal_scores), the Spatial MAR runs once on a
     batch holding every guidance condition, and the flow head integrates its ODE only for
     the revealed tokens, with compositional guidance (Eq. 9) applied to the velocity at every
     ODE step. Revealed tokens replace their canvas tokens for the next step.

Next-group models (model.group = K, App. B): each temporal step makes K frames at once. The
Canvas ViT runs once and its K heads give each frame's canvas; the spatial steps work on the
group's K x n tokens together (the Spatial MAR sees the K frames, linked by its temporal
attention layers), and the KV cache then takes the K frames in one step. The cosine schedule
and the motion-aware order run over all K x n tokens of the group, not per frame. App. B does
not say; we chose the joint order because staticness is the canvas's confidence (Sec. 4.3)
and the later frames of a group are less certain: a static token of the second frame can be
revealed before a moving one of the first, and the easy-to-hard curriculum spans the group
(a per-frame schedule would reveal the same share of every frame at every step, however
uncertain). With K = 1 the two are the same, as is everything else here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch

from canvasmar.augment import noise_augment, noise_device, to_device
from canvasmar.config import SampleConfig
from canvasmar.errors import UserError
from canvasmar.masking import masked_after_step, reveal_scores, tokens_to_reveal
from canvasmar.models.canvasmar import Canvas, CanvasMAR
from canvasmar.step_kernels import EAGER, StepKernels
from canvasmar.temporal_state import TemporalState

# Condition passes of Eq. 9 as (drop_temporal, drop_canvas); a NO_ACTION pass is the same
# pass with z_t (and the canvas made from it) computed under the null action.
NO_ACTION = "_noaction"
PASSES = {"null": (True, True), "temporal": (False, True), "full": (False, False),
          "temporal" + NO_ACTION: (False, True), "full" + NO_ACTION: (False, False)}


def guidance_weights(cfg_canvas: float, cfg_temporal: float, has_canvas: bool,
                     cfg_action: float = 1.0) -> dict[str, float]:
    """Eq. 9 rewritten as a weighted sum of the passes actually needed:
        v = v_null + w_t (v_t - v_null) + w_s (v_ts - v_t)
          = (1 - w_t) v_null + (w_t - w_s) v_t + w_s v_ts.
    Passes with weight 0 are skipped, so w_s = w_t = 1 costs one pass (plain sampling).
    Without a canvas only temporal guidance exists: v = (1 - w_t) v_null + w_t v_t.

    Guidance on the action (sample.cfg_action = w_a, model.actions > 0) acts on that whole
    velocity, like the temporal branch on the null one: v = v9' + w_a (v9 - v9'), v9' the
    same passes under the null action. The null pass sees neither z_t nor the canvas, so it
    is shared (weight 1 - w_t); every other pass p splits into w_a p + (1 - w_a) p'. w_a = 1
    adds nothing; with w_s = w_t = 1 it is v_full' + w_a (v_full - v_full'), two passes.
    """
    if has_canvas:
        weights = {"null": 1 - cfg_temporal, "temporal": cfg_temporal - cfg_canvas,
                   "full": cfg_canvas}
    else:
        weights = {"null": 1 - cfg_temporal, "temporal": cfg_temporal}
    if cfg_action != 1:
        conditioned = {name: w for name, w in weights.items() if name != "null"}
        weights = ({"null": weights["null"]}
                   | {name: cfg_action * w for name, w in conditioned.items()}
                   | {name + NO_ACTION: (1 - cfg_action) * w for name, w in conditioned.items()})
    return {name: w for name, w in weights.items() if w != 0}


@dataclass
class GeneratedFrame:
    latent: torch.Tensor  # (B, C, h, w) the new latent frame
    canvas: torch.Tensor | None  # (B, C, h, w) the canvas latent, None without a canvas
    staticness: torch.Tensor | None  # (B, h, w) in (0, 1)
    reveal_step: torch.Tensor  # (B, h, w) long: the spatial step that revealed each token


class _Conditions(NamedTuple):
    """What the spatial steps of one frame see, one row block per guidance pass."""

    passes: list[str]
    coeffs: torch.Tensor  # (P, 1, 1) float32 pass weights
    z_t: torch.Tensor  # (P*B, n, D)
    canvas_embedding: torch.Tensor | None  # (P*B, n, D) noise-augmented z_c
    drop_temporal: torch.Tensor  # (P*B,) bool
    drop_canvas: torch.Tensor  # (P*B,) bool
    canvas: Canvas | None  # the canvas of the action-conditioned z_t (returned, and the order)


def _conditions(model: CanvasMAR, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                opts: SampleConfig, generator: torch.Generator | None,
                z_free: torch.Tensor | None) -> _Conditions:
    """The canvases (from one noise-augmented previous frame; one draw of r' noise shared by
    the z_t with and without the action) and the batched conditions of every needed pass.
    Next-K model: z_t and the flags per group, the canvases per frame (B*K rows)."""
    b, device = z_t.shape[0], z_t.device
    rows = b * model.group  # canvas rows: the K frames of each of the B groups
    z_ts = [z_t] if z_free is None else [z_t, z_free]
    embeddings: list[torch.Tensor | None] = [None] * len(z_ts)
    canvas = None
    if model.has_canvas:
        k = len(z_ts)
        noisy = noise_augment(prev_tokens, opts.frame_noise, generator).repeat(k, 1, 1)
        both = model.predict_canvas(torch.cat(z_ts), noisy, prev_tokens.repeat(k, 1, 1))
        canvas = Canvas(*(None if x is None else x[:rows] for x in both))
        emb = both.embedding
        # the draw noise_augment(emb[:rows], r', generator) would make, shared by both halves
        eps = torch.randn(canvas.embedding.shape, generator=generator, dtype=emb.dtype,
                          device=noise_device(generator)).repeat(k, 1, 1)
        embeddings = list(noise_augment(emb, opts.canvas_noise, noise=eps).split(rows))
    cfg_action = opts.cfg_action if z_free is not None else 1.0
    weights = guidance_weights(opts.cfg_canvas, opts.cfg_temporal, model.has_canvas, cfg_action)
    passes = list(weights)
    which = [int(name.endswith(NO_ACTION)) for name in passes]  # 0: z_t, 1: z_free
    z_all = torch.cat([z_ts[w] for w in which])
    canvas_all = None if canvas is None else torch.cat([embeddings[w] for w in which])
    # made on the host, moved without a sync (to_device): (P, 2) flags, (P, 1, 1) weights
    flags = to_device(torch.tensor([PASSES[name] for name in passes]), device)
    return _Conditions(passes, to_device(torch.tensor([weights[p] for p in passes]),
                                         device).view(-1, 1, 1),
                       z_all, canvas_all, flags[:, 0].repeat_interleave(b),
                       flags[:, 1].repeat_interleave(b), canvas)


def _frames(model: CanvasMAR, tokens: torch.Tensor, canvas: Canvas | None,
            reveal_step: torch.Tensor) -> list[GeneratedFrame]:
    """A group's tokens (B, K*n, C), canvases (B*K rows) and reveal steps (B, K*n) -> its K
    frames in order."""
    c, h, w = model.latent_shape
    b, k, n = tokens.shape[0], model.group, model.num_tokens

    def frame(x: torch.Tensor, i: int) -> torch.Tensor:  # (B, K*n, ...) -> frame i (B, n, ...)
        return x.view(b, k, n, *x.shape[2:])[:, i]

    staticness = None if canvas is None else canvas.staticness.view(b, k * n)
    canvas_tokens = None if canvas is None else canvas.tokens.view(b, k * n, c)
    return [GeneratedFrame(
        latent=model.from_tokens(frame(tokens, i)),
        canvas=None if canvas is None else model.from_tokens(frame(canvas_tokens, i)),
        staticness=None if staticness is None else frame(staticness, i).view(b, h, w),
        reveal_step=frame(reveal_step, i).view(b, h, w)) for i in range(k)]


@torch.no_grad()
def generate_frame(model: CanvasMAR, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                   opts: SampleConfig, generator: torch.Generator | None = None,
                   z_free: torch.Tensor | None = None) -> GeneratedFrame:
    """z_t (B, n, D), previous frame tokens (B, n, C) -> one new frame (Sec. 4.2-4.4).
    `z_free`: z_t under the null action, for guidance on the action (sample.cfg_action).
    A next-K model makes K frames per call: `generate_group`."""
    if model.group != 1:
        raise ValueError(f"a model.group={model.group} model makes {model.group} frames at "
                         f"a time: call generate_group")
    return generate_group(model, z_t, prev_tokens, opts, generator, z_free)[0]


@torch.no_grad()
def generate_group(model: CanvasMAR, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                   opts: SampleConfig, generator: torch.Generator | None = None,
                   z_free: torch.Tensor | None = None, kernels: StepKernels = EAGER
                   ) -> list[GeneratedFrame]:
    """z_t (B, n, D), previous frame tokens (B, n, C) -> the next K = model.group frames
    (Sec. 4.2-4.4; App. B for K > 1: the MAR steps over the group's K*n tokens together).
    `kernels`: each step's network work, eager or compiled (step_kernels.py)."""
    b, n = z_t.shape[:2]
    c, k = model.token_dim, model.group
    m, device = k * n, z_t.device  # the group's tokens, frame-major
    cond_in = _conditions(model, z_t, prev_tokens, opts, generator, z_free)
    canvas, coeffs, n_pass = cond_in.canvas, cond_in.coeffs, len(cond_in.passes)
    staticness = None if canvas is None else canvas.staticness.view(b, m)

    def batched(x: torch.Tensor) -> torch.Tensor:  # one copy per pass, one row per frame
        x = x.view(b * k, n, *x.shape[2:])
        return x.repeat(n_pass, *([1] * (x.dim() - 1)))

    # (B, K*n, C) what the residual heads add to: the previous frame, or with model.warp the
    # canvas's moved copy of it (Canvas.base, frame-major like the group's tokens)
    base = prev_tokens if k == 1 else prev_tokens.repeat(1, k, 1)
    if canvas is not None:
        base = canvas.base.reshape(b, m, c)
    # model.reveal_change reads each revealed token's change from the base: one copy per pass
    base_rows = batched(base) if model.cfg.reveal_change else None
    tokens = torch.zeros(b, m, c, device=device, dtype=z_t.dtype)
    mask = torch.ones(b, m, dtype=torch.bool, device=device)
    reveal_step = torch.zeros(b, m, dtype=torch.long, device=device)
    order_conf = staticness if opts.order == "motion" else None
    shared = _shared_noise(b, k, c, opts, generator, device, z_t.dtype)
    for step in range(opts.steps):
        # tokens revealed at this step, from the schedule alone: reading the mask's count
        # (`int(mask.sum())`) would be a host-device sync at every MAR step on a GPU
        before = m if step == 0 else masked_after_step(step - 1, opts.steps, m)
        count = before - masked_after_step(step, opts.steps, m)
        scores = reveal_scores(mask, step, opts.steps, order_conf, opts.temperature, generator)
        idx = tokens_to_reveal(mask, scores, count)  # (B, count) positions in the group
        cond = kernels.predict_tokens(model, cond_in.z_t, batched(tokens), batched(mask),
                                      cond_in.canvas_embedding, cond_in.drop_temporal,
                                      cond_in.drop_canvas, base_rows)  # (P*B*K, n, D)
        cond = cond.reshape(n_pass, b, m, -1)  # (P*B*K, n, D) -> a row per pass and group
        cond = torch.gather(cond, 2, idx[None, :, :, None].expand(n_pass, -1, -1,
                                                                   cond.shape[-1]))
        cond = cond.reshape(n_pass, b * count, -1)
        # Drawn in float32 on the generator's device, then moved without a sync: a CPU
        # generator gives the same values whatever the model's device or dtype.
        noise = torch.randn((b * count, c), generator=generator, device=noise_device(generator))
        noise = to_device(noise, device, z_t.dtype)
        if shared is not None:  # sample.noise_share: each token's frame's common draw mixed in
            common = torch.gather(shared, 1, (idx // n)[..., None].expand(-1, -1, c))
            noise = (1 - opts.noise_share) ** 0.5 * noise \
                + opts.noise_share ** 0.5 * common.reshape(-1, c)
        noise = noise * opts.head_temperature
        s = None if staticness is None else torch.gather(staticness, 1, idx).reshape(-1, 1)
        if s is not None and opts.static_temperature_scale != 1:
            noise = noise * (1 - s.to(noise.dtype) * (1 - opts.static_temperature_scale))
        idx_c = idx[..., None].expand(-1, -1, c)
        base_revealed = torch.gather(base, 1, idx_c)  # (B, count, C) the (moved) previous frame's
        keep = None  # (B*count,) tokens that keep the base's value (keep_unchanged)
        if canvas is not None and opts.keep_unchanged > 0:
            change = torch.gather(canvas.tokens.reshape(b, m, c), 1, idx_c) - base_revealed
            keep = (change.float().pow(2).mean(-1).sqrt() < opts.keep_unchanged).reshape(-1)
        values = _head_draw(model, cond, coeffs, noise, opts,
                            None if kernels.static_keep else keep, kernels)
        values = model.from_head(values.view(b, count, c), base_revealed)
        if keep is not None:
            values = torch.where(keep.view(b, count, 1), base_revealed.to(values.dtype), values)
        tokens.scatter_(1, idx_c, values)
        mask.scatter_(1, idx, False)
        reveal_step.scatter_(1, idx, step)
    return _frames(model, tokens, canvas, reveal_step)


def _shared_noise(b: int, k: int, c: int, opts: SampleConfig,
                  generator: torch.Generator | None, device: torch.device,
                  dtype: torch.dtype) -> torch.Tensor | None:
    """(B, K, C) one noise draw per frame of the group, common to its tokens
    (sample.noise_share); None when off, so the default draws exactly what it did before."""
    if opts.noise_share == 0:
        return None
    shared = torch.randn((b, k, c), generator=generator, device=noise_device(generator))
    return to_device(shared, device, dtype)


def _head_draw(model: CanvasMAR, cond: torch.Tensor, coeffs: torch.Tensor,
               noise: torch.Tensor, opts: SampleConfig, skip: torch.Tensor | None,
               kernels: StepKernels = EAGER) -> torch.Tensor:
    """The flow head's draws (M, C) for the revealed tokens: cond (P, M, D) per guidance
    pass, noise (M, C) the ODE's start. Rows in `skip` (M,) bool are not integrated (zeros;
    the caller keeps the previous frame's value), so a mostly unchanged frame costs little
    head work; selecting them reads the mask on the host (one sync per MAR step, only then)."""
    rows = None
    if skip is not None:
        rows = (~skip).nonzero().squeeze(1)
        cond, noise = cond[:, rows], noise[rows]
    drawn = kernels.integrate(model, cond, coeffs, noise, opts.flow_steps, opts.time_shift) \
        if noise.shape[0] else noise
    if rows is None:
        return drawn
    return torch.zeros(skip.shape[0], drawn.shape[1], dtype=drawn.dtype,
                       device=drawn.device).index_copy(0, rows, drawn)


@torch.no_grad()
def canvas_group(model: CanvasMAR, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                 opts: SampleConfig, generator: torch.Generator | None = None,
                 z_free: torch.Tensor | None = None) -> list[GeneratedFrame]:
    """The canvas-only baseline: the one-pass blurry prediction is the frame (no MAR steps;
    no guidance, so `z_free` is unused); the K canvases of a next-K model's group."""
    canvas = model.predict_canvas(z_t, noise_augment(prev_tokens, opts.frame_noise, generator),
                                  prev_tokens)
    b, k = z_t.shape[0], model.group
    tokens = canvas.tokens.view(b, k * model.num_tokens, -1)
    reveal = torch.zeros(b, k * model.num_tokens, dtype=torch.long, device=tokens.device)
    return _frames(model, tokens, canvas, reveal)


def check_actions(model: CanvasMAR, actions: torch.Tensor | None, opts: SampleConfig) -> None:
    """A UserError for actions or action guidance asked of a model without actions."""
    if model.has_actions:
        return
    if actions is not None:
        raise UserError("this model was trained without actions (model.actions=0): predict "
                        "without them, or train with model.actions=N (docs/world-model.md)")
    if opts.cfg_action != 1:
        raise UserError(f"sample.cfg_action={opts.cfg_action} guides on actions, but this "
                        f"model has none (model.actions=0): leave it at 1")


@torch.no_grad()
def rollout(model: CanvasMAR, context: torch.Tensor, num_frames: int, opts: SampleConfig,
            generator: torch.Generator | None = None, use_kv_cache: bool = True,
            canvas_only: bool = False, actions: torch.Tensor | None = None,
            kernels: StepKernels = EAGER) -> Iterator[GeneratedFrame]:
    """context latents (B, T, C, h, w), T >= 1 -> yields `num_frames` new frames one by one.

    Frames here are latent frames, the autoregressive units: with a VAE that compresses time
    by k, each one stands for k pixel frames (the first latent frame for pixel frame 0 alone),
    and the pipeline converts pixel counts to latent counts and decodes (pipeline.py).

    The temporal KV cache keeps `opts.window` input frames (`TemporalState`), so memory and
    time per frame stay flat however long the rollout. `use_kv_cache=False` recomputes the
    whole history each frame with the same windowed attention (for checking).
    `canvas_only=True` rolls out the canvas alone (the baseline the evaluation scores).
    `actions` (model.actions > 0): (B, T + num_frames - 1) long or (..., N) float, the action
    after each frame but the last of context + rollout (models/actions.py; None: all null).
    sample.cfg_action != 1 then guides on them (one more temporal step and a second set of
    passes per frame); without actions it changes nothing and costs nothing.

    A next-K model (model.group = K, App. B) makes K frames per temporal step and yields them
    one by one; when num_frames is not a multiple of K the last group is made whole and only
    the frames asked for are yielded.
    """
    check_actions(model, actions, opts)
    t = context.shape[1]
    if actions is not None and actions.shape[1] != t + num_frames - 1:
        raise ValueError(f"{actions.shape[1]} actions for {t} context and {num_frames} new "
                         f"frames: give {t + num_frames - 1} (one after each frame but the last)")
    make_group = canvas_group if canvas_only else functools.partial(generate_group,
                                                                    kernels=kernels)
    state = TemporalState(model, context, opts, use_kv_cache,
                          None if actions is None else actions[:, :t - 1])
    guided = actions is not None and opts.cfg_action != 1 and not canvas_only
    for i in range(0, num_frames, model.group):
        action = None if actions is None else actions[:, t - 1 + i]  # group 1 only (schema)
        z_t, z_free = state.condition(action, free=guided)
        frames = make_group(model, z_t, model.to_tokens(state.last), opts, generator, z_free)
        yield from frames[:num_frames - i]
        state.push(group_latents(frames), action, generator)


def group_latents(frames: list[GeneratedFrame]) -> torch.Tensor:
    """The latent of a lone frame (B, C, h, w), or a group's (B, K, C, h, w)."""
    if len(frames) == 1:
        return frames[0].latent
    return torch.stack([f.latent for f in frames], 1)
