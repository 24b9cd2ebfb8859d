"""Canvas ViT (paper Sec. 4.2-4.3): z_t and the previous frame -> canvas embedding z_c.

The canvas is a deterministic one-pass guess of the next frame (it approximates E[f_i | past]).
Two light heads probe z_c: a linear canvas head to each token's values (Eq. 5) and a
staticness head, linear + sigmoid, predicting exp(-per-token canvas error) (Eq. 6-7).
A next-K model (App. B) adds K canvas heads that turn z_c into each frame's canvas embedding
(models/group.py); the two light heads then probe each of them.
"""

from __future__ import annotations

import torch
from torch import nn

from canvasmar.config import ModelConfig
from canvasmar.models.group import GroupCanvasHeads, init_group_layers
from canvasmar.nn.blocks import Block, ExpertLayerNorm
from canvasmar.nn.rope import grid_positions


class CanvasViT(nn.Module):
    def __init__(self, cfg: ModelConfig, token_dim: int, num_tokens: int) -> None:
        super().__init__()
        d = cfg.dim
        self.prev_embed = nn.Linear(token_dim, d)
        self.pos = nn.Parameter(torch.randn(1, num_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio)
                                    for _ in range(cfg.canvas_layers))
        self.norm = ExpertLayerNorm(d)
        self.canvas_head = nn.Linear(d, token_dim)
        self.static_head = nn.Linear(d, 1)
        self.group_heads: GroupCanvasHeads | None = None
        self.register_buffer("rope_grid", None, persistent=False)  # model.spatial_rope

    def use_spatial_rope(self, rows: int, cols: int) -> None:
        """model.spatial_rope: attention over the frame's tokens by their grid offsets
        (nn/rope.py); no weights."""
        self.rope_grid = grid_positions(rows, cols)

    def add_group_heads(self, group: int) -> None:
        """The K canvas heads of a next-`group` model (App. B); called by CanvasMAR after every
        other weight is drawn."""
        self.group_heads = GroupCanvasHeads(self.pos.shape[-1], group)
        init_group_layers(self.group_heads)

    def forward(self, z_t: torch.Tensor, prev_tokens: torch.Tensor) -> torch.Tensor:
        """z_t (B, n, D), prev_tokens (B, n, C) (already noise-augmented) -> z_c (B, n, D)."""
        x = z_t + self.prev_embed(prev_tokens) + self.pos
        for block in self.blocks:
            x = block(x, positions=self.rope_grid)
        return self.norm(x)

    def heads(self, z_c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_c (B, n, D) -> canvas tokens (B, n, C), staticness in (0, 1) (B, n)."""
        return self.canvas_head(z_c), torch.sigmoid(self.static_head(z_c)).squeeze(-1)
