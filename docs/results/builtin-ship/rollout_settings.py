"""Rollout rows for built-in test clips under sampling settings named on the command line:
python rollout_settings.py OUT.png CKPT CLIPS SETTING ...  (16 frames from 2 context frames,
seed 0); CLIPS like 0,1; a SETTING is name:key=value,key=value (sampler keywords, e.g.
T0.5-keep0.02:head_temperature=0.5,keep_unchanged=0.02 or canvas:canvas_only=True)."""
import dataclasses
import sys

import matplotlib
import torch

from canvasmar.data import build_dataset
from canvasmar.pipeline import load_pipeline

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out, ckpt, clips = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3].split(",")]
settings = []
for arg in sys.argv[4:]:
    name, _, body = arg.partition(":")
    kw = {k: (v == "True" if v in ("True", "False") else float(v))
          for k, v in (p.split("=") for p in body.split(",") if p)}
    settings.append((name, kw))
pipe = load_pipeline(ckpt)
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
for i in clips:
    clip = data[i]
    rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for name, kw in settings:
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0), **kw)[0]
        rows.append(pred[show]); labels.append(name)
fig, axes = plt.subplots(len(rows), len(show), figsize=(len(show) * 1.1, len(rows) * 1.15))
for r, (row, label) in enumerate(zip(rows, labels)):
    for c, frame in enumerate(row):
        ax = axes[r, c]
        ax.imshow(frame.clamp(0, 1).permute(1, 2, 0).numpy())
        ax.set_xticks([]); ax.set_yticks([])
        if c == 0:
            ax.set_ylabel(label, fontsize=6)
        if r == 0:
            ax.set_title(f"frame {show[c] + 1}", fontsize=7)
fig.tight_layout(pad=0.2)
fig.savefig(out, dpi=110)
