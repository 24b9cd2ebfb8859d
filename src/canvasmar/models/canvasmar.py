"""CanvasMAR: Temporal ViT -> Canvas ViT -> Spatial MAR -> flow head (paper Fig. 2).

The network works on latent frames (B, T, C, h, w) from a tokenizer; a token is one latent
cell (Table 3: patch 1 for the Canvas ViT and the Spatial MAR). It holds no loss and no
sampling loop: training (`losses.py`) and generation (the sampler) call these public steps:

    temporal_embeddings(history)        all z_t of a clip in one pass (training)
    group / group_starts                next-group models (App. B): K frames per temporal step
    new_cache / encode_history / temporal_step     the same z_t frame by frame (inference)
                                        (with model.actions, each frame's action goes in too)
    predict_canvas(z_t, prev_tokens, base)    z_c, canvas tokens, staticness (and, with
                                        model.warp, the shift logits and the moved base)
    to_head / from_head                 token values <-> what the heads predict (residual)
    predict_tokens(z_t, tokens, mask, canvas, ..., base)  one condition vector per token
    velocity(x_t, t, cond)              the flow head
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from canvasmar.config import ModelConfig
from canvasmar.models.actions import ActionEmbedding, null_actions
from canvasmar.models.canvas_vit import CanvasViT
from canvasmar.models.flow_head import FlowHead
from canvasmar.models.spatial_mar import SpatialMAR
from canvasmar.models.temporal_vit import TemporalCache, TemporalViT
from canvasmar.models.warp import ShiftWarp
from canvasmar.nn.blocks import init_weights
from canvasmar.nn.patches import patchify, unpatchify


class Canvas(NamedTuple):
    """One row per frame: B, or B*K for B groups of a next-K model (frame-major in a group)."""

    embedding: torch.Tensor  # z_c (B, n, D); next-K: each frame's canvas head output
    tokens: torch.Tensor  # canvas head output (B, n, C)
    staticness: torch.Tensor  # (B, n) in (0, 1), high = static
    base: torch.Tensor  # (B, n, C) what the residual heads add to: the previous frame's clean
    # tokens, moved by the chosen shifts with model.warp
    shift_logits: torch.Tensor | None = None  # (B, n, K) model.warp's per-token shift scores


class CanvasMAR(nn.Module):
    def __init__(self, cfg: ModelConfig, latent_shape: tuple[int, int, int],
                 cell_patch: int = 1) -> None:
        """`cell_patch`: pixels per token side that model.warp unpacks (a pixel tokenizer's
        patch; 1 for VAE latents, whose cells shift whole)."""
        super().__init__()
        self.cfg = cfg
        self.latent_shape = latent_shape
        c, h, w = latent_shape
        self.num_tokens, self.token_dim = h * w, c
        self.temporal = TemporalViT(cfg, c, (h, w))
        self.canvas_vit = CanvasViT(cfg, c, h * w) if cfg.canvas else None
        self.spatial = SpatialMAR(cfg, c, h * w)
        self.head = FlowHead(c, cfg.dim, cfg.flow_width, cfg.flow_layers)
        for module in self.children():
            module.apply(init_weights)
        self.head.zero_init()
        if cfg.motion_input:  # zeros: draws nothing, starts as the model without it
            self.temporal.add_motion_input()
        if cfg.history_noise_input:  # zeros too
            self.temporal.add_noise_level_input()
        if cfg.actions:  # drawn last: every other weight is that of the model without actions
            self.temporal.action = ActionEmbedding(cfg.actions, cfg.action_kind, cfg.dim)
            if cfg.action_film:  # zero-initialised: no draws
                self.temporal.add_action_film()
        if cfg.reveal_change:  # zeros: draws nothing, starts as the model without it
            self.spatial.add_change_input()
        if cfg.group > 1:  # App. B, also drawn after the next-1 weights (models/group.py)
            if self.canvas_vit is not None:
                self.canvas_vit.add_group_heads(cfg.group)
            self.spatial.add_group_layers(cfg.group)
        if cfg.spatial_rope:  # no weights, no draws (nn/rope.py)
            self.temporal.use_spatial_rope()
            if self.canvas_vit is not None:
                self.canvas_vit.use_spatial_rope(h, w)
            self.spatial.use_spatial_rope(h, w)
        # model.warp (models/warp.py): draws nothing, and starts at the zero shift
        self.warp = ShiftWarp(cfg.dim, cfg.warp, latent_shape, cell_patch) if cfg.warp else None

    @property
    def group(self) -> int:
        """Frames generated jointly per temporal step (model.group, App. B)."""
        return self.cfg.group

    def group_starts(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) per-frame values -> (B, T/K, ...), those of each group's first frame:
        a group is conditioned by the z_t and the previous frame of its first frame."""
        return x if self.cfg.group == 1 else x[:, ::self.cfg.group]

    @property
    def has_canvas(self) -> bool:
        return self.canvas_vit is not None

    @property
    def has_actions(self) -> bool:
        return self.temporal.action is not None

    def null_actions(self, batch: int, frames: int) -> torch.Tensor:
        """`frames` null actions per clip (models/actions.py), on the model's device."""
        return null_actions(self.cfg.actions, self.cfg.action_kind, batch, frames,
                            self.temporal.pos.device)

    # ---- tokens <-> latent frames (patch 1: one token per latent cell)
    def to_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """(..., C, h, w) -> (..., n, C)."""
        return patchify(latents, 1)

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., n, C) -> (..., C, h, w)."""
        _, h, w = self.latent_shape
        return unpatchify(tokens, 1, h, w)

    # ---- temporal
    def temporal_embeddings(self, history: torch.Tensor, window: int | None = None,
                            keep_bos: bool = False, actions: torch.Tensor | None = None,
                            drop_action: torch.Tensor | None = None,
                            noise_level: torch.Tensor | None = None) -> torch.Tensor:
        """history (B, T-1, C, h, w) -> z_t (B, T, n, D) of target frames 0..T-1.

        `window`: attend only to `window` input frames (BOS counts as one): the newest, or
        with `keep_bos` BOS and the newest window - 1, the pattern of a sliding-window cache
        from `new_cache(window, keep_bos)`. With model.actions: `actions` (B, T-1) long or
        (B, T-1, N) float, the action after each history frame (None: all null), and
        `drop_action` (B, T-1) bool, the frames whose action is nulled (condition dropout).
        With model.history_noise_input: `noise_level` (B, T-1), each history frame's noise
        level (training; None: clean).
        """
        return self.temporal(history, window, keep_bos, actions, drop_action, noise_level)

    def new_cache(self, window: int | None = None, keep_bos: bool = False) -> TemporalCache:
        """A frame-level KV cache; `window` bounds it to that many input frames (BOS pinned
        among them with `keep_bos`)."""
        return self.temporal.new_cache(window, keep_bos, self.cfg.group)

    def encode_history(self, history: torch.Tensor, cache: TemporalCache,
                       actions: torch.Tensor | None = None) -> torch.Tensor:
        """Prefill the KV cache with the context (B, T, C, h, w) and the actions after its
        frames (B, T[, N]); z_t (B, n, D) of frame T."""
        return self.temporal.prefill(history, cache, actions)

    def temporal_step(self, frame: torch.Tensor, cache: TemporalCache,
                      action: torch.Tensor | None = None, append: bool = True,
                      noise_level: float = 0.0) -> torch.Tensor:
        """Append one generated frame (B, C, h, w) and the action after it ((B,) / (B, N)),
        or a group of frames (B, K, C, h, w) (App. B); z_t (B, n, D) of the frame after it.
        `append=False`: the same z_t, cache unchanged. `noise_level`: the history noise the
        frame carries (sample.history_noise), told to a model.history_noise_input model."""
        return self.temporal.step(frame, cache, action, append, noise_level)

    # ---- canvas
    def predict_canvas(self, z_t: torch.Tensor, prev_tokens: torch.Tensor,
                       base: torch.Tensor) -> Canvas:
        """z_t (B, n, D), previous frame's tokens (B, n, C) noise-augmented by the caller, and
        `base`, the same tokens without the augmentation (see `from_head`). A next-K model
        (App. B) returns the canvases of the K frames of each group, rows (B*K) frame-major
        inside each group: its K canvas heads make each frame's embedding from z_c."""
        if self.canvas_vit is None:
            raise RuntimeError("this model was built with model.canvas=false: it has no canvas")
        z_c = self.canvas_vit(z_t, prev_tokens)
        if self.canvas_vit.group_heads is not None:
            z_c = self.canvas_vit.group_heads(z_c)
            base = base.repeat_interleave(self.cfg.group, 0)
        tokens, staticness = self.canvas_vit.heads(z_c)
        logits = None
        if self.warp is not None:  # move the previous frame by each token's chosen shift
            logits = self.warp.logits(z_c)
            base = self.warp.apply(base, logits.detach().argmax(-1))
        return Canvas(z_c, self.from_head(tokens, base), staticness, base, logits)

    # ---- what the heads predict: tokens, or with model.residual their change from `base`
    def to_head(self, tokens: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Token values (..., C) -> the flow head's target: the change from `base` (the
        previous frame's clean tokens, same shape; moved by model.warp's shifts: `Canvas.base`)
        with model.residual, else the values."""
        return tokens - base if self.cfg.residual else tokens

    def from_head(self, values: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """The inverse of `to_head`: a head's output (..., C) -> token values."""
        return values + base if self.cfg.residual else values

    # ---- spatial MAR and head
    def predict_tokens(self, z_t: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                       canvas: torch.Tensor | None = None,
                       drop_temporal: torch.Tensor | None = None,
                       drop_canvas: torch.Tensor | None = None,
                       base: torch.Tensor | None = None) -> torch.Tensor:
        """One condition vector (B, n, D) per token; see SpatialMAR.forward. Next-K model:
        z_t and the dropout flags per group (B), the rest per frame (B*K). `base` (like
        `tokens`): what the residual heads add to (Canvas.base), read by model.reveal_change."""
        return self.spatial(z_t, tokens, mask, canvas, drop_temporal, drop_canvas, base)

    def velocity(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Flow-head velocity (..., C) for noisy tokens x_t (..., C) at times t (...); cond
        (..., D) may broadcast over leading dims (training: one cond for k repeats)."""
        return self.head(x_t, t, cond)
