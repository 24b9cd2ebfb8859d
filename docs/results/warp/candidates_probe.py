"""Session 17, an inference-time try against tearing: each frame's tokens may only take one of
that frame's M most likely shifts (the zero shift and the M-1 non-zero shifts with the most
probability summed over the frame's tokens): a frame holds a few moving objects, each moving by
one displacement, so a shift few tokens want is more likely a tear than an object. Scores the
moved previous frame on the teacher-forced last frame of 64 val clips, then 16-frame rollouts
of 32 val clips from 2 (T 0.5, keep 0.1, seed 0): MSE and motion (as canvasmar eval).
python docs/results/warp/candidates_probe.py CKPT M [M ...]  (M 0 = every shift, the trained model)"""
import sys, types
import torch
sys.path.insert(0, "docs/results/warp")
from coupled_probe import rollout_scores, teacher_forced, val_clips  # shared scoring
from canvasmar.pipeline import load_pipeline
from canvasmar.models.canvasmar import Canvas


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
    clips, videos = val_clips(pipe)
    for m_cand in (int(a) for a in sys.argv[2:]):
        model.predict_canvas = types.MethodType(patched(m_cand), model)
        scores = teacher_forced(pipe, clips)  # first: the shift noise draws in this order
        _, rollout = rollout_scores(pipe, videos)
        print(f"M={m_cand}: {scores} | {rollout}", flush=True)
