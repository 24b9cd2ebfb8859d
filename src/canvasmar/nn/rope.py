"""Rotary position embeddings: over the frame index (time), and optionally over the token grid.

Why rotary and not a learned frame table: attention then depends only on frame *offsets*,
so a rollout longer than the training clip, with a sliding-window KV cache, sees the same
relative positions it was trained on (the long-rollout requirement of the Sampling issue).

Spatial position inside a frame is a learned additive embedding. With `model.spatial_rope`
(not in the paper, which leaves positions open) the rotation is also axial over the grid:
each head's channel pairs are split between time, row and column (`axial_pair_split`), so
attention scores depend on (dt, dy, dx) offsets. Why: predicting motion is "the token one
cell to the left, one frame ago, moves here", the same rule at every place. With only
absolute positions a transformer learns it separately for every pair of places; with
relative ones once, shared by all of them (the translation equivariance a convolution has,
which video transformers get from 3-D RoPE, e.g. Cosmos, HunyuanVideo).
"""

from __future__ import annotations

import torch

TIME_BASE = 10_000.0
# Grids are at most tens of tokens wide: a base of 100 spreads the wavelengths from ~6 cells
# to ~300, where 10,000 would leave most spatial pairs nearly unrotated over the grid.
GRID_BASE = 100.0


def rope_frequencies(head_dim: int, base: float = TIME_BASE,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """(head_dim // 2,) inverse frequencies, computed on `device` (no host-to-device copy)."""
    if head_dim % 2:
        raise ValueError(f"rotary embedding needs an even head dim, got {head_dim}")
    steps = torch.arange(0, head_dim, 2, dtype=torch.float32, device=device)
    return base ** (-steps / head_dim)


def axial_pair_split(head_dim: int) -> tuple[int, int, int]:
    """Channel pairs given to (time, row, column): 3/8 of them to each grid axis, the rest
    (at least 1/4) to time. head_dim 32 -> (4, 6, 6); 64 -> (8, 12, 12)."""
    pairs = head_dim // 2
    per_axis = (3 * pairs) // 8
    return pairs - 2 * per_axis, per_axis, per_axis


def _angles(positions: torch.Tensor, head_dim: int, device: torch.device) -> torch.Tensor:
    """(L, head_dim / 2) rotation angles: positions (L,) time only, or (L, 3) (t, y, x)."""
    positions = positions.to(torch.float32)
    if positions.ndim == 1:
        return positions[:, None] * rope_frequencies(head_dim, TIME_BASE, device)[None, :]
    t_pairs, y_pairs, x_pairs = axial_pair_split(head_dim)
    return torch.cat([positions[:, :1] * rope_frequencies(2 * t_pairs, TIME_BASE, device),
                      positions[:, 1:2] * rope_frequencies(2 * y_pairs, GRID_BASE, device),
                      positions[:, 2:3] * rope_frequencies(2 * x_pairs, GRID_BASE, device)],
                     dim=1)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, device: torch.device,
                 dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, head_dim / 2) cosines and sines of the rotation angles, for `rotate`; positions as
    for `apply_rope`. Made once per attention call and shared by its queries and keys."""
    # made on x's device: a CPU tensor copied over is a pageable host-to-device copy per
    # call, which waits for the GPU's queue (a sync) and cannot be captured in a CUDA graph
    angles = _angles(positions, head_dim, device)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x (B, H, L, Dh) by the angles whose cos / sin are given."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return rotated.flatten(-2)


def apply_rope(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x (B, H, L, Dh) by their angles; positions (L,) frame
    indices, or (L, 3) (frame, row, column) for the axial rotation of model.spatial_rope."""
    return rotate(x, *rope_cos_sin(positions, x.shape[-1], x.device, x.dtype))


def grid_positions(rows: int, cols: int, frame: int = 0,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """(rows * cols, 3) (frame, row, column) of a frame's tokens in raster order."""
    y, x = torch.meshgrid(torch.arange(rows, device=device), torch.arange(cols, device=device),
                          indexing="ij")
    return torch.stack([torch.full_like(y, frame), y, x], dim=-1).reshape(-1, 3)
