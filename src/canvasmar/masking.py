"""Mask ratios and masks for the Spatial MAR (stateless; shared by training and sampling).

Training (MAR, Li et al. 2024): one ratio per frame from a normal centred on 1.0 with
std 0.25, truncated to [0.7, 1]; ceil(n * ratio) tokens masked at random positions. Every frame
of a clip gets its own ratio and positions (paper Sec. 4.1: frames are masked independently).
Sampling: MaskGIT's cosine schedule for how many tokens stay masked after each step.
"""

from __future__ import annotations

import math

import torch

from canvasmar.augment import noise_device, to_device


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


def gumbel(shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=noise_device(generator))
    u = u.clamp_(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def reveal_scores(mask: torch.Tensor, step: int, total_steps: int,
                  staticness: torch.Tensor | None, temperature: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Scores (B, n) whose top entries among the masked tokens are revealed at this step.

    Motion-aware order (Sec. 4.3), made explicit: staticness s_j in (0, 1) is the confidence,
        score_j = log s_j + temperature * (step + 1) / total_steps * g_j,   g_j ~ Gumbel(0, 1).
    Picking the top-k of log-probabilities plus Gumbel noise is sampling without replacement
    from a softmax (Gumbel-top-k), so the noise scale acts as a softmax temperature that grows
    over the steps: the first steps take mostly static tokens, later steps approach a random
    order (the paper's "gradually revert to random order"), and a very large temperature gives
    MAR's uniformly random order. `staticness=None` is that random order (MAR's baseline).
    Already revealed tokens score -inf.
    """
    noise = to_device(gumbel(tuple(mask.shape), generator), mask.device)
    if staticness is None:
        scores = noise
    else:
        scale = temperature * (step + 1) / total_steps
        scores = torch.log(staticness.float().clamp_min(1e-6)) + scale * noise
    return scores.masked_fill(~mask, float("-inf"))


def tokens_to_reveal(mask: torch.Tensor, scores: torch.Tensor, count: int) -> torch.Tensor:
    """(B, n) indices -> (B, count) positions of the `count` highest-scoring masked tokens."""
    return scores.topk(count, dim=-1).indices
