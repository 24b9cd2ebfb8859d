"""Per-channel latent statistics, measured after training and saved beside the weights.

The tokenizer normalises latents with them, z_norm = (z - mean_c) / std_c, so CanvasMAR sees
roughly zero-mean, unit-variance latent frames, as its noise augmentation (Eq. 11-12) and its
flow head's N(0, I) noise assume. This replaces the single hand-set "scale factor" of latent
diffusion codebases: every number comes from data, none is a constant in the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from canvasmar.errors import UserError

STATS = "latent_stats.json"


@torch.no_grad()
def measure_latent_stats(encode: Callable[[torch.Tensor], torch.Tensor],
                         batches: Iterable[torch.Tensor]) -> dict:
    """encode: (B, T, C, H, W) in [0, 1] -> raw latents (B, T', c, h, w). Per-channel mean and
    standard deviation over every clip, latent frame and cell (float64 sums)."""
    total, s1, s2 = 0, 0.0, 0.0
    for video in batches:
        z = encode(video).double()
        flat = z.transpose(0, 2).reshape(z.shape[2], -1)
        total += flat.shape[1]
        s1 = s1 + flat.sum(1)
        s2 = s2 + flat.pow(2).sum(1)
    if not total:
        raise UserError("no clips to measure latent statistics on")
    mean = s1 / total
    std = (s2 / total - mean.pow(2)).clamp_min(1e-12).sqrt()
    return {"mean": mean.tolist(), "std": std.tolist(), "count": total}


def save_stats(folder: Path, stats: dict) -> Path:
    path = Path(folder) / STATS
    tmp = path.with_name(f".{STATS}.tmp")
    tmp.write_text(json.dumps(stats, indent=2))
    tmp.replace(path)
    return path


def load_stats(folder: Path, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (mean, std) float32 tensors of `channels` entries, or a UserError naming the fix."""
    path = Path(folder) / STATS
    if not path.is_file():
        raise UserError(f"{path} is missing: measure the latent statistics with "
                        f"'canvasmar vae stats --vae {folder}'")
    try:
        data = json.loads(path.read_text())
        mean, std = torch.tensor(data["mean"]), torch.tensor(data["std"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise UserError(f"{path} is corrupt; measure it again with "
                        f"'canvasmar vae stats --vae {folder}'") from None
    if mean.shape != (channels,) or std.shape != (channels,) or (std <= 0).any():
        raise UserError(f"{path} holds statistics for {mean.numel()} channels (or a std <= 0) "
                        f"but the VAE has {channels}; measure them again")
    return mean.float(), std.float()
