"""Clips/s of each data loader against the tiny preset's training step (docs/data.md).

    python scripts/loader_speed.py WORKDIR [--folder NAME=PATH ...] [--clips 100]

Writes benchmark-shaped trees into WORKDIR (BAIR TFRecords and extracted frames, UCF-101-sized
AVIs, Kinetics-sized MP4s), then, on one thread and in one process (num_workers=0, the
worst case), times random training clips of the tiny preset (8 frames, 32x32) from each
loader, and a few tiny-preset training steps on the built-in data for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from canvasmar.config import load_config
from canvasmar.data import build_dataset
from canvasmar.data.procedural import render_clip
from canvasmar.data.tfrecord import encode_example, write_records
from canvasmar.media import write_png

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_mixed_folder import encode  # noqa: E402


def video(seed: int, frames: int, width: int, height: int) -> np.ndarray:
    side = max(width, height) + 3 & ~3
    clip = (render_clip(seed, frames, side) * 255).round().astype(np.uint8)
    return np.ascontiguousarray(clip[:, :height, :width])


def make_trees(work: Path) -> dict[str, list[str]]:
    """Overrides per loader; trees are written once and reused."""
    bair = work / "bair" / "softmotion30_44k"
    if not bair.exists():
        for split in ("train", "test"):
            (bair / split).mkdir(parents=True)
            records = []
            for k in range(16):
                frames = video(k, 30, 64, 64)
                records.append(encode_example(
                    {f"{i}/image_aux1/encoded": [f.tobytes()] for i, f in enumerate(frames)}))
            write_records(bair / split / "traj_0_to_255.tfrecords", records)
    frames_root = work / "bair_frames"
    if not frames_root.exists():
        for split in ("train", "test"):
            for k in range(8):
                for i, f in enumerate(video(100 + k, 30, 64, 64)):
                    write_png(frames_root / split / f"traj_{k}" / f"{i}.png", f)
    ucf = work / "ucf101"
    if not ucf.exists():
        lists = ucf / "ucfTrainTestlist"
        lists.mkdir(parents=True)
        (lists / "classInd.txt").write_text("1 Synthetic\n")
        names = [f"Synthetic/v_Synthetic_g{g:02d}_c01.avi" for g in range(1, 5)]
        for g, name in enumerate(names):
            (ucf / "UCF-101" / name).parent.mkdir(parents=True, exist_ok=True)
            encode(ucf / "UCF-101" / name, video(200 + g, 175, 320, 240), fps=25)
        (lists / "trainlist01.txt").write_text("".join(f"{n} 1\n" for n in names))
        (lists / "testlist01.txt").write_text(f"{names[0]}\n")
    k600 = work / "k600"
    if not k600.exists():
        (k600 / "annotations").mkdir(parents=True)
        rows = [f"synthetic,vid{k:08d},{k},{k + 10},train" for k in range(4)]
        (k600 / "annotations" / "train.csv").write_text(
            "label,youtube_id,time_start,time_end,split\n" + "\n".join(rows) + "\n")
        for k in range(4):
            # a keyframe every 2 s, as typical for clips cut from YouTube downloads
            encode(k600 / "train" / "synthetic" / f"vid{k:08d}_{k:06d}_{k + 10:06d}.mp4",
                   video(300 + k, 250, 340, 256), fps=25, gop=50)
    return {"builtin": ["data.source=builtin"],
            "bair (TFRecord)": ["data.source=bair", f"data.root={work / 'bair'}"],
            "bair (PNG frames)": ["data.source=bair", f"data.root={frames_root}"],
            "ucf101 (320x240 avi, 7 s)": ["data.source=ucf101", f"data.root={ucf}"],
            "k600 (340x256 mp4, 10 s)": ["data.source=k600", f"data.root={k600}"]}


def clips_per_second(overrides: list[str], clips: int) -> float:
    cfg = load_config("tiny", overrides)
    data = build_dataset(cfg.data, "train", seed=0)
    data[0]  # warm up (imports, first open)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:clips]
    start = time.perf_counter()
    for i in order.tolist():
        data[i]
    return clips / (time.perf_counter() - start)


def tiny_step_seconds(steps: int = 6) -> float:
    from canvasmar.losses import training_losses
    from canvasmar.models.factory import build_model
    from canvasmar.train.optim import build_optimizer

    cfg = load_config("tiny")
    model, tokenizer = build_model(cfg)
    optimizer = build_optimizer(model, cfg.train)
    data = build_dataset(cfg.data, "train")
    times = []
    for step in range(steps):
        start = time.perf_counter()
        video = torch.stack([data[step * 8 + i] for i in range(8)])
        losses = training_losses(model, tokenizer.encode(video), cfg.loss,
                                 torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("work")
    parser.add_argument("--folder", action="append", default=[], help="NAME=PATH")
    parser.add_argument("--clips", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaders = make_trees(Path(args.work))
    for item in args.folder:
        name, path = item.split("=", 1)
        loaders[f"folder: {name}"] = [f"data.source={path}"]
    step = tiny_step_seconds()
    need = 8 / step
    print(f"tiny preset step (batch 8, 1 thread): {step:.2f} s -> needs {need:.1f} clips/s\n")
    print("| loader | clips/s (1 process, 1 thread) | x what a step needs |")
    print("|---|---|---|")
    for name, overrides in loaders.items():
        rate = clips_per_second(overrides, args.clips)
        print(f"| {name} | {rate:.1f} | {rate / need:.1f} |", flush=True)


if __name__ == "__main__":
    main()
