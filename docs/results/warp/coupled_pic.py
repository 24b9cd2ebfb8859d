"""Session 17: test clips 0-3, real frames against rollouts (T 0.5, keep_unchanged 0.1, seed 0)
with model.warp's shift chosen by each of the given coupled_probe.py settings.
python coupled_pic.py CKPT OUT.png mode:tau [...] (run from the repository root)"""
import dataclasses, sys, types
import torch
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
sys.path.insert(0, "docs/results/warp")
from coupled_probe import patched
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset

pipe = load_pipeline(sys.argv[1]); m = pipe.model
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
for i in (0, 1, 2, 3):
    clip = data[i]; rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for setting in sys.argv[3:]:
        mode, tau = setting.split(":")
        gen = torch.Generator().manual_seed(1)
        m.predict_canvas = types.MethodType(patched(mode, float(tau), gen), m)
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0),
                        head_temperature=0.5, keep_unchanged=0.1)[0]
        rows.append(pred[show]); labels.append(setting)
fig, axes = plt.subplots(len(rows), len(show), figsize=(len(show) * 1.1, len(rows) * 1.15))
for r, (row, label) in enumerate(zip(rows, labels)):
    for c, frame in enumerate(row):
        ax = axes[r, c]; ax.imshow(frame.clamp(0, 1).permute(1, 2, 0).numpy())
        ax.set_xticks([]); ax.set_yticks([])
        if r == 0: ax.set_title(f"frame {show[c] + 1}", fontsize=7)
        if c == 0: ax.set_ylabel(label, fontsize=7)
fig.savefig(sys.argv[2], dpi=80, bbox_inches="tight")
