"""What blocks learning, as numbers: does the Spatial MAR use the tokens it has revealed, is the
flow head calibrated, does the canvas beat copying the last frame where nothing moves.

All three are measured on the last frame of each held-out clip, given its true history
(teacher forcing), with the previous frame noise-augmented at the sampling level and the
canvas embedding at the sampling level (Eq. 11-12, `SampleConfig`). Values are in latent token
space (pixel tokens: [-1, 1]).

- **Swap test.** A fixed random `revealed` share of the frame's tokens is revealed, with the
  true values, then with the values of another clip's frame at the same places; the head's
  deterministic prediction (the ODE from zero noise, head temperature 0) at the still-masked
  tokens is compared. `swap_mse` is how far the prediction moves; a MAR that ignores what it
  revealed moves by ~0 (the shipped tiny model: ~2e-5 in pixel units). `swap_gain` is the
  error of the prediction with the other clip's tokens minus the error with the true ones:
  positive when the revealed tokens help. `swap_moving_gain` is the same help as a share, on
  the masked tokens that move (1 - error with the true revealed tokens / error with the other
  clip's): in a game, where most tokens are the same background in every clip, the moving
  ones are where a revealed neighbour says where the paddle went (0: it is ignored, and each
  token of the paddle's column draws "paddle here?" on its own; docs/world-model.md).
  The same three with both conditions dropped (`*_unconditional`): the revealed tokens are
  then the MAR's only information, so ~0 there means it cannot read them at all (session 22:
  with model.residual the head predicts each token's change, and absolute revealed values
  without the previous frame say nothing about it; model.reveal_change gives the change).
- **Calibration.** `samples` draws of the head at temperature 1 for each masked token (full
  mask, the first MAR step): the spread (mean variance over draws) against the error of the
  draws' mean, `spread_over_error` = sqrt(spread / error), on static and on moving tokens.
  A calibrated head gives ~1: the truth looks like one more draw.
- **Static regions.** Tokens whose true change from the previous frame is below
  `STATIC_CHANGE` are static; the canvas's error there against copying the last frame's.
- **Motion.** Does the canvas predict where things move, and how far? On the moving tokens,
  `canvas_moving_gain` = 1 - canvas error / copy-last error: 0 for a canvas that predicts no
  change, 1 for a perfect one, < 0 for one worse than no change; `canvas_motion_recall` is the
  share of moving tokens where the canvas predicts a change (its own change from the previous
  frame above `STATIC_CHANGE`), `canvas_motion_precision` the share of the tokens where it
  predicts a change that do move. A canvas that moves objects has a gain well above 0;
  sampling settings cannot add motion that it lacks (docs/quality.md).
- **History use.** The same canvas with every history frame replaced by the last one (no
  motion left to see): `canvas_history_gain` = 1 - canvas error on moving tokens with the
  true history / with that frozen one. ~0: the canvas does not look past the last frame, so it
  cannot tell where an object is going (both models shipped before `model.motion_input`:
  0.0005 and 0.008).
- **Action use** (model.actions, clips with their actions): `canvas_action_gain`, the same
  with the canvas made with the action that leads to the target frame nulled instead of the
  history frozen: ~0, the canvas ignores the action (where the paddle goes, in Pong).
- **Shift canvas** (model.warp): `warp_moving_gain`, the gain above of the previous frame
  moved by the canvas's chosen shifts alone (models/warp.py; the oracle shift reaches ~0.83
  on the built-in clips), and `warp_static_mse`, its error on static tokens (copying: ~0;
  a shift chosen where nothing moves tears the background).

A next-K model (App. B) is measured on the last group of each clip, its K frames together,
against the frame before the group (what the model sees).
"""

from __future__ import annotations

import torch

from canvasmar import flow
from canvasmar.augment import noise_augment
from canvasmar.config import SampleConfig
from canvasmar.history_inputs import previous_frames
from canvasmar.models import CanvasMAR

STATIC_CHANGE = 1e-3  # mean squared change per token value (token space) below which it is static


def _last_frame_inputs(model: CanvasMAR, latents: torch.Tensor, opts: SampleConfig,
                       generator: torch.Generator, actions: torch.Tensor | None = None
                       ) -> dict[str, torch.Tensor]:
    """z_t, the previous and the true tokens of each clip's last frame, and its canvas;
    `actions` (B, T-1[, N]): the clips' actions (model.actions > 0). A next-K model: the
    last group's z_t (B, n, D) and, one row per frame (B*K), the rest."""
    k = model.group
    z_t = model.temporal_embeddings(latents[:, :-1], actions=actions)[:, -k]  # (B, n, D)
    prev = model.to_tokens(previous_frames(latents)[:, -k])  # (B, n, C)
    truth = (model.to_tokens(latents[:, -1]) if k == 1 else
             model.to_tokens(latents[:, -k:]).flatten(0, 1))
    out = {"z_t": z_t, "prev": prev if k == 1 else prev.repeat_interleave(k, 0),
           "truth": truth, "canvas": None, "canvas_tokens": None, "frozen_canvas_tokens": None}
    out["base"] = out["prev"]  # what the residual heads add to (moved with model.warp)
    if model.has_canvas:
        noisy_prev = noise_augment(prev, opts.frame_noise, generator)
        canvas = model.predict_canvas(z_t, noisy_prev, prev)
        out["base"] = canvas.base
        out["canvas"] = noise_augment(canvas.embedding, opts.canvas_noise, generator)
        out["canvas_tokens"] = canvas.tokens
        # history use: every history frame replaced by the one the target group follows
        frozen = latents[:, -k - 1:-k].expand(-1, latents.shape[1] - 1, -1, -1, -1)
        z_frozen = model.temporal_embeddings(frozen, actions=actions)[:, -k]
        out["frozen_canvas_tokens"] = model.predict_canvas(z_frozen, noisy_prev, prev).tokens
        out["null_action_canvas_tokens"] = None
        if actions is not None:  # action use: the action that leads to the target nulled
            drop = torch.zeros(actions.shape[:2], dtype=torch.bool, device=actions.device)
            drop[:, -1] = True
            z_null = model.temporal_embeddings(latents[:, :-1], actions=actions,
                                               drop_action=drop)[:, -k]
            out["null_action_canvas_tokens"] = model.predict_canvas(z_null, noisy_prev,
                                                                    prev).tokens
    return out


def _head_prediction(model: CanvasMAR, cond: torch.Tensor, opts: SampleConfig,
                     noise: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """The flow head's ODE from `noise` (..., C) under conditions cond (..., D), as token
    values (`base`, the previous frame's tokens (B, n, C), broadcasts: model.residual)."""
    shape = noise.shape
    cond, noise = cond.reshape(-1, cond.shape[-1]), noise.reshape(-1, shape[-1])
    values = flow.euler_sample(lambda x, t: model.velocity(x, t, cond), noise, opts.flow_steps,
                               opts.time_shift)
    return model.from_head(values.view(shape), base)


def _masked_mean(x: torch.Tensor, where: torch.Tensor) -> float:
    """Mean of x (B, n, C) over the tokens where `where` (B, n) is True and all channels."""
    count = where.sum() * x.shape[-1]
    return float((x * where[..., None]).sum() / count.clamp(min=1))


@torch.no_grad()
def swap_test(model: CanvasMAR, inputs: dict[str, torch.Tensor], opts: SampleConfig,
              revealed: float, generator: torch.Generator) -> dict[str, float]:
    """The swap test of the module docstring on one batch (B >= 2), with the conditions and
    (keys ending in `_unconditional`) with both dropped, as the unconditional branch of Eq. 9
    sees the frame: there the revealed tokens are all the MAR has."""
    truth = inputs["truth"]
    b, n, _ = truth.shape
    ranks = torch.rand(b, n, generator=generator).argsort(-1).argsort(-1).to(truth.device)
    mask = ranks >= round(revealed * n)  # True = masked, the rest revealed
    dropped = torch.ones(inputs["z_t"].shape[0], dtype=torch.bool, device=truth.device)
    out = _swap(model, inputs, opts, mask)
    out |= {f"{k}_unconditional": v for k, v in
            _swap(model, inputs, opts, mask, dropped).items()}
    return out


def _swap(model: CanvasMAR, inputs: dict[str, torch.Tensor], opts: SampleConfig,
          mask: torch.Tensor, drop: torch.Tensor | None = None) -> dict[str, float]:
    """swap_mse, swap_gain and swap_moving_gain for one reveal `mask`; `drop` (per z_t row):
    both conditions dropped."""
    truth = inputs["truth"]
    other = truth.roll(model.group, dims=0)  # another clip's frame, token for token
    zeros = torch.zeros_like(truth)
    preds = []
    for tokens in (truth, other):
        cond = model.predict_tokens(inputs["z_t"], tokens, mask, inputs["canvas"], drop, drop,
                                    base=inputs["base"])
        preds.append(_head_prediction(model, cond, opts, zeros, inputs["base"]))
    true_error = (preds[0] - truth).pow(2)
    swapped_error = (preds[1] - truth).pow(2)
    out = {"swap_mse": _masked_mean((preds[0] - preds[1]).pow(2), mask),
           "swap_gain": _masked_mean(swapped_error - true_error, mask)}
    moving = mask & ((truth - inputs["prev"]).pow(2).mean(-1) >= STATIC_CHANGE)
    if moving.any():
        out["swap_moving_gain"] = 1 - _masked_mean(true_error, moving) / max(
            _masked_mean(swapped_error, moving), 1e-12)
    return out


@torch.no_grad()
def calibration(model: CanvasMAR, inputs: dict[str, torch.Tensor], opts: SampleConfig,
                samples: int, generator: torch.Generator) -> dict[str, float]:
    """Spread of `samples` head draws (temperature 1, nothing revealed) over their mean's error,
    on static and moving tokens, and the canvas and copy-last errors on static tokens."""
    truth, prev = inputs["truth"], inputs["prev"]
    b, n, c = truth.shape
    mask = torch.ones(b, n, dtype=torch.bool, device=truth.device)
    cond = model.predict_tokens(inputs["z_t"], torch.zeros_like(truth), mask, inputs["canvas"],
                                base=inputs["base"])
    noise = torch.randn((samples, b, n, c), generator=generator).to(truth.device, truth.dtype)
    draws = _head_prediction(model, cond.expand(samples, -1, -1, -1), opts, noise,
                             inputs["base"])
    spread = draws.var(0, unbiased=True)  # (B, n, C)
    error = (draws.mean(0) - truth).pow(2)
    static = (truth - prev).pow(2).mean(-1) < STATIC_CHANGE  # (B, n)
    out: dict[str, float] = {"static_share": float(static.float().mean())}
    for name, where in (("static", static), ("moving", ~static)):
        if where.any():
            ratio = _masked_mean(spread, where) / max(_masked_mean(error, where), 1e-12)
            out[f"spread_over_error_{name}"] = ratio ** 0.5
    if static.any():
        out["copy_last_static_mse"] = _masked_mean((prev - truth).pow(2), static)
        if inputs["canvas_tokens"] is not None:
            out["canvas_static_mse"] = _masked_mean((inputs["canvas_tokens"] - truth).pow(2),
                                                    static)
    if inputs["canvas_tokens"] is not None:
        out |= canvas_motion(inputs["canvas_tokens"], prev, truth)
        out |= history_use(inputs["canvas_tokens"], inputs["frozen_canvas_tokens"], prev, truth)
        if inputs["null_action_canvas_tokens"] is not None:
            out |= history_use(inputs["canvas_tokens"], inputs["null_action_canvas_tokens"],
                               prev, truth, key="canvas_action_gain")
    if model.warp is not None:  # the moved previous frame alone, scored like the canvas
        gain = canvas_motion(inputs["base"], prev, truth).get("canvas_moving_gain")
        if gain is not None:
            out["warp_moving_gain"] = gain
        if static.any():  # a wrong shift where nothing moves tears the background
            out["warp_static_mse"] = _masked_mean((inputs["base"] - truth).pow(2), static)
    return out


def history_use(canvas: torch.Tensor, frozen: torch.Tensor, prev: torch.Tensor,
                truth: torch.Tensor, key: str = "canvas_history_gain") -> dict[str, float]:
    """`canvas_history_gain` of the module docstring from the canvases (B, n, C) made with the
    true and with the frozen history (or `canvas_action_gain`: with the last action nulled
    instead); nothing when no token moves."""
    moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE
    if not moving.any():
        return {}
    frozen_error = _masked_mean((frozen - truth).pow(2), moving)
    return {key: 1 - _masked_mean((canvas - truth).pow(2), moving)
            / max(frozen_error, 1e-12)}


def canvas_motion(canvas: torch.Tensor, prev: torch.Tensor, truth: torch.Tensor
                  ) -> dict[str, float]:
    """Canvas, previous and true tokens (B, n, C) -> the motion numbers of the module
    docstring; the ones without a token to count over are left out."""
    moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE  # (B, n)
    predicted = (canvas - prev).pow(2).mean(-1) >= STATIC_CHANGE
    out: dict[str, float] = {}
    if moving.any():
        copy_error = _masked_mean((prev - truth).pow(2), moving)
        out["canvas_moving_gain"] = 1 - _masked_mean((canvas - truth).pow(2), moving) / max(
            copy_error, 1e-12)
        out["canvas_motion_recall"] = float(predicted[moving].float().mean())
    if predicted.any():
        out["canvas_motion_precision"] = float(moving[predicted].float().mean())
    return out


@torch.no_grad()
def diagnose(model: CanvasMAR, latents: torch.Tensor, opts: SampleConfig, revealed: float = 0.7,
             samples: int = 8, seed: int = 0, batch_size: int = 32,
             actions: torch.Tensor | None = None) -> dict[str, float]:
    """latents (N, T, C, h, w), N >= 2 clips of T >= 2 latent frames -> the means over batches
    of the swap test and the calibration numbers (module docstring). `actions` (N, T-1[, N]):
    the clips' actions for a model with actions (None: null actions)."""
    if len(latents) < 2 or latents.shape[1] < 2:
        raise ValueError("the diagnostics need at least 2 clips of at least 2 frames")
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for start in range(0, len(latents), batch_size):
        rows = slice(start, start + batch_size)
        if len(latents[rows]) < 2:  # the swap needs a second clip: join the previous batch's last
            rows = slice(start - 1, start + 1)
        chunk = latents[rows]
        inputs = _last_frame_inputs(model, chunk, opts, g,
                                    None if actions is None else actions[rows])
        parts = swap_test(model, inputs, opts, revealed, g)
        parts |= calibration(model, inputs, opts, samples, g)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * len(chunk)
            weights[k] = weights.get(k, 0.0) + len(chunk)
    model.train(was_training)
    return {k: sums[k] / weights[k] for k in sums}

