"""Checkpoints: save -> load gives identical outputs; damaged input gives clear errors."""

from __future__ import annotations

import pytest
import torch

from canvasmar import checkpoint as ckpt
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model


def _outputs(model, tok):
    g = torch.Generator().manual_seed(0)
    latents = tok.encode(torch.rand(1, 4, 3, 16, 16, generator=g))
    z_t = model.temporal_embeddings(latents[:, :-1])[:, -1]
    tokens = model.to_tokens(latents[:, -1])
    canvas = model.predict_canvas(z_t, tokens, tokens)
    mask = torch.rand(1, model.num_tokens, generator=g) < 0.5
    cond = model.predict_tokens(z_t, tokens, mask, canvas.embedding)
    return canvas.tokens, canvas.staticness, cond


def test_save_load_identical_outputs(tmp_path, micro_cfg):
    model, tok = build_model(micro_cfg)
    for p in model.parameters():  # move off the zero init so the head is exercised too
        p.data.add_(torch.randn_like(p) * 0.01)
    model.eval()
    path = ckpt.save_checkpoint(tmp_path, 5, model, micro_cfg, {"step": 5})
    assert path == ckpt.resolve_checkpoint(tmp_path)
    cfg2 = ckpt.load_checkpoint_config(path)
    assert cfg2 == micro_cfg
    model2, tok2 = build_model(cfg2)
    ckpt.load_weights(model2, path)
    model2.eval()
    for a, b in zip(_outputs(model, tok), _outputs(model2, tok2), strict=True):
        assert torch.equal(a, b)
    assert ckpt.load_train_state(path)["step"] == 5


def test_keep_last_and_no_temporary_left(tmp_path, micro_cfg):
    model, _ = build_model(micro_cfg)
    for step in (1, 2, 3, 4):
        ckpt.save_checkpoint(tmp_path, step, model, micro_cfg, {"step": step}, keep_last=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_00000003", "step_00000004"]
    assert (tmp_path / "latest").read_text() == "step_00000004"


def test_missing_and_corrupt_checkpoints(tmp_path, micro_cfg):
    with pytest.raises(UserError, match="does not exist"):
        ckpt.resolve_checkpoint(tmp_path / "nope")
    with pytest.raises(UserError, match="holds no checkpoint"):
        ckpt.resolve_checkpoint(tmp_path)
    model, _ = build_model(micro_cfg)
    path = ckpt.save_checkpoint(tmp_path, 1, model, micro_cfg, {"step": 1})
    data = (path / ckpt.WEIGHTS).read_bytes()
    (path / ckpt.WEIGHTS).write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(UserError, match="corrupt or truncated"):
        ckpt.load_weights(model, path)
    (path / ckpt.STATE).write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt"):
        ckpt.load_train_state(path)
    (path / ckpt.CONFIG).write_text("{not json")
    with pytest.raises(UserError, match="corrupt"):
        ckpt.load_checkpoint_config(path)


def test_ema_averages_and_load_pipeline_uses_it(micro_cfg, tmp_path):
    from canvasmar.pipeline import load_pipeline
    from canvasmar.train.ema import EMA

    model, _ = build_model(micro_cfg)
    ema = EMA(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(step=1000)  # past the warm-up: decay 0.9
    averaged = ema.state_dict(model)
    name = next(n for n, _ in model.named_parameters())
    torch.testing.assert_close(averaged[name], start[name] + 0.1)
    assert ema.decay_at(0) == 0.1  # warm-up: (1 + 0) / (10 + 0)
    ckpt.save_checkpoint(tmp_path, 1, model, micro_cfg, {"step": 1}, ema=averaged)
    assert torch.equal(load_pipeline(tmp_path).model.state_dict()[name], averaged[name])
    raw = load_pipeline(tmp_path, use_ema=False)
    assert raw.weights == "model.safetensors"
    assert torch.equal(raw.model.state_dict()[name], model.state_dict()[name])
    restored = EMA(model, decay=0.9)
    restored.load(averaged)
    assert torch.equal(restored.state_dict(model)[name], averaged[name])
