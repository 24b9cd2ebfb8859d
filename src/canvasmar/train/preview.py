"""What a training run leaves to look at: a canvas preview video/PNG and a loss-curve plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from canvasmar.config import SampleConfig
from canvasmar.media import (
    grid_image,
    heatmap,
    saved_figure,
    to_uint8,
    upscale,
    write_png,
    write_video,
)
from canvasmar.models import CanvasMAR, Tokenizer
from canvasmar.sampler import rollout
from canvasmar.train.validation import SAMPLING_FRAME_NOISE, teacher_forced_canvas


@torch.no_grad()
def write_canvas_preview(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor,
                         out_dir: Path, clips: int = 4, name: str = "preview"
                         ) -> np.ndarray | None:
    """Rows per clip: ground truth | canvas (one pass, true history) | staticness heat map.

    Writes NAME.png and NAME.mp4 in out_dir; returns the PNG's image (None without canvas).
    """
    if not model.has_canvas:
        return None
    videos = videos[:clips]
    g = torch.Generator().manual_seed(0)
    canvas, static = teacher_forced_canvas(model, tokenizer.encode(videos), SAMPLING_FRAME_NOISE, g)
    canvas_px, videos, static = tokenizer.decode(canvas).cpu(), videos.cpu(), static.cpu()
    k = tokenizer.temporal_factor  # a latent frame >= 1 covers k pixel frames (docs/vae.md)
    static = torch.cat([static[:, :1], static[:, 1:].repeat_interleave(k, dim=1)], dim=1)
    size = tuple(videos.shape[-2:])
    rows, panels = [], []
    for i in range(len(videos)):
        heat = torch.stack([heatmap(s, size) for s in static[i]])
        rows += [videos[i], canvas_px[i], heat]
        panels.append(torch.cat([videos[i], canvas_px[i], heat], dim=3))  # side by side
    grid = grid_image(rows)
    write_png(out_dir / f"{name}.png", grid)
    movie = torch.cat(panels, dim=2)  # clips stacked vertically: (T, 3, clips*H, 3*W)
    write_video(out_dir / f"{name}.mp4", upscale(to_uint8(movie), 4), fps=4)
    return grid


@torch.no_grad()
def write_sample_preview(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor,
                         path: Path, opts: SampleConfig, context: int = 1, clips: int = 2,
                         seed: int = 0) -> np.ndarray:
    """Rows per clip: ground truth | sampled rollout from `context` true latent frames (real
    sampling, the same sampler as `canvasmar sample`). Writes an MP4, returns the grid image.

    The latent sequence (context + generated) is decoded as a whole, so a tokenizer whose
    latent frames cover several pixel frames (temporal VAE) gives the clip's own length."""
    videos = videos[:clips]
    latents = tokenizer.encode(videos)
    g = torch.Generator().manual_seed(seed)
    frames = [f.latent for f in rollout(model, latents[:, :context],
                                        latents.shape[1] - context, opts, g)]
    sampled = tokenizer.decode(torch.cat([latents[:, :context], torch.stack(frames, 1)], 1))
    length = min(sampled.shape[1], videos.shape[1])
    videos, sampled = videos[:, :length].cpu(), sampled[:, :length].cpu()
    rows = [row for i in range(len(videos)) for row in (videos[i], sampled[i])]
    movie = torch.cat([torch.cat([videos[i], sampled[i]], dim=3) for i in range(len(videos))],
                      dim=2)
    write_video(path, upscale(to_uint8(movie), 4), fps=4)
    return grid_image(rows)


def plot_losses(metrics_path: Path, out_path: Path) -> Path:
    """Training loss parts (and validation MSEs if logged) against step."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    with saved_figure(out_path, 1, 2, figsize=(10, 3.5)) as (_, axes):
        losses, val = axes[0]
        for key in ("mar", "canvas", "static"):
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                losses.plot(*zip(*pts, strict=True), label=f"L_{key}")
        losses.set_yscale("log")
        losses.set_xlabel("step")
        losses.legend()
        losses.set_title("training losses")
        for key in ("val_canvas_mse", "val_copy_last_mse"):
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                val.plot(*zip(*pts, strict=True), marker="o", label=key[4:])
        val.set_xlabel("step")
        val.legend()
        val.set_title("held-out next-frame pixel MSE")
    return out_path
