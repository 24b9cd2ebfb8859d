"""The standard benchmarks as datasets, and the clips of the paper's protocols (App. A).

Training (`data.source=bair|ucf101|k600 data.root=DIR`): random clips of the train split.
Validation during training: fixed non-overlapping clips (at most 2 per video) of the split
that stands in for validation (BAIR and UCF-101 have none, so their test split).

Protocol clips (`protocol_dataset`), each a fixed list of (video, first frame) seeded by
`seed`, of context + predict frames:

* BAIR: the 256 test videos from frame 0 (1 + 16 frames); `debiased=True` draws one random
  start per video instead (MAGVIT's debiased FVD; repeated with other seeds).
* UCF-101: 5K test clips: a random test video (with replacement, the test list of fold 1 has
  3,783) and a random start in it, 1 + 16 frames.
* Kinetics-600: K random test videos (without replacement when K <= the number downloaded),
  a random start in each, 5 + 16 frames.
* A folder of videos (`folder` protocol): its test split (see `data/folder.py`), the first
  N non-overlapping clips taken round-robin over the videos, 1 + 16 frames.

`WholeVideos` gives every frame of the BAIR test videos, whose 16-frame windows are
the real set of the debiased FVD (`canvasmar.metrics.debiased`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from canvasmar.config import DataConfig
from canvasmar.data.clips import (
    ClipDataset,
    Video,
    clip_span,
    default_eval_clips,
    frames_to_tensor,
)
from canvasmar.data.report import log, report_skip
from canvasmar.errors import UserError
from canvasmar.protocols import Protocol

_EVAL_CLIPS_PER_VIDEO = 2


def benchmark_videos(name: str, root: str, split: str, fold: int = 1) -> list[Video]:
    if not root:
        raise UserError(f"data.source={name} needs data.root=DIR, the folder holding the "
                        f"dataset (docs/data.md)")
    if name == "bair":
        from canvasmar.data.bair import bair_videos

        return bair_videos(root, split)
    if name == "ucf101":
        from canvasmar.data.ucf101 import ucf101_videos

        return ucf101_videos(root, split, fold)[0]
    if name == "k600":
        from canvasmar.data.kinetics import k600_videos

        return k600_videos(root, split)[0]
    raise UserError(f"unknown benchmark '{name}' (bair, ucf101, k600)")


def long_enough(videos: list[Video], span: int) -> list[Video]:
    keep = []
    for v in videos:
        if v.frames < span:
            report_skip(v.name, f"too short: {v.frames} frames, a clip needs {span}")
        else:
            keep.append(v)
    return keep


def benchmark_dataset(cfg: DataConfig, split: str, seed: int = 0) -> ClipDataset:
    span = clip_span(cfg.frames, cfg.stride)
    videos = long_enough(benchmark_videos(cfg.source, cfg.root, split, cfg.fold), span)
    clips = None if split == "train" else default_eval_clips(videos, span,
                                                             _EVAL_CLIPS_PER_VIDEO)
    return ClipDataset(videos, frames=cfg.frames, resolution=cfg.resolution, stride=cfg.stride,
                       seed=seed, clips=clips, name=f"{cfg.source} {split} in {cfg.root}")


_PROTOCOL_SOURCE = {"bair": "bair", "ucf101": "ucf101", "kinetics600": "k600"}


def protocol_clips(protocol: Protocol, frames: list[int], seed: int = 0,
                   debiased: bool = False, num_videos: int | None = None
                   ) -> list[tuple[int, int]]:
    """(video index, first frame) of each evaluation clip, given the test videos' lengths."""
    span = protocol.context + protocol.predict
    count = protocol.num_videos if num_videos is None else num_videos
    rng = np.random.default_rng(seed)
    n = len(frames)
    if protocol.dataset == "bair":
        chosen = list(range(min(count, n)))
        if not debiased:
            return [(v, 0) for v in chosen]
        return [(v, int(rng.integers(frames[v] - span + 1))) for v in chosen]
    if protocol.dataset == "ucf101" or count > n:
        chosen = rng.integers(n, size=count).tolist()
    else:
        chosen = rng.choice(n, size=count, replace=False).tolist()
    return [(v, int(rng.integers(frames[v] - span + 1))) for v in chosen]


def _test_videos(protocol: Protocol, root: str, fold: int = 1) -> list[Video]:
    if protocol.dataset not in _PROTOCOL_SOURCE:
        raise UserError(f"protocol '{protocol.name}' has no benchmark dataset")
    source = _PROTOCOL_SOURCE[protocol.dataset]
    span = protocol.context + protocol.predict
    videos = long_enough(benchmark_videos(source, root, "test", fold), span)
    if not videos:
        raise UserError(f"{source}: no test video of at least {span} frames in '{root}'")
    return videos


def protocol_dataset(protocol: Protocol, root: str, resolution: int, *, fold: int = 1,
                     seed: int = 0, debiased: bool = False, num_videos: int | None = None,
                     val_fraction: float = 0.1, split: str = "test", actions: int = 0,
                     action_kind: str = "discrete") -> ClipDataset:
    """The protocol's test clips (context + predict frames) at `resolution`.

    `val_fraction` is the held-out share of a folder without split subfolders (use the one
    the model was trained with, so that its test clips are videos it never saw); `split`
    may be "val" for a folder (its validation videos). `actions` > 0: a folder of
    recordings gives each clip with its actions (an action model's true actions)."""
    span = protocol.context + protocol.predict
    if protocol.dataset == "folder":
        from canvasmar.data.folder import folder_dataset

        data = folder_dataset(root, split, frames=span, resolution=resolution, seed=seed,
                              val_fraction=val_fraction, actions=actions,
                              action_kind=action_kind)
        count = protocol.num_videos if num_videos is None else num_videos
        data.clips = data.clips[:count]
        return data
    videos = _test_videos(protocol, root, fold)
    if protocol.dataset == "bair" and len(videos) != 256:
        log.warning("BAIR test split in %s holds %d usable videos; the protocol uses 256",
                    root, len(videos))
    clips = protocol_clips(protocol, [v.frames for v in videos], seed, debiased, num_videos)
    return ClipDataset(videos, frames=span, resolution=resolution, seed=seed, clips=clips,
                       name=f"{protocol.name} protocol")



class WholeVideos:
    """Every frame (T, C, H, W) in [0, 1] of each test video the protocol's clips come from,
    in clip order, read one video at a time (BAIR: the first `num_videos` test videos)."""

    def __init__(self, protocol: Protocol, root: str, resolution: int,
                 num_videos: int | None = None) -> None:
        if protocol.dataset != "bair":
            raise UserError(f"whole test videos are only defined for BAIR, not "
                            f"'{protocol.name}'")
        self.videos = _test_videos(protocol, root)[:num_videos or protocol.num_videos]
        self.resolution = resolution

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for video in self.videos:
            yield frames_to_tensor(video.read(list(range(video.frames)), self.resolution))

    def window_count(self, length: int) -> int:
        """How many `length`-frame windows (stride 1) the videos hold in all."""
        return sum(v.frames - length + 1 for v in self.videos)
