"""Session 30: how many tokens per frame the flow head draws in a 16-frame rollout at the
checkpoint's settings (with keep_unchanged 0.1 the rest are copied from the previous frame),
against how many tokens really change by >= 0.1 RMS; 32 built-in test clips, seed 0.
    python docs/results/canvas-history/drawn_tokens.py [CHECKPOINT]"""
import collections
import sys

import torch

import canvasmar
import canvasmar.sampler as sampler
from canvasmar.data.procedural import ProceduralVideos

CLIPS = 32
clips = ProceduralVideos("test", frames=18, resolution=32)
pipe = canvasmar.load_pipeline(sys.argv[1] if len(sys.argv) > 1 else "checkpoints/builtin")
drawn, real_moving = collections.Counter(), collections.Counter()
state = {"frame": 1}  # the predicted frame being drawn (1-based)
head_draw = sampler._head_draw


def counting_head_draw(model, cond, coeffs, noise, opts, skip, kernels=sampler.EAGER):
    drawn[state["frame"]] += noise.shape[0] if skip is None else int((~skip).sum())
    return head_draw(model, cond, coeffs, noise, opts, skip, kernels)


sampler._head_draw = counting_head_draw
for r in range(CLIPS):
    clip = clips[r]
    tokens = pipe.model.to_tokens(pipe.tokenizer.encode(clip[None]))[0]  # (18, n, C)
    for f in range(2, 18):
        change = (tokens[f] - tokens[f - 1]).pow(2).mean(-1).sqrt()
        real_moving[f - 1] += int((change >= 0.1).sum())
    state["frame"] = 1
    for i, _ in enumerate(pipe.stream(clip[None, :2], 16,
                                      generator=torch.Generator().manual_seed(0))):
        state["frame"] = i + 2  # frame i + 1 is out; the next one is drawn from here on
print("predicted frame: drawn tokens per clip / real tokens changing >= 0.1 RMS per clip")
for f in range(1, 17):
    print(f, round(drawn[f] / CLIPS, 2), round(real_moving[f] / CLIPS, 2))
