"""Spatial MAR (paper Sec. 4.2, Fig. 2 right): one frame's tokens -> one condition per token.

Sequence = [condition prefix (n tokens, from z_t, as NOVA does); frame tokens]. A frame token
is the embedded clean value where it is already known (with model.reveal_change, plus an
embedding of its change from the base the residual heads add to) and, where it is masked,
the projected (noise-augmented) canvas token instead of MAR's single learned mask token. The
prefix is stripped at the output. Condition dropout for guidance (Sec. 4.4): the canvas is
replaced by the learned uniform mask token, the temporal sequence by a learned null vector.

Next-group models (model.group = K, App. B): the K frames of a group are K sequences, each with
the group's z_t as prefix and its own canvas embedding, and light temporal attention layers
(models/group.py) after every fourth block let each frame token see the same position in the
group's other frames. Conditions and dropout flags come once per group and are shared by its
frames.
"""

from __future__ import annotations

import torch
from torch import nn

from canvasmar.config import ModelConfig
from canvasmar.models.group import GroupAttention, attention_after, init_group_layers
from canvasmar.nn.blocks import Block, ExpertLayerNorm
from canvasmar.nn.rope import grid_positions

# Expert LayerNorm groups (Sec. 5.1): condition sequence, clean tokens, mask/canvas tokens.
TYPE_CONDITION, TYPE_CLEAN, TYPE_MASKED = 0, 1, 2


class SpatialMAR(nn.Module):
    def __init__(self, cfg: ModelConfig, token_dim: int, num_tokens: int) -> None:
        super().__init__()
        d = cfg.dim
        self.expert_norm = cfg.expert_norm
        experts = 3 if cfg.expert_norm else 1
        self.token_embed = nn.Linear(token_dim, d)
        self.canvas_embed = nn.Linear(d, d)
        self.mask_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.null_temporal = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.cond_pos = nn.Parameter(torch.randn(1, num_tokens, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, num_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio, norm_experts=experts)
                                    for _ in range(cfg.spatial_layers))
        self.norm = ExpertLayerNorm(d, experts)
        self.group, self.heads = 1, cfg.heads
        self.group_attention: nn.ModuleDict | None = None
        self.change_embed: nn.Linear | None = None
        self.register_buffer("rope_grid", None, persistent=False)  # model.spatial_rope

    def use_spatial_rope(self, rows: int, cols: int) -> None:
        """model.spatial_rope: the condition token and the frame token of a cell share its
        (row, column), so attention between cells goes by their grid offsets (nn/rope.py)."""
        grid = grid_positions(rows, cols)
        self.rope_grid = torch.cat([grid, grid])  # [condition sequence, frame]

    def add_change_input(self) -> None:
        """model.reveal_change: a zero-initialised embedding of each revealed token's change
        from the base, added to its clean embedding (a model fine-tuned from one without it
        starts from that model's predictions)."""
        self.change_embed = nn.Linear(self.token_embed.in_features, self.pos.shape[-1])
        nn.init.zeros_(self.change_embed.weight)
        nn.init.zeros_(self.change_embed.bias)

    def add_group_layers(self, group: int) -> None:
        """The temporal attention layers of a next-`group` model (App. B), keyed by the block
        they follow; called by CanvasMAR after every other weight is drawn."""
        d, experts = self.pos.shape[-1], self.norm.weight.shape[0]
        self.group = group
        self.group_attention = nn.ModuleDict(
            {str(i): GroupAttention(d, self.heads, experts)
             for i in attention_after(len(self.blocks))})
        init_group_layers(*self.group_attention.values())

    def forward(
        self,
        z_t: torch.Tensor,  # (B, n, D) temporal condition (one per group: B = R groups)
        tokens: torch.Tensor,  # (B*K, n, C) clean values (read only where mask is False)
        mask: torch.Tensor,  # (B*K, n) bool, True = still to generate
        canvas: torch.Tensor | None = None,  # (B*K, n, D) canvas embedding z_c, None = baseline
        drop_temporal: torch.Tensor | None = None,  # (B,) bool
        drop_canvas: torch.Tensor | None = None,  # (B,) bool
        base: torch.Tensor | None = None,  # (B*K, n, C) what the residual heads add to
    ) -> torch.Tensor:
        b, n, _ = tokens.shape  # K = 1: one frame per row; K > 1: rows (group, frame)
        k = self.group
        cond = z_t
        if drop_temporal is not None:
            cond = torch.where(drop_temporal[:, None, None], self.null_temporal.to(z_t.dtype), z_t)
        if k > 1:  # the group's condition and dropout flags, shared by its K frames
            cond = cond.repeat_interleave(k, 0)
            drop_canvas = None if drop_canvas is None else drop_canvas.repeat_interleave(k)
        masked_value = self.mask_token.expand(b, n, -1)
        if canvas is not None:
            filled = self.canvas_embed(canvas)
            if drop_canvas is not None:
                filled = torch.where(drop_canvas[:, None, None], masked_value, filled)
            masked_value = filled
        clean = self.token_embed(tokens)
        if self.change_embed is not None:
            if base is None:
                raise RuntimeError("a model.reveal_change model needs the base tokens")
            clean = clean + self.change_embed(tokens - base)
        frame = torch.where(mask[..., None], masked_value, clean)
        x = torch.cat([cond + self.cond_pos, frame + self.pos], dim=1)  # (B, 2n, D)
        token_type = None
        if self.expert_norm:
            frame_type = torch.where(mask, TYPE_MASKED, TYPE_CLEAN)
            token_type = torch.cat([torch.full_like(frame_type, TYPE_CONDITION), frame_type], 1)
        for i, block in enumerate(self.blocks):
            x = block(x, token_type=token_type, positions=self.rope_grid)
            if self.group_attention is not None and str(i) in self.group_attention:
                frames = self.group_attention[str(i)](
                    x[:, n:], k, None if token_type is None else token_type[:, n:])
                x = torch.cat([x[:, :n], frames], dim=1)
        x = self.norm(x, token_type)
        return x[:, n:]
