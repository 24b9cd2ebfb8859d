"""Configuration of `canvasmar vae train`: the VAE, its loss, and (shared) data/train sections.

Same conventions as the CanvasMAR config (config/schema.py): frozen dataclasses, presets as data,
YAML files with `preset:` plus sections, `section.key=value` overrides, saved as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from canvasmar.config.loading import from_dict, merged_config_dict, migrate
from canvasmar.config.schema import DataConfig, TrainConfig, setting
from canvasmar.errors import UserError


@dataclass(frozen=True, kw_only=True)
class VAEModelConfig:
    """A causal 3D CNN VAE. Stage i has width min(base_channels * 2**i, max_channels)."""

    channels: int = setting(3, "image channels")
    latent_channels: int = setting(8, "channels of the latent frames")
    spatial: int = setting(4, "spatial compression: 4 or 8 (Table 3: BAIR 4, UCF/K600 8)")
    temporal: int = setting(1, "temporal compression: 1, 2 or 4; frame 0 is coded alone")
    base_channels: int = setting(32, "width of the first stage")
    max_channels: int = setting(128, "widest stage")
    res_blocks: int = setting(1, "residual blocks per stage")
    temporal_kernel: int = setting(3, "time extent of the convolutions (1 = per-frame 2D "
                                      "convs)")
    # Pixels per side folded into channels before the first conv (space-to-depth, as the
    # patchified input of video tokenizers such as Cosmos); part of `spatial`, so the conv
    # stages downsample by spatial / patch. Cuts the cost of full-resolution layers.
    patch: int = setting(1, "pixels per side folded into channels before the first conv")


@dataclass(frozen=True, kw_only=True)
class VAELossConfig:
    recon: str = setting("mse", "pixel loss on [0, 1] frames: mse or l1")
    kl_weight: float = setting(1e-6, "weight of KL(q(z|x) || N(0, I)), averaged per latent "
                                     "element")
    disc_weight: float = setting(0.0, "weight of the patch-discriminator (hinge) term; 0: off")
    disc_start: int = setting(2000, "step at which the adversarial term starts (warm-up)")
    disc_channels: int = setting(32, "width of the discriminator's first layer")
    disc_layers: int = setting(3, "convolution layers of the discriminator")


@dataclass(frozen=True, kw_only=True)
class VAERunConfig:
    name: str = setting("vae", "the run's name (the preset's, unless set)")
    model: VAEModelConfig = field(default_factory=VAEModelConfig)
    loss: VAELossConfig = field(default_factory=VAELossConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(resolution=64, frames=4))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=2000, batch_size=4, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.99),
        warmup_steps=100, eval_every=250, save_every=250, eval_clips=16))
    stats_clips: int = setting(64, "train clips encoded for the per-channel latent "
                                   "statistics")
    # Train on random crop x crop windows of the frames (0 = whole frames): the VAE is fully
    # convolutional, so it then codes whole frames of the same content scale, at 1/4 of the
    # cost per step for 32 of 64 pixels. Held-out PSNR is always on whole frames.
    crop: int = setting(0, "train on random crop x crop windows; 0: whole frames")

    def validate(self) -> VAERunConfig:
        self.data.validate()
        self.train.validate()
        m = self.model
        if m.spatial not in (1, 2, 4, 8, 16):
            raise UserError(f"model.spatial={m.spatial}: use 4 or 8 (a power of 2 up to 16)")
        if m.temporal not in (1, 2, 4):
            raise UserError(f"model.temporal={m.temporal}: use 1, 2 or 4")
        if m.patch < 1 or m.spatial % m.patch:
            raise UserError(f"model.patch={m.patch} must divide model.spatial={m.spatial}")
        if self.data.resolution % m.spatial:
            raise UserError(f"data.resolution={self.data.resolution} is not divisible by "
                            f"model.spatial={m.spatial}")
        if (self.data.frames - 1) % m.temporal:
            raise UserError(f"data.frames={self.data.frames}: with model.temporal="
                            f"{m.temporal} a clip needs 1 + k*{m.temporal} frames "
                            f"(e.g. {1 + 4 * m.temporal})")
        if self.crop and (self.crop % m.spatial or self.crop > self.data.resolution):
            raise UserError(f"crop={self.crop} must be a multiple of model.spatial={m.spatial} "
                            f"and at most data.resolution={self.data.resolution}")
        if self.loss.recon not in ("mse", "l1"):
            raise UserError(f"loss.recon='{self.loss.recon}': use 'mse' or 'l1'")
        if m.temporal_kernel < 1 or m.latent_channels < 1 or m.res_blocks < 0:
            raise UserError("model.temporal_kernel and model.latent_channels must be >= 1")
        for name in ("steps", "batch_size", "save_every", "eval_every"):
            if getattr(self.train, name) < 1:
                raise UserError(f"train.{name} must be at least 1")
        return self


VAE_PRESETS: dict[str, VAERunConfig] = {
    # 64x64 built-in clips, 1 x 4 x 4 (Table 3's BAIR setting with temporal factor 1).
    # Measured (docs/vae.md): 0.6 s per step on one CPU thread; with patch 4 every conv runs
    # on the 16x16 latent grid, which trained ~3x faster per minute than strided stages.
    "vae-tiny": VAERunConfig(
        name="vae-tiny",
        model=VAEModelConfig(patch=4, base_channels=64, max_channels=64, res_blocks=2)),
    # Table 3 BAIR: 17 x 64 x 64 -> 9 x 16 x 16 latents (2 x 4 x 4).
    "vae-bair": VAERunConfig(
        name="vae-bair", model=VAEModelConfig(temporal=2, base_channels=64, max_channels=256,
                                              res_blocks=2),
        data=DataConfig(resolution=64, frames=17),
        train=TrainConfig(steps=100_000, batch_size=16, lr=1e-4, weight_decay=0.0,
                          warmup_steps=1000, save_every=5000, eval_every=5000),
        loss=VAELossConfig(recon="l1", disc_weight=0.1, disc_start=20_000)),
}


def load_vae_config(name_or_path: str, overrides: list[str] = ()) -> VAERunConfig:
    """A VAE preset name or a YAML/JSON path, then dotted overrides; validated."""
    merged = merged_config_dict(name_or_path, overrides, VAE_PRESETS, "vae-tiny", "VAE ")
    return from_dict(VAERunConfig, merged).validate()


def vae_config_from_json(text: str) -> VAERunConfig:
    return from_dict(VAERunConfig, migrate(json.loads(text))).validate()
