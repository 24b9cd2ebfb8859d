"""Shapes of each module, and the pixel tokenizer round trip."""

from __future__ import annotations

import torch

from canvasmar.models.factory import build_model


def test_tokenizer_round_trip_and_shape(micro_cfg):
    _, tok = build_model(micro_cfg)
    video = torch.rand(2, 4, 3, 16, 16)
    latents = tok.encode(video)
    assert latents.shape == (2, 4, 12, 8, 8)
    assert latents.min() >= -1 and latents.max() <= 1  # normalised to [-1, 1]
    torch.testing.assert_close(tok.decode(latents), video)


def test_module_shapes(micro_cfg):
    model, tok = build_model(micro_cfg)
    b, t = 2, 4
    latents = tok.encode(torch.rand(b, t, 3, 16, 16))
    n, c, d = model.num_tokens, model.token_dim, micro_cfg.model.dim
    assert (n, c) == (64, 12)
    z_t = model.temporal_embeddings(latents[:, :-1])
    assert z_t.shape == (b, t, n, d)
    tokens = model.to_tokens(latents[:, 0])
    assert tokens.shape == (b, n, c)
    torch.testing.assert_close(model.from_tokens(tokens), latents[:, 0])
    canvas = model.predict_canvas(z_t[:, 0], tokens, tokens)
    assert canvas.embedding.shape == (b, n, d)
    assert canvas.tokens.shape == (b, n, c)
    assert canvas.staticness.shape == (b, n)
    assert ((canvas.staticness > 0) & (canvas.staticness < 1)).all()
    mask = torch.rand(b, n) < 0.5
    cond = model.predict_tokens(z_t[:, 0], tokens, mask, canvas.embedding)
    assert cond.shape == (b, n, d)
    v = model.velocity(torch.randn(10, c), torch.rand(10), torch.randn(10, d))
    assert v.shape == (10, c)


def test_flow_head_starts_at_zero(micro_cfg):
    """Zero-initialised AdaLN and output (MAR): the untrained head predicts zero velocity."""
    model, _ = build_model(micro_cfg)
    v = model.velocity(torch.randn(5, model.token_dim), torch.rand(5),
                       torch.randn(5, micro_cfg.model.dim))
    assert torch.count_nonzero(v) == 0


def test_no_canvas_baseline_has_no_canvas_vit(micro_cfg):
    from dataclasses import replace

    cfg = replace(micro_cfg, model=replace(micro_cfg.model, canvas=False))
    model, _ = build_model(cfg)
    assert model.canvas_vit is None and not model.has_canvas
