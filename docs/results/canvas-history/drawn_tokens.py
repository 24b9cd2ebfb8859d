"""Session 30: how many tokens per frame the flow head draws in a 16-frame rollout of the
shipped built-in model at its settings (keep_unchanged 0.1 copies the rest from the previous
frame), against how many tokens really change by >= 0.1 RMS; 32 built-in test clips, seed 0.
    python docs/results/canvas-history/drawn_tokens.py"""
import torch, canvasmar, collections
import canvasmar.sampler as S
from canvasmar.data.procedural import ProceduralVideos
clips = ProceduralVideos("test", frames=18, resolution=32)
pipe = canvasmar.load_pipeline("checkpoints/builtin")
m = pipe.model
drawn = collections.Counter(); frames_seen = collections.Counter()
orig = S._head_draw
state = {"frame": 0}
def hd(model, cond, coeffs, noise, opts, skip, kernels=S.EAGER):
    drawn[state["frame"]] += int((~skip).sum()) if skip is not None else noise.shape[0]
    return orig(model, cond, coeffs, noise, opts, skip, kernels)
S._head_draw = hd
real_moving = collections.Counter()
N = 32
for r in range(N):
    clip = clips[r]
    tok = m.to_tokens(pipe.tokenizer.encode(clip[None]))[0]
    # real tokens changing by > 0.1 RMS from the previous frame
    for f in range(2, 18):
        real_moving[f - 1] += int(((tok[f] - tok[f - 1]).pow(2).mean(-1).sqrt() >= 0.1).sum())
    g = torch.Generator().manual_seed(0)
    state["frame"] = 1
    for i, _ in enumerate(pipe.stream(clip[None, :2], 16, generator=g)):
        state["frame"] = i + 2  # the next frame to be drawn (1-based index of predicted frame)
    # first frame's draws happen before the first yield: shift counts
print("predicted frame: drawn tokens per clip / real tokens changing >= 0.1 RMS per clip")
for f in range(1, 17):
    print(f, round(drawn[f] / N, 2), round(real_moving[f] / N, 2))
