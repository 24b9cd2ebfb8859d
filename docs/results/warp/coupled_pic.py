"""Session 17: test clips 0-3, real frames against rollouts (T 0.5, keep_unchanged 0.1, seed 0)
with model.warp's shift chosen by each of the given coupled_probe.py settings.
python coupled_pic.py CKPT OUT.png mode:tau [...] (run from the repository root)"""
import dataclasses, sys, types
import torch
sys.path[:0] = ["docs/results/warp", "docs/results"]
from coupled_probe import patched
from canvasmar.pipeline import load_pipeline
from frame_grid import save_grid
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
save_grid(rows, labels, show, sys.argv[2], 1.1)
