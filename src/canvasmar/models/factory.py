"""Build the network and its tokenizer from a RunConfig (the only place that wires them)."""

from __future__ import annotations

from canvasmar.config import RunConfig
from canvasmar.models.canvasmar import CanvasMAR
from canvasmar.models.tokenizer import Tokenizer, build_tokenizer


def frame_shape(cfg: RunConfig) -> tuple[int, int, int]:
    """(C, H, W) of the pixel frames this run works on."""
    return cfg.tokenizer.channels, cfg.data.resolution, cfg.data.resolution


def build_model(cfg: RunConfig) -> tuple[CanvasMAR, Tokenizer]:
    tokenizer = build_tokenizer(cfg.tokenizer)
    model = CanvasMAR(cfg.model, tokenizer.latent_shape(frame_shape(cfg)))
    return model, tokenizer
