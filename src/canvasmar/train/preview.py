"""What a training run leaves to look at: a canvas preview video/PNG and a loss-curve plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from canvasmar.config import SampleConfig
from canvasmar.labels import labelled_movie, labelled_sheet
from canvasmar.media import heatmap, saved_figure, to_uint8, write_png, write_video
from canvasmar.models import CanvasMAR, Tokenizer
from canvasmar.sampler import rollout
from canvasmar.train.validation import SAMPLING_FRAME_NOISE, teacher_forced_canvas

MOVIE_PANEL, SHEET_PANEL = 128, 64  # about this many pixels per panel (nearest upscaling)


@torch.no_grad()
def write_canvas_preview(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor,
                         out_dir: Path, clips: int = 4, name: str = "preview",
                         actions: torch.Tensor | None = None) -> np.ndarray | None:
    """Per clip: ground truth | canvas (one pass, true history) | staticness heat map, each
    labelled. NAME.png has a block per clip (a row per panel, numbered frames, the colour
    bar below), NAME.mp4 a row per clip with a frame counter. Returns the PNG's image (None
    without canvas)."""
    if not model.has_canvas:
        return None
    videos = videos[:clips]
    actions = None if actions is None else actions[:clips]  # the clips' actions (model.actions)
    g = torch.Generator().manual_seed(0)
    canvas, static = teacher_forced_canvas(model, tokenizer.encode(videos), SAMPLING_FRAME_NOISE, g,
                                           actions)
    canvas_px, videos, static = tokenizer.decode(canvas).cpu(), videos.cpu(), static.cpu()
    k = tokenizer.temporal_factor  # a latent frame >= 1 covers k pixel frames (docs/vae.md)
    static = torch.cat([static[:, :1], static[:, 1:].repeat_interleave(k, dim=1)], dim=1)
    size = tuple(videos.shape[-2:])
    panels = [[("ground truth", to_uint8(videos[i])), ("canvas", to_uint8(canvas_px[i])),
               ("staticness", to_uint8(torch.stack([heatmap(s, size) for s in static[i]])))]
              for i in range(len(videos))]
    t = videos.shape[1]
    titles = [f"clip {i + 1}" for i in range(len(videos))]
    grid = labelled_sheet(panels, titles, range(t), [str(i + 1) for i in range(t)],
                          panel=SHEET_PANEL)
    write_png(out_dir / f"{name}.png", grid)
    counter = [f"frame {i + 1}/{t}" for i in range(t)]
    write_video(out_dir / f"{name}.mp4",
                labelled_movie(panels, titles, counter, panel=MOVIE_PANEL, size=12), fps=4)
    return grid


@torch.no_grad()
def write_sample_preview(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor,
                         path: Path, opts: SampleConfig, context: int = 1, clips: int = 2,
                         seed: int = 0, actions: torch.Tensor | None = None) -> np.ndarray:
    """Per clip: ground truth | sampled rollout from `context` true latent frames (real
    sampling, the same sampler as `canvasmar sample`), labelled, with a frame counter.
    Writes an MP4, returns the labelled grid image (a block per clip).

    The latent sequence (context + generated) is decoded as a whole, so a tokenizer whose
    latent frames cover several pixel frames (temporal VAE) gives the clip's own length."""
    videos = videos[:clips]
    latents = tokenizer.encode(videos)
    g = torch.Generator().manual_seed(seed)
    acts = None if actions is None else actions[:clips]  # the true actions (model.actions)
    frames = [f.latent for f in rollout(model, latents[:, :context],
                                        latents.shape[1] - context, opts, g, actions=acts)]
    sampled = tokenizer.decode(torch.cat([latents[:, :context], torch.stack(frames, 1)], 1))
    length = min(sampled.shape[1], videos.shape[1])
    videos, sampled = videos[:, :length].cpu(), sampled[:, :length].cpu()
    given = min(length, 1 + (context - 1) * tokenizer.temporal_factor)  # pixel frames
    panels = [[("ground truth", to_uint8(videos[i])), ("sampled", to_uint8(sampled[i]))]
              for i in range(len(videos))]
    titles = [f"clip {i + 1}" for i in range(len(videos))]
    counter = [f"context {i + 1}/{given}" if i < given else f"sampled {i - given + 1}/"
               f"{length - given}" for i in range(length)]
    write_video(path, labelled_movie(panels, titles, counter, context=given,
                                     panel=MOVIE_PANEL, size=12), fps=4)
    groups = [(0, given, "context"), (given, length, "sampled")]
    return labelled_sheet(panels, titles, range(length), [str(i + 1) for i in range(length)],
                          groups, split=given, panel=SHEET_PANEL)


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
        if losses.lines:  # a run stopped before its first log row has nothing to label
            losses.legend()
        losses.set_title("training losses")
        for key in ("val_canvas_mse", "val_copy_last_mse"):
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                val.plot(*zip(*pts, strict=True), marker="o", label=key[4:])
        val.set_xlabel("step")
        if val.lines:  # no validation row yet (a run stopped before train.eval_every)
            val.legend()
        val.set_title("held-out next-frame pixel MSE")
    return out_path
