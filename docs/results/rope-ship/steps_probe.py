"""Session 32: do more MAR steps move objects once the Spatial MAR reads its revealed tokens?
(Session 31: spatial_rope raised the swap test 8.5x; sessions 8-10 found more steps changed
nothing when it did not read them.) Rollouts of val clips 0..N-1 (16 frames from 2, seed 0,
T 0.5, keep_unchanged 0.1; env TEMP and KEEP change them), per predicted frame: motion (eval's
definition: mean |frame change| of the generated frames over the real ones) and PSNR; a
picture of val clips 0-1 at each step count.
python docs/results/rope-ship/steps_probe.py CKPT OUT_PREFIX N STEPS... (repo root)"""
import dataclasses
import json
import os
import sys

import torch

sys.path.insert(0, "docs/results")

from frame_grid import save_grid  # noqa: E402

from canvasmar.data import build_dataset  # noqa: E402
from canvasmar.pipeline import load_pipeline  # noqa: E402

ckpt, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
temp, keep = float(os.environ.get("TEMP", 0.5)), float(os.environ.get("KEEP", 0.1))
step_counts = [int(s) for s in sys.argv[4:]]
pipe = load_pipeline(ckpt)
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "val", seed=0)
clips = torch.stack([data[i] for i in range(n)])
context, real = clips[:, :2], clips[:, 2:]


def change(video: torch.Tensor) -> torch.Tensor:  # (N, T) mean |change| from the frame before
    frames = torch.cat([context[:, -1:], video], 1)
    return (frames[:, 1:] - frames[:, :-1]).abs().mean((2, 3, 4))


real_change = change(real)
results, show, rows, labels = {}, [0, 1, 2, 3, 5, 7, 11, 15], [], []
for i in (0, 1):
    rows.append(real[i][show])
    labels.append(f"val {i}: real")
for steps in step_counts:
    with torch.no_grad():
        pred = pipe(context, 16, generator=torch.Generator().manual_seed(0),
                    head_temperature=temp, keep_unchanged=keep, steps=steps)
    mse = ((pred - real) ** 2).mean((2, 3, 4))
    psnr = (10 * torch.log10(1 / mse.clamp_min(1e-10))).mean(0)
    moved = change(pred)
    motion = moved.sum(0) / real_change.sum(0)
    results[steps] = {"motion": motion.tolist(), "psnr": psnr.tolist(), "mse": mse.mean().item(),
                      "motion_all": (moved.sum() / real_change.sum()).item()}
    print(steps, f"mse {results[steps]['mse']:.5f} motion {results[steps]['motion_all']:.3f}",
          "per frame", " ".join(f"{m:.2f}" for m in motion[:6]), flush=True)
    for i in (0, 1):
        rows.append(pred[i][show])
        labels.append(f"val {i}: {steps} steps")
json.dump({"checkpoint": ckpt, "clips": n, "head_temperature": temp, "keep_unchanged": keep,
           "results": results}, open(prefix + ".json", "w"),
          indent=1)
save_grid(rows, labels, show, prefix + ".png", 1.1)
