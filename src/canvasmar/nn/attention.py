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

from canvasmar.nn.rope import rope_cos_sin, rotate


class KVCache:
    """Keys and values of one attention layer, appended a frame (or a group) at a time.

    Shapes: (B, heads, L, head_dim). `max_tokens` (optional) keeps only the newest
    `max_tokens` positions plus the first `keep_prefix` (the BOS frame acts as an anchor).

    The keys live in buffers allocated once (`max_tokens` positions, or, unbounded, grown by
    doubling) and written in place, so a frame's step allocates nothing and reads the same
    storage every frame (issue 14: growing by concatenation copied the whole cache into a new
    tensor per frame and layer). `store=False` answers an append without keeping it: the
    keys the step would see, the cache unchanged (TemporalViT.step(append=False)).
    """

    def __init__(self, max_tokens: int | None = None, keep_prefix: int = 0) -> None:
        self.max_tokens = max_tokens
        self.keep_prefix = keep_prefix
        self.store = True
        self.length = 0
        self._k: torch.Tensor | None = None  # (B, heads, capacity, head_dim)
        self._v: torch.Tensor | None = None

    @property
    def k(self) -> torch.Tensor | None:
        return None if self._k is None else self._k[:, :, :self.length]

    @property
    def v(self) -> torch.Tensor | None:
        return None if self._v is None else self._v[:, :, :self.length]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep k, v (B, heads, new, head_dim) after the cached ones (trimmed to the window);
        return every key and value held then."""
        if not self.store:
            return self._trimmed(self.k, k), self._trimmed(self.v, v)
        new, held = k.shape[2], self.length + k.shape[2]
        limit = self.max_tokens
        if limit is not None and new > limit - self.keep_prefix:  # a chunk wider than the
            keys, values = self._trimmed(self.k, k), self._trimmed(self.v, v)  # window: rare
            self._k, self._v, self.length = keys.clone(), values.clone(), keys.shape[2]
            return self.k, self.v
        if self._k is None or (held > self._k.shape[2] and (limit is None or held <= limit)):
            self._grow(k, v, held)
        if limit is not None and held > limit:  # slide: drop the oldest after the prefix
            p, keep = self.keep_prefix, limit - self.keep_prefix - new
            for buf in (self._k, self._v):
                buf[:, :, p:p + keep] = buf[:, :, self.length - keep:self.length].clone()
            self.length = p + keep
        self._k[:, :, self.length:self.length + new] = k
        self._v[:, :, self.length:self.length + new] = v
        self.length += new
        return self.k, self.v

    def _grow(self, k: torch.Tensor, v: torch.Tensor, held: int) -> None:
        """New buffers of room for `held` positions at least: `max_tokens` when bounded, else
        twice what is held, the cached keys copied over."""
        capacity = self.max_tokens if self.max_tokens is not None else max(2 * held, 16)
        old = (self._k, self._v)
        self._k = k.new_empty(*k.shape[:2], capacity, k.shape[3])
        self._v = v.new_empty(*v.shape[:2], capacity, v.shape[3])
        if old[0] is not None and self.length:
            self._k[:, :, :self.length] = old[0][:, :, :self.length]
            self._v[:, :, :self.length] = old[1][:, :, :self.length]

    def _trimmed(self, cached: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """`cached` (the held keys or values) followed by x, trimmed as `append` keeps them."""
        out = x if cached is None else torch.cat([cached, x], dim=2)
        if self.max_tokens is not None and out.shape[2] > self.max_tokens:
            p, tail = self.keep_prefix, self.max_tokens - self.keep_prefix
            out = torch.cat([out[:, :, :p], out[:, :, -tail:]], dim=2)
        return out

    def __len__(self) -> int:
        return self.length


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
        if positions is not None:  # one set of angles for the queries and the keys
            cos, sin = rope_cos_sin(positions, q.shape[-1], q.device, q.dtype)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if cache is not None:
            k, v = cache.append(k, v)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(rearrange(out, "b h l d -> b l (h d)"))
