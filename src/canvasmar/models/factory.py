"""Build the network and its tokenizer from a RunConfig (the only place that wires them).

The VAE tokenizers (models/vae/) are imported here, not by models/tokenizer.py, so that the
tokenizer base class never imports its subclasses (no import circle)."""

from __future__ import annotations

import torch

from canvasmar.config import RunConfig, TokenizerConfig
from canvasmar.errors import UserError
from canvasmar.models.canvasmar import CanvasMAR
from canvasmar.models.tokenizer import PixelPatchTokenizer, Tokenizer


def build_tokenizer(cfg: TokenizerConfig) -> Tokenizer:
    if cfg.kind == "pixel":
        return PixelPatchTokenizer(cfg.patch, cfg.channels)
    if cfg.kind == "vae":  # a `canvasmar vae train` run (docs/vae.md)
        from canvasmar.models.vae.tokenizer import load_vae_tokenizer as load
    elif cfg.kind == "diffusers":  # a pretrained AutoencoderKL folder, per frame
        from canvasmar.models.vae.diffusers_adapter import load_diffusers_tokenizer as load
    else:
        raise UserError(f"unknown tokenizer.kind '{cfg.kind}' (available: pixel, vae, diffusers)")
    with torch.device("cpu"):  # trained weights from disk, even inside `with torch.device("meta")`
        tokenizer: Tokenizer = load(cfg.path)
    if tokenizer.spatial_factor != cfg.patch:
        raise UserError(f"tokenizer.patch={cfg.patch} but the VAE in {cfg.path} compresses "
                        f"space by {tokenizer.spatial_factor}: set "
                        f"tokenizer.patch={tokenizer.spatial_factor}")
    return tokenizer


def frame_shape(cfg: RunConfig) -> tuple[int, int, int]:
    """(C, H, W) of the pixel frames this run works on."""
    return cfg.tokenizer.channels, cfg.data.resolution, cfg.data.resolution


def build_model(cfg: RunConfig) -> tuple[CanvasMAR, Tokenizer]:
    tokenizer = build_tokenizer(cfg.tokenizer)
    if cfg.model.actions and tokenizer.temporal_factor != 1:
        raise UserError(f"model.actions={cfg.model.actions} needs one latent frame per "
                        f"frame, but the VAE in {cfg.tokenizer.path} compresses time by "
                        f"{tokenizer.temporal_factor}: use a VAE without temporal compression "
                        f"(or tokenizer.kind=pixel/diffusers), or model.actions=0")
    cell_patch = cfg.tokenizer.patch if cfg.tokenizer.kind == "pixel" else 1  # model.warp
    model = CanvasMAR(cfg.model, tokenizer.latent_shape(frame_shape(cfg)), cell_patch)
    return model, tokenizer
