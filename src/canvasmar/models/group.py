"""Next-group prediction (paper App. B, Fig. 9, Sec. 5.4): the layers a next-K model adds.

App. B: "we slightly modify the architecture by appending K canvas heads, each implemented as
a two-layer MLP, to the output of the Canvas ViT ... We also add lightweight temporal
attention layers among spatial layers every four layers, following the decomposed attention
design of Gupta et al., to ensure temporal consistency. These canvas heads provide the spatial
conditioning canvases for generating the next K frames within the Spatial MAR."

- `GroupCanvasHeads`: head k maps the Canvas ViT output z_c to frame k's canvas embedding
  z_c + MLP_k(z_c) (a two-layer MLP with a skip). The Eq. 5 canvas projection and the
  staticness head of the next-frame model read each of the K embeddings, and the Spatial MAR
  takes frame k's in place of z_c. The skip and the zero-initialised second layer are ours:
  every new head starts as the identity, so a next-K model fine-tuned from a next-1 one
  (train.init_from) starts with the next-1 canvas for each of its frames (the paper fine-tunes
  from a next-frame model and converges in ~10% of its training, Sec. 5.4).
- `GroupAttention`: attention across the K frames of a group at each token position (the
  temporal half of decomposed space-time attention), pre-norm, rotary over the frame index,
  no MLP ("lightweight"); output projection zero-initialised, so a new layer is the identity.

Both are created by CanvasMAR after every other weight, so with the same seed a next-K model
starts from the weights of its next-1 twin, and a next-1 model (group = 1) has neither.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from canvasmar.nn.attention import Attention
from canvasmar.nn.blocks import ExpertLayerNorm, init_weights

EVERY = 4  # App. B: a temporal attention layer every four spatial layers


def attention_after(spatial_layers: int) -> list[int]:
    """Indices of the spatial blocks followed by a temporal attention layer: every fourth
    block (3, 7, ...); a stack of fewer than four blocks gets one, after its last block."""
    return [i for i in range(spatial_layers) if i % EVERY == EVERY - 1] or [spatial_layers - 1]


class GroupAttention(nn.Module):
    """x + Attn_time(LN(x)): the frame tokens of K frames, each token attending to the tokens
    at its own position in the other frames of its group."""

    def __init__(self, dim: int, heads: int, experts: int = 1) -> None:
        super().__init__()
        self.norm = ExpertLayerNorm(dim, experts)
        self.attn = Attention(dim, heads)

    def forward(self, x: torch.Tensor, group: int, token_type: torch.Tensor | None = None
                ) -> torch.Tensor:
        """x (R*K, n, D) frame tokens, rows frame-major inside each group; token_type
        (R*K, n) for expert norms."""
        h = rearrange(self.norm(x, token_type), "(r k) n d -> (r n) k d", k=group)
        h = self.attn(h, positions=torch.arange(group, device=x.device))
        return x + rearrange(h, "(r n) k d -> (r k) n d", n=x.shape[1])

    def zero_init(self) -> None:
        nn.init.zeros_(self.attn.proj.weight)
        nn.init.zeros_(self.attn.proj.bias)


class GroupCanvasHeads(nn.Module):
    """K canvas heads: z_c (R, n, D) -> the K frames' canvas embeddings (R*K, n, D)."""

    def __init__(self, dim: int, group: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim))
            for _ in range(group))

    def forward(self, z_c: torch.Tensor) -> torch.Tensor:
        frames = [z_c + head(z_c) for head in self.heads]
        return torch.stack(frames, 1).flatten(0, 1)

    def zero_init(self) -> None:
        for head in self.heads:
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)


def init_group_layers(*modules: nn.Module) -> None:
    """Xavier / zero biases like every other linear, then the identity start (zero_init)."""
    for module in modules:
        module.apply(init_weights)
        module.zero_init()
