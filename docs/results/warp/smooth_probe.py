"""Session 16, an inference-time try, not kept: smooth model.warp's shift log-probabilities over each
token's 3x3 neighbourhood (weight alpha) before the argmax, and score the moved previous frame
on the teacher-forced last frame of 64 val clips. python smooth_probe.py CKPT"""
import dataclasses, sys, types
import torch, torch.nn.functional as F
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
from canvasmar.models.canvasmar import Canvas
from canvasmar.evaluation.diagnostics import STATIC_CHANGE

def patched(alpha):
    def predict_canvas(self, z_t, prev_tokens, base):
        z_c = self.canvas_vit(z_t, prev_tokens)
        tokens, staticness = self.canvas_vit.heads(z_c)
        logits = self.warp.logits(z_c)
        lp = logits.log_softmax(-1)
        _, h, w = self.latent_shape
        grid = lp.transpose(1, 2).reshape(lp.shape[0], -1, h, w)
        nb = F.avg_pool2d(F.pad(grid, (1, 1, 1, 1), mode="replicate"), 3, 1)
        score = lp + alpha * nb.reshape(lp.shape[0], lp.shape[2], -1).transpose(1, 2)
        base = self.warp.apply(base, score.argmax(-1))
        return Canvas(z_c, self.from_head(tokens, base), staticness, base, logits)
    return predict_canvas

ckpt = sys.argv[1]
pipe = load_pipeline(ckpt); m = pipe.model
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=8), "val", seed=0)
clips = torch.stack([data[i] for i in range(64)])
for alpha in (0.0, 1.0, 3.0):
    m.predict_canvas = types.MethodType(patched(alpha), m)
    with torch.no_grad():
        lat = pipe.tokenizer.encode(clips)
        z_t = m.temporal_embeddings(lat[:, :-1])[:, -1]
        prev, truth = m.to_tokens(lat[:, -2]), m.to_tokens(lat[:, -1])
        base = m.predict_canvas(z_t, prev, prev).base
    moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE
    copy = (prev - truth).pow(2).mean(-1); err = (base - truth).pow(2).mean(-1)
    print(alpha, f"gain {1 - err[moving].mean() / copy[moving].mean():.3f} static {err[~moving].mean():.6f}", flush=True)
