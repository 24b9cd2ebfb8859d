"""Paired comparison of two settings scored on the same videos, with a bootstrap interval.

Two predictors evaluated on the same contexts differ far less than their spreads suggest, so
"model beats copy-last" is judged on the per-video differences: their mean and a 95%
percentile-bootstrap interval (fixed seed, so the numbers are reproducible).
"""

from __future__ import annotations

import torch


def paired_difference(a: torch.Tensor, b: torch.Tensor, resamples: int = 2000,
                      seed: int = 0) -> dict[str, float]:
    """Per-video scores a, b (N,) -> mean of a - b, its 95% bootstrap interval, win rate."""
    if a.shape != b.shape or a.dim() != 1 or len(a) < 2:
        raise ValueError(f"need two (N,) score vectors with N >= 2, got {a.shape} and {b.shape}")
    diff = (a - b).double()
    g = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(diff), (resamples, len(diff)), generator=g)
    means = diff[picks].mean(1)
    low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return {"mean": diff.mean().item(), "ci95_low": low.item(), "ci95_high": high.item(),
            "fraction_lower": (diff < 0).double().mean().item(), "videos": len(diff)}
