"""Datasets of clips (T, C, H, W) in [0, 1] and the step-indexed batch sampler."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from canvasmar.config import DataConfig
from canvasmar.errors import UserError

BENCHMARKS = ("bair", "ucf101", "k600")


def build_dataset(cfg: DataConfig, split: str, seed: int = 0, length: int | None = None,
                  actions: int = 0, action_kind: str = "discrete") -> Dataset:
    """The dataset named by cfg.source for a split ('train', 'val', 'test'). `actions` > 0
    (model.actions): items are (clip, actions), from a folder of recordings only."""
    if actions and not (cfg.source and Path(cfg.source).is_dir()):
        raise UserError(f"model.actions={actions} trains on recorded episodes with their "
                        f"actions: set data.source to a folder from `canvasmar data record "
                        f"atari|dmc` (data.source={cfg.source!r} has no actions), or "
                        f"model.actions=0")
    if cfg.source == "builtin":
        from canvasmar.data.procedural import ProceduralVideos

        return ProceduralVideos(split, frames=cfg.frames, resolution=cfg.resolution,
                                length=length, seed=seed)
    if cfg.source in BENCHMARKS:
        from canvasmar.data.benchmarks import benchmark_dataset

        return benchmark_dataset(cfg, split, seed=seed)
    if cfg.source and Path(cfg.source).is_dir():
        from canvasmar.data.folder import folder_dataset

        return folder_dataset(cfg.source, split, frames=cfg.frames, resolution=cfg.resolution,
                              stride=cfg.stride, seed=seed, val_fraction=cfg.val_fraction,
                              actions=actions, action_kind=action_kind)
    if cfg.source and Path(cfg.source).is_file():
        raise UserError(f"data.source '{cfg.source}' is a file: put the videos in a folder "
                        f"and give the folder")
    raise UserError(f"data.source '{cfg.source}' is neither builtin, a benchmark "
                    f"({', '.join(BENCHMARKS)}) nor an existing folder of videos")
