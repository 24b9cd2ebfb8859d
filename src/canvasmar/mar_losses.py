"""The Spatial MAR's losses: L_MAR (flow matching at the masked tokens, Eq. 10) in its two
forms, and the mean readout `loss.mean_weight` (not in the paper).

Why the mean readout: every CanvasMAR we trained on our CPU drew each masked token from the
canvas and z_t alone and ignored the tokens already revealed in its frame (the swap test,
docs/quality.md), so the tokens of one uncertain object are drawn independently: fragments,
or no motion at all. Reading revealed neighbours lowers L_MAR only on the few uncertain
tokens, and L_MAR's gradient carries the flow draws' noise (random time and noise per token).
The flow head at the noise end already estimates the conditional mean: with
x_t = t * noise + (1 - t) * x (flow.py) and noise = 0 at t = 1, the best velocity is
0 - E[x | cond]. `mean_loss` regresses exactly that, a squared error with no draw in it, so
the part of the target that the revealed neighbours predict reaches the Spatial MAR as a
low-variance gradient. No new weights: it trains the head that samples.
"""

from __future__ import annotations

from typing import Protocol

import torch

from canvasmar import flow
from canvasmar.models.canvasmar import CanvasMAR


class MaskedDraws(Protocol):
    """What these losses read of a step's draws (losses.LossRandomness has them)."""

    mask: torch.Tensor  # (F, n) bool, True = masked
    time: torch.Tensor  # (k, F, n) flow times
    head_noise: torch.Tensor  # (k, F, n, C) flow noise
    total_masked: torch.Tensor  # 0-d: k x masked tokens of the global batch


def mar_loss(model: CanvasMAR, cond: torch.Tensor, targets: torch.Tensor,
             rnd: MaskedDraws, static_shapes: bool | None = None,
             weights: torch.Tensor | None = None) -> torch.Tensor:
    """L_MAR: flow matching at the masked tokens, each repeated k times with its own noise and
    time (MAR's diffusion batch multiplier); mean over (masked tokens x k) and channels.

    cond (F, n, D), targets (F, n, C). Two forms of one value, equal to float tolerance
    (tests/test_objective.py): `static_shapes` (default: off the CPU) runs the head on all
    tokens with the mask as weights; otherwise the masked tokens are gathered (losses.py's
    docstring). `weights` (F, n): `token_weights` (loss.moving_weight), or None.
    """
    if static_shapes is None:
        static_shapes = targets.device.type != "cpu"
    if static_shapes:
        return _mar_loss_static(model, cond, targets, rnd, weights)
    return _mar_loss_gathered(model, cond, targets, rnd, weights)


def _mar_loss_static(model: CanvasMAR, cond: torch.Tensor, targets: torch.Tensor,
                     rnd: MaskedDraws, weights: torch.Tensor | None) -> torch.Tensor:
    """The head on all (k, F, n) tokens, unmasked ones weighted out; no host read, one graph.

    The head broadcasts the one cond (F, n, D) over the k repeats (`cond_embed` once per
    token); the mean's count is a tensor. Not bitwise equal to the gathered form: the sum
    runs in another order.
    """
    x = targets[None]  # (1, F, n, C): broadcast over the k repeats, no copy
    v = model.velocity(flow.interpolate(x, rnd.head_noise, rnd.time), rnd.time, cond)
    sq = weighted((v.float() - flow.velocity_target(x, rnd.head_noise)).pow(2).sum(-1),
                   weights)  # (k, F, n)
    # where, not a product with the mask: an unmasked token's value never reaches the loss
    masked = torch.where(rnd.mask, sq, torch.zeros((), dtype=sq.dtype, device=sq.device))
    return masked.sum() / (rnd.total_masked.clamp(min=1) * targets.shape[-1])


def _mar_loss_gathered(model: CanvasMAR, cond: torch.Tensor, targets: torch.Tensor,
                       rnd: MaskedDraws, weights: torch.Tensor | None) -> torch.Tensor:
    """The head on the masked tokens only (boolean indexing: nonzero, a data-dependent shape)."""
    k = rnd.time.shape[0]
    cond_m = cond[rnd.mask].repeat(k, 1)  # (k*M, D), repeat-major
    x_m = targets[rnd.mask].repeat(k, 1)  # (k*M, C)
    time = rnd.time[:, rnd.mask].reshape(-1)  # (k*M,), same order
    noise = rnd.head_noise[:, rnd.mask].reshape(-1, x_m.shape[-1])
    v = model.velocity(flow.interpolate(x_m, noise, time), time, cond_m)
    sq = (v.float() - flow.velocity_target(x_m, noise)).pow(2).sum(-1)  # (k*M,)
    if weights is not None:
        sq = sq * weights[rnd.mask].repeat(k)
    return sq.sum() / (rnd.total_masked.clamp(min=1) * x_m.shape[-1])



def weighted(per_token: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """(..., F, n) per-token losses times `token_weights` (F, n); unchanged without them. The
    means keep their unweighted counts, so a weight raises that token's share of the step."""
    return per_token if weights is None else per_token * weights


def mean_loss(model: CanvasMAR, cond: torch.Tensor, targets: torch.Tensor,
              rnd: MaskedDraws, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The head's velocity at the noise end with zero noise, v(0, t=1, cond), against -x: the
    conditional mean E[x | cond] as a squared error (module docstring), mean over the masked
    tokens and channels like L_MAR. Static-shaped (mask weights, no gather) on every device.

    cond (F, n, D), targets (F, n, C): the head's targets (`CanvasMAR.to_head`).
    """
    zeros = torch.zeros_like(targets)
    ones = torch.ones(targets.shape[:-1], dtype=targets.dtype, device=targets.device)
    v = model.velocity(zeros, ones, cond)  # = noise - x with noise 0
    sq = weighted((v.float() + targets.float()).pow(2).sum(-1), weights)  # (F, n)
    masked = torch.where(rnd.mask, sq, torch.zeros((), dtype=sq.dtype, device=sq.device))
    count = rnd.total_masked / rnd.time.shape[0]  # masked tokens (total_masked counts k x)
    return masked.sum() / (count.clamp(min=1) * targets.shape[-1])
