"""Clips of T frames (every `stride`-th frame) from a list of videos, as (T, 3, R, R) floats.

Training: item k is a random clip. Longer videos own proportionally more items (one per
non-overlapping clip they hold), and each item's start is drawn from a generator seeded by
(seed, k); the dataset is a large virtual one, so successive epochs of the step sampler draw
different starts while every item stays a pure function of its index (DataLoader workers and
--resume see the same clips).

Evaluation: a fixed list of (video, start) clips, given by a protocol or, by default, every
non-overlapping clip of every video.

A video that fails to decode is reported once and skipped: the item falls through to the
next item, so an epoch never stops on a broken file.

With `actions` (one array per video, data/actions.py) an item is (clip, the clip's T-1
actions): (T-1,) long or (T-1, N) float, the action between each pair of its frames.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from canvasmar.data.actions import clip_actions
from canvasmar.data.report import report_skip
from canvasmar.data.videoio import BadVideo, read_frames
from canvasmar.errors import UserError

_VIRTUAL_ITEMS = 100_000  # training length floor: enough distinct random starts per epoch


@dataclass(frozen=True)
class Video:
    """A decodable video: `key` names it in messages; `read(indices, resolution)` decodes.

    `source` is a file or numbered-frame folder for PyAV; loaders of other containers (BAIR
    TFRecords) pass their own picklable reader.
    """

    source: str
    frames: int
    reader: Callable[..., np.ndarray] | None = None
    key: str = ""
    seek: tuple[int, int] | None = None  # VideoInfo.seek of a file

    def read(self, indices: list[int], resolution: int) -> np.ndarray:
        if self.reader is not None:
            return self.reader(indices, resolution)
        return read_frames(self.source, indices, resolution, seek=self.seek)

    @property
    def name(self) -> str:
        return self.key or self.source


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames -> (T, 3, H, W) float32 in [0, 1], the layout of every clip."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255)


def clip_span(frames: int, stride: int) -> int:
    return (frames - 1) * stride + 1


def default_eval_clips(videos: list[Video], span: int, per_video: int | None = None
                       ) -> list[tuple[int, int]]:
    """Non-overlapping clips from the start of each video (at most per_video each).

    Ordered round-robin (clip 0 of every video, then clip 1, ...), so the first N clips that
    training validates on cover as many videos as possible.
    """
    clips = []
    for v, video in enumerate(videos):
        count = video.frames // span
        if per_video is not None:
            count = min(count, per_video)
        clips += [(v, i * span) for i in range(count)]
    return sorted(clips, key=lambda c: (c[1], c[0]))


class ClipDataset(Dataset):
    """Clips (frames, 3, resolution, resolution) float32 in [0, 1] from `videos`.

    clips=None: random training clips; else the fixed (video index, start frame) list.
    Videos shorter than one clip must be filtered out by the caller (they report why).
    """

    def __init__(self, videos: list[Video], *, frames: int, resolution: int, stride: int = 1,
                 seed: int = 0, clips: list[tuple[int, int]] | None = None,
                 name: str = "dataset", actions: list[np.ndarray] | None = None) -> None:
        if stride < 1:
            raise UserError(f"data.stride={stride}: the frame stride must be at least 1")
        self.videos, self.frames, self.resolution = videos, frames, resolution
        self.stride, self.seed, self.clips = stride, seed, clips
        if actions is not None and len(actions) != len(videos):
            raise ValueError(f"{len(actions)} action arrays for {len(videos)} videos")
        self.actions = actions
        self.span = clip_span(frames, stride)
        short = [v.name for v in videos if v.frames < self.span]
        if short:
            raise ValueError(f"videos shorter than {self.span} frames: {short[:3]}")
        if not videos or (clips is not None and not clips):
            raise UserError(f"{name}: no video holds a clip of {frames} frames at stride "
                            f"{stride} ({self.span} frames); use shorter clips (data.frames, "
                            f"data.stride) or add longer videos")
        slots = [max(1, v.frames // self.span) for v in videos]
        self._cum = np.cumsum(slots).tolist()
        self._items = self._cum[-1]
        self._bad: set[int] = set()

    def __len__(self) -> int:
        if self.clips is not None:
            return len(self.clips)
        return self._items * max(1, -(-_VIRTUAL_ITEMS // self._items))

    def clip(self, index: int) -> tuple[int, int]:
        """(video index, first frame) of item `index`."""
        if not 0 <= index < len(self):
            raise IndexError(f"clip {index} out of range (0..{len(self) - 1})")
        if self.clips is not None:
            return self.clips[index]
        v = bisect.bisect_right(self._cum, index % self._items)
        room = self.videos[v].frames - self.span + 1
        start = int(np.random.default_rng([self.seed, index]).integers(room))
        return v, start

    def load(self, index: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Item `index` or raise BadVideo (no fallback)."""
        v, start = self.clip(index)
        indices = list(range(start, start + self.span, self.stride))
        frames = self.videos[v].read(indices, self.resolution)  # (T, R, R, 3) uint8
        if self.actions is None:
            return frames_to_tensor(frames)
        acts = clip_actions(self.actions[v], start, self.stride, self.frames)
        return frames_to_tensor(frames), torch.from_numpy(acts.copy())

    def __getitem__(self, index: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        for attempt in range(min(n, 64)):
            i = (index + attempt) % n
            v = self.clip(i)[0]
            if v in self._bad:
                continue
            try:
                return self.load(i)
            except BadVideo as exc:
                self._bad.add(v)
                report_skip(self.videos[v].name, str(exc))
        raise UserError(f"no readable clip near item {index}: the videos tried all failed to "
                        f"decode (see the 'skipping' messages above)")
