"""Build the mixed-format folder of docs/data.md's third training run (no download needed).

    python scripts/make_mixed_folder.py OUT [--gif EXTRA.gif] [--sim DIR ...]

Writes built-in procedural videos at several sizes and aspect ratios as mp4 / avi / mov /
webm / gif, a folder of numbered PNG frames, a grey video, re-encodes a few simulator
recordings (--sim) at other sizes, copies any --gif given, and adds broken files: random
bytes, a truncated mp4, an empty avi and a too-short gif.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import av
import numpy as np

from canvasmar.data.procedural import render_clip
from canvasmar.data.videoio import read_frames
from canvasmar.media import encode_frames, write_png, write_video

SIZES = [(".mp4", 64, 48), (".avi", 80, 80), (".mov", 96, 64), (".webm", 48, 64),
         (".gif", 40, 40), (".mp4", 128, 72)]


def encode(path: Path, frames: np.ndarray, fps: int = 10, gop: int | None = None) -> None:
    if path.suffix in (".mp4", ".gif"):
        write_video(path, frames, fps=fps, keyframe_interval=gop)
        return
    codec = {".avi": "mpeg4", ".mov": "libx264", ".webm": "libvpx"}[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        encode_frames(container, stream, frames)


def procedural(seed: int, frames: int, width: int, height: int) -> np.ndarray:
    side = max(width, height) + 3 & ~3
    clip = (render_clip(10_000 + seed, frames, side) * 255).round().astype(np.uint8)
    y, x = (side - height) // 2, (side - width) // 2
    return np.ascontiguousarray(clip[:, y:y + height, x:x + width])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--gif", action="append", default=[], help="an existing GIF to copy")
    parser.add_argument("--sim", action="append", default=[], help="a recording folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k in range(24):
        suffix, w, h = SIZES[k % len(SIZES)]
        encode(out / f"procedural_{k:02d}_{w}x{h}{suffix}", procedural(k, 48, w, h))
    frames_dir = out / "numbered_frames" / "clip_a"
    frames_dir.mkdir(parents=True, exist_ok=True)
    for t, image in enumerate(procedural(99, 40, 64, 64)):
        write_png(frames_dir / f"{t:03d}.png", image)
    grey = procedural(98, 48, 64, 64).mean(-1, keepdims=True).repeat(3, -1).astype(np.uint8)
    encode(out / "grey_64x64.mp4", grey)
    for sim in args.sim:
        for k, path in enumerate(sorted(Path(sim).glob("*.mp4"))[:4]):
            video = read_frames(path, list(range(60)), None)
            h, w = video.shape[1:3]
            encode(out / f"{Path(sim).name}_{k}_{w // 2}x{h // 2}.webm",
                   np.ascontiguousarray(video[:, ::2, ::2]))
    for gif in args.gif:
        shutil.copy(gif, out / Path(gif).name)
    (out / "random_bytes.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    data = (out / "procedural_00_64x48.mp4").read_bytes()
    (out / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (out / "empty.avi").write_bytes(b"")
    encode(out / "too_short.gif", procedural(97, 3, 32, 32))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
