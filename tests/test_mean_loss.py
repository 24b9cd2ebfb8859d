"""loss.mean_weight (mar_losses.mean_loss): the flow head's velocity at the noise end with zero
noise, regressed on -x at the masked tokens, a draw-free squared error that trains the
Spatial MAR to carry what the revealed tokens say about the masked ones."""

from dataclasses import replace

import pytest
import torch

from canvasmar import losses
from canvasmar.config import load_config
from canvasmar.errors import UserError
from canvasmar.mar_losses import mean_loss
from canvasmar.models import flops
from canvasmar.models.factory import build_model
from tests.conftest import micro_overrides
from tests.test_flops import counter


def _setup(micro_cfg, weight: float = 0.5):
    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16))
    cfg = replace(micro_cfg.loss, mean_weight=weight)
    rnd = losses.draw_randomness(model, 2, 4, cfg, torch.Generator().manual_seed(0))
    return model, latents, cfg, rnd


def test_mean_loss_is_the_heads_zero_noise_velocity_against_minus_x(micro_cfg):
    """By hand: v(0, t=1, cond) + x, squared, summed over channels, averaged over the masked
    tokens and channels; unmasked targets never reach it; no flow draw changes it."""
    model, _, _, rnd = _setup(micro_cfg)
    f, n, c = rnd.mask.shape[0], model.num_tokens, model.token_dim
    cond = torch.randn(f, n, model.cfg.dim)
    targets = torch.randn(f, n, c)
    v = model.velocity(torch.zeros(f, n, c), torch.ones(f, n), cond)
    expected = (v + targets).pow(2).sum(-1)[rnd.mask].sum() / (rnd.mask.sum() * c)
    got = mean_loss(model, cond, targets, rnd)
    torch.testing.assert_close(got, expected)
    moved = torch.where(rnd.mask[..., None], targets, targets + 5.0)
    torch.testing.assert_close(mean_loss(model, cond, moved, rnd), got)
    redrawn = replace(rnd, time=torch.rand_like(rnd.time), head_noise=torch.randn_like(
        rnd.head_noise))
    torch.testing.assert_close(mean_loss(model, cond, targets, redrawn), got)
    weights = torch.full((f, n), 3.0)
    torch.testing.assert_close(mean_loss(model, cond, targets, rnd, weights), 3 * got)


def test_mean_weight_adds_its_term_and_trains_the_spatial_mar(micro_cfg):
    """Weight 0 gives the plain losses (no 'mean' entry); weight w adds w x mean to the total
    with every other term unchanged; its gradient reaches the Spatial MAR's weights."""
    model, latents, cfg, rnd = _setup(micro_cfg)
    plain = losses.training_losses(model, latents, replace(cfg, mean_weight=0.0),
                                   randomness=rnd)
    assert "mean" not in plain
    both = losses.training_losses(model, latents, cfg, randomness=rnd)
    for key in plain:
        if key != "loss":
            torch.testing.assert_close(both[key], plain[key])
    torch.testing.assert_close(both["loss"], plain["loss"] + 0.5 * both["mean"])
    with torch.no_grad():  # the head's zero-initialised output layers pass no gradient on
        for p in model.head.parameters():
            p.add_(0.02 * torch.randn_like(p))
    model.zero_grad()
    losses.training_losses(model, latents, cfg, randomness=rnd)["mean"].backward()
    spatial = [p.grad for p in model.spatial.parameters() if p.grad is not None]
    assert spatial and any(g.abs().sum() > 0 for g in spatial)


def test_mean_readout_flops_are_one_head_pass_on_every_token(one_thread):
    """The FLOP count (MFU) adds one head pass on every token of every frame, forward and
    backward: FlopCounterMode's difference, exactly."""
    cfg = load_config("tiny", micro_overrides())
    mean = replace(cfg, loss=replace(cfg.loss, mean_weight=0.5))
    model, _ = build_model(cfg)
    c, h, w = model.latent_shape
    latents = torch.randn(1, cfg.data.frames, c, h, w)
    counts = []
    for run in (cfg, mean):
        rnd = losses.draw_randomness(model, 1, cfg.data.frames, run.loss,
                                     torch.Generator().manual_seed(0))
        with counter() as count:
            losses.TrainingObjective(model, run.loss, static_shapes=False)(
                latents, rnd)["loss"].backward()
        counts.append(count.get_total_flops())
    dims = flops.Dims.of(cfg.model, model.latent_shape)
    fed, rest = flops.head(dims, cfg.data.frames * dims.n)
    assert counts[1] - counts[0] == pytest.approx(2 * fed + 3 * rest, rel=1e-9)
    assert flops.run_training_flops(mean, "cpu") - flops.run_training_flops(cfg, "cpu") == \
        pytest.approx(2 * fed + 3 * rest, rel=1e-9)


def test_a_negative_mean_weight_is_one_clear_error():
    with pytest.raises(UserError, match="loss.mean_weight"):
        load_config("tiny", ["loss.mean_weight=-1"])


def test_training_logs_the_mean_readout(tmp_path, isolated_data):
    """`canvasmar train ... loss.mean_weight=1`: each step's row and the validation carry it."""
    import json

    from canvasmar.cli import main

    run = tmp_path / "run"
    assert main(["train", "tiny", "--out", str(run), "--no-progress", *micro_overrides(),
                 "train.steps=2", "train.batch_size=2", "train.save_every=2",
                 "train.eval_every=2", "train.eval_clips=2", "train.warmup_steps=1",
                 "train.tensorboard=false", "train.device=cpu", "loss.mean_weight=1"]) == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["mean"] > 0 for r in rows if "loss" in r)
    assert any(r.get("val_mean", 0) > 0 for r in rows)
