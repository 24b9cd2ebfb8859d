"""Rollout rows for built-in test clips: real | canvas alone | head T=1 | T=0.5 + keep 0.1.
python rollout_figure.py OUT.png CKPT [clip ...]  (16 frames from 2 context frames, seed 0)"""
import dataclasses, sys
import numpy as np, torch
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
out, ckpt = sys.argv[1], sys.argv[2]
clips = [int(c) for c in sys.argv[3:]] or [0, 1]
pipe = load_pipeline(ckpt)
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
settings = [("canvas alone", {"canvas_only": True}),
            ("T=1", {"head_temperature": 1.0, "keep_unchanged": 0.0}),
            ("T=0.5, keep 0.1", {"head_temperature": 0.5, "keep_unchanged": 0.1})]
rows, labels = [], []
for i in clips:
    clip = data[i]
    rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for name, kw in settings:
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0), **kw)[0]
        rows.append(pred[show]); labels.append(name)
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, axes = plt.subplots(len(rows), len(show), figsize=(len(show) * 1.1, len(rows) * 1.15))
for r, (row, label) in enumerate(zip(rows, labels)):
    for c, frame in enumerate(row):
        ax = axes[r, c]; ax.imshow(frame.clamp(0, 1).permute(1, 2, 0).numpy()); ax.set_xticks([]); ax.set_yticks([])
        if c == 0: ax.set_ylabel(label, fontsize=6)
        if r == 0: ax.set_title(f"frame {show[c] + 1}", fontsize=7)
fig.tight_layout(pad=0.2); fig.savefig(out, dpi=110)
