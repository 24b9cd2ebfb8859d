"""Training-time randomness that is not masking: noise augmentation and condition dropout.

Stateless; every function takes a torch.Generator so the same seed gives the same batch.
"""

from __future__ import annotations

import torch


def noise_device(generator: torch.Generator | None) -> torch.device | None:
    """Where a draw from `generator` happens: the generator's own device (a CUDA generator can
    only draw there; a CPU one keeps drawing on the CPU, so a seed gives the same noise
    whatever the model's device). None without a generator: torch's default device, as before."""
    return None if generator is None else generator.device


def to_device(x: torch.Tensor, device: torch.device | str,
              dtype: torch.dtype | None = None) -> torch.Tensor:
    """`x` (a draw, or a small host-made tensor) moved to `device` without the host waiting for
    the GPU. A copy from ordinary (pageable) host memory to a GPU synchronises the stream
    first (CUDA's rule), so a CPU generator's noise copied each MAR step made the host wait
    for every queued kernel, each step (issue 14). From pinned memory with non_blocking=True
    the copy is queued like a kernel; torch keeps the pinned block until the copy is done.
    Same values either way; the dtype cast runs on the target device."""
    device = torch.device(device)
    if x.device.type == "cpu" and device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    else:
        x = x.to(device)
    return x if dtype is None else x.to(dtype)


def uniform(shape: tuple[int, ...], low: float, high: float,
            generator: torch.Generator | None = None) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def noise_augment(x: torch.Tensor, level: torch.Tensor | float,
                  generator: torch.Generator | None = None,
                  noise: torch.Tensor | None = None) -> torch.Tensor:
    """x * (1 - r) + eps * r (App. A, Eq. 11 for frames and Eq. 12 for canvas embeddings).

    `level` is a float or a tensor over x's leading dims (one r per frame). `noise` is eps
    drawn beforehand (training draws a step's noise for the whole global batch at once).
    """
    eps = noise if noise is not None else torch.randn(x.shape, generator=generator,
                                                      dtype=x.dtype,
                                                      device=noise_device(generator))
    eps = to_device(eps, x.device, x.dtype)
    if isinstance(level, torch.Tensor):
        shape = level.shape + (1,) * (x.dim() - level.dim())
        level = to_device(level, x.device, x.dtype).reshape(shape)
    return x * (1 - level) + eps * level


def condition_dropout(shape: tuple[int, ...], p_canvas: float, p_temporal: float, p_both: float,
                      generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 4.4: disjoint events, canvas only (p_canvas), temporal only, both; else keep both.

    Returns (drop_temporal, drop_canvas), bool tensors of `shape`.
    """
    u = torch.rand(shape, generator=generator)
    canvas_only = u < p_canvas
    temporal_only = (u >= p_canvas) & (u < p_canvas + p_temporal)
    both = (u >= p_canvas + p_temporal) & (u < p_canvas + p_temporal + p_both)
    return temporal_only | both, canvas_only | both
