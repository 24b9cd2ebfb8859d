"""Kinetics-600 (Carreira et al. 2018) from its annotation CSVs and downloaded videos.

Layout (docs/data.md): the CSVs `train.csv`, `validate.csv` (or `val.csv`), `test.csv` in ROOT
or ROOT/annotations, with the header 'label,youtube_id,time_start,time_end,split' (the test
CSV may lack 'label'), and the clips anywhere under ROOT named
'{youtube_id}_{time_start:06d}_{time_end:06d}.mp4' (any video suffix), as the usual download
scripts write them (often in ROOT/{split}/{label}/). Many YouTube clips are gone: listed clips
that were not downloaded are counted and reported once, in one line.
"""

from __future__ import annotations

import csv
from pathlib import Path

from canvasmar.data.clips import Video
from canvasmar.data.index import build_index
from canvasmar.data.report import log, report_skip
from canvasmar.errors import UserError

_CSV_NAMES = {"train": ("train.csv",), "val": ("validate.csv", "val.csv", "valid.csv"),
              "test": ("test.csv",)}


def clip_name(youtube_id: str, start: float, end: float) -> str:
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def read_annotations(path: Path) -> list[dict[str, str]]:
    """Rows of a Kinetics CSV; checks the columns the loader needs."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise UserError(f"{path} holds no annotation rows")
    missing = {"youtube_id", "time_start", "time_end"} - set(rows[0])
    if missing:
        raise UserError(f"{path}: missing columns {sorted(missing)} (expected "
                        f"label,youtube_id,time_start,time_end,split)")
    return rows


def annotation_file(root: Path, split: str) -> Path:
    for folder in (root, root / "annotations", root / "kinetics600"):
        for name in _CSV_NAMES[split]:
            if (folder / name).is_file():
                return folder / name
    raise UserError(f"Kinetics-600: no {' or '.join(_CSV_NAMES[split])} under '{root}' or "
                    f"'{root}/annotations' (docs/data.md)")


def k600_videos(root: str | Path, split: str, min_frames: int = 2
                ) -> tuple[list[Video], list[str]]:
    """(videos, labels) of the split's downloaded clips, in CSV order."""
    root = Path(root)
    rows = read_annotations(annotation_file(root, split))
    by_stem = {}
    for e in build_index(root):
        by_stem.setdefault(Path(e.path).stem, e)
    videos, labels, missing = [], [], []
    for row in rows:
        name = clip_name(row["youtube_id"], row["time_start"], row["time_end"])
        entry = by_stem.get(name)
        if entry is None:
            missing.append(name)
        elif entry.error:
            report_skip(str(root / entry.path), entry.error)
        elif entry.frames < min_frames:
            report_skip(str(root / entry.path), f"too short: {entry.frames} frames, a clip "
                                                f"needs {min_frames}")
        else:
            videos.append(Video(str(root / entry.path), entry.frames, seek=entry.seek))
            labels.append(row.get("label", ""))
    if missing:
        log.warning("Kinetics-600 %s: %d of %d listed clips were not found under %s "
                    "(first: %s)", split, len(missing), len(rows), root, missing[0])
    return videos, labels
