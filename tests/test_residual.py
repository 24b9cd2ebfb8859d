"""model.residual: the canvas and flow heads predict changes from the previous frame."""

from __future__ import annotations

import torch

from canvasmar.config import load_config
from canvasmar.losses import draw_randomness, training_losses
from canvasmar.models.factory import build_model
from canvasmar.sampler import rollout
from tests.conftest import micro_overrides


def _model(residual: bool):
    cfg = load_config("tiny", micro_overrides() + [f"model.residual={str(residual).lower()}"])
    torch.manual_seed(0)
    return build_model(cfg)[0], cfg


def test_untrained_residual_model_copies_the_last_frame_exactly():
    # The heads start at zero (flow head zero-init, canvas head zeroed here), so at head
    # temperature 0 a residual model's frame and canvas are the previous frame, token for
    # token, through every MAR step and across frames; a plain model's are zeros.
    context = torch.rand(2, 2, 12, 8, 8, generator=torch.Generator().manual_seed(3)) * 2 - 1
    for residual in (True, False):
        model, cfg = _model(residual)
        torch.nn.init.zeros_(model.canvas_vit.canvas_head.weight)
        torch.nn.init.zeros_(model.canvas_vit.canvas_head.bias)
        opts = cfg.sample.__class__(steps=3, flow_steps=4, head_temperature=0.0)
        frames = list(rollout(model, context, 3, opts, torch.Generator().manual_seed(0)))
        expected = context[:, -1] if residual else torch.zeros_like(context[:, -1])
        for frame in frames:
            torch.testing.assert_close(frame.latent, expected, atol=1e-6, rtol=0)
            torch.testing.assert_close(frame.canvas, expected, atol=1e-6, rtol=0)


def test_residual_targets_are_changes_so_a_still_clip_costs_less():
    # A clip whose frames are all the same picture P: the plain head must produce P at every
    # masked token, the residual head only at frame 0 (whose previous frame is zeros) and zero
    # after it; with the untrained (zero) head, L_MAR is E|noise - target|^2 per channel, so
    # the residual loss is lower by about mean(P^2) x (T-1)/T, and the canvas loss likewise.
    picture = torch.full((1, 1, 12, 8, 8), 0.8)
    clip = picture.expand(4, 4, -1, -1, -1).contiguous()
    out = {}
    for residual in (True, False):
        model, cfg = _model(residual)
        torch.nn.init.zeros_(model.canvas_vit.canvas_head.weight)
        torch.nn.init.zeros_(model.canvas_vit.canvas_head.bias)
        rnd = draw_randomness(model, 4, 4, cfg.loss, torch.Generator().manual_seed(1))
        with torch.no_grad():
            out[residual] = training_losses(model, clip, cfg.loss, randomness=rnd)
    drop = 0.8**2 * 3 / 4  # mean(P^2) x (T-1)/T
    gap = float(out[False]["mar"] - out[True]["mar"])
    assert abs(gap - drop) < 0.15, (gap, drop)
    # canvas error: the squared norm over 12 channels, zero after frame 0 with the residual
    torch.testing.assert_close(out[True]["canvas"], out[False]["canvas"] / 4)
