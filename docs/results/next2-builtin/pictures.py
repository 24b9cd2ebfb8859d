"""Session 26: built-in test clips 0-3, real frames against each model's rollout (16 frames
from 2 context frames, each folder's own sampling settings, 4 MAR steps, seed 0).
python docs/results/next2-builtin/pictures.py OUT.png NAME=CKPT [NAME=CKPT ...]
(from the repository root; CKPT a run or checkpoint folder, EMA weights)"""
import dataclasses
import sys

import torch

sys.path.insert(0, "docs/results")

from canvasmar.data import build_dataset
from canvasmar.pipeline import load_pipeline
from frame_grid import save_grid  # noqa: E402

models = [(a.split("=", 1)[0], load_pipeline(a.split("=", 1)[1])) for a in sys.argv[2:]]
data = build_dataset(dataclasses.replace(models[0][1].cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
for i in (0, 1, 2, 3):
    clip = data[i]
    rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for name, pipe in models:
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0))[0]
        rows.append(pred[show]); labels.append(name)
save_grid(rows, labels, show, sys.argv[1], 1.1)
