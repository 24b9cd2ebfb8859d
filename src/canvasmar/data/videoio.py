"""Probe and decode one video: a file PyAV reads (mp4, avi, mov, webm, gif, ...) or a folder
of numbered frames. The index (data/index.py) calls `probe` once per video; datasets call
`read_frames` per clip; `leading_frames` reads a whole video (or its first frames) for the
commands that take one file (`sample --video`, `vae eval --video`, via media.read_video).

A file that cannot be used raises BadVideo with a short reason; the callers report it once by
path and skip it, so one broken file never stops an epoch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canvasmar.data.frames import frame_to_rgb

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".webm", ".gif", ".mkv", ".m4v", ".mpg", ".mpeg",
                  ".ogv", ".flv", ".wmv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


class BadVideo(Exception):
    """A video that cannot be used; str() is the reason shown to the user."""


# Clips that start later than this many frames seek to the keyframe before them instead of
# decoding from the start (when the file's timestamps allow exact frame numbers).
SEEK_AFTER = 32


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float | None  # None for numbered frames (no timing)
    # (first pts, pts per frame) when every frame's timestamp is first + k * step (constant
    # frame rate, the usual case): frame k can then be found by seeking. None otherwise.
    seek: tuple[int, int] | None = None


def natural_key(name: str) -> tuple:
    """'frame10.png' after 'frame9.png': digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


def frame_files(folder: Path) -> list[Path]:
    """The image files of a numbered-frames folder, in frame order."""
    files = [p for p in folder.iterdir()
             if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def _av_error(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def check_regular_file(path: Path) -> None:
    """Only regular files are opened: FFmpeg would block forever reading a FIFO, and a broken
    symbolic link has nothing behind it. BadVideo (skipped and reported) otherwise."""
    if path.is_file():
        return
    if path.is_symlink() and not path.exists():
        raise BadVideo("broken symbolic link")
    if path.exists():
        raise BadVideo("not a regular file (a pipe, socket or device)")
    raise BadVideo("missing")


def _open(path: Path):  # noqa: ANN202 (av container)
    import av

    check_regular_file(Path(path))
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise BadVideo(f"unreadable ({_av_error(exc)})") from None
    if not container.streams.video:
        container.close()
        raise BadVideo("no video stream")
    return container


def probe(path: Path) -> VideoInfo:
    """Frame count, size and fps; decodes the first frame so undecodable files fail here."""
    import av

    path = Path(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise BadVideo("folder holds no image files")
        first = read_frames(path, [0], None, files=files)[0]
        return VideoInfo(len(files), first.shape[1], first.shape[0], None)
    with _open(path) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate
        try:
            # Demuxing without decoding is fast and counts what the file really holds
            # (stream.frames is 0 for webm/gif and wrong for truncated files).
            pts = [packet.pts for packet in container.demux(stream) if packet.size]
        except av.error.FFmpegError as exc:
            raise BadVideo(f"corrupt container ({_av_error(exc)})") from None
    if not pts:
        raise BadVideo("holds no frames")
    first = read_frames(path, [0], None)[0]
    return VideoInfo(len(pts), width or first.shape[1], height or first.shape[0],
                     float(rate) if rate else None, _regular_pts(pts))


def _regular_pts(pts: list[int | None]) -> tuple[int, int] | None:
    if len(pts) < 2 or any(p is None for p in pts):
        return None
    ordered = sorted(pts)  # packets come in decoding order; frames in presentation order
    step = ordered[1] - ordered[0]
    if step <= 0 or any(b - a != step for a, b in zip(ordered, ordered[1:], strict=False)):
        return None
    return ordered[0], step


def _decode_seeking(path: Path, wanted: set[int], resolution: int | None,
                    seek: tuple[int, int]) -> dict[int, np.ndarray] | None:
    """Seek to the keyframe before the clip, then decode; None where that is not exact."""
    import av

    pts0, step = seek
    first, last, got = min(wanted), max(wanted), {}
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            container.seek(pts0 + first * step, stream=stream, backward=True)
            started = False
            for frame in container.decode(stream):
                if frame.pts is None:
                    return None
                position, rest = divmod(frame.pts - pts0, step)
                if rest or (not started and position > first):
                    return None  # landed after the clip's start or off the frame grid
                started = True
                if position in wanted:
                    got[position] = frame_to_rgb(frame, resolution)
                if position >= last:
                    break
        except av.error.FFmpegError:
            return None  # the sequential pass decides whether the file is really broken
    return got if len(got) == len(wanted) else None


def read_frames(path: Path, indices: list[int], resolution: int | None,
                files: list[Path] | None = None,
                seek: tuple[int, int] | None = None) -> np.ndarray:
    """Frames at increasing `indices` -> (len(indices), R, R, 3) uint8 (full size if None).

    `seek` (VideoInfo.seek) lets clips that start after SEEK_AFTER frames skip decoding the
    frames before them; without it, or where it would not be exact, decoding is sequential.
    """
    import av

    path = Path(path)
    wanted = sorted(set(indices))
    wanted_set = set(wanted)
    got: dict[int, np.ndarray] = {}
    if seek is not None and not path.is_dir() and wanted[0] > SEEK_AFTER:
        sought = _decode_seeking(path, wanted_set, resolution, seek)
        if sought is not None:
            return np.stack([sought[i] for i in indices])
    if path.is_dir():
        files = frame_files(path) if files is None else files
        for i in wanted:
            if i >= len(files):
                raise BadVideo(f"has {len(files)} frames, frame {i} was asked for")
            with _open(files[i]) as container:
                try:
                    frame = next(container.decode(video=0))
                except (av.error.FFmpegError, StopIteration) as exc:
                    raise BadVideo(f"{files[i].name} cannot be decoded ({_av_error(exc)})"
                                   ) from None
                got[i] = frame_to_rgb(frame, resolution)
    else:
        # Sequential decoding: exact frame numbers for every container and timestamp layout.
        # Frames before the clip are decoded, not converted.
        last, position = wanted[-1], 0
        with _open(path) as container:
            try:
                for frame in container.decode(video=0):
                    if position in wanted_set:
                        got[position] = frame_to_rgb(frame, resolution)
                    if position == last:
                        break
                    position += 1
            except av.error.FFmpegError as exc:
                raise BadVideo(f"decoding failed at frame {position} ({_av_error(exc)})"
                               ) from None
        if last not in got:
            raise BadVideo(f"ended after {position} decodable frames, frame {last} was asked "
                           f"for (truncated?)")
    return np.stack([got[i] for i in indices])


def leading_frames(path: Path, max_frames: int | None = None) -> np.ndarray:
    """The first `max_frames` frames (all if None) at full size -> (T, H, W, 3) uint8, with
    the same colour handling as every clip (data/frames.py: grey to RGB, alpha over black)."""
    import av

    path = Path(path)
    if path.is_dir():
        files = frame_files(path)[:max_frames]
        if not files:
            raise BadVideo("folder holds no image files")
        return read_frames(path, list(range(len(files))), None, files=files)
    frames = []
    with _open(path) as container:
        try:
            for frame in container.decode(video=0):
                frames.append(frame_to_rgb(frame, None))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.error.FFmpegError as exc:
            raise BadVideo(f"decoding failed at frame {len(frames)} ({_av_error(exc)})"
                           ) from None
    if not frames:
        raise BadVideo("holds no decodable frames")
    return np.stack(frames)
