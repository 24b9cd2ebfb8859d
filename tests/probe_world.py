"""A user's folder for the probe suite (tests/test_probes.py): a small trained-looking run, a
video, data folders with broken files, YAML files good and bad, and earlier results that no
command may touch. Every file here is hashed before and after each probe."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from canvasmar.checkpoint import save_checkpoint
from canvasmar.config import load_config
from canvasmar.media import to_uint8, write_video
from canvasmar.models.factory import build_model
from tests.conftest import micro_overrides

RUN_OVERRIDES = [*micro_overrides(), "train.steps=2", "train.batch_size=2", "train.save_every=1",
                 "train.eval_every=1", "train.eval_clips=2", "train.warmup_steps=1",
                 "train.tensorboard=false"]


def make_world(root: Path) -> dict[str, Path]:
    """Create the folder; returns named paths in it."""
    root.mkdir(parents=True, exist_ok=True)
    cfg = load_config("tiny", RUN_OVERRIDES)
    torch.manual_seed(0)
    model, _ = build_model(cfg)
    run = root / "run"
    save_checkpoint(run, 1, model, cfg, {"step": 1})
    (run / "config.json").write_text((run / "checkpoints" / "step_00000001" /
                                      "config.json").read_text())
    video = root / "clip.mp4"
    write_video(video, to_uint8(torch.rand(6, 3, 16, 16, generator=torch.Generator()
                                           .manual_seed(1))))
    data = root / "videos"
    data.mkdir()
    write_video(data / "good.mp4", to_uint8(torch.rand(12, 3, 16, 16)))
    (data / "junk.mp4").write_text("not a video")
    os.symlink(root / "missing.mp4", data / "dangling.mp4")
    os.mkfifo(data / "pipe.mp4")
    empty_data = root / "empty"
    empty_data.mkdir()
    (root / "empty.yaml").write_text("")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "broken.yaml").write_text("model: {dim: [\n")
    (root / "earlier.mp4").write_bytes(b"an earlier result the user keeps")
    (root / "earlier.png").write_bytes(b"its picture")
    (root / "earlier.json").write_text("{}")
    (root / "results.png").write_bytes(b"a plot the user made")
    (root / "notes").mkdir()
    (root / "notes" / "preview.png").write_bytes(b"the user's own preview")
    return {"root": root, "run": run, "video": video, "data": data, "empty_data": empty_data}


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every regular file under root (links and pipes by their target name)."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            hashes[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif not path.is_dir():
            hashes[rel] = "special"
    return hashes
