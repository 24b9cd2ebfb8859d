"""Tiny video trees written by the tests themselves (PyAV), in every format the loaders read.

Frame t of a "ramp" video is a flat colour whose brightness is 10 + 12 t (up to frame 20), so
tests can tell which frames a clip holds even after lossy coding (means within a few levels).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from canvasmar.media import encode_frames, write_video

CODECS = {".mp4": ("libx264", "yuv420p"), ".mov": ("libx264", "yuv420p"),
          ".avi": ("mpeg4", "yuv420p"), ".webm": ("libvpx", "yuv420p")}


def ramp(frames: int, height: int = 24, width: int = 32, channels: int = 3) -> np.ndarray:
    levels = (10 + 12 * np.arange(frames)).clip(0, 255).astype(np.uint8)
    out = np.broadcast_to(levels[:, None, None, None], (frames, height, width, channels))
    return np.ascontiguousarray(out)


def level(frame_index: int) -> float:
    return (10 + 12 * frame_index) / 255


def write_any(path: Path, frames: np.ndarray, fps: int = 8, gop: int | None = None) -> Path:
    """(T, H, W, 3) uint8 -> mp4/mov/avi/webm/gif by suffix (gop: keyframe interval)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".gif",):
        return write_video(path, frames, fps=fps)
    codec, pix = CODECS[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix
        if codec == "libx264":
            stream.options = {"crf": "10"}
        if gop:
            stream.codec_context.gop_size = gop
        encode_frames(container, stream, frames)
    return path


def write_image(path: Path, image: np.ndarray) -> Path:
    """(H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> PNG (PyAV's encoder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "gray" if image.ndim == 2 else {3: "rgb24", 4: "rgba"}[image.shape[2]]
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], fmt
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def write_frame_folder(folder: Path, frames: np.ndarray, pattern: str = "{:d}.png") -> Path:
    for t, image in enumerate(frames):
        write_image(folder / pattern.format(t), image)
    return folder


class SquareEnv:
    """A stand-in simulator for `canvasmar data record`: a bright 8x8 square on black, moved
    right by the action (0 or 1 steps of 2 pixels); with `game_over_at` the episode ends when
    the square's column reaches it."""

    def __init__(self, name: str = "square", game_over_at: int | None = None) -> None:
        self.name, self.game_over_at = name, game_over_at

    def reset(self, seed: int) -> np.ndarray:
        self.x = seed % 3
        return self._frame()

    def _frame(self) -> np.ndarray:
        image = np.zeros((32, 32, 3), np.uint8)
        image[8:16, 2 * self.x:2 * self.x + 8] = 255
        return image

    def step(self, action: int) -> tuple[np.ndarray, bool]:
        self.x += action
        return self._frame(), self.game_over_at is not None and self.x >= self.game_over_at

    def random_action(self, rng: np.random.Generator) -> int:
        return int(rng.integers(0, 2))


def recording_folder(root: Path, frames: int) -> Path:
    """A folder of recordings as `canvasmar data record` lays one out: one 16x16 ramp episode of
    `frames` frames in train/ and one in test/."""
    for split in ("train", "test"):
        write_any(root / split / "episode.mp4", ramp(frames, 16, 16))
    return root


def trained_on(cfg, source: str):
    """`cfg` as if the model had been trained on `source` (data.source)."""
    import dataclasses

    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source=source))
