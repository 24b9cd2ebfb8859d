"""Causal 3D convolution and the per-frame layers that keep a video network causal in time.

Layout inside the VAE is (B, C, T, H, W). A CausalConv3d pads time on the left only, with
copies of the first frame, so output frame t sees input frames <= t: changing frame t never
changes an earlier output (the property Table 3's "causal 3D CNN" VAE relies on, after the
codebase of Song et al. [44]). Normalisation is per frame for the same reason: a GroupNorm
over (C, T, H, W) would let a future frame shift the statistics of a past one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalConv3d(nn.Module):
    """Conv3d with kernel (kt, k, k), 'same' spatial padding and causal (left) time padding."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, temporal_kernel: int = 3,
                 stride: int = 1, temporal_stride: int = 1) -> None:
        super().__init__()
        self.pad_t = temporal_kernel - 1
        self.conv = nn.Conv3d(cin, cout, (temporal_kernel, kernel, kernel),
                              stride=(temporal_stride, stride, stride),
                              padding=(0, kernel // 2, kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_t:
            first = x[:, :, :1].expand(-1, -1, self.pad_t, -1, -1)
            x = torch.cat([first, x], dim=2)
        return self.conv(x)


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm applied to each frame on its own (statistics over C/groups, H, W only)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = super().forward(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, c, h, w).transpose(1, 2)


def frame_norm(channels: int) -> FrameGroupNorm:
    return FrameGroupNorm(min(32, channels // 4) or 1, channels, eps=1e-6)


class ResBlock3d(nn.Module):
    def __init__(self, cin: int, cout: int, temporal_kernel: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = frame_norm(cin), CausalConv3d(cin, cout, 3, temporal_kernel)
        self.norm2, self.conv2 = frame_norm(cout), CausalConv3d(cout, cout, 3, temporal_kernel)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Stride-2 causal conv in space and/or time. In time, T = 1 + k*2 frames become 1 + k:
    latent 0 sees frame 0 alone, latent i >= 1 ends at frame 2i (group {2i-1, 2i})."""

    def __init__(self, channels: int, spatial: bool, temporal: bool) -> None:
        super().__init__()
        self.conv = CausalConv3d(channels, channels, 3 if spatial else 1, 3 if temporal else 1,
                                 stride=2 if spatial else 1, temporal_stride=2 if temporal else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 in space and/or time, then a causal conv. In time, latent 0 gives
    one frame and each later latent two (the inverse of Downsample): 1 + k -> 1 + 2k."""

    def __init__(self, channels: int, spatial: bool, temporal: bool, temporal_kernel: int
                 ) -> None:
        super().__init__()
        self.spatial, self.temporal = spatial, temporal
        self.conv = CausalConv3d(channels, channels, 3, temporal_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.temporal:
            x = x.repeat_interleave(2, dim=2)[:, :, 1:]
        if self.spatial:
            b, c, t, h, w = x.shape
            x = F.interpolate(x.reshape(b, c * t, h, w), scale_factor=2, mode="nearest")
            x = x.reshape(b, c, t, 2 * h, 2 * w)
        return self.conv(x)
