"""A pretrained image VAE on disk (a diffusers `AutoencoderKL` folder) as a CanvasMAR tokenizer,
applied to each frame on its own (temporal factor 1).

`diffusers` is an optional dependency (`pip install canvasmar[vae]`); nothing is downloaded:
the folder must already hold `config.json` and the weights (`save_pretrained` output).
The folder's own `scaling_factor` / `shift_factor` are not used: like the causal VAE, the
latents are normalised per channel with statistics measured on data and saved in the folder
as latent_stats.json (`canvasmar vae stats --kind diffusers --vae DIR`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from einops import rearrange

from canvasmar.errors import UserError
from canvasmar.models.tokenizer import Tokenizer
from canvasmar.models.vae.stats import load_stats


def load_autoencoder_kl(path: str | Path) -> torch.nn.Module:
    try:
        from diffusers import AutoencoderKL
    except ImportError:
        raise UserError("tokenizer.kind=diffusers needs the diffusers package: "
                        "pip install 'canvasmar[vae]' (or pip install diffusers)") from None
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise UserError(f"'{folder}' is not a diffusers AutoencoderKL folder (no config.json); "
                        f"give the folder written by AutoencoderKL.save_pretrained")
    try:
        vae = AutoencoderKL.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load an AutoencoderKL from '{folder}': "
                        f"{str(exc).splitlines()[0]}") from None
    vae.requires_grad_(False)
    return vae.eval().float()


class DiffusersVAETokenizer(Tokenizer):
    """(B, T, C, H, W) in [0, 1] -> per-frame posterior means, normalised per channel."""

    temporal_factor = 1

    def __init__(self, vae: torch.nn.Module, mean: torch.Tensor, std: torch.Tensor,
                 folder: Path) -> None:
        super().__init__()
        self.vae, self.folder = vae, folder
        self.spatial_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.latent_channels = int(vae.config.latent_channels)
        self.register_buffer("mean", mean.view(1, 1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 1, -1, 1, 1), persistent=False)

    def latent_shape(self, frame_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        return self._vae_latent_shape(frame_shape, self.vae.config.in_channels,
                                      self.latent_channels, f" in {self.folder}")

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        self.latent_shape(tuple(video.shape[-3:]))
        frames = rearrange(video, "b t c h w -> (b t) c h w") * 2 - 1
        z = self.vae.encode(frames).latent_dist.mean
        z = rearrange(z, "(b t) c h w -> b t c h w", b=video.shape[0])
        return (z - self.mean) / self.std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        z = rearrange(latents * self.std + self.mean, "b t c h w -> (b t) c h w")
        x = (self.vae.decode(z).sample + 1) / 2
        return rearrange(x, "(b t) c h w -> b t c h w", b=latents.shape[0]).clamp(0, 1)


def load_diffusers_tokenizer(path: str | Path, stats: bool = True) -> DiffusersVAETokenizer:
    """stats=False: identity normalisation (to measure the statistics in the first place)."""
    vae = load_autoencoder_kl(path)
    c = int(vae.config.latent_channels)
    mean, std = load_stats(Path(path), c) if stats else (torch.zeros(c), torch.ones(c))
    return DiffusersVAETokenizer(vae, mean, std, Path(path))
