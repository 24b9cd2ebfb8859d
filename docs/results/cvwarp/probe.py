"""Session 17: a constant-velocity block-matching extrapolator, no learning. For each 4x4-pixel
token of frame t it picks the integer shift v (|v| <= R) whose content agrees between frame t-1
at q - v and frame t-2 at q - 2v (the object kept its velocity), the squared difference summed
over a (2A+1)x(2A+1)-token window around the token, plus a small displacement penalty so that
flat regions stay put; then moves frame t-1 by v. Rolled out on built-in val clips from 2
context frames, its own frames fed back. python probe.py [clips] [frames] [A]"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

from canvasmar.data.procedural import SPLIT_SEED_BASE, render_clip

R, P = 4, 4
N = int(sys.argv[1]) if len(sys.argv) > 1 else 32
T = int(sys.argv[2]) if len(sys.argv) > 2 else 18
A = int(sys.argv[3]) if len(sys.argv) > 3 else 1
SHIFTS = [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]


def moved(frame: torch.Tensor, dy: int, dx: int, pad: int) -> torch.Tensor:
    """frame (C, H, W) padded by `pad` (replicate): value at q is frame[q - (dy, dx)]."""
    h, w = frame.shape[-2:] if pad == 0 else (frame.shape[-2] - 2 * pad, frame.shape[-1] - 2 * pad)
    return frame[:, pad - dy:pad - dy + h, pad - dx:pad - dx + w]


def predict(prev2: torch.Tensor, prev: torch.Tensor, penalty: float = 1e-4) -> torch.Tensor:
    c, h, w = prev.shape
    p1 = F.pad(prev[None], (R, R, R, R), mode="replicate")[0]
    p2 = F.pad(prev2[None], (2 * R,) * 4, mode="replicate")[0]
    cost = torch.stack([(moved(p1, dy, dx, R) - moved(p2, 2 * dy, 2 * dx, 2 * R)).pow(2).mean(0)
                        for dy, dx in SHIFTS])  # (K, H, W) per pixel
    tok = cost.view(-1, h // P, P, w // P, P).mean((2, 4))  # (K, h, w) per token
    tok = F.avg_pool2d(tok[None], 2 * A + 1, 1, A, count_include_pad=False)[0] if A else tok
    disp = torch.tensor([abs(dy) + abs(dx) for dy, dx in SHIFTS], dtype=tok.dtype)
    best = (tok + penalty * disp[:, None, None]).argmin(0)  # (h, w)
    cand = torch.stack([moved(p1, dy, dx, R) for dy, dx in SHIFTS])  # (K, C, H, W)
    idx = best.repeat_interleave(P, 0).repeat_interleave(P, 1)
    return cand.gather(0, idx[None, None].expand(1, c, h, w))[0]


mse = {"copy": np.zeros(T - 2), "cv": np.zeros(T - 2)}
change = {"real": np.zeros(T - 2), "cv": np.zeros(T - 2)}
for i in range(N):
    clip = torch.tensor(np.asarray(render_clip(SPLIT_SEED_BASE["val"] + 3 * i, T, 32)))
    clip = clip.permute(0, 3, 1, 2).float()
    if clip.max() > 1.5:
        clip = clip / 255
    frames = [clip[0], clip[1]]
    for t in range(2, T):
        frames.append(predict(frames[-2], frames[-1]))
        mse["cv"][t - 2] += (frames[-1] - clip[t]).pow(2).mean().item() / N
        mse["copy"][t - 2] += (clip[1] - clip[t]).pow(2).mean().item() / N
        change["cv"][t - 2] += (frames[-1] - frames[-2]).abs().mean().item()
        change["real"][t - 2] += (clip[t] - clip[t - 1]).abs().mean().item()
print(f"{N} val clips, {T - 2} predicted frames, window {2 * A + 1} tokens")
print("MSE copy ", " ".join(f"{v:.4f}" for v in mse["copy"]), f"mean {mse['copy'].mean():.5f}")
print("MSE cv   ", " ".join(f"{v:.4f}" for v in mse["cv"]), f"mean {mse['cv'].mean():.5f}")
print("motion cv", " ".join(f"{v:.2f}" for v in change["cv"] / change["real"]),
      f"all {change['cv'].sum() / change['real'].sum():.3f}")
