"""Stand-ins for the metric networks that cannot be downloaded on our machines."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch


class StandInI3D(torch.nn.Module):
    """Same calling convention as StyleGAN-V's i3d_torchscript.pt; asserts on its input.

    Features: a fixed random projection of channel x 2x2-quadrant means to 400 dims (linear,
    so shifting every pixel by c shifts every feature vector by a constant).
    """

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("proj", torch.randn(12, 400, generator=g))
        self.last_input = torch.zeros(0)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        assert not rescale and not resize and return_features, "wrong detector kwargs"
        assert x.dim() == 5 and x.shape[1] == 3, "expected (B, 3, T, H, W)"
        assert x.shape[2] >= 9 and x.shape[3] == 224 and x.shape[4] == 224, "bad T/H/W"
        in_range = bool(x.min() >= -1.0 - 1e-6) and bool(x.max() <= 1.0 + 1e-6)  # + rounding
        assert in_range, "input outside [-1, 1]"
        self.last_input = x
        pooled = torch.nn.functional.adaptive_avg_pool3d(x, [1, 2, 2]).flatten(1)
        return pooled @ self.proj


def save_stand_in_i3d(path: Path) -> Path:
    """The stand-in I3D as a TorchScript file, as `--i3d` expects."""
    with warnings.catch_warnings():  # torch >= 2.13 deprecates TorchScript; the weights use it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(StandInI3D()).save(str(path))
    return path
