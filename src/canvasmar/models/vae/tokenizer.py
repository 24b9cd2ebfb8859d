"""The trained causal VAE as a CanvasMAR tokenizer: latent frames are the autoregressive units.

encode: (B, T, C, H, W) in [0, 1] -> posterior means, normalised per channel with the
statistics saved beside the weights (models/vae/stats.py), (B, 1 + (T-1)/k, c, H/s, W/s).
decode: the inverse, clamped to [0, 1]. With temporal factor k > 1, latent frame 0 is pixel
frame 0 and latent frame i >= 1 covers pixel frames k(i-1)+1 .. ki.
"""

from __future__ import annotations

from pathlib import Path

import torch

from canvasmar import checkpoint as ckpt
from canvasmar.config.vae import vae_config_from_json
from canvasmar.models.tokenizer import Tokenizer
from canvasmar.models.vae.model import CausalVAE
from canvasmar.models.vae.stats import load_stats


def load_vae(path: str | Path) -> tuple[CausalVAE, Path]:
    """A `canvasmar vae train` run folder or checkpoint folder -> (eval-mode VAE, folder)."""
    folder = ckpt.resolve_checkpoint(path)
    cfg = ckpt.load_checkpoint_config(folder, vae_config_from_json)
    vae = CausalVAE(cfg.model)
    ckpt.load_weights(vae, folder)
    vae.requires_grad_(False)
    return vae.eval(), folder


class VAETokenizer(Tokenizer):
    def __init__(self, vae: CausalVAE, mean: torch.Tensor, std: torch.Tensor, folder: Path
                 ) -> None:
        super().__init__()
        self.vae, self.folder = vae, folder
        self.temporal_factor = vae.cfg.temporal
        self.spatial_factor = vae.cfg.spatial
        self.register_buffer("mean", mean.view(1, 1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 1, -1, 1, 1), persistent=False)
        # Latent frames of history that can change the decoding of the newest one: each
        # causal conv of the decoder reaches pad_t frames back (an upper bound in latents).
        self.decode_window = 1 + sum(m.pad_t for m in vae.decoder.modules()
                                     if hasattr(m, "pad_t"))

    def latent_shape(self, frame_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        return self._vae_latent_shape(frame_shape, self.vae.cfg.channels,
                                      self.vae.cfg.latent_channels, "")

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        self.latent_shape(tuple(video.shape[-3:]))
        return (self.vae.moments(video)[0] - self.mean) / self.std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents * self.std + self.mean).clamp(0, 1)

    def decode_new(self, latents: torch.Tensor) -> torch.Tensor:
        """Pixel frames of the last latent frame given the latents before it (the causal
        decoder looks back `decode_window` latents): (B, 1 or k, C, H, W)."""
        window = latents[:, -self.decode_window:]
        frames = self.decode(window)
        return frames[:, -(1 if latents.shape[1] == 1 else self.temporal_factor):]


def load_vae_tokenizer(path: str | Path, stats: bool = True) -> VAETokenizer:
    """stats=False: identity normalisation (to measure the statistics in the first place)."""
    vae, folder = load_vae(path)
    c = vae.cfg.latent_channels
    mean, std = load_stats(folder, c) if stats else (torch.zeros(c), torch.ones(c))
    return VAETokenizer(vae, mean, std, folder)
