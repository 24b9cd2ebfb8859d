"""model.warp: the shift canvas (models/warp.py) moves the previous frame per token, and the
residual heads add to the moved frame."""

from __future__ import annotations

import json

import pytest
import torch

from canvasmar.config import SampleConfig, config_from_json, load_config
from canvasmar.errors import UserError
from canvasmar.losses import draw_randomness, training_losses
from canvasmar.models.factory import build_model
from canvasmar.models.warp import ShiftWarp, shift_loss
from canvasmar.nn.patches import patchify
from canvasmar.sampler import generate_frame
from tests.conftest import micro_overrides

# micro: 16x16 pixels, patch 2, so 8x8 tokens of 12 channels
WARP = ["model.residual=true", "model.warp=2"]


def _model(*extra: str):
    cfg = load_config("tiny", micro_overrides() + list(extra))
    torch.manual_seed(0)
    return build_model(cfg)[0], cfg


def _square_frames(dy: int, dx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A 4x4 square on a smooth ramp, before and after moving it by (dy, dx) pixels: tokens
    (1, 64, 12) of the micro model's pixel layout."""
    ramp = torch.linspace(-0.5, 0.5, 16)
    background = (ramp[:, None] + 0.37 * ramp[None, :]).expand(3, 16, 16) * 0.3  # no
    # shift but the zero one maps this ramp onto itself

    def frame(y: int, x: int) -> torch.Tensor:
        image = background.clone()
        image[:, y:y + 4, x:x + 4] = torch.tensor([0.9, -0.8, 0.5])[:, None, None]
        return patchify(image[None], 2)  # (1, n, 12): channel-major cells, as the tokenizer

    return frame(6, 6), frame(6 + dy, 6 + dx)


def test_a_moved_square_is_found_and_moved_back_sharply():
    warp = ShiftWarp(dim=8, radius=2, latent_shape=(12, 8, 8), cell_patch=2)
    prev, target = _square_frames(2, -2)
    best = warp.best_shift(prev, target)
    moving = (target - prev).pow(2).mean(-1) > 1e-6
    moved = warp.apply(prev, best)
    # the square's new tokens are exact (a uniform square: several shifts read it, the
    # smallest wins); the uncovered background is read from near by, on a ramp
    colour = torch.tensor([0.9, -0.8, 0.5]).repeat_interleave(4)
    square = (target - colour).abs().amax(-1) == 0
    assert square.sum() == 4 and (moved - target)[square].abs().max() == 0
    copy_error = (prev - target)[moving].pow(2).mean()
    assert (moved - target)[moving].pow(2).mean() < 0.05 * copy_error
    # where nothing changed the zero shift wins (near-ties on the ramp go to no displacement)
    assert (best[~moving] == warp.zero_shift).all()
    # the zero shift is the identity, borders included
    torch.testing.assert_close(warp.apply(prev, torch.full_like(best, warp.zero_shift)), prev)


def test_an_untrained_warp_starts_as_the_model_without_it():
    # The warp layer is drawn last and starts at the zero shift: the canvas, its base and
    # every other weight are those of the model without model.warp.
    plain, _ = _model("model.residual=true")
    warped, _ = _model(*WARP)
    assert set(warped.state_dict()) - set(plain.state_dict()) == {"warp.logits.weight",
                                                                 "warp.logits.bias"}
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(warped.state_dict()[name], value)
    z_t = torch.randn(2, 64, 32)
    prev = torch.randn(2, 64, 12)
    a, b = plain.predict_canvas(z_t, prev, prev), warped.predict_canvas(z_t, prev, prev)
    torch.testing.assert_close(b.tokens, a.tokens)
    torch.testing.assert_close(b.base, prev)
    assert a.shift_logits is None and b.shift_logits.shape == (2, 64, 25)


def test_the_shift_cross_entropy_trains_and_the_heads_add_to_the_moved_frame():
    model, cfg = _model(*WARP)
    clip = torch.randn(4, 4, 12, 8, 8)
    rnd = draw_randomness(model, 4, 4, cfg.loss, torch.Generator().manual_seed(1))
    losses = training_losses(model, clip, cfg.loss, randomness=rnd)
    assert {"warp", "canvas", "mar", "static"} <= set(losses)
    expected = (cfg.loss.canvas_weight * losses["canvas"] + cfg.loss.static_weight
                * losses["static"] + cfg.loss.warp_weight * losses["warp"] + losses["mar"])
    torch.testing.assert_close(losses["loss"], expected)
    optimizer = torch.optim.Adam(model.warp.parameters(), lr=0.05)
    first = float(losses["warp"].detach())
    for _ in range(40):  # only the shift logits train: the cross-entropy must fall
        optimizer.zero_grad()
        training_losses(model, clip, cfg.loss, randomness=rnd)["warp"].backward()
        optimizer.step()
    with torch.no_grad():
        last = float(training_losses(model, clip, cfg.loss, randomness=rnd)["warp"])
    assert last < 0.8 * first


def test_sampled_tokens_that_keep_their_value_keep_the_moved_one():
    # Every token kept (keep_unchanged huge): the frame is the previous one moved by the
    # canvas's chosen shift, here forced to (1, 0) everywhere through the logits' bias.
    model, cfg = _model(*WARP)
    shift = int(((model.warp.offsets == torch.tensor([1, 0])).all(1)).nonzero())
    with torch.no_grad():
        model.warp.logits.bias.zero_()
        model.warp.logits.bias[shift] = 50.0
    prev = torch.randn(2, 64, 12)
    z_t = torch.randn(2, 64, 32)
    opts = SampleConfig(steps=2, flow_steps=2, keep_unchanged=1e9)
    frame = generate_frame(model.eval(), z_t, prev, opts, torch.Generator().manual_seed(0))
    moved = model.warp.apply(prev, torch.full((2, 64), shift))
    torch.testing.assert_close(model.to_tokens(frame.latent), moved)
    assert not torch.allclose(moved, prev)


def test_warp_needs_residual_heads_and_older_configs_read_as_without_it():
    with pytest.raises(UserError, match="model.warp=2 .* needs model.residual=true"):
        load_config("tiny", ["model.warp=2"])
    with pytest.raises(UserError, match="model.warp"):
        load_config("tiny", ["model.warp=-1"])
    saved = {"format_version": 4, "model": {"residual": True}}
    assert config_from_json(json.dumps(saved)).model.warp == 0


def test_diagnose_scores_the_moved_frame_alone():
    # A warp forced to a one-pixel shift everywhere: on clips whose frames are all the same,
    # every token is static, so the moved frame's static error is that of the shift, > 0.
    from canvasmar.evaluation.diagnostics import diagnose

    model, cfg = _model(*WARP)
    shift = int(((model.warp.offsets == torch.tensor([0, 1])).all(1)).nonzero())
    with torch.no_grad():
        model.warp.logits.bias[shift] = 50.0
    still = torch.randn(3, 1, 12, 8, 8).expand(-1, 3, -1, -1, -1).contiguous()
    out = diagnose(model, still, SampleConfig(flow_steps=2), samples=2)
    assert out["warp_static_mse"] > 0.01 and "warp_moving_gain" not in out
    moving = torch.randn(3, 3, 12, 8, 8)
    assert "warp_moving_gain" in diagnose(model, moving, SampleConfig(flow_steps=2), samples=2)


def test_the_inside_of_a_uniform_object_accepts_its_own_shift_and_none():
    warp = ShiftWarp(dim=8, radius=2, latent_shape=(12, 8, 8), cell_patch=2)
    prev, target = _square_frames(0, 1)  # the square moves one pixel right: x 6-9 -> 7-10
    good = warp.acceptable_shifts(prev, target)  # (1, n, K)
    best = warp.best_shift(prev, target)
    assert good[0].gather(1, best[0][:, None]).all()  # the best shift is always acceptable
    inside = 4 * 8 + 4  # token (4, 4): pixels y 8-9, x 8-9, inside the square before and after
    accepted = {tuple(o) for o in warp.offsets[good[0, inside]].tolist()}
    assert {(0, 0), (0, -1)} <= accepted  # no move, and the square's own (read 1 px left)
    static = (target - prev).pow(2).mean(-1)[0] == 0
    # where nothing changed, the zero shift; on the ramp only it (a ramp moved is not the
    # ramp), inside the square (2 static tokens) others too
    edge = static & (good[0].sum(-1) == 1)  # the zero shift alone
    assert (good[0, static, warp.zero_shift]).all() and edge.sum() >= static.sum() - 2 > 40
    logits = torch.zeros(1, 64, 25)
    loss = shift_loss(logits, good)
    expected = (torch.log(torch.tensor(25.0)) - good[0].sum(-1).float().log()).sum()
    torch.testing.assert_close(loss, expected)


def test_shift_errors_go_a_few_rows_at_a_time_and_equal_all_shifts_at_once():
    """Radius 8 (289 shifts, as on Pong's 64x64 frames) is built in chunks of whole rows of
    the shift grid; the errors are those of every shift built at once, bit for bit."""
    torch.manual_seed(0)
    warp = ShiftWarp(16, 8, (12, 8, 8), 2)  # 16x16 pixels in 2x2-pixel tokens of 3 colours
    tokens, targets = torch.randn(3, 64, 12), torch.randn(3, 64, 12)
    every = (warp.shifted(tokens) - targets[:, None]).pow(2).mean(-1)
    assert every.shape == (3, 289, 64)
    assert torch.equal(warp._errors(tokens, targets), every)
    rows = warp.shifted(tokens, range(16, 17))  # the last row of the grid: dy = +8
    assert torch.equal(rows, warp.shifted(tokens)[:, 16 * 17:])
