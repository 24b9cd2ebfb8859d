"""model.spatial_rope (nn/rope.py): rotary positions over (frame, row, column).

The property it is for: attention scores depend on the offset between two tokens, not on
where they are, so "the token one cell to the left moves here" is one rule for every place.
The option adds no weights and draws nothing, and the cached sampling path still equals
recomputation."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from canvasmar.models.factory import build_model
from canvasmar.nn.rope import apply_rope, axial_pair_split, grid_positions


def _scores(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    return apply_rope(q, positions) @ apply_rope(k, positions).transpose(-1, -2)


@pytest.mark.parametrize("head_dim", [16, 32, 64])
def test_scores_depend_only_on_offsets(head_dim):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 3, 20, head_dim, generator=g), torch.randn(2, 3, 20, head_dim,
                                                                   generator=g)
    positions = torch.randint(0, 8, (20, 3), generator=g)
    moved = positions + torch.tensor([3, -2, 5])  # the same offset for every token
    torch.testing.assert_close(_scores(q, k, moved), _scores(q, k, positions), atol=1e-4,
                               rtol=1e-4)
    # ... and each axis matters: moving one token along any axis changes its scores
    for axis in range(3):
        one = positions.clone()
        one[0, axis] += 1
        assert (_scores(q, k, one) - _scores(q, k, positions)).abs().max() > 1e-3, axis


def test_time_only_positions_are_the_original_rotation():
    """(L,) positions rotate every pair by the frame index, as before the option existed."""
    x = torch.randn(1, 2, 4, 8)
    t = torch.tensor([0, 1, 2, 5])
    freqs = 10_000.0 ** (-torch.arange(0, 8, 2).float() / 8)
    angles = t[:, None].float() * freqs
    x1, x2 = x[..., 0::2], x[..., 1::2]
    want = torch.stack([x1 * angles.cos() - x2 * angles.sin(),
                        x1 * angles.sin() + x2 * angles.cos()], -1).flatten(-2)
    torch.testing.assert_close(apply_rope(x, t), want)


def test_pair_split_and_grid_order():
    assert axial_pair_split(16) == (2, 3, 3)
    assert axial_pair_split(32) == (4, 6, 6)
    assert axial_pair_split(64) == (8, 12, 12)
    grid = grid_positions(2, 3, frame=4)
    assert grid.tolist() == [[4, 0, 0], [4, 0, 1], [4, 0, 2], [4, 1, 0], [4, 1, 1], [4, 1, 2]]


def _rope_cfg(micro_cfg, **model):
    return replace(micro_cfg, model=replace(micro_cfg.model, spatial_rope=True, **model))


def test_the_option_adds_no_weights_and_changes_the_outputs(micro_cfg):
    torch.manual_seed(0)
    plain, tok = build_model(micro_cfg)
    torch.manual_seed(0)
    rope, _ = build_model(_rope_cfg(micro_cfg))
    plain_state, rope_state = plain.state_dict(), rope.state_dict()
    assert plain_state.keys() == rope_state.keys()  # checkpoints load either way
    for name in plain_state:
        assert torch.equal(plain_state[name], rope_state[name]), name
    latents = tok.encode(torch.rand(1, 3, 3, 16, 16))
    with torch.no_grad():
        assert not torch.allclose(plain.temporal_embeddings(latents),
                                  rope.temporal_embeddings(latents), atol=1e-4)
        z_t = plain.temporal_embeddings(latents)[:, -1]
        assert not torch.allclose(plain.canvas_vit(z_t, latents[:, -1].flatten(2).mT),
                                  rope.canvas_vit(z_t, latents[:, -1].flatten(2).mT), atol=1e-4)


def test_temporal_cache_equals_recompute(micro_cfg):
    model, tok = build_model(_rope_cfg(micro_cfg))
    model.eval()
    latents = tok.encode(torch.rand(2, 6, 3, 16, 16))
    with torch.no_grad():
        full = model.temporal_embeddings(latents[:, :-1])
        cache = model.new_cache()
        stepwise = [model.encode_history(latents[:, :2], cache)]
        for i in range(2, 5):
            stepwise.append(model.temporal_step(latents[:, i], cache))
    torch.testing.assert_close(torch.stack(stepwise, 1), full[:, 2:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("group,window", [(1, None), (1, 3), (2, 3)])
def test_sampling_with_the_cache_equals_recompute(micro_cfg, group, window):
    """Keys are cached after their rotation: a sliding window (BOS pinned) and next-2's
    two-frame steps still give what recomputing the windowed history gives."""
    from canvasmar.pipeline import Pipeline

    cfg = _rope_cfg(micro_cfg, group=group)
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    pipe = Pipeline(model, tok, cfg)
    context = torch.rand(2, 2, 3, 16, 16, generator=torch.Generator().manual_seed(1))

    def run(**kw):
        return pipe(context, 5, generator=torch.Generator().manual_seed(7), flow_steps=3,
                    steps=2, window=window, keep_bos=True, **kw)

    torch.testing.assert_close(run(use_kv_cache=False), run(), atol=1e-5, rtol=0)
