"""Session 15: does the canvas recover motion after a stuck frame? 64 val clips of 4 frames;
target frame 3 from the history f0, f1, f2 (real) or f0, f1, f1 (frame 2 stuck, as a rollout
shows after a frame that failed to move anything). Token MSE of the canvas on the moving
tokens (those that change between f1 and f3) against copying the last input frame.
python stuck_probe.py CKPT ..."""
import dataclasses
import sys

import torch

from canvasmar.data import build_dataset
from canvasmar.pipeline import load_pipeline

print("| checkpoint | history | copy last input, moving tokens | canvas, moving tokens | "
      "share of copy's error removed |")
print("|---|---|---:|---:|---:|")
for ckpt in sys.argv[1:]:
    pipe = load_pipeline(ckpt)
    m = pipe.model
    data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=4), "val", seed=0)
    clips = torch.stack([data[i] for i in range(64)])
    with torch.no_grad():
        lat = pipe.tokenizer.encode(clips)
        target = m.to_tokens(lat[:, 3])
        moving = (m.to_tokens(lat[:, 1]) - target).pow(2).mean(-1) > 1e-3
        for name, history in (("real f0 f1 f2", lat[:, :3]),
                              ("stuck f0 f1 f1", lat[:, [0, 1, 1]])):
            prev = m.to_tokens(history[:, -1])
            z = m.temporal_embeddings(history)[:, -1]
            canvas = m.predict_canvas(z, prev, prev).tokens
            copy = (prev - target).pow(2).mean(-1)[moving].mean()
            err = (canvas - target).pow(2).mean(-1)[moving].mean()
            print(f"| {ckpt} | {name} | {copy:.4f} | {err:.4f} | {1 - err / copy:.2f} |",
                  flush=True)
