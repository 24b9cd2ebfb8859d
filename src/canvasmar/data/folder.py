"""A folder of the user's videos as a dataset (`canvasmar train CONFIG --data PATH`).

Splits: if the folder has `train/` and `val/` (or `valid/`, `validation/`) or `test/`
subfolders, they are the splits. Otherwise about `val_fraction` of the videos are held out
for validation (and test), chosen by a hash of their relative path, so the choice is the
same on every machine and does not change when other files are added.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from canvasmar.data.actions import load_actions
from canvasmar.data.clips import ClipDataset, Video, clip_span, default_eval_clips
from canvasmar.data.index import Entry, build_index
from canvasmar.data.report import report_skip
from canvasmar.errors import UserError

_SPLIT_DIRS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}


def _hash(path: str) -> int:
    return zlib.crc32(path.encode())


def holdout(paths: list[str], fraction: float) -> set[str]:
    """The held-out subset: hash below fraction; at least one video if there are two or more."""
    chosen = {p for p in paths if _hash(p) % 10_000 < fraction * 10_000}
    if not chosen and len(paths) >= 2 and fraction > 0:
        chosen = {min(paths, key=_hash)}
    if len(chosen) == len(paths) and len(paths) >= 2:
        chosen.discard(max(chosen, key=_hash))  # keep something to train on
    return chosen


def split_entries(root: Path, entries: list[Entry], split: str, fraction: float) -> list[Entry]:
    """The entries (paths relative to root) that belong to `split`."""
    tops = {e.path.split("/", 1)[0] for e in entries}
    named = {s: next((d for d in dirs if d in tops), None) for s, dirs in _SPLIT_DIRS.items()}
    if named["train"] is not None and (named["val"] or named["test"]):
        folder = named[split] or named["val"] or named["test"]  # val <-> test stand in
        return [e for e in entries if e.path.split("/", 1)[0] == folder]
    held = holdout([e.path for e in entries], fraction)
    if split == "train":
        return [e for e in entries if e.path not in held]
    return [e for e in entries if e.path in held]


def usable_videos(root: Path, entries: list[Entry], span: int) -> list[Video]:
    """Videos long enough for one clip; the others are reported once, by path, and skipped."""
    videos = []
    for e in entries:
        if e.error:
            report_skip(str(root / e.path), e.error)
        elif e.frames < span:
            report_skip(str(root / e.path), f"too short: {e.frames} frames, a clip needs {span}")
        else:
            videos.append(Video(str(root / e.path), e.frames, seek=e.seek))
    return videos


def folder_dataset(root: str | Path, split: str, *, frames: int, resolution: int,
                   stride: int = 1, seed: int = 0, val_fraction: float = 0.1,
                   clips_per_video: int | None = None, actions: int = 0,
                   action_kind: str = "discrete") -> ClipDataset:
    """Clips from the videos under `root`: random for 'train', fixed for 'val' and 'test'.
    `actions` > 0 (model.actions): items are (clip, its actions) from each video's
    NAME.actions.json (data/actions.py), all checked here."""
    root = Path(root)
    if not 0 <= val_fraction < 1:
        raise UserError(f"data.val_fraction={val_fraction}: use a share in [0, 1), e.g. 0.1")
    if not root.is_dir():
        raise UserError(f"data folder '{root}' does not exist (give a folder of videos, or "
                        f"'builtin')")
    entries = build_index(root)
    if not entries:
        raise UserError(f"'{root}' holds no videos (mp4, avi, mov, webm, gif, ... or folders "
                        f"of numbered frames)")
    chosen = split_entries(root, entries, split, val_fraction)
    span = clip_span(frames, stride)
    videos = usable_videos(root, chosen, span)
    if not videos:
        raise UserError(f"'{root}' has no usable {split} video of at least {span} frames "
                        f"({len(chosen)} candidates; see 'canvasmar data inspect {root}')")
    clips = None if split == "train" else default_eval_clips(videos, span, clips_per_video)
    arrays = [load_actions(v.source, v.frames, actions, action_kind) for v in videos] \
        if actions else None
    return ClipDataset(videos, frames=frames, resolution=resolution, stride=stride, seed=seed,
                       clips=clips, name=f"{root} ({split})", actions=arrays)
