"""Session 16: how much of copying's error on moving tokens the best integer shift of the
previous frame removes, per 4x4-pixel token (what model.warp=4 can reach) and per pixel, on
the last frame of 64 built-in val clips (8 frames, 32x32). python oracle.py"""
import numpy as np
import torch

from canvasmar.data.procedural import SPLIT_SEED_BASE, render_clip

R, P = 4, 4  # shift radius in pixels, token side in pixels
copy = per_token = per_pixel = 0.0
for i in range(64):
    clip = torch.tensor(np.asarray(render_clip(SPLIT_SEED_BASE["val"] + 3 * i, 8, 32)))
    prev, target = clip[-2].permute(2, 0, 1), clip[-1].permute(2, 0, 1)  # (3, 32, 32)
    padded = torch.nn.functional.pad(prev[None], (R, R, R, R), mode="replicate")[0]
    shifts = torch.stack([padded[:, R + dy:R + dy + 32, R + dx:R + dx + 32]
                          for dy in range(-R, R + 1) for dx in range(-R, R + 1)])
    error = (shifts - target).pow(2).mean(1)  # (K, 32, 32) per pixel
    token = error.view(-1, 8, P, 8, P).mean((2, 4))  # (K, 8, 8) per token
    no_shift = token[(2 * R + 1) ** 2 // 2]
    moving = no_shift > 1e-4
    copy += no_shift[moving].sum().item()
    per_token += token.min(0).values[moving].sum().item()
    per_pixel += error.min(0).values.view(8, P, 8, P).mean((1, 3))[moving].sum().item()
print(f"share of copying's moving-token error removed: best shift per token "
      f"{1 - per_token / copy:.3f}, per pixel {1 - per_pixel / copy:.3f}")
