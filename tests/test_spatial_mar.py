"""Spatial MAR: canvas tokens only at masked positions; dropped conditions are ignored."""

from __future__ import annotations

import torch

from canvasmar.config import load_config
from canvasmar.models.factory import build_model
from tests.conftest import micro_overrides


def _inputs(model, d):
    b, n, c = 2, model.num_tokens, model.token_dim
    z_t, tokens, canvas = torch.randn(b, n, d), torch.randn(b, n, c), torch.randn(b, n, d)
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[:, ::3] = True
    return z_t, tokens, mask, canvas


def test_canvas_enters_only_at_masked_positions(micro_cfg):
    model, _ = build_model(micro_cfg)
    model.eval()
    z_t, tokens, mask, canvas = _inputs(model, micro_cfg.model.dim)
    base = model.predict_tokens(z_t, tokens, mask, canvas)
    at_clean = canvas.clone()
    at_clean[~mask] += 5.0  # change the canvas only where tokens are known
    torch.testing.assert_close(model.predict_tokens(z_t, tokens, mask, at_clean), base)
    at_masked = canvas.clone()
    at_masked[mask] += 5.0
    assert not torch.allclose(model.predict_tokens(z_t, tokens, mask, at_masked), base)
    # and the clean values are read only where the mask is off
    changed = tokens.clone()
    changed[mask] += 5.0
    torch.testing.assert_close(model.predict_tokens(z_t, changed, mask, canvas), base)


def test_dropped_conditions_are_ignored(micro_cfg):
    model, _ = build_model(micro_cfg)
    model.eval()
    z_t, tokens, mask, canvas = _inputs(model, micro_cfg.model.dim)
    yes, no = torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool)
    dropped = model.predict_tokens(z_t, tokens, mask, canvas, drop_temporal=no, drop_canvas=yes)
    torch.testing.assert_close(
        model.predict_tokens(z_t, tokens, mask, canvas * 3, drop_temporal=no, drop_canvas=yes),
        dropped)
    # dropping the canvas equals the learned uniform mask token, i.e. the no-canvas input
    torch.testing.assert_close(model.predict_tokens(z_t, tokens, mask, None), dropped)
    null = model.predict_tokens(z_t, tokens, mask, canvas, drop_temporal=yes, drop_canvas=no)
    torch.testing.assert_close(
        model.predict_tokens(z_t * 3, tokens, mask, canvas, drop_temporal=yes, drop_canvas=no),
        null)


def test_expert_norm_has_three_affine_sets(micro_cfg):
    model, _ = build_model(micro_cfg)
    assert model.spatial.blocks[0].norm1.weight.shape == (3, micro_cfg.model.dim)


def test_reveal_change_starts_as_the_model_without_it_and_reads_the_change(micro_cfg):
    """model.reveal_change: zero-initialised, so the same weights predict the same conditions
    as the model without it; once trained, a revealed token's change from the base reaches the
    masked tokens, and masked tokens' values still do not."""
    plain, _ = build_model(micro_cfg)
    with_change, _ = build_model(load_config("tiny", micro_overrides() +
                                             ["model.reveal_change=true"]))
    missing = with_change.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["spatial.change_embed.bias", "spatial.change_embed.weight"]
    plain.eval(), with_change.eval()
    z_t, tokens, mask, canvas = _inputs(plain, micro_cfg.model.dim)
    base = torch.randn_like(tokens)
    expected = plain.predict_tokens(z_t, tokens, mask, canvas)
    torch.testing.assert_close(with_change.predict_tokens(z_t, tokens, mask, canvas, base=base),
                               expected)
    torch.nn.init.normal_(with_change.spatial.change_embed.weight)
    before = with_change.predict_tokens(z_t, tokens, mask, canvas, base=base)
    moved = base.clone()
    moved[~mask] += 1.0  # the same revealed values, another change from the base
    after = with_change.predict_tokens(z_t, tokens, mask, canvas, base=moved)
    assert (after - before)[mask].abs().max() > 1e-3
    at_masked = base.clone()
    at_masked[mask] += 1.0  # the base under masked tokens reaches them only through the canvas
    torch.testing.assert_close(
        with_change.predict_tokens(z_t, tokens, mask, canvas, base=at_masked), before)
