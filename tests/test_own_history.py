"""loss.own_history (history_inputs.py): input frames replaced by the model's own one-step
draws, the targets kept real (parallel scheduled sampling, against exposure bias)."""

from dataclasses import replace

import pytest
import torch

from canvasmar import history_inputs, losses
from canvasmar.config import load_config
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model
from canvasmar.sampler import rollout


def _setup(micro_cfg, own: float = 0.5):
    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16))
    return model, tok, latents, replace(micro_cfg.loss, own_history=own)


def test_a_draw_is_the_samplers_next_frame_from_the_real_frames_before_it(micro_cfg):
    """Frame i's draw is what a rollout from the real frames 0..i-1 makes as its next frame
    (the same draws: one row, one seed), and depends on no later frame."""
    model, _, latents, _ = _setup(micro_cfg)
    opts = replace(micro_cfg.sample, steps=2, head_temperature=0.5)
    one = latents[:1, :2]  # one clip, frames 0 and 1: one draw (frame 1 from frame 0)
    drawn = history_inputs.one_step_samples(model, one, opts, torch.Generator().manual_seed(3))
    assert torch.equal(drawn[:, 0], one[:, 0])  # frame 0 is never drawn
    frame = next(rollout(model, one[:, :1], 1, opts, torch.Generator().manual_seed(3)))
    torch.testing.assert_close(drawn[:, 1], frame.latent, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(drawn[:, 1], one[:, 1])

    a = history_inputs.one_step_samples(model, latents, opts, torch.Generator().manual_seed(1))
    later = latents.clone()
    later[:, 2] += 1.0  # frame 2 conditions only the draw of frame 3
    b = history_inputs.one_step_samples(model, later, opts, torch.Generator().manual_seed(1))
    assert torch.equal(a[:, 1:3], b[:, 1:3]) and not torch.allclose(a[:, 3], b[:, 3])


def test_own_history_draws_last_and_reaches_only_the_inputs(micro_cfg):
    """Drawn after every other draw (those stay the same), never frame 0; replaced inputs
    change the losses, no replacement gives the plain losses; validation ignores it."""
    from canvasmar.train.validation import validate

    model, tok, latents, cfg = _setup(micro_cfg)
    plain = losses.draw_randomness(model, 2, 4, micro_cfg.loss, torch.Generator().manual_seed(0))
    own = losses.draw_randomness(model, 2, 4, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(plain.mask, own.mask) and torch.equal(plain.head_noise, own.head_noise)
    assert plain.own_history is None and own.own_history_seed.dim() == 0
    assert not own.own_history.view(2, 4)[:, 0].any()
    sample = micro_cfg.sample
    base = losses.training_losses(model, latents, cfg, randomness=plain)
    none = replace(own, own_history=torch.zeros(8, dtype=torch.bool))
    same = losses.training_losses(model, latents, cfg, randomness=none, sample=sample)
    assert all(torch.equal(base[k], same[k]) for k in base)
    every = replace(own, own_history=torch.tensor([False, True, True, True] * 2))
    changed = losses.training_losses(model, latents, cfg, randomness=every, sample=sample)
    assert not torch.allclose(base["canvas"], changed["canvas"])
    changed["loss"].backward()  # the draw is outside the graph; the training pass is not
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="sample"):
        losses.training_losses(model, latents, cfg, randomness=every)
    video = torch.rand(2, 4, 3, 16, 16)
    torch.manual_seed(0)
    v1 = validate(model, tok, video, micro_cfg.loss)
    torch.manual_seed(0)
    assert validate(model, tok, video, cfg) == v1


def test_own_history_settings_are_checked():
    with pytest.raises(UserError, match="loss.own_history"):
        load_config("tiny", ["loss.own_history=1.5"])
    with pytest.raises(UserError, match="loss.own_history.*model.group=2"):
        load_config("tiny", ["loss.own_history=0.5", "model.group=2"])
