"""Datasets of clips (T, C, H, W) in [0, 1] and the step-indexed batch sampler."""

from __future__ import annotations

from torch.utils.data import Dataset

from canvasmar.config import DataConfig
from canvasmar.errors import UserError


def build_dataset(cfg: DataConfig, split: str, seed: int = 0, length: int | None = None
                  ) -> Dataset:
    """The dataset named by cfg.source for a split ('train', 'val', 'test')."""
    if cfg.source == "builtin":
        from canvasmar.data.procedural import ProceduralVideos

        return ProceduralVideos(split, frames=cfg.frames, resolution=cfg.resolution,
                                length=length, seed=seed)
    raise UserError(f"unknown data.source '{cfg.source}' (available: builtin)")
