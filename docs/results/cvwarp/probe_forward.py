"""Session 17: a forward constant-velocity extrapolator, no learning. Each 4x4-pixel token of
frame t-1 gets the integer velocity v (|v| <= R) that best explains it from frame t-2 (t-1 at q
against t-2 at q - v, summed over the token, plus a small displacement penalty so that flat and
static tokens stay put); then every token of t-1 is pasted at q + v in frame t, moving tokens
pasted after static ones (a moving object passes in front), holes keep frame t-1's value.
Rolled out on built-in val clips from 2 context frames, its own frames fed back.
python probe_forward.py [clips] [frames] [penalty]"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

from canvasmar.data.procedural import SPLIT_SEED_BASE, render_clip

R, P = 4, 4
N = int(sys.argv[1]) if len(sys.argv) > 1 else 32
T = int(sys.argv[2]) if len(sys.argv) > 2 else 18
PENALTY = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
SHIFTS = [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]


def velocity(prev2: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """(h, w, 2) integer velocity per token of `prev`: where its content was in `prev2`."""
    c, h, w = prev.shape
    p2 = F.pad(prev2[None], (R,) * 4, mode="replicate")[0]
    cost = torch.stack([(prev - p2[:, R - dy:R - dy + h, R - dx:R - dx + w]).pow(2).mean(0)
                        for dy, dx in SHIFTS]).view(-1, h // P, P, w // P, P).mean((2, 4))
    disp = torch.tensor([abs(dy) + abs(dx) for dy, dx in SHIFTS], dtype=cost.dtype)
    best = (cost + PENALTY * disp[:, None, None]).argmin(0)
    return torch.tensor(SHIFTS)[best]


def splat(prev: torch.Tensor, vel: torch.Tensor) -> torch.Tensor:
    out = prev.clone()
    c, h, w = prev.shape
    order = sorted(((int(vel[i, j].abs().sum()), i, j) for i in range(h // P)
                    for j in range(w // P)))
    for _, i, j in order:  # static first, then moving ones on top
        dy, dx = (int(v) for v in vel[i, j])
        y0, x0 = i * P + dy, j * P + dx
        ys, xs = max(y0, 0), max(x0, 0)
        ye, xe = min(y0 + P, h), min(x0 + P, w)
        if ys < ye and xs < xe:
            out[:, ys:ye, xs:xe] = prev[:, ys - dy:ye - dy, xs - dx:xe - dx]
    return out


mse = {"copy": np.zeros(T - 2), "fw": np.zeros(T - 2)}
change = {"real": np.zeros(T - 2), "fw": np.zeros(T - 2)}
for n in range(N):
    clip = torch.tensor(np.asarray(render_clip(SPLIT_SEED_BASE["val"] + 3 * n, T, 32)))
    clip = clip.permute(0, 3, 1, 2).float()
    frames = [clip[0], clip[1]]
    vel = velocity(clip[0], clip[1])
    for t in range(2, T):
        nxt = splat(frames[-1], vel)
        # the token grid moved: velocities are re-estimated against the frame we made
        frames.append(nxt)
        vel = velocity(frames[-2], frames[-1])
        mse["fw"][t - 2] += (frames[-1] - clip[t]).pow(2).mean().item() / N
        mse["copy"][t - 2] += (clip[1] - clip[t]).pow(2).mean().item() / N
        change["fw"][t - 2] += (frames[-1] - frames[-2]).abs().mean().item()
        change["real"][t - 2] += (clip[t] - clip[t - 1]).abs().mean().item()
print(f"{N} val clips, {T - 2} predicted frames, penalty {PENALTY}")
print("MSE copy ", " ".join(f"{v:.4f}" for v in mse["copy"]), f"mean {mse['copy'].mean():.5f}")
print("MSE fw   ", " ".join(f"{v:.4f}" for v in mse["fw"]), f"mean {mse['fw'].mean():.5f}")
print("motion fw", " ".join(f"{v:.2f}" for v in change["fw"] / change["real"]),
      f"all {change['fw'].sum() / change['real'].sum():.3f}")
