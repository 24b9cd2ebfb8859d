"""The pretrained tiny model shipped in checkpoints/tiny must keep loading and sampling."""

from __future__ import annotations

from pathlib import Path

import torch

import canvasmar

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "tiny"


def test_shipped_tiny_model_loads_and_predicts():
    assert (SHIPPED / "README.md").is_file(), "the model card is missing"
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 25 * 2**20
    pipe = canvasmar.load_pipeline(SHIPPED)
    assert pipe.frame_shape == (3, 32, 32)
    from canvasmar.data.procedural import ProceduralVideos

    clip = ProceduralVideos("test", frames=3, resolution=32)[0][None]
    out = pipe(clip[:, :2], 1, flow_steps=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 1, 3, 32, 32)
    # a trained model, not an initialisation: its prediction is close to the true frame
    assert (out[:, 0] - clip[:, 2]).pow(2).mean() < 0.05
