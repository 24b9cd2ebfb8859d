"""Tokenizers: pixel video <-> latent frames, each carrying its own normalisation.

The interface is what CanvasMAR needs from any tokenizer (the pixel one here, the causal 3D
VAE of a later issue): `encode` a (B, T, C, H, W) video in [0, 1] to (B, T', c, h, w) latent
frames that are roughly zero-mean and unit-scale, `decode` back, and `latent_shape`.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from canvasmar.errors import UserError


def latent_grid(frame_shape: tuple[int, int, int], channels: int, factor: int, owner: str,
                factor_name: str) -> tuple[int, int]:
    """The (h, w) grid of frames (C, H, W) compressed `factor` times per side, after checking
    that they have `channels` channels and a size divisible by `factor` (UserError naming the
    fix otherwise). The one check of every tokenizer and of the VAE itself."""
    c, h, w = frame_shape
    if c != channels:
        raise UserError(f"frames have {c} channels but {owner} expects {channels}; convert "
                        f"the video to {channels} channels")
    if h % factor or w % factor:
        raise UserError(f"frame size {h}x{w} is not divisible by {factor_name} {factor}; "
                        f"resize or crop to a multiple of {factor}")
    return h // factor, w // factor


class Tokenizer(nn.Module):
    """Base class: subclasses set `temporal_factor` and implement encode/decode/latent_shape."""

    temporal_factor: int = 1
    spatial_factor: int = 1
    decode_window: int = 1  # latent frames decode_new looks back (1: frames decode alone)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def latent_shape(self, frame_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        raise NotImplementedError

    def _vae_latent_shape(self, frame_shape: tuple[int, int, int], in_channels: int,
                          latent_channels: int, source: str) -> tuple[int, int, int]:
        """latent_shape of a VAE with `spatial_factor`: check the frames fit, then divide."""
        h, w = latent_grid(frame_shape, in_channels, self.spatial_factor, f"the VAE{source}",
                           "the VAE's spatial compression")
        return latent_channels, h, w

    def decode_new(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, T', c, h, w) latents so far -> the pixel frames of the last one: (B, 1, ...)
        for latent frame 0 and for temporal_factor 1, else (B, temporal_factor, ...). A causal
        video VAE needs the `decode_window` latents before it; per-frame tokenizers do not."""
        return self.decode(latents[:, -1:])


class PixelPatchTokenizer(Tokenizer):
    """Space-to-depth: each p x p pixel patch becomes one latent cell of C*p*p channels.

    Normalisation maps [0, 1] to [-1, 1] (mean 0.5, std 0.5 per channel), which is what the
    noise augmentation (Eq. 11) and the flow head's unit-Gaussian noise assume.
    """

    def __init__(self, patch: int = 4, channels: int = 3, mean: float = 0.5, std: float = 0.5):
        super().__init__()
        self.patch, self.channels, self.spatial_factor = patch, channels, patch
        self.register_buffer("mean", torch.full((channels,), mean), persistent=False)
        self.register_buffer("std", torch.full((channels,), std), persistent=False)

    def latent_shape(self, frame_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        h, w = latent_grid(frame_shape, self.channels, self.patch, "the tokenizer",
                           "the tokenizer patch")
        return self.channels * self.patch**2, h, w

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) in [0, 1] -> (B, T, C*p*p, H/p, W/p), normalised."""
        self.latent_shape(tuple(video.shape[-3:]))
        x = (video - self.mean[:, None, None]) / self.std[:, None, None]
        return rearrange(x, "b t c (h p) (w q) -> b t (c p q) h w", p=self.patch, q=self.patch)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, T, C*p*p, h, w) -> (B, T, C, h*p, w*p) clamped to [0, 1]."""
        x = rearrange(latents, "b t (c p q) h w -> b t c (h p) (w q)", p=self.patch, q=self.patch)
        return (x * self.std[:, None, None] + self.mean[:, None, None]).clamp(0, 1)
