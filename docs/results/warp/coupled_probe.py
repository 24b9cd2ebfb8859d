"""Session 17, an inference-time try against frozen rollouts: *sample* model.warp's shift
instead of taking the argmax, with Gumbel noise shared by all tokens of a frame (one draw per
frame and shift: common random numbers), so that the tokens of one object, which have similar
shift distributions, pick the same shift (no tearing), while confident tokens (the static
background) keep theirs. Argmax picks the zero shift whenever the model is unsure which way
an object goes (mass spread over many directions), which freezes it.
  score = log_softmax(logits) / tau + g_k,  g_k ~ Gumbel, per frame (shared) or per token
Scores the moved frame on the teacher-forced last frame of 64 val clips, and 16-frame
rollouts of 32 val clips from 2 (T 0.5, keep 0.1, seed 0): MSE and motion (as canvasmar eval).
python coupled_probe.py CKPT mode:tau [...]  (mode: argmax, shared, token)"""
import dataclasses, sys, types
import torch
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
from canvasmar.models.canvasmar import Canvas
from canvasmar.evaluation.diagnostics import STATIC_CHANGE


def choose(logits: torch.Tensor, mode: str, tau: float, gen: torch.Generator) -> torch.Tensor:
    if mode == "argmax":
        return logits.argmax(-1)
    b, n, k = logits.shape
    shape = (b, 1, k) if mode == "shared" else (b, n, k)
    u = torch.rand(shape, generator=gen).clamp_(1e-9, 1 - 1e-9)
    return (logits.log_softmax(-1) / tau - (-u.log()).log()).argmax(-1)


def patched(mode: str, tau: float, gen: torch.Generator):
    def predict_canvas(self, z_t, prev_tokens, base):
        z_c = self.canvas_vit(z_t, prev_tokens)
        tokens, staticness = self.canvas_vit.heads(z_c)
        logits = self.warp.logits(z_c)
        base = self.warp.apply(base, choose(logits, mode, tau, gen))
        return Canvas(z_c, self.from_head(tokens, base), staticness, base, logits)
    return predict_canvas


def rollout_scores(pipe, videos, **kw):
    with torch.no_grad():
        pred = pipe(videos[:, :2], 16, generator=torch.Generator().manual_seed(0),
                    head_temperature=0.5, keep_unchanged=0.1, **kw)
    real = videos[:, 2:]
    seq_f = torch.cat([videos[:, 1:2], pred], 1); seq_r = videos[:, 1:]
    ch_f = (seq_f[:, 1:] - seq_f[:, :-1]).abs().mean((0, 2, 3, 4))
    ch_r = (seq_r[:, 1:] - seq_r[:, :-1]).abs().mean((0, 2, 3, 4))
    per = ch_f / ch_r
    return pred, (f"rollout MSE {(pred - real).pow(2).mean():.5f} motion "
                  f"{ch_f.sum() / ch_r.sum():.3f} (frames 1/2/3/4/8/16: "
                  + " ".join(f"{per[i]:.2f}" for i in (0, 1, 2, 3, 7, 15)) + ")")


def teacher_forced(pipe, clips: torch.Tensor) -> str:
    """The moved previous frame alone on the last frame of `clips`, with the true history:
    share of copying's moving-token error removed, and error on static tokens."""
    model = pipe.model
    with torch.no_grad():
        lat = pipe.tokenizer.encode(clips)
        z_t = model.temporal_embeddings(lat[:, :-1])[:, -1]
        prev, truth = model.to_tokens(lat[:, -2]), model.to_tokens(lat[:, -1])
        base = model.predict_canvas(z_t, prev, prev).base
    moving = (truth - prev).pow(2).mean(-1) >= STATIC_CHANGE
    copy = (prev - truth).pow(2).mean(-1); err = (base - truth).pow(2).mean(-1)
    return f"gain {1 - err[moving].mean() / copy[moving].mean():.3f} static {err[~moving].mean():.6f}"


def val_clips(pipe) -> tuple[torch.Tensor, torch.Tensor]:
    """64 val clips of 8 frames (teacher-forced) and 32 of 18 (rollouts)."""
    short = build_dataset(dataclasses.replace(pipe.cfg.data, frames=8), "val", seed=0)
    long = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "val", seed=0)
    return torch.stack([short[i] for i in range(64)]), torch.stack([long[i] for i in range(32)])


if __name__ == "__main__":
    pipe = load_pipeline(sys.argv[1]); model = pipe.model
    clips, videos = val_clips(pipe)
    for setting in sys.argv[2:]:
        mode, tau = setting.split(":")
        gen = torch.Generator().manual_seed(1)
        model.predict_canvas = types.MethodType(patched(mode, float(tau), gen), model)
        scores = teacher_forced(pipe, clips)  # first: the shift noise draws in this order
        _, rollout = rollout_scores(pipe, videos)
        print(f"{setting}: {scores} | {rollout}", flush=True)
