"""Session 17: oracle.py on Pong (64x64, 8x8-pixel tokens as checkpoints/atari-pong): the share
of copying's moving-token error that the best integer shift of the previous frame per token
removes, for shift radii R, on the last frame of 64 val clips (8 frames, stride 1).
python oracle_pong.py"""
import torch
import torch.nn.functional as F
from canvasmar.data.folder import folder_dataset

P = 8
data = folder_dataset("data/pong", "val", frames=8, resolution=64, stride=1, actions=6)
step = max(len(data) // 64, 1)
clips = torch.stack([data[i * step][0] for i in range(64)])  # (64, 8, 3, 64, 64)
prev, target = clips[:, -2], clips[:, -1]
no_shift = (prev - target).pow(2).mean(1).view(64, 8, P, 8, P).mean((2, 4))
moving = no_shift > 1e-4
print(f"{moving.float().mean():.3f} of tokens move")
for R in (2, 4, 6, 8, 12):
    padded = F.pad(prev, (R,) * 4, mode="replicate")
    best = torch.full_like(no_shift, float("inf"))
    for dy in range(-R, R + 1):
        for dx in range(-R, R + 1):
            view = padded[..., R + dy:R + dy + 64, R + dx:R + dx + 64]
            err = (view - target).pow(2).mean(1).view(64, 8, P, 8, P).mean((2, 4))
            best = torch.minimum(best, err)
    print(f"R={R}: best shift per token removes "
          f"{1 - best[moving].sum() / no_shift[moving].sum():.3f} of copying's moving-token error")
