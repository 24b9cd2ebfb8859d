"""1-D rotary position embedding over the frame index (time) of the Temporal ViT.

Why rotary and not a learned frame table: attention then depends only on frame *offsets*,
so a rollout longer than the training clip, with a sliding-window KV cache, sees the same
relative positions it was trained on (the long-rollout requirement of the Sampling issue).
Spatial position inside a frame is a learned additive embedding instead.
"""

from __future__ import annotations

import torch


def rope_frequencies(head_dim: int, base: float = 10_000.0,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """(head_dim // 2,) inverse frequencies, computed on `device` (no host-to-device copy)."""
    if head_dim % 2:
        raise ValueError(f"rotary embedding needs an even head dim, got {head_dim}")
    steps = torch.arange(0, head_dim, 2, dtype=torch.float32, device=device)
    return base ** (-steps / head_dim)


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10_000.0) -> torch.Tensor:
    """Rotate pairs of channels of x (B, H, L, Dh) by angle position * freq; positions (L,)."""
    # made on x's device: a CPU tensor copied over is a pageable host-to-device copy per
    # call, which waits for the GPU's queue (a sync) and cannot be captured in a CUDA graph
    freqs = rope_frequencies(x.shape[-1], base, x.device)
    angles = positions.to(torch.float32)[:, None] * freqs[None, :]  # (L, Dh/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return rotated.flatten(-2)
