"""Config loading, dotted overrides and their errors, and Table 3 parameter counts."""

from __future__ import annotations

import pytest
import torch

from canvasmar.config import PAPER_PARAMS, PRESETS, load_config, parse_overrides
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model


def test_overrides_are_typed_and_nested():
    assert parse_overrides(["train.lr=3e-4", "model.canvas=false", "data.frames=16"]) == {
        "train": {"lr": 3e-4}, "model": {"canvas": False}, "data": {"frames": 16}}
    cfg = load_config("tiny", ["train.lr=3e-4", "model.canvas=false", "train.betas=[0.8,0.9]",
                               "train.lr=1e-3"])
    assert cfg.train.lr == 1e-3 and cfg.model.canvas is False and cfg.train.betas == (0.8, 0.9)
    assert isinstance(load_config("tiny", ["train.lr=1"]).train.lr, float)  # int -> float ok


@pytest.mark.parametrize("override, message", [
    ("model.dimm=3", "unknown config key 'model.dimm' (did you mean model.dim?)"),
    ("nosuch.key=1", "unknown config key 'nosuch'"),
    ("train.steps=ten", "train.steps expects a int, got 'ten'"),
    ("train.steps=1.5", "train.steps expects a int"),
    ("model.canvas=3", "model.canvas expects a bool"),
    ("train=5", "train is a section"),
    ("train.steps", "is not of the form section.key=value"),
    ("data.resolution=30", "not divisible by tokenizer.patch=4"),
    ("model.temporal_patch=2 data.resolution=36", "not divisible by model.temporal_patch=2"),
    ("data.frames=1", "at least 2 frames"),
])
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(UserError, match=None) as info:
        load_config("tiny", override.split())
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_recipe_with_preset(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("preset: tiny\ntrain:\n  steps: 7\nmodel:\n  canvas: false\n")
    cfg = load_config(str(path), ["train.batch_size=2"])
    assert (cfg.train.steps, cfg.model.canvas, cfg.train.batch_size) == (7, False, 2)
    path.write_text("train: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(str(path))
    with pytest.raises(UserError, match="neither a preset"):
        load_config(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("name", ["bair", "ucf", "k600"])
def test_table3_parameter_counts(name):
    with torch.device("meta"):
        model, _ = build_model(PRESETS[name])
    total = sum(p.numel() for p in model.parameters())
    assert abs(total / PAPER_PARAMS[name] - 1) < 0.10, total


@pytest.mark.parametrize("changes, message", [
    ({"order": "zigzag"}, "sample.order='zigzag': use 'motion' or 'random'"),
    ({"steps": 0}, "sample.steps=0 must be at least 1"),
    ({"flow_steps": -1}, "sample.flow_steps=-1 must be at least 1"),
    ({"window": -2}, "sample.window=-2 must be at least 0"),
    ({"window": 1}, "sample.window=1 is too small: use at least 2"),
])
def test_sample_config_validate_rejects(changes, message):
    """One check of the sampling settings, reached from configs, overrides and the pipeline."""
    import dataclasses

    from canvasmar.config import SampleConfig, with_sample_overrides
    from canvasmar.pipeline import Pipeline

    bad = SampleConfig(**changes)
    with pytest.raises(UserError, match=None) as info:
        bad.validate()
    assert message in str(info.value) and "\n" not in str(info.value)
    overrides = [f"sample.{k}={v}" for k, v in changes.items()]
    cfg = load_config("tiny")
    for call in (lambda: load_config("tiny", overrides),
                 lambda: with_sample_overrides(cfg, overrides),
                 lambda: dataclasses.replace(cfg, sample=bad).validate(),
                 lambda: Pipeline.options(type("P", (), {"cfg": cfg})(), **changes)):
        with pytest.raises(UserError, match=None) as info:
            call()
        assert message in str(info.value)


def test_sample_config_validate_accepts():
    from canvasmar.config import SampleConfig

    assert SampleConfig().validate() == SampleConfig()
    SampleConfig(window=1, keep_bos=False).validate()  # one frame, BOS not pinned
    SampleConfig(window=2, order="random", steps=1, flow_steps=1).validate()


def test_the_small_preset_fits_issue_15s_budget():
    """<= 20M parameters, the residual heads, 16-frame clips of the built-in data at 32x32."""
    cfg = load_config("small")
    model, _ = build_model(cfg)
    total = sum(p.numel() for p in model.parameters())
    assert 15e6 < total <= 20e6, total
    assert cfg.model.residual and cfg.data.frames == 16 and cfg.data.source == "builtin"
