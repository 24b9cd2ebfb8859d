"""Session 16: snap the canvas to a shift. Per token, the integer shift of the previous frame
(radius 4 px, models/warp.py) whose copy is closest to the *canvas* (no learned shift at
all), scored like `canvasmar diagnose`'s gains: teacher-forced last frame of 64 val clips,
share of copying's moving-token error removed, and the error on static tokens.
python canvas_snap.py CKPT ..."""
import dataclasses
import sys

import torch

from canvasmar.data import build_dataset
from canvasmar.evaluation.diagnostics import STATIC_CHANGE
from canvasmar.models.warp import ShiftWarp
from canvasmar.pipeline import load_pipeline

print("| checkpoint | predictor | moving gain | static MSE |")
print("|---|---|---:|---:|")
for ckpt in sys.argv[1:]:
    pipe = load_pipeline(ckpt)
    m = pipe.model
    data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=8), "val", seed=0)
    clips = torch.stack([data[i] for i in range(64)])
    cell = pipe.cfg.tokenizer.patch
    warp = ShiftWarp(m.cfg.dim, 4, m.latent_shape, cell)
    with torch.no_grad():
        lat = pipe.tokenizer.encode(clips)
        z_t = m.temporal_embeddings(lat[:, :-1])[:, -1]
        prev, truth = m.to_tokens(lat[:, -2]), m.to_tokens(lat[:, -1])
        canvas = m.predict_canvas(z_t, prev, prev)
        rows = {"canvas": canvas.tokens, "canvas snapped to a shift":
                warp.apply(prev, warp.best_shift(prev, canvas.tokens)),
                "oracle shift": warp.apply(prev, warp.best_shift(prev, truth))}
        if m.warp is not None:
            rows["learned shift (model.warp)"] = canvas.base
    moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE
    copy = (prev - truth).pow(2).mean(-1)
    for name, tokens in rows.items():
        err = (tokens - truth).pow(2).mean(-1)
        gain = 1 - err[moving].mean() / copy[moving].mean()
        print(f"| {ckpt} | {name} | {gain:.3f} | {err[~moving].mean():.6f} |", flush=True)
