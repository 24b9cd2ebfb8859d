"""BAIR robot pushing (Ebert et al. 2017), 64x64, 30 frames per trajectory.

Two layouts are read (docs/data.md says how to get them):

* the original TFRecord release, `ROOT/softmotion30_44k/{train,test}/traj_*.tfrecords` (ROOT
  may also be the softmotion30_44k folder itself): one record per trajectory, frame i stored as
  raw 64x64x3 bytes under '{i}/image_aux1/encoded' (the camera video prediction papers use);
* the common extracted-frames layout, `ROOT/{train,test}/**/traj_N/{0..29}.png` (as written by
  the SVG / SAVP conversion scripts): every folder of numbered frames is a trajectory.

Splits: `test` is the official 256-trajectory test set; BAIR has no validation set, so `val`
is the test set too (monitoring only; report test numbers with `canvasmar eval`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canvasmar.data.clips import Video
from canvasmar.data.frames import array_to_rgb
from canvasmar.data.index import build_index
from canvasmar.data.report import report_skip
from canvasmar.data.tfrecord import TFRecordError, decode_example, read_record, record_offsets
from canvasmar.data.videoio import BadVideo
from canvasmar.errors import UserError

CAMERA = "image_aux1"
IMAGE_SHAPE = (64, 64, 3)
FRAMES = 30
TEST_VIDEOS = 256


@dataclass(frozen=True)
class RecordReader:
    """Decodes frames of one trajectory record (picklable for DataLoader workers)."""

    path: str
    offset: int

    def __call__(self, indices: list[int], resolution: int | None) -> np.ndarray:
        keys = {f"{i}/{CAMERA}/encoded" for i in indices}
        try:
            features = decode_example(read_record(self.path, self.offset), keys)
        except (TFRecordError, OSError) as exc:
            raise BadVideo(str(exc)) from None
        frames = []
        size = int(np.prod(IMAGE_SHAPE))
        for i in indices:
            value = features.get(f"{i}/{CAMERA}/encoded")
            if not value or len(value[0]) != size:
                raise BadVideo(f"frame {i} is missing or not {IMAGE_SHAPE} raw bytes")
            image = np.frombuffer(value[0], np.uint8).reshape(IMAGE_SHAPE)
            frames.append(image if resolution in (None, 64) else array_to_rgb(image, resolution))
        return np.stack(frames)


def _split_dir(root: Path, split: str) -> Path | None:
    name = "test" if split in ("val", "test") else "train"
    for base in (root / "softmotion30_44k", root):
        if (base / name).is_dir():
            return base / name
    return None


def bair_videos(root: str | Path, split: str) -> list[Video]:
    """The trajectories of a split, in the release's order (files sorted, records in order)."""
    root = Path(root)
    folder = _split_dir(root, split)
    if folder is None:
        raise UserError(f"BAIR: no train/ or test/ folder under '{root}' (expected "
                        f"softmotion30_44k/{{train,test}}/*.tfrecords or {{train,test}}/traj_N/"
                        f"0.png ...; see docs/data.md)")
    records = sorted(folder.glob("*.tfrecord*"))
    if records:
        videos = []
        for path in records:
            try:
                offsets = record_offsets(path)
            except (TFRecordError, OSError) as exc:
                report_skip(str(path), str(exc))
                continue
            videos += [Video(str(path), FRAMES, RecordReader(str(path), o),
                             key=f"{path}#{k}") for k, o in enumerate(offsets)]
        return videos
    videos = []
    for e in build_index(folder):
        if e.error or e.frames < 2:
            report_skip(str(folder / e.path), e.error or "fewer than 2 frames")
        else:
            videos.append(Video(str(folder / e.path), e.frames))
    if not videos:
        raise UserError(f"BAIR: '{folder}' holds neither .tfrecords files nor folders of "
                        f"numbered frames")
    return videos
