"""Quick, honest next-frame quality on held-out clips (the full protocols come later).

For each clip: the first `context` frames are given, the model predicts the next frame, and its
pixel MSE against the true frame is compared, on the same frames, with two baselines scored in
the same run: copying the last context frame, and the canvas alone (the one-pass blurry
prediction that the Spatial MAR starts from).
"""

from __future__ import annotations

import torch

from canvasmar.pipeline import Pipeline


@torch.no_grad()
def next_frame_mse(pipe: Pipeline, videos: torch.Tensor, context: int, seed: int = 0,
                   batch_size: int = 16, **options) -> dict[str, float]:
    """videos (N, T, C, H, W) with T > context -> mean MSEs of the frame after the context."""
    g = torch.Generator().manual_seed(seed)
    sums = {"model_mse": 0.0, "copy_last_mse": 0.0, "canvas_mse": 0.0}
    for start in range(0, len(videos), batch_size):
        clip = videos[start:start + batch_size]
        truth, last = clip[:, context], clip[:, context - 1]
        (out,) = list(pipe.stream(clip[:, :context], 1, generator=g, return_canvas=True,
                                  **options))
        n = len(clip)
        sums["model_mse"] += (out.frame.cpu() - truth).pow(2).mean().item() * n
        sums["copy_last_mse"] += (last - truth).pow(2).mean().item() * n
        if out.canvas is not None:
            sums["canvas_mse"] += (out.canvas.cpu() - truth).pow(2).mean().item() * n
    if not pipe.model.has_canvas:
        sums.pop("canvas_mse")
    return {k: v / len(videos) for k, v in sums.items()}
