"""loss.canvas_norm: Eq. 5's squared error (l2, the paper) or the absolute error (l1), whose
minimiser is the median of the futures (a committed canvas) instead of their mean."""

from dataclasses import replace

import pytest
import torch

from canvasmar import losses
from canvasmar.config import LossConfig
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model


def test_l1_canvas_term_is_the_absolute_error_and_nothing_else_changes(micro_cfg, monkeypatch):
    """Same draws: l1's canvas term is the mean over tokens of the channel-summed absolute
    error of the canvas the objective computed; L_MAR and L_static (whose Eq. 7 target
    keeps the squared error) are l2's to the bit; the total adds the difference."""
    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16))
    rnd = losses.draw_randomness(model, 2, 4, micro_cfg.loss, torch.Generator().manual_seed(0))
    seen = []
    squared = losses.canvas_error
    monkeypatch.setattr(losses, "canvas_error", lambda c, t: seen.append((c, t)) or squared(c, t))
    l2 = losses.training_losses(model, latents, micro_cfg.loss, randomness=rnd)
    l1 = losses.training_losses(model, latents, replace(micro_cfg.loss, canvas_norm="l1"),
                                randomness=rnd)
    canvas, targets = seen[-1]
    torch.testing.assert_close(l1["canvas"], (canvas - targets).abs().sum(-1).mean())
    torch.testing.assert_close(l2["canvas"], (canvas - targets).pow(2).sum(-1).mean())
    for key in ("mar", "static"):
        assert torch.equal(l1[key], l2[key])
    w = micro_cfg.loss.canvas_weight
    torch.testing.assert_close(l1["loss"] - l2["loss"], w * (l1["canvas"] - l2["canvas"]))
    l1["loss"].backward()
    assert model.canvas_vit.canvas_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("norm, expected", [("l2", 0.3), ("l1", 0.0)])
def test_l1_commits_to_the_likelier_future(norm, expected):
    """A value that is 0 in 70% of futures and 1 in 30%: the squared error's best constant
    is their mean, 0.3 (an object drawn at 30% strength); the absolute error's is their
    median, 0 (the likelier future, whole)."""
    targets = torch.tensor([0.0] * 7 + [1.0] * 3)[:, None, None]  # (futures, n=1, C=1)
    guess = torch.full((1, 1), 0.5, requires_grad=True)
    error = losses.canvas_error if norm == "l2" else losses.canvas_error_l1
    opt = torch.optim.SGD([guess], lr=0.01)
    for _ in range(500):
        opt.zero_grad()
        error(guess.expand_as(targets), targets).mean().backward()
        opt.step()
    assert abs(guess.item() - expected) < 0.02


def test_unknown_canvas_norm_is_one_clear_error():
    with pytest.raises(UserError, match="loss.canvas_norm"):
        LossConfig(canvas_norm="l3").validate()
