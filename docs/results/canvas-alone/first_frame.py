"""Session 15: the first predicted frame from 2 context frames on 64 val clips, token MSE on
the moving tokens (those that change between the last context frame and the target) for the
canvas and for samples at several settings; as builtin-ship/first_frame_probe.py, for any
checkpoints. python first_frame.py CKPT ... (one row per checkpoint and setting; session 16
added the keep_unchanged row and, for model.warp models, the moved previous frame alone)."""
import dataclasses
import sys

import torch

from canvasmar.data import build_dataset
from canvasmar.pipeline import load_pipeline

SETTINGS = {  # name: sampler keywords (the rest: the checkpoint's settings)
    "canvas alone": dict(canvas_only=True, frame_noise=0.0),
    "T 0": dict(head_temperature=0.0),
    "T 0.5": dict(head_temperature=0.5),
    "T 0.5, canvas noise 0": dict(head_temperature=0.5, canvas_noise=0.0),
    "T 0.5, canvas & frame noise 0": dict(head_temperature=0.5, canvas_noise=0.0,
                                          frame_noise=0.0),
    "T 0.5, keep_unchanged 0.1": dict(head_temperature=0.5, keep_unchanged=0.1),
    "T 1": dict(head_temperature=1.0),
}
print("| checkpoint | first frame | MSE, moving tokens | MSE, all tokens |")
print("|---|---|---:|---:|")
for ckpt in sys.argv[1:]:
    pipe = load_pipeline(ckpt)
    m = pipe.model
    data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=3), "val", seed=0)
    clips = torch.stack([data[i] for i in range(64)])
    with torch.no_grad():
        lat = pipe.tokenizer.encode(clips)
        prev, target = m.to_tokens(lat[:, 1]), m.to_tokens(lat[:, 2])
        moving = (prev - target).pow(2).mean(-1) > 1e-3
        rows = [("copy the last frame", prev)]
        if m.warp is not None:  # session 16: the previous frame moved by the chosen shifts
            z_t = m.temporal_embeddings(lat[:, :2])[:, 2]
            rows.append(("moved previous frame (model.warp)", m.predict_canvas(z_t, prev, prev).base))
        for name, kw in SETTINGS.items():
            out = pipe(clips[:, :2], 1, generator=torch.Generator().manual_seed(0), **kw)
            rows.append((name, m.to_tokens(pipe.tokenizer.encode(out)[:, 0])))
    for name, tokens in rows:
        err = (tokens - target).pow(2).mean(-1)
        print(f"| {ckpt} | {name} | {err[moving].mean():.4f} | {err.mean():.4f} |", flush=True)
