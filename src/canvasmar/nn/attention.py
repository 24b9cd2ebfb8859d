"""Multi-head self-attention with an optional frame-level KV cache and rotary time positions.

The Temporal ViT is causal across frames and bidirectional inside a frame (paper Sec. 4.1).
At inference we append one frame at a time; a frame's tokens then attend to every cached
frame and to each other, which is exactly the frame-causal mask, so the cached path needs no
mask at all. Keys are cached *after* the rotary rotation, so a cache whose oldest frames were
dropped (sliding window) still gives the right relative time offsets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from canvasmar.nn.rope import apply_rope


class KVCache:
    """Keys and values of one attention layer, grown one frame at a time.

    Shapes: (B, heads, L, head_dim). `max_tokens` (optional) keeps only the newest
    `max_tokens` positions plus the first `keep_prefix` (the BOS frame acts as an anchor).
    """

    def __init__(self, max_tokens: int | None = None, keep_prefix: int = 0) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.max_tokens = max_tokens
        self.keep_prefix = keep_prefix

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=2)
            self.v = torch.cat([self.v, v], dim=2)
        if self.max_tokens is not None and self.k.shape[2] > self.max_tokens:
            p = self.keep_prefix
            tail = self.max_tokens - p
            self.k = torch.cat([self.k[:, :, :p], self.k[:, :, -tail:]], dim=2)
            self.v = torch.cat([self.v[:, :, :p], self.v[:, :, -tail:]], dim=2)
        return self.k, self.v

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]


class Attention(nn.Module):
    """Standard MHSA (fused qkv, SDPA). `mask` is boolean, True where attending is allowed."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,  # (B, L, D), or (B, L, 3 D) self.qkv's output with `projected`
        mask: torch.Tensor | None = None,  # (L, L) or (B, 1, L, L) bool
        positions: torch.Tensor | None = None,  # (L,) rotary time positions, or None
        cache: KVCache | None = None,
        projected: bool = False,  # x is qkv already (Block fuses it with its norm)
    ) -> torch.Tensor:
        qkv = x if projected else self.qkv(x)
        q, k, v = rearrange(qkv, "b l (three h d) -> three b h l d", three=3, h=self.heads)
        if positions is not None:
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if cache is not None:
            k, v = cache.append(k, v)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(rearrange(out, "b h l d -> b l (h d)"))
