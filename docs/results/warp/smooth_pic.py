"""Session 16: test clips 0-3 from the model.warp run at T 0.5, keep_unchanged 0.1, with the
shift log-probabilities smoothed (alpha 1, smooth_probe.py) and not (alpha 0).
python smooth_pic.py CKPT OUT.png (run from the repository root)"""
import dataclasses, sys, types
import torch
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
sys.argv = [sys.argv[0]] + sys.argv[1:]
exec(open("docs/results/warp/smooth_probe.py").read().split("ckpt = sys.argv[1]")[0])
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
pipe = load_pipeline(sys.argv[1]); m = pipe.model
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "test", seed=0)
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
for i in (0, 1, 2, 3):
    clip = data[i]; rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for alpha in (0.0, 1.0):
        m.predict_canvas = types.MethodType(patched(alpha), m)
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, generator=torch.Generator().manual_seed(0), head_temperature=0.5, keep_unchanged=0.1)[0]
        rows.append(pred[show]); labels.append(f"a={alpha}")
fig, axes = plt.subplots(len(rows), len(show), figsize=(len(show) * 1.1, len(rows) * 1.15))
for r, (row, label) in enumerate(zip(rows, labels)):
    for c, frame in enumerate(row):
        ax = axes[r, c]; ax.imshow(frame.clamp(0, 1).permute(1, 2, 0).numpy()); ax.set_xticks([]); ax.set_yticks([])
        if c == 0: ax.set_ylabel(label, fontsize=7)
fig.savefig(sys.argv[2], dpi=80, bbox_inches="tight")
