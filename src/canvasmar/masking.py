"""Mask ratios and masks for the Spatial MAR (stateless; shared by training and sampling).

Training (MAR, Li et al. 2024): one ratio per frame from a normal centred on 1.0 with
std 0.25, truncated to [0.7, 1]; ceil(n * ratio) tokens masked at random positions. Every frame
of a clip gets its own ratio and positions (paper Sec. 4.1: frames are masked independently).
Sampling: MaskGIT's cosine schedule for how many tokens stay masked after each step.
"""

from __future__ import annotations

import math

import torch


def truncated_normal(shape: tuple[int, ...], low: float, high: float, mean: float, std: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Exact inverse-CDF sampling of N(mean, std) truncated to [low, high]."""
    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))

    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    p = cdf(low) + u * (cdf(high) - cdf(low))
    x = mean + std * math.sqrt(2) * torch.erfinv(2 * p - 1)
    return x.clamp(low, high).float()


def sample_mask_ratios(shape: tuple[int, ...], minimum: float = 0.7, std: float = 0.25,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    return truncated_normal(shape, minimum, 1.0, 1.0, std, generator)


def random_masks(ratios: torch.Tensor, num_tokens: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """ratios (...,) -> bool masks (..., n), True = masked; ceil(n * ratio) per mask, >= 1."""
    counts = torch.ceil(ratios * num_tokens).clamp(1, num_tokens)
    scores = torch.rand(ratios.shape + (num_tokens,), generator=generator)
    ranks = scores.argsort(dim=-1).argsort(dim=-1)  # a random permutation's position per token
    return ranks < counts.unsqueeze(-1)


def masked_after_step(step: int, total_steps: int, num_tokens: int) -> int:
    """Tokens still masked after step `step` (0-based) of `total_steps` (MaskGIT cosine).

    At least one token is revealed per step and the last step reveals all that remain.
    """
    if step >= total_steps - 1:
        return 0
    remaining = math.floor(num_tokens * math.cos(math.pi / 2 * (step + 1) / total_steps))
    return max(0, min(num_tokens - (step + 1), remaining))
