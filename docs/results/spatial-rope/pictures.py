"""Session 31: built-in test clips 0-3, real frames against rollouts of each checkpoint (16
frames from 2 context frames; T 0.5, keep_unchanged 0.1, 4 MAR steps, the shipped settings,
for every model; seed 0).
python docs/results/spatial-rope/pictures.py OUT.png NAME=CKPT [NAME=CKPT ...]  (repo root)"""
import dataclasses
import sys

import torch

sys.path.insert(0, "docs/results")

from frame_grid import save_grid  # noqa: E402

from canvasmar.data import build_dataset  # noqa: E402
from canvasmar.pipeline import load_pipeline  # noqa: E402

SETTINGS = dict(head_temperature=0.5, keep_unchanged=0.1, steps=4)
models = [arg.split("=", 1) for arg in sys.argv[2:]]
pipes = [(name, load_pipeline(path)) for name, path in models]
data = build_dataset(dataclasses.replace(pipes[0][1].cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
for i in (0, 1, 2, 3):
    clip = data[i]
    rows.append(clip[2:18][show])
    labels.append(f"clip {i}: real")
    for name, pipe in pipes:
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0),
                        **SETTINGS)[0]
        rows.append(pred[show])
        labels.append(name)
save_grid(rows, labels, show, sys.argv[1], 1.1)
