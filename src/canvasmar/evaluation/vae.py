"""`canvasmar vae stats` and `canvasmar vae eval`: latent statistics and reconstruction PSNR
for a trained causal VAE (kind "vae") or a diffusers AutoencoderKL folder (kind "diffusers")."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from canvasmar.config import DataConfig
from canvasmar.data import build_dataset
from canvasmar.data.clips import frames_to_tensor
from canvasmar.errors import UserError
from canvasmar.media import read_video, resize_video
from canvasmar.metrics.image import psnr
from canvasmar.models.tokenizer import Tokenizer
from canvasmar.models.vae.stats import measure_latent_stats, save_stats


def load_any(path: str, kind: str, stats: bool) -> Tokenizer:
    if kind == "vae":
        from canvasmar.models.vae.tokenizer import load_vae_tokenizer

        return load_vae_tokenizer(path, stats=stats)
    if kind == "diffusers":
        from canvasmar.models.vae.diffusers_adapter import load_diffusers_tokenizer

        return load_diffusers_tokenizer(path, stats=stats)
    raise UserError(f"unknown VAE kind '{kind}' (vae or diffusers)")


def _batches(videos: list[torch.Tensor], size: int = 8):
    for i in range(0, len(videos), size):
        yield torch.stack(videos[i:i + size])


def run_stats(path: str, kind: str, resolution: int, frames: int, clips: int,
              seed: int = 0) -> Path:
    """Measure per-channel latent mean/std on built-in train clips; save them in the folder."""
    tokenizer = load_any(path, kind, stats=False)
    data = build_dataset(DataConfig(resolution=resolution, frames=frames), "train", seed=seed)
    videos = [data[i] for i in range(clips)]
    return save_stats(tokenizer.folder, measure_latent_stats(tokenizer.encode, _batches(videos)))


def load_clips(video: str, resolution: int, frames: int) -> list[torch.Tensor]:
    """A video file (or a (T, H, W, 3) uint8 .npy array) -> non-overlapping clips of `frames`
    frames, short side resized to `resolution` and centre-cropped."""
    if video.endswith(".npy"):
        try:
            array = np.load(video)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read '{video}': {exc}") from None
        if array.ndim != 4 or array.shape[-1] != 3:
            raise UserError(f"'{video}' must hold (T, H, W, 3) frames, got {array.shape}")
        x = frames_to_tensor(array)
    else:
        x = read_video(video)
    x = resize_video(x[None], resolution)[0]
    clips = [x[i:i + frames] for i in range(0, len(x) - frames + 1, frames)]
    if not clips:
        raise UserError(f"'{video}' has {len(x)} frames, fewer than --frames {frames}")
    return clips


@torch.no_grad()
def run_eval(path: str, kind: str, *, video: str | None, split: str, clips: int,
             resolution: int, frames: int) -> dict:
    """Reconstruction PSNR (dB, mean over clips of the per-clip mean frame PSNR) and MSE."""
    tokenizer = load_any(path, kind, stats=False)  # the normalisation cancels in a round trip
    if video:
        videos = load_clips(video, resolution, frames)[:clips]
    else:
        data = build_dataset(DataConfig(resolution=resolution, frames=frames), split)
        videos = [data[i] for i in range(clips)]
    values, mses, start = [], [], time.perf_counter()
    for batch in _batches(videos):
        recon = tokenizer.decode(tokenizer.encode(batch))
        values.append(psnr(recon, batch))
        mses.append((recon - batch).pow(2).mean(dim=(1, 2, 3, 4)))
    return {"psnr": torch.cat(values).mean().item(), "mse": torch.cat(mses).mean().item(),
            "clips": len(videos), "frames": frames, "resolution": resolution,
            "seconds": time.perf_counter() - start}
