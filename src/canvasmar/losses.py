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

Static shapes (GPU efficiency): on an accelerator nothing in the objective depends on the
values of the data or the draws for a shape, a Python branch or a host read, so
`torch.compile(fullgraph=True)` captures it as one graph (tests/test_compile.py, on the CPU) and
CUDA graphs can replay it. A boolean index (`x[mask]`) is a `nonzero()`: a host-device sync
and a shape that changes every step. So there L_MAR runs the flow head on every token of every
frame and weights the squared error by the mask (`mar_loss`): the same mean over the masked
tokens, in another summation order, for 1 / E[mask ratio] ~ 1.15x the head's work. On the CPU
the gather stays (nothing to sync with, and the static form measured 10% slower there, compiled
or not); `static_shapes=True` asks for the static form anywhere. The global masked count is a
tensor, not an int: reading it would sync, and as an int it would recompile every step.

Next-group models (model.group = K, App. B): a clip of T frames is T/K groups, all supervised
in the same one pass. Group g (frames gK..gK+K-1) is conditioned by the z_t of its first frame
(the Temporal ViT output after frame gK-1, or BOS) and by frame gK-1 (the Canvas ViT's input;
the base of model.residual for all K frames); the Canvas ViT runs once per group and its K
heads give each frame's canvas. What conditions a group is drawn per group (r, eps of Eq. 11,
r' of Eq. 12, condition dropout: sampling uses one canvas pass and one set of guidance flags
per group); masks, the canvas noise eps' and the flow draws stay per frame.

Sharding: all randomness of a step is drawn for the whole global batch (`draw_randomness`)
and each process or micro-batch takes its slice (`LossRandomness.clips`); the means are then
sums divided by the global counts. So the summed contributions of any split of the batch
(processes x gradient-accumulation steps) equal the one-process loss on the whole batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from canvasmar import flow
from canvasmar.augment import condition_dropout, noise_augment, uniform
from canvasmar.config import LossConfig, SampleConfig
from canvasmar.errors import UserError
from canvasmar.history_inputs import freeze_frames, own_history_inputs, previous_frames
from canvasmar.mar_losses import mar_loss, mean_loss, weighted
from canvasmar.masking import random_masks, sample_mask_ratios
from canvasmar.models.canvasmar import CanvasMAR
from canvasmar.models.warp import shift_loss


def canvas_error(canvas_tokens: torch.Tensor, target_tokens: torch.Tensor) -> torch.Tensor:
    """Per-token canvas error l_j (Eq. 6), (..., n): squared L2 norm over the channels."""
    return (canvas_tokens - target_tokens).pow(2).sum(dim=-1)


def canvas_error_l1(canvas_tokens: torch.Tensor, target_tokens: torch.Tensor) -> torch.Tensor:
    """Per-token absolute canvas error (loss.canvas_norm=l1), (..., n): L1 norm over the
    channels; its minimiser is each value's median over the futures, not their mean."""
    return (canvas_tokens - target_tokens).abs().sum(dim=-1)


def staticness_target(error: torch.Tensor) -> torch.Tensor:
    """s_j = exp(-l_j) under stop-gradient (Eq. 7)."""
    return torch.exp(-error.detach())


# A token "moves" (loss.moving_weight) where its RMS change over channels from the frame before
# exceeds this, in normalised units (pixels in [-1, 1], VAE latents ~unit spread): above
# video-codec noise (~0.02 on Atari recordings), far below an object entering a token.
MOVING_RMS = 0.05


def token_weights(tokens: torch.Tensor, moving_weight: float, grid: tuple[int, int]
                  ) -> torch.Tensor | None:
    """tokens (B, T, n, C) on a `grid` (h, w) of n tokens -> per-token loss weights (B*T, n)
    for loss.moving_weight (not in the paper): the weight on target frame t's tokens within
    one token (3x3) of a token that moved from frame t-2 to t-1, 1 elsewhere and on frames
    0 and 1. Why: moving objects are a few tokens of a frame (a Pong paddle: 2-4 of 64), so
    in a plain mean their error, which is what makes video move, is outweighed by the flow
    loss's irreducible noise on the static rest.

    Why from the history and not from the target: a weight that depends on the target tilts
    what the model learns toward the targets it weighs (the minimiser of E[w(y) |f - y|^2]
    is E[w(y) y] / E[w(y)]): weighting the tokens that *did* change teaches the canvas and the
    head to paint a moving object everywhere it *might* go, streaks a session-19 run showed
    (docs/world-model.md). A weight the model's inputs determine leaves each token's optimum
    where it was and only spends more of the step on the places where things move.
    None at 1 (the paper's unweighted means, nothing computed)."""
    if moving_weight == 1:
        return None
    b, t, n = tokens.shape[:3]
    if t < 3:  # no target has two frames before it
        return tokens.new_ones(b * t, n, dtype=torch.float32)
    change = (tokens[:, 1:-1] - tokens[:, :-2]).float().pow(2).mean(-1).sqrt()  # (B, T-2, n)
    moved = (change > MOVING_RMS).float().view(-1, 1, *grid)
    near = F.max_pool2d(moved, 3, stride=1, padding=1).view(b, t - 2, n)
    near = torch.cat([near.new_zeros(b, 2, n), near], dim=1)  # frames 0 and 1: weight 1
    return rearrange(1 + (moving_weight - 1) * near, "b t n -> (b t) n")


# per group (F / K rows) with model.group = K; every other tensor has one row per frame
GROUP_FIELDS = ("frame_noise_level", "frame_noise", "canvas_noise_level", "drop_temporal",
                "drop_canvas")


@dataclass(frozen=True)
class LossRandomness:
    """Every random draw of one training step; frame-indexed tensors have F = clips x T rows,
    the GROUP_FIELDS one row per group of `group` frames (F rows for a next-frame model).

    `total_frames` / `total_masked` are the counts of the whole global batch, the denominators
    of the means, so a slice's loss is its share of the global loss.
    """

    frame_noise_level: torch.Tensor  # r of Eq. 11, (F,)
    frame_noise: torch.Tensor  # eps of Eq. 11, (F, n, C)
    canvas_noise_level: torch.Tensor  # r' of Eq. 12, (F,)
    canvas_noise: torch.Tensor  # eps of Eq. 12, (F, n, D)
    mask: torch.Tensor  # MAR mask, (F, n) bool, True = masked (L_MAR is taken there)
    drop_temporal: torch.Tensor  # (F,) bool
    drop_canvas: torch.Tensor  # (F,) bool
    time: torch.Tensor  # flow times, (k, F, n): count at masked tokens only
    head_noise: torch.Tensor  # flow noise, (k, F, n, C)
    frames_per_clip: int
    total_frames: int
    # k x masked tokens of the global batch: a 0-d tensor on the draw's device, not an int,
    # so no host read (GPU sync) at the draw and no recompile when the count changes
    total_masked: torch.Tensor
    # model.actions > 0: (F,) bool, frame i's action condition (the action after frame i-1)
    # is nulled; None without actions (nothing drawn: the other draws are unchanged)
    drop_action: torch.Tensor | None = None
    # loss.history_noise_max > 0: (F,) level and (F, C, h, w) noise on frame i as a history
    # frame of the Temporal ViT; None otherwise (nothing drawn: the other draws are unchanged)
    history_noise_level: torch.Tensor | None = None
    history_noise: torch.Tensor | None = None
    # loss.history_freeze > 0: (F,) bool, frame i enters as an input (history and previous
    # frame) as a copy of input frame i-1 (never frame 0 of a clip); None otherwise
    history_freeze: torch.Tensor | None = None
    # loss.own_history > 0: (F,) bool, frame i enters as an input as the model's own one-step
    # draw of it (never frame 0), and the 0-d seed of that draw; None otherwise
    own_history: torch.Tensor | None = None
    own_history_seed: torch.Tensor | None = None
    group: int = 1  # model.group: frames per group (App. B)

    def clips(self, start: int, count: int) -> LossRandomness:
        """The draws of clips start .. start+count-1 (global counts kept)."""
        lo, hi = start * self.frames_per_clip, (start + count) * self.frames_per_clip
        parts = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                if f.name in ("time", "head_noise"):
                    value = value[:, lo:hi]
                elif f.name in GROUP_FIELDS:
                    value = value[lo // self.group:hi // self.group]
                elif value.dim():  # a global count (0-d) is kept whole
                    value = value[lo:hi]
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
    check_group(model, frames_per_clip)
    g = f // model.group  # groups: one row each for what conditions a group (= f for K = 1)
    ratios = sample_mask_ratios((f,), cfg.mask_ratio_min, cfg.mask_ratio_std, generator)
    mask = random_masks(ratios, n, generator)
    drop_temporal, drop_canvas = condition_dropout(
        (g,), cfg.drop_canvas, cfg.drop_temporal, cfg.drop_both, generator)
    rnd = LossRandomness(
        frame_noise_level=uniform((g,), cfg.frame_noise_min, cfg.frame_noise_max, generator),
        frame_noise=torch.randn((g, n, c), generator=generator),
        canvas_noise_level=uniform((g,), cfg.canvas_noise_min, cfg.canvas_noise_max, generator),
        canvas_noise=torch.randn((f, n, d), generator=generator),
        mask=mask, drop_temporal=drop_temporal, drop_canvas=drop_canvas,
        time=flow.sample_time((k, f, n), generator, device=device),
        head_noise=torch.randn((k, f, n, c), generator=generator),
        frames_per_clip=frames_per_clip, total_frames=f, total_masked=mask.sum() * k,
        group=model.group)
    if model.has_actions:  # drawn after the rest: all other draws equal those without actions
        drop_action = torch.rand((f,), generator=generator) < cfg.drop_action
        rnd = dataclasses.replace(rnd, drop_action=drop_action)
    if cfg.history_noise_max > 0:  # the same, after the actions
        rnd = dataclasses.replace(
            rnd, history_noise_level=uniform((f,), 0.0, cfg.history_noise_max, generator),
            history_noise=torch.randn((f, *model.latent_shape), generator=generator))
    if cfg.history_freeze > 0:  # the same, last
        freeze = torch.rand((clips, frames_per_clip), generator=generator) < cfg.history_freeze
        freeze[:, 0] = False  # frame 0 has no frame before it to repeat
        rnd = dataclasses.replace(rnd, history_freeze=freeze.flatten())
    if cfg.own_history > 0:  # the same, after history_freeze
        own = torch.rand((clips, frames_per_clip), generator=generator) < cfg.own_history
        own[:, 0] = False  # frame 0 is never generated in a rollout
        seed = torch.randint(2**62, (), generator=generator)
        rnd = dataclasses.replace(rnd, own_history=own.flatten(), own_history_seed=seed)
    return rnd


def check_group(model: CanvasMAR, frames: int) -> None:
    """A clip of `frames` latent frames must split into groups of model.group (App. B)."""
    if frames % model.group:
        raise UserError(f"a clip of {frames} latent frames does not split into groups of "
                        f"model.group={model.group}: give clips of a multiple of "
                        f"{model.group} frames (data.frames)")


def training_losses(model: CanvasMAR, latents: torch.Tensor, cfg: LossConfig,
                    generator: torch.Generator | None = None,
                    randomness: LossRandomness | None = None,
                    static_shapes: bool | None = None,
                    actions: torch.Tensor | None = None,
                    sample: SampleConfig | None = None) -> dict[str, torch.Tensor]:
    """latents (B, T, C, h, w), normalised -> {'loss', 'mar', 'canvas', 'static'} scalars
    (and 'warp' with model.warp, 'mean' with loss.mean_weight). `sample`: the run's sampling
    settings, with which loss.own_history draws the model's own frames (needed only then).

    With `randomness` (a slice of a global batch's draws) the values are this slice's shares
    of the global means; without it the draws come from `generator` for this batch alone.
    `static_shapes`: see `mar_loss` (default: on any device but the CPU). `actions` (B, T-1)
    long or (B, T-1, N) float: the action between each pair of frames (model.actions > 0;
    None: all null), each nulled with probability loss.drop_action (`rnd.drop_action`).
    """
    b, t = latents.shape[:2]
    check_group(model, t)
    if randomness is None:
        randomness = draw_randomness(model, b, t, cfg, generator)
    rnd = randomness.to(latents.device)
    tokens = model.to_tokens(latents)  # (B, T, n, C)
    targets = rearrange(tokens, "b t n c -> (b t) n c")
    weights = token_weights(tokens, cfg.moving_weight, model.latent_shape[1:])  # None at 1
    # z_t and previous frame of each group's first frame (of every frame when K = 1)
    inputs = latents  # what the model reads (history, previous frame); targets stay real
    if rnd.history_freeze is not None:
        inputs = freeze_frames(latents, rnd.history_freeze.view(b, t))
    if rnd.own_history is not None:
        if sample is None:
            raise ValueError("loss.own_history draws frames with the run's sample settings: "
                             "pass sample=")
        inputs = own_history_inputs(model, inputs, latents, rnd.own_history,
                                    rnd.own_history_seed, sample, actions)
    z_t = rearrange(model.group_starts(_temporal(model, inputs, rnd, actions)),
                    "b g n d -> (b g) n d")
    losses: dict[str, torch.Tensor] = {}

    prev = rearrange(model.to_tokens(model.group_starts(previous_frames(inputs))),
                     "b g n c -> (b g) n c")
    canvas_embedding = canvas_base = None
    if model.has_canvas:
        noisy_prev = noise_augment(prev, rnd.frame_noise_level, noise=rnd.frame_noise)
        canvas = model.predict_canvas(z_t, noisy_prev, prev)  # (BT, ...): K per group
        canvas_base = canvas.base
        error = canvas_error(canvas.tokens.float(), targets)  # (BT, n)
        per_token = rnd.total_frames * model.num_tokens
        static = (canvas.staticness.float() - staticness_target(error)).pow(2)
        fit = error if cfg.canvas_norm == "l2" else canvas_error_l1(canvas.tokens.float(),
                                                                   targets)
        losses["canvas"] = weighted(fit, weights).sum() / per_token
        losses["static"] = weighted(static, weights).sum() / per_token
        level = _per_frame(model, rnd.canvas_noise_level)
        canvas_embedding = noise_augment(canvas.embedding, level, noise=rnd.canvas_noise)
        if canvas.shift_logits is not None:  # model.warp: which shift of prev explains targets
            good = model.warp.acceptable_shifts(_per_frame(model, prev), targets)
            losses["warp"] = shift_loss(canvas.shift_logits, good) / per_token

    total = torch.zeros((), device=latents.device)
    if cfg.mar_weight > 0:  # 0: the canvas path alone, no Spatial MAR or head pass at all
        # the head learns the change from the previous frame with model.residual (to_head); in
        # a group, from the frame before the group (what the sampler knows); with model.warp,
        # from it moved by the canvas's chosen shifts (no gradient through the choice)
        base = _per_frame(model, prev) if canvas_base is None else canvas_base.detach()
        cond = model.predict_tokens(z_t, targets, rnd.mask, canvas_embedding,
                                    rnd.drop_temporal, rnd.drop_canvas, base)
        head_targets = model.to_head(targets, base)
        losses["mar"] = mar_loss(model, cond, head_targets, rnd, static_shapes, weights)
        total = cfg.mar_weight * losses["mar"]
        if cfg.mean_weight > 0:  # the head's mean readout (mar_losses.py: why)
            losses["mean"] = mean_loss(model, cond, head_targets, rnd, weights)
            total = total + cfg.mean_weight * losses["mean"]
    if model.has_canvas:
        total = total + cfg.canvas_weight * losses["canvas"] + cfg.static_weight * losses["static"]
    if "warp" in losses:
        total = total + cfg.warp_weight * losses["warp"]
    losses["loss"] = total
    return losses


def _per_frame(model: CanvasMAR, x: torch.Tensor) -> torch.Tensor:
    """Per-group rows -> per-frame rows (each repeated for the K frames of its group)."""
    return x if model.group == 1 else x.repeat_interleave(model.group, 0)


def _temporal(model: CanvasMAR, latents: torch.Tensor, rnd: LossRandomness,
              actions: torch.Tensor | None) -> torch.Tensor:
    """z_t of every frame; with actions, target i's draw nulls the action after frame i-1;
    with loss.history_noise_max, the history frames are noise-augmented (Eq. 11's form)."""
    b, history, level = latents.shape[0], latents[:, :-1], None
    if rnd.history_noise_level is not None:
        level = rnd.history_noise_level.view(b, -1)[:, :-1]
        noise = rnd.history_noise.view(b, -1, *history.shape[2:])[:, :-1]
        history = noise_augment(history, level, noise=noise)
    told = level if model.cfg.history_noise_input else None  # the model is told the level
    if not model.has_actions:  # raises if actions are given
        return model.temporal_embeddings(history, actions=actions, noise_level=told)
    drop = rnd.drop_action.view(b, -1)[:, 1:]  # (B, T-1): input frames 0..T-2
    if actions is not None:
        actions = actions.to(latents.device)
    return model.temporal_embeddings(history, actions=actions, drop_action=drop,
                                     noise_level=told)


class TrainingObjective(nn.Module):
    """The network and Eq. 10 as one module: what DDP, FSDP2 and torch.compile wrap, since
    they act on a module's forward (the network itself is a set of steps, not one forward)."""

    def __init__(self, model: CanvasMAR, cfg: LossConfig, static_shapes: bool | None = None,
                 sample: SampleConfig | None = None) -> None:
        super().__init__()
        self.model, self.cfg, self.static_shapes = model, cfg, static_shapes
        self.sample = sample  # loss.own_history's draws

    def forward(self, latents: torch.Tensor, randomness: LossRandomness,
                actions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return training_losses(self.model, latents, self.cfg, randomness=randomness,
                               static_shapes=self.static_shapes, actions=actions,
                               sample=self.sample)
