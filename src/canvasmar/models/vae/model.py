"""The causal 3D CNN VAE (Table 3, "Causal 3D CNN"): frame 0 is coded alone, later frames in
groups of `temporal` frames; `spatial` x `spatial` pixels per latent cell.

    17 frames x 64 x 64 --(temporal 2, spatial 4)--> 9 latent frames x 16 x 16

Encoder: causal conv -> stages of residual blocks with stride-2 causal downsampling -> mean
and log-variance of a diagonal Gaussian. Decoder mirrors it. Frames enter as [0, 1] and are
mapped to [-1, 1] inside; latents here are raw (unnormalised): the tokenizer
(models/vae/tokenizer.py) normalises them with the per-channel statistics measured after
training (models/vae/stats.py).
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

from canvasmar.config.vae import VAEModelConfig
from canvasmar.errors import UserError
from canvasmar.models.tokenizer import latent_grid
from canvasmar.models.vae.causal_conv import (
    CausalConv3d,
    Downsample,
    ResBlock3d,
    Upsample,
    frame_norm,
)

INIT_LOGVAR = -8.0  # initial posterior log-variance (see Encoder)


def _stages(cfg: VAEModelConfig) -> list[tuple[bool, bool]]:
    """(spatial, temporal) downsampling of each stage; time is compressed in the last ones."""
    n_s, n_t = int(math.log2(cfg.spatial // cfg.patch)), int(math.log2(cfg.temporal))
    n = max(n_s, n_t)
    return [(i < n_s, i >= n - n_t) for i in range(n)]


def _width(cfg: VAEModelConfig, i: int) -> int:
    return min(cfg.base_channels * 2**i, cfg.max_channels)


def _conv_stack_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """conv_in -> residual body -> norm, SiLU -> conv_out: the shape of Encoder and Decoder."""
    h = self.body(self.conv_in(x))
    return self.conv_out(torch.nn.functional.silu(self.norm_out(h)))


class Encoder(nn.Module):
    def __init__(self, cfg: VAEModelConfig) -> None:
        super().__init__()
        kt, stages = cfg.temporal_kernel, _stages(cfg)
        self.conv_in = CausalConv3d(cfg.channels * cfg.patch**2, _width(cfg, 0), 3, kt)
        layers: list[nn.Module] = []
        cin = _width(cfg, 0)
        for i in range(len(stages) + 1):
            for _ in range(cfg.res_blocks):
                layers.append(ResBlock3d(cin, _width(cfg, i), kt))
                cin = _width(cfg, i)
            if i < len(stages):
                layers.append(Downsample(cin, *stages[i]))
        layers.append(ResBlock3d(cin, cin, kt))
        self.body = nn.Sequential(*layers)
        self.norm_out = frame_norm(cin)
        self.conv_out = CausalConv3d(cin, 2 * cfg.latent_channels, 3, kt)
        # Start with a nearly deterministic posterior (std e^-4 ~ 0.02 instead of 1): with the
        # small KL weight the encoder would otherwise spend its first thousand steps growing
        # its means above unit noise (measured: 19.3 dB after 300 steps of vae-tiny).
        with torch.no_grad():
            self.conv_out.conv.bias[cfg.latent_channels:].fill_(INIT_LOGVAR)

    forward = _conv_stack_forward


class Decoder(nn.Module):
    def __init__(self, cfg: VAEModelConfig) -> None:
        super().__init__()
        kt, stages = cfg.temporal_kernel, _stages(cfg)
        cin = _width(cfg, len(stages))
        self.conv_in = CausalConv3d(cfg.latent_channels, cin, 3, kt)
        layers: list[nn.Module] = [ResBlock3d(cin, cin, kt)]
        for i in reversed(range(len(stages) + 1)):
            for _ in range(cfg.res_blocks):
                layers.append(ResBlock3d(cin, _width(cfg, i), kt))
                cin = _width(cfg, i)
            if i > 0:
                layers.append(Upsample(cin, *stages[i - 1], kt))
        self.body = nn.Sequential(*layers)
        self.norm_out = frame_norm(cin)
        self.conv_out = CausalConv3d(cin, cfg.channels * cfg.patch**2, 3, kt)

    forward = _conv_stack_forward


class CausalVAE(nn.Module):
    """(B, T, C, H, W) in [0, 1] <-> raw latents (B, 1 + (T-1)/temporal, c, H/s, W/s)."""

    def __init__(self, cfg: VAEModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)

    @property
    def temporal_factor(self) -> int:
        return self.cfg.temporal

    def latent_frames(self, frames: int) -> int:
        return 1 + (frames - 1) // self.cfg.temporal

    def pixel_frames(self, latent_frames: int) -> int:
        return 1 + (latent_frames - 1) * self.cfg.temporal

    def check_video(self, video: torch.Tensor) -> None:
        if video.dim() != 5:
            raise UserError(f"the VAE expects (B, T, C, H, W) videos, got {tuple(video.shape)}")
        t, k = video.shape[1], self.cfg.temporal
        latent_grid(tuple(video.shape[2:]), self.cfg.channels, self.cfg.spatial, "the VAE",
                    "the VAE's spatial compression")
        if (t - 1) % k:
            raise UserError(f"{t} frames: the VAE compresses time by {k}, so it needs 1 + n*{k} "
                            f"frames (the first frame is coded alone), e.g. {1 + 8 * k}")

    def moments(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """video (B, T, C, H, W) in [0, 1] -> posterior mean, log-variance (B, T', c, h, w)."""
        self.check_video(video)
        x = (video * 2 - 1).transpose(1, 2)
        p = self.cfg.patch
        if p > 1:  # space-to-depth: (B, C, T, H, W) -> (B, C*p*p, T, H/p, W/p)
            x = rearrange(x, "b c t (h p) (w q) -> b (c p q) t h w", p=p, q=p)
        h = self.encoder(x)
        mean, logvar = h.transpose(1, 2).chunk(2, dim=2)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """raw latents (B, T', c, h, w) -> (B, T, C, H, W), roughly [0, 1] (not clamped)."""
        x = self.decoder(z.transpose(1, 2))
        p = self.cfg.patch
        if p > 1:
            x = rearrange(x, "b (c p q) t h w -> b c t (h p) (w q)", p=p, q=p)
        return (x.transpose(1, 2) + 1) / 2

    def forward(self, video: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> reconstruction from a posterior sample, posterior mean, log-variance."""
        mean, logvar = self.moments(video)
        eps = torch.randn(mean.shape, generator=generator).to(mean)
        z = mean + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mean, logvar


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)), averaged over latent elements."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
