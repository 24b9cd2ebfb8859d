"""Session 17: a motion prior for model.warp. The shift of frame t-2 that best explains each token
of frame t-1 is, for an object that keeps its velocity, the shift of t-1 that explains that
token of frame t (same index: "read the pixel v away"). Scores, on the teacher-forced last frame
of 64 val clips, the moved previous frame when each token's shift is the argmax of
  learned logits * a  -  beta * (error of shift k from t-2 to t-1) / s
(s = 0.01, a in {0, 1}): a=0 is the prior alone. python prior_probe.py CKPT"""
import dataclasses, sys
import torch
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
from canvasmar.evaluation.diagnostics import STATIC_CHANGE

pipe = load_pipeline(sys.argv[1]); model = pipe.model
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=8), "val", seed=0)
clips = torch.stack([data[i] for i in range(64)])
with torch.no_grad():
    lat = pipe.tokenizer.encode(clips)
    z_t = model.temporal_embeddings(lat[:, :-1])[:, -1]
    prev2, prev, truth = (model.to_tokens(lat[:, i]) for i in (-3, -2, -1))
    z_c = model.canvas_vit(z_t, prev)
    learned = model.warp.logits(z_c).log_softmax(-1)  # (B, n, K)
    prior = model.warp._errors(prev2, prev).transpose(1, 2)  # (B, n, K)
    penalty = model.warp.offsets.float().pow(2).sum(1) / model.warp.radius ** 2 * 1e-3
    moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE
    copy = (prev - truth).pow(2).mean(-1)
    for a, beta in [(1, 0), (0, 1), (1, 0.3), (1, 1), (1, 3), (1, 10), (1, 30)]:
        score = a * learned - beta * (prior + penalty) / 0.01
        err = (model.warp.apply(prev, score.argmax(-1)) - truth).pow(2).mean(-1)
        print(f"a={a} beta={beta}: gain {1 - err[moving].mean() / copy[moving].mean():.3f} "
              f"static {err[~moving].mean():.6f}", flush=True)
