"""Session 30: built-in test clips 0-3, real frames against the shipped model's rollouts at
each sample.noise_share (16 frames from 2 context frames, its settings otherwise: T 0.5,
keep_unchanged 0.1, 4 MAR steps; seed 0).
python docs/results/noise-share/pictures.py OUT.png RHO [RHO ...]   (from the repository root)"""
import dataclasses
import sys

import torch

sys.path.insert(0, "docs/results")

from canvasmar.data import build_dataset  # noqa: E402
from canvasmar.pipeline import load_pipeline  # noqa: E402
from frame_grid import save_grid  # noqa: E402

pipe = load_pipeline("checkpoints/builtin")
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
for i in (0, 1, 2, 3):
    clip = data[i]
    rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for rho in sys.argv[2:]:
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0),
                        noise_share=float(rho))[0]
        rows.append(pred[show]); labels.append(f"noise_share {rho}")
save_grid(rows, labels, show, sys.argv[1], 1.1)
