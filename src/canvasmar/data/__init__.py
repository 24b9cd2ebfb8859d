"""Datasets of clips (T, C, H, W) in [0, 1] and the step-indexed batch sampler."""

from __future__ import annotations

from torch.utils.data import Dataset

from canvasmar.config import DataConfig
from canvasmar.errors import UserError

BENCHMARKS = ("bair", "ucf101", "k600")


def build_dataset(cfg: DataConfig, split: str, seed: int = 0, length: int | None = None
                  ) -> Dataset:
    """The dataset named by cfg.source for a split ('train', 'val', 'test')."""
    if cfg.source == "builtin":
        from canvasmar.data.procedural import ProceduralVideos

        return ProceduralVideos(split, frames=cfg.frames, resolution=cfg.resolution,
                                length=length, seed=seed)
    if cfg.source in BENCHMARKS:
        from canvasmar.data.benchmarks import benchmark_dataset

        return benchmark_dataset(cfg, split, seed=seed)
    from pathlib import Path

    if cfg.source and Path(cfg.source).is_dir():
        from canvasmar.data.folder import folder_dataset

        return folder_dataset(cfg.source, split, frames=cfg.frames, resolution=cfg.resolution,
                              stride=cfg.stride, seed=seed, val_fraction=cfg.val_fraction)
    if cfg.source and Path(cfg.source).is_file():
        raise UserError(f"data.source '{cfg.source}' is a file: put the videos in a folder "
                        f"and give the folder")
    raise UserError(f"data.source '{cfg.source}' is neither builtin, a benchmark "
                    f"({', '.join(BENCHMARKS)}) nor an existing folder of videos")
