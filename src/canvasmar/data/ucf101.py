"""UCF-101 (Soomro et al. 2012) with its official split lists.

Layout (the release's two archives unpacked side by side, docs/data.md):

    ROOT/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi ...   (or the class folders
    ROOT/ucfTrainTestlist/classInd.txt, trainlist01.txt, testlist01.txt  directly in ROOT)

`trainlist0F.txt` lines are 'Class/v_Class_gGG_cCC.avi LABEL', `testlist0F.txt` lines are
'Class/v_Class_gGG_cCC.avi'; F is the fold (data.fold, 1-3). UCF-101 has no validation list,
so `val` is the test list (monitoring only).
"""

from __future__ import annotations

from pathlib import Path

from canvasmar.data.clips import Video
from canvasmar.data.index import build_index
from canvasmar.data.report import report_skip
from canvasmar.errors import UserError


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / "ucfTrainTestlist" / name,
                      root / "UCF101TrainTestSplits-RecognitionTask" / "ucfTrainTestlist" / name):
        if candidate.is_file():
            return candidate
    return next(iter(sorted(root.glob(f"*/*/{name}"))), None)


def read_class_index(path: Path) -> dict[str, int]:
    """classInd.txt ('1 ApplyEyeMakeup') -> {class name: 0-based label}."""
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                number, name = line.split()
                out[name] = int(number) - 1
            except ValueError:
                raise UserError(f"{path}:{n}: expected 'NUMBER ClassName', got {line!r}"
                                ) from None
    return out


def read_split_list(path: Path) -> list[str]:
    """trainlist/testlist -> relative video paths ('Class/v_Class_g01_c01.avi'), in order."""
    return [line.split()[0].replace("\\", "/") for line in path.read_text().splitlines()
            if line.strip()]


def video_root(root: Path, first: str) -> Path:
    for base in (root / "UCF-101", root / "UCF101", root):
        if (base / first).is_file():
            return base
    raise UserError(f"UCF-101: '{first}' (first entry of the split list) is neither under "
                    f"'{root}/UCF-101' nor '{root}'; unpack UCF101.rar there (docs/data.md)")


def ucf101_videos(root: str | Path, split: str, fold: int = 1,
                  min_frames: int = 2) -> tuple[list[Video], list[int]]:
    """(videos, labels) of a split of `fold`, in list order; unusable ones reported, dropped."""
    root = Path(root)
    if fold not in (1, 2, 3):
        raise UserError(f"data.fold={fold}: UCF-101 has split lists 1, 2 and 3")
    name = f"{'train' if split == 'train' else 'test'}list0{fold}.txt"
    list_path, class_path = _find(root, name), _find(root, "classInd.txt")
    if list_path is None or class_path is None:
        raise UserError(f"UCF-101: {name} and classInd.txt not found under '{root}' (unpack "
                        f"UCF101TrainTestSplits-RecognitionTask.zip there; docs/data.md)")
    classes = read_class_index(class_path)
    listed = read_split_list(list_path)
    if not listed:
        raise UserError(f"{list_path} lists no videos")
    base = video_root(root, listed[0])
    index = {e.path: e for e in build_index(base)}
    videos, labels = [], []
    for rel in listed:
        entry, path = index.get(rel), base / rel
        cls = rel.split("/", 1)[0]
        if cls not in classes:
            raise UserError(f"{list_path}: class '{cls}' of '{rel}' is not in {class_path}")
        if entry is None:
            report_skip(str(path), "listed in the split but missing")
        elif entry.error:
            report_skip(str(path), entry.error)
        elif entry.frames < min_frames:
            report_skip(str(path), f"too short: {entry.frames} frames, a clip needs "
                                   f"{min_frames}")
        else:
            videos.append(Video(str(path), entry.frames, seek=entry.seek))
            labels.append(classes[cls])
    return videos, labels
