"""The actions beside recorded episodes (`canvasmar data record`, docs/world-model.md).

A video `NAME.mp4` (or a numbered-frame folder `NAME/`) has its actions in
`NAME.actions.json`: `{"actions": [...], ...}` where `actions[t]` leads from frame t to frame
t+1, an index (Atari) or a list of floats (dm_control). With `model.actions=N` every training
video needs one, checked when the dataset is built: one UserError names the first file that
is missing, short, or whose actions disagree with model.actions / model.action_kind.

Stride: a clip of every s-th frame (data.stride) pairs frames t and t+s with the action at
the first of the s skipped steps, `actions[t]` (what the player pressed on leaving frame t;
the recorder's sticky policy holds an action for 4-15 steps, so it is usually the same on the
steps after it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from canvasmar.errors import UserError

RECORD_HINT = "record episodes with `canvasmar data record atari|dmc`, or set model.actions=0"


def actions_path(video: str | Path) -> Path:
    """NAME.mp4 -> NAME.actions.json beside it (a frame folder NAME/ -> NAME.actions.json)."""
    video = Path(video)
    return video.with_name((video.name if video.is_dir() else video.stem) + ".actions.json")


def load_actions(video: str | Path, frames: int, count: int, kind: str) -> np.ndarray:
    """The actions after frames 0..frames-2 of `video`: (frames-1,) int64 or (frames-1, N)
    float32; a UserError naming the file and the fix when they cannot be used."""
    path = actions_path(video)
    if not path.is_file():
        raise UserError(f"{path} is missing: model.actions={count} trains on videos with "
                        f"their actions beside them; {RECORD_HINT}")
    try:
        values = json.loads(path.read_text())["actions"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not an actions file ({type(exc).__name__}: a JSON object "
                        f"with an 'actions' list is expected); {RECORD_HINT}") from None
    if not isinstance(values, list) or len(values) < frames - 1:
        size = len(values) if isinstance(values, list) else "no"
        raise UserError(f"{path} holds {size} actions for the {frames} frames of {video} "
                        f"(one after each frame but the last is needed): re-record it or "
                        f"remove the video")
    values = values[:frames - 1]
    return _discrete(path, values, count) if kind == "discrete" else \
        _continuous(path, values, count)


def _discrete(path: Path, values: list, count: int) -> np.ndarray:
    if any(isinstance(v, list) for v in values):
        size = next(len(v) for v in values if isinstance(v, list))
        raise UserError(f"{path} holds continuous actions (vectors of {size}), but "
                        f"model.action_kind=discrete: set model.action_kind=continuous "
                        f"model.actions={size}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise UserError(f"{path} holds actions that are not whole numbers: discrete actions "
                        f"are indices 0..N-1")
    array = np.asarray(values, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() >= count):
        bad = int(array.max() if array.max() >= count else array.min())
        raise UserError(f"{path} holds action {bad}, outside 0..{count - 1} of "
                        f"model.actions={count}: set model.actions to the game's action "
                        f"count (at least {max(bad + 1, count)})")
    return array


def _continuous(path: Path, values: list, count: int) -> np.ndarray:
    if values and not all(isinstance(v, list) for v in values):
        raise UserError(f"{path} holds discrete actions (indices), but "
                        f"model.action_kind=continuous: set model.action_kind=discrete and "
                        f"model.actions to the game's action count")
    sizes = {len(v) for v in values}
    if sizes and sizes != {count}:
        raise UserError(f"{path} holds actions of size {sorted(sizes)[0]}, but "
                        f"model.actions={count}: set model.actions={sorted(sizes)[0]}")
    try:
        array = np.asarray(values, dtype=np.float32).reshape(len(values), count)
    except (TypeError, ValueError):
        raise UserError(f"{path} holds action vectors that are not numbers") from None
    if not np.isfinite(array).all():
        raise UserError(f"{path} holds non-finite action values: re-record it")
    return array


def clip_actions(actions: np.ndarray, start: int, stride: int, frames: int) -> np.ndarray:
    """The frames-1 actions of the clip of frames start, start+stride, ...: the action at
    the first step between each pair of its frames."""
    return actions[start:start + (frames - 1) * stride:stride]
