"""Flow matching for the per-token head: the one definition of the time convention.

Convention (rectified flow as in NOVA): t in [0, 1], t = 1 is pure noise,
    x_t = t * noise + (1 - t) * x,      velocity target v = noise - x,
so dx_t/dt = v and sampling integrates from t = 1 down to t = 0. Training and the sampler
both import these functions, so the convention cannot drift apart. Everything is stateless.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def sample_time(shape: tuple[int, ...], generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """Logit-normal training times, sigmoid(N(0, 1)) (SD3/NOVA): more weight mid-path."""
    return torch.sigmoid(torch.randn(shape, generator=generator, device=device))


def interpolate(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = t * noise + (1 - t) * x; t broadcasts over the channel dim."""
    t = t.reshape(t.shape + (1,) * (x.dim() - t.dim()))
    return t * noise + (1 - t) * x


def velocity_target(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return noise - x


def time_grid(steps: int, shift: float = 1.0, device: torch.device | str = "cpu") -> torch.Tensor:
    """(steps + 1,) times from 1 to 0. shift > 1 spends more steps near the noise end (SD3)."""
    if steps < 1:
        raise ValueError(f"the ODE needs at least 1 step, got {steps}")
    t = torch.linspace(1.0, 0.0, steps + 1, device=device)
    return shift * t / (1 + (shift - 1) * t)


def euler_sample(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 noise: torch.Tensor, steps: int = 30, shift: float = 1.0) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 1 (x = noise) to t = 0 with Euler steps.

    `velocity(x, t)` gets x (M, C) and t (M,), and may itself combine guidance passes.
    """
    grid = time_grid(steps, shift, device=noise.device)
    x = noise
    for t_now, t_next in zip(grid[:-1], grid[1:], strict=True):
        v = velocity(x, t_now.expand(x.shape[0]))
        x = x + (t_next - t_now) * v
    return x
