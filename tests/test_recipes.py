"""The Table 3 recipes load, build the paper's sizes and carry Table 3's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from canvasmar.config import PAPER_PARAMS, load_config
from canvasmar.models.factory import build_model

RECIPES = Path(__file__).parent.parent / "configs" / "recipes"
TABLE3 = {  # preset: (batch, MAR steps, canvas CFG, temporal CFG, r at sampling, source)
    "bair": (192, 4, 1.5, 1.2, 0.3, "bair"),
    "ucf": (64, 8, 1.5, 1.2, 0.3, "ucf101"),
    "k600": (192, 10, 2.25, 1.1, 0.4, "k600"),
}


@pytest.mark.parametrize("name", sorted(TABLE3))
def test_recipe_matches_table_3(name):
    cfg = load_config(str(RECIPES / f"{name}.yaml"))
    batch, steps, w_s, w_t, r, source = TABLE3[name]
    assert (cfg.train.batch_size, cfg.sample.steps) == (batch, steps)
    sample = cfg.sample
    assert (sample.cfg_canvas, sample.cfg_temporal, sample.frame_noise) == (w_s, w_t, r)
    assert (sample.canvas_noise, sample.temperature, sample.flow_steps) == (0.2, 6.5, 30)
    assert (cfg.loss.frame_noise_min, cfg.loss.frame_noise_max) == (0.2, 0.6)
    assert (cfg.loss.canvas_noise_min, cfg.loss.canvas_noise_max) == (0.0, 0.3)
    assert cfg.data.source == source and cfg.train.precision == "bf16"
    with torch.device("meta"):
        model, _ = build_model(cfg)
    params = sum(p.numel() for p in model.parameters())
    assert abs(params / PAPER_PARAMS[name] - 1) < 0.1
