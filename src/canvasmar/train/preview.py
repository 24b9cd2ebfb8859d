"""What a training run leaves to look at: a canvas preview video/PNG and a loss-curve plot."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from canvasmar.media import grid_image, heatmap, to_uint8, upscale, write_png, write_video
from canvasmar.models import CanvasMAR, Tokenizer
from canvasmar.train.validation import SAMPLING_FRAME_NOISE, teacher_forced_canvas


@torch.no_grad()
def write_canvas_preview(model: CanvasMAR, tokenizer: Tokenizer, videos: torch.Tensor,
                         out_dir: Path, clips: int = 4) -> list[Path]:
    """Rows per clip: ground truth | canvas (one pass, true history) | staticness heat map."""
    if not model.has_canvas:
        return []
    videos = videos[:clips]
    g = torch.Generator().manual_seed(0)
    canvas, static = teacher_forced_canvas(model, tokenizer.encode(videos), SAMPLING_FRAME_NOISE, g)
    canvas_px = tokenizer.decode(canvas)
    k = tokenizer.temporal_factor  # a latent frame >= 1 covers k pixel frames (docs/vae.md)
    static = torch.cat([static[:, :1], static[:, 1:].repeat_interleave(k, dim=1)], dim=1)
    size = tuple(videos.shape[-2:])
    rows, panels = [], []
    for i in range(len(videos)):
        heat = torch.stack([heatmap(s, size) for s in static[i]])
        rows += [videos[i], canvas_px[i], heat]
        panels.append(torch.cat([videos[i], canvas_px[i], heat], dim=3))  # side by side
    png = write_png(out_dir / "preview.png", grid_image(rows))
    movie = torch.cat(panels, dim=2)  # clips stacked vertically: (T, 3, clips*H, 3*W)
    mp4 = write_video(out_dir / "preview.mp4", upscale(to_uint8(movie), 4), fps=4)
    return [png, mp4]


def plot_losses(metrics_path: Path, out_path: Path) -> Path:
    """Training loss parts (and validation MSEs if logged) against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for key in ("mar", "canvas", "static"):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            axes[0].plot(*zip(*pts, strict=True), label=f"L_{key}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[0].set_title("training losses")
    for key in ("val_canvas_mse", "val_copy_last_mse"):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            axes[1].plot(*zip(*pts, strict=True), marker="o", label=key[4:])
    axes[1].set_xlabel("step")
    axes[1].legend()
    axes[1].set_title("held-out next-frame pixel MSE")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
