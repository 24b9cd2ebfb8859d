"""Session 17, an inference-time try against tearing: each frame's tokens may only take one of
that frame's M most likely shifts (the zero shift and the M-1 non-zero shifts with the most
probability summed over the frame's tokens): a frame holds a few moving objects, each moving by
one displacement, so a shift few tokens want is more likely a tear than an object. Scores the
moved previous frame on the teacher-forced last frame of 64 val clips, then 16-frame rollouts
of 32 val clips from 2 (T 0.5, keep 0.1, seed 0): MSE and motion (as canvasmar eval).
python candidates_probe.py CKPT M [M ...]  (M 0 = every shift, the trained model)"""
import dataclasses, sys, types
import torch
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
from canvasmar.models.canvasmar import Canvas
from canvasmar.evaluation.diagnostics import STATIC_CHANGE


def restrict(logits: torch.Tensor, m: int, zero: int) -> torch.Tensor:
    """logits (B, n, K) -> the same with all but each frame's M candidate shifts at -inf."""
    if m == 0:
        return logits
    mass = logits.softmax(-1).sum(1)  # (B, K)
    mass[:, zero] = float("inf")  # the zero shift is always a candidate
    keep = mass.topk(m, -1).indices
    allowed = torch.zeros_like(mass, dtype=torch.bool).scatter_(1, keep, True)
    return logits.masked_fill(~allowed[:, None], float("-inf"))


def patched(m_cand: int):
    def predict_canvas(self, z_t, prev_tokens, base):
        z_c = self.canvas_vit(z_t, prev_tokens)
        tokens, staticness = self.canvas_vit.heads(z_c)
        logits = self.warp.logits(z_c)
        base = self.warp.apply(base, restrict(logits, m_cand, self.warp.zero_shift).argmax(-1))
        return Canvas(z_c, self.from_head(tokens, base), staticness, base, logits)
    return predict_canvas


if __name__ == "__main__":
    pipe = load_pipeline(sys.argv[1]); model = pipe.model
    data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=8), "val", seed=0)
    clips = torch.stack([data[i] for i in range(64)])
    long = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "val", seed=0)
    videos = torch.stack([long[i] for i in range(32)])
    for m_cand in (int(a) for a in sys.argv[2:]):
        model.predict_canvas = types.MethodType(patched(m_cand), model)
        with torch.no_grad():
            lat = pipe.tokenizer.encode(clips)
            z_t = model.temporal_embeddings(lat[:, :-1])[:, -1]
            prev, truth = model.to_tokens(lat[:, -2]), model.to_tokens(lat[:, -1])
            base = model.predict_canvas(z_t, prev, prev).base
            moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE
            copy = (prev - truth).pow(2).mean(-1); err = (base - truth).pow(2).mean(-1)
            pred = pipe(videos[:, :2], 16, generator=torch.Generator().manual_seed(0),
                        head_temperature=0.5, keep_unchanged=0.1)
        real = videos[:, 2:]
        seq_f = torch.cat([videos[:, 1:2], pred], 1); seq_r = videos[:, 1:]
        ch_f = (seq_f[:, 1:] - seq_f[:, :-1]).abs().mean((0, 2, 3, 4))
        ch_r = (seq_r[:, 1:] - seq_r[:, :-1]).abs().mean((0, 2, 3, 4))
        per = ch_f / ch_r
        print(f"M={m_cand}: gain {1 - err[moving].mean() / copy[moving].mean():.3f} static "
              f"{err[~moving].mean():.6f} | rollout MSE {(pred - real).pow(2).mean():.5f} motion "
              f"{ch_f.sum() / ch_r.sum():.3f} (frames 1/2/3/4/8/16: "
              + " ".join(f"{per[i]:.2f}" for i in (0, 1, 2, 3, 7, 15)) + ")", flush=True)
