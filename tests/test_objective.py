"""The training objective: masks, condition dropout, noise augmentation, staticness target,
flow convention, and that a tiny model can overfit one clip."""

from __future__ import annotations

import math

import pytest
import torch

from canvasmar import flow, history_inputs, losses, mar_losses
from canvasmar.augment import condition_dropout, noise_augment
from canvasmar.masking import masked_after_step, random_masks, sample_mask_ratios
from canvasmar.models.factory import build_model


def test_mask_ratios_are_truncated_normal():
    r = sample_mask_ratios((200_000,), 0.7, 0.25, torch.Generator().manual_seed(0))
    assert r.min() >= 0.7 and r.max() <= 1.0
    # mean of N(1, .25) truncated to [.7, 1]: 1 - .25 * (phi(0) - phi(-1.2)) / (.5 - Phi(-1.2))
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    big_phi = 0.5 * (1 + math.erf(-1.2 / math.sqrt(2)))
    expected = 1 - 0.25 * (phi(0) - phi(-1.2)) / (0.5 - big_phi)
    assert abs(r.mean().item() - expected) < 2e-3


def test_masks_count_and_independence():
    g = torch.Generator().manual_seed(0)
    ratios = torch.tensor([0.7, 0.7, 1.0, 0.75])
    masks = random_masks(ratios, 64, g)
    assert masks.sum(-1).tolist() == [math.ceil(64 * 0.7)] * 2 + [64, 48]
    assert not torch.equal(masks[0], masks[1])  # each frame gets its own positions


def test_cosine_schedule_reveals_everything():
    n, steps = 64, 4
    left = [masked_after_step(k, steps, n) for k in range(steps)]
    assert left == sorted(left, reverse=True) and left[-1] == 0 and left[0] < n
    assert masked_after_step(0, 1, n) == 0


def test_condition_dropout_frequencies():
    drop_t, drop_c = condition_dropout((400_000,), 0.05, 0.05, 0.05,
                                       torch.Generator().manual_seed(0))
    freq = lambda m: m.float().mean().item()  # noqa: E731
    assert abs(freq(drop_c & ~drop_t) - 0.05) < 0.002
    assert abs(freq(drop_t & ~drop_c) - 0.05) < 0.002
    assert abs(freq(drop_t & drop_c) - 0.05) < 0.002
    assert abs(freq(~drop_t & ~drop_c) - 0.85) < 0.003


def test_noise_augmentation_formula():
    x = torch.ones(3, 4, 5)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    level = torch.tensor([0.0, 0.5, 1.0])
    out = noise_augment(x, level, g1)
    eps = torch.randn(x.shape, generator=g2)
    torch.testing.assert_close(out, x * (1 - level[:, None, None]) + eps * level[:, None, None])


def test_training_uses_the_configured_noise_ranges(micro_cfg, monkeypatch):
    seen = []
    real = losses.noise_augment

    def spy(x, level, generator=None, noise=None):
        seen.append(level.clone())
        return real(x, level, generator, noise)

    monkeypatch.setattr(losses, "noise_augment", spy)
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(64, 4, 3, 16, 16))
    losses.training_losses(model, latents, micro_cfg.loss, torch.Generator().manual_seed(0))
    frame_r, canvas_r = seen  # Eq. 11 on the previous frame, then Eq. 12 on the canvas
    assert frame_r.min() >= 0.2 and frame_r.max() <= 0.6 and frame_r.std() > 0.05
    assert canvas_r.min() >= 0.0 and canvas_r.max() <= 0.3 and canvas_r.std() > 0.03


def test_staticness_target_carries_no_gradient(micro_cfg):
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16))
    out = losses.training_losses(model, latents, micro_cfg.loss, torch.Generator().manual_seed(0))
    out["static"].backward()
    cv = model.canvas_vit
    assert cv.canvas_head.weight.grad is None  # L_static does not pull the canvas
    assert cv.static_head.weight.grad.abs().sum() > 0
    err = torch.rand(5, requires_grad=True)
    assert not losses.staticness_target(err).requires_grad


def test_static_flow_loss_equals_the_gathered_one(micro_cfg):
    """L_MAR's two forms (mar_losses.mar_loss): the head on all tokens with a mask-weighted mean
    (GPU, torch.compile: static shapes) and on the gathered masked tokens (eager CPU) are the
    same function: equal to float tolerance in value and in every gradient (not bitwise: the
    sums run in another order)."""
    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    with torch.no_grad():  # off the zero-initialised head, so its gradients are not all zero
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    rnd = losses.draw_randomness(model, 3, 4, micro_cfg.loss, torch.Generator().manual_seed(2))
    targets = model.to_tokens(tok.encode(torch.rand(3, 4, 3, 16, 16))).flatten(0, 1)
    cond = torch.randn(12, model.num_tokens, model.cfg.dim, requires_grad=True)
    results = []
    for form in (mar_losses._mar_loss_static, mar_losses._mar_loss_gathered):
        model.zero_grad(set_to_none=True)
        cond.grad = None
        value = form(model, cond, targets, rnd, None)
        value.backward()
        results.append((value.detach(), cond.grad.clone(),
                        [p.grad.clone() for p in model.head.parameters()]))
    (v_static, c_static, g_static), (v_gather, c_gather, g_gather) = results
    torch.testing.assert_close(v_static, v_gather, rtol=1e-6, atol=0)
    torch.testing.assert_close(c_static, c_gather, rtol=1e-5, atol=1e-8)
    assert all(g.abs().sum() > 0 for g in g_gather)
    for a, b in zip(g_static, g_gather, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    # the unmasked tokens' condition gets no gradient from L_MAR in either form
    assert c_static[~rnd.mask].abs().max() == 0


def test_flow_convention_and_euler():
    x, noise, t = torch.randn(6, 3), torch.randn(6, 3), torch.rand(6)
    xt = flow.interpolate(x, noise, t)
    # moving along the true velocity from t to 0 lands on the data exactly
    torch.testing.assert_close(xt - t[:, None] * flow.velocity_target(x, noise), x)
    out = flow.euler_sample(lambda z, tt: flow.velocity_target(x, noise), noise, steps=7)
    torch.testing.assert_close(out, x)
    grid = flow.time_grid(4, shift=3.0)
    assert grid[0] == 1 and grid[-1] == 0 and (grid[1:] < grid[:-1]).all()


def test_no_canvas_variant_has_only_mar_loss(micro_cfg):
    from dataclasses import replace

    cfg = replace(micro_cfg, model=replace(micro_cfg.model, canvas=False))
    model, tok = build_model(cfg)
    out = losses.training_losses(model, tok.encode(torch.rand(2, 4, 3, 16, 16)), cfg.loss)
    assert set(out) == {"loss", "mar"}


@pytest.mark.slow
def test_tiny_model_overfits_one_clip(micro_cfg):
    from canvasmar.data.procedural import render_clip

    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    clip = torch.from_numpy(render_clip(3, 4, 16)).permute(0, 3, 1, 2)[None].float()
    latents = tok.encode(clip).repeat(4, 1, 1, 1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    history = []
    for _ in range(150):
        out = losses.training_losses(model, latents, micro_cfg.loss, g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        history.append({k: v.item() for k, v in out.items()})
    first = {k: sum(h[k] for h in history[:5]) / 5 for k in history[0]}
    last = {k: sum(h[k] for h in history[-10:]) / 10 for k in history[0]}
    assert last["canvas"] < 0.2 * first["canvas"], (first, last)
    assert last["mar"] < 0.6 * first["mar"], (first, last)


def test_history_noise_reaches_only_the_temporal_history(micro_cfg):
    """loss.history_noise_max: its draws come after all others (the rest are unchanged), a
    zero level gives exactly the clean objective, and the noise is Eq. 11's form on the
    frames the Temporal ViT reads, one level per frame in [0, max]."""
    import dataclasses

    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(3, 4, 3, 16, 16))
    noisy_cfg = dataclasses.replace(micro_cfg.loss, history_noise_max=0.5)
    clean = losses.draw_randomness(model, 3, 4, micro_cfg.loss, torch.Generator().manual_seed(1))
    noisy = losses.draw_randomness(model, 3, 4, noisy_cfg, torch.Generator().manual_seed(1))
    assert clean.history_noise_level is None
    assert torch.equal(clean.head_noise, noisy.head_noise) and torch.equal(clean.mask, noisy.mask)
    level = noisy.history_noise_level
    assert level.shape == (12,) and 0 <= level.min() and level.max() <= 0.5 and level.std() > 0
    assert noisy.clips(1, 1).history_noise.shape == (4, *model.latent_shape)  # a shard's rows

    def run(rnd: losses.LossRandomness) -> torch.Tensor:
        return losses.training_losses(model, latents, noisy_cfg, randomness=rnd)["loss"]

    silent = dataclasses.replace(noisy, history_noise_level=torch.zeros(12))
    assert torch.equal(run(silent), run(clean))
    assert run(noisy) != run(clean)
    seen = []
    real = model.temporal_embeddings
    model.temporal_embeddings = lambda history, **kw: seen.append(history) or real(history, **kw)
    run(noisy)
    expected = noise_augment(latents[:, :-1], level.view(3, 4)[:, :-1],
                             noise=noisy.history_noise.view(3, 4, *model.latent_shape)[:, :-1])
    torch.testing.assert_close(seen[0], expected, atol=0, rtol=0)


def test_history_noise_out_of_range_is_one_error_line():
    from canvasmar.config import load_config
    from canvasmar.errors import UserError

    with pytest.raises(UserError, match="loss.history_noise_max"):
        load_config("tiny", ["loss.history_noise_max=1.5"])


def test_the_model_is_told_each_history_frame_s_noise_level(micro_cfg):
    """model.history_noise_input: training passes the drawn level of every history frame (not
    the target's) to the Temporal ViT, so the embeddings of exactly the buckets drawn get a
    gradient."""
    import dataclasses

    cfg = dataclasses.replace(
        micro_cfg, model=dataclasses.replace(micro_cfg.model, history_noise_input=True),
        loss=dataclasses.replace(micro_cfg.loss, history_noise_max=0.5)).validate()
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    latents = tok.encode(torch.rand(3, 4, 3, 16, 16))
    rnd = losses.draw_randomness(model, 3, 4, cfg.loss, torch.Generator().manual_seed(1))
    seen = []
    real = model.temporal_embeddings
    model.temporal_embeddings = lambda history, **kw: seen.append(kw) or real(history, **kw)
    losses.training_losses(model, latents, cfg.loss, randomness=rnd)["loss"].backward()
    history_level = rnd.history_noise_level.view(3, 4)[:, :-1]
    torch.testing.assert_close(seen[0]["noise_level"], history_level, atol=0, rtol=0)
    drawn = set((history_level * 10).long().flatten().tolist())
    grad = model.temporal.noise_level.weight.grad
    assert {i for i in range(10) if grad[i].abs().sum() > 0} == drawn


def test_mar_weight_zero_trains_the_canvas_path_alone(micro_cfg):
    """loss.mar_weight=0: no Spatial MAR or head pass (no L_MAR, no gradient there), and the
    canvas losses are the ones the full objective computes from the same draws."""
    from dataclasses import replace

    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16))
    rnd = losses.draw_randomness(model, 2, 4, micro_cfg.loss, torch.Generator().manual_seed(0))
    full = losses.training_losses(model, latents, micro_cfg.loss, randomness=rnd)
    alone_cfg = replace(micro_cfg.loss, mar_weight=0.0)
    alone = losses.training_losses(model, latents, alone_cfg, randomness=rnd)
    assert set(alone) == {"loss", "canvas", "static"}
    for key in ("canvas", "static"):
        torch.testing.assert_close(alone[key], full[key])
    expected = micro_cfg.loss.canvas_weight * full["canvas"] + micro_cfg.loss.static_weight * \
        full["static"]
    torch.testing.assert_close(alone["loss"], expected)
    alone["loss"].backward()
    assert all(p.grad is None for p in [*model.spatial.parameters(), *model.head.parameters()])
    assert model.canvas_vit.canvas_head.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.temporal.parameters())


def test_mar_weight_zero_without_a_canvas_is_one_error_line():
    from canvasmar.config import load_config
    from canvasmar.errors import UserError

    with pytest.raises(UserError, match="leaves nothing to train"):
        load_config("tiny", ["loss.mar_weight=0", "model.canvas=false", "model.canvas_layers=0"])
    with pytest.raises(UserError, match="loss.mar_weight"):
        load_config("tiny", ["loss.mar_weight=-1"])


def test_freeze_frames_repeats_the_last_unfrozen_frame():
    latents = torch.arange(2 * 5, dtype=torch.float32).view(2, 5, 1, 1, 1).expand(-1, -1, 2, 3, 3)
    freeze = torch.tensor([[False, True, True, False, True], [False, False, True, False, False]])
    out = history_inputs.freeze_frames(latents, freeze)
    assert out[:, :, 0, 0, 0].tolist() == [[0, 0, 0, 3, 3], [5, 6, 6, 8, 9]]
    assert torch.equal(out[:, :, 1], out[:, :, 0]) and out.shape == latents.shape


def test_history_freeze_draws_last_and_reaches_only_the_inputs(micro_cfg):
    """loss.history_freeze: drawn after every other draw (those stay the same), never frame 0;
    frozen inputs change the losses, the targets stay real; validation ignores it."""
    from dataclasses import replace

    from canvasmar.train.validation import validate

    model, tok = build_model(micro_cfg)
    video = torch.rand(2, 4, 3, 16, 16)
    latents = tok.encode(video)
    cfg = replace(micro_cfg.loss, history_freeze=0.5)
    plain = losses.draw_randomness(model, 2, 4, micro_cfg.loss, torch.Generator().manual_seed(0))
    frozen = losses.draw_randomness(model, 2, 4, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(plain.mask, frozen.mask) and torch.equal(plain.head_noise,
                                                                 frozen.head_noise)
    assert plain.history_freeze is None and not frozen.history_freeze.view(2, 4)[:, 0].any()
    everything = replace(frozen, history_freeze=torch.tensor([False, True, True, True] * 2))
    a = losses.training_losses(model, latents, cfg, randomness=plain)
    b = losses.training_losses(model, latents, cfg, randomness=everything)
    assert not torch.allclose(a["canvas"], b["canvas"])
    still = latents[:, :1].expand(-1, 4, -1, -1, -1)  # what the model read in `b`, by hand:
    manual = losses.training_losses(model, still, cfg, randomness=plain)  # same inputs ...
    assert not torch.allclose(manual["canvas"], b["canvas"])  # ... but other (real) targets
    torch.manual_seed(0)
    v1 = validate(model, tok, video, micro_cfg.loss)
    torch.manual_seed(0)
    assert validate(model, tok, video, cfg) == v1


def test_history_freeze_out_of_range_is_one_error_line():
    from canvasmar.config import load_config
    from canvasmar.errors import UserError

    with pytest.raises(UserError, match="loss.history_freeze"):
        load_config("tiny", ["loss.history_freeze=1"])


def test_token_weights_follow_the_motion_in_the_history():
    """loss.moving_weight: target frame t's tokens within one token of a token that moved
    from frame t-2 to t-1 (RMS change above losses.MOVING_RMS) get the weight, the rest 1;
    frames 0 and 1 (no two frames before them) and codec-like changes stay at 1; what the
    target frame itself does never counts (a target-side weight biases the optimum)."""
    grid = (4, 4)
    tokens = torch.zeros(2, 4, 16, 6)
    tokens[0, 1, 5] = 1.0  # clip 0: token (1, 1) lights up at frame 1 and stays
    tokens[0, 2:, 5] = 1.0
    tokens[0, 3, 15] = 1.0  # a change at the last target: not in its own weights
    tokens[1, 2, 0] = 0.5 * losses.MOVING_RMS  # clip 1: below the threshold
    weights = losses.token_weights(tokens, 10.0, grid).view(2, 4, 4, 4)
    expected = torch.ones(2, 4, 4, 4)
    expected[0, 2, 0:3, 0:3] = 10.0  # frame 2: the 3x3 around (1, 1), moved from 0 to 1
    torch.testing.assert_close(weights, expected)
    assert losses.token_weights(tokens, 1.0, grid) is None
    assert torch.equal(losses.token_weights(tokens[:, :2], 10.0, grid), torch.ones(4, 16))


def test_moving_weight_scales_only_the_moving_tokens_losses(micro_cfg):
    """With loss.moving_weight=W, each of L_MAR, L_canvas, L_static grows by (W-1) times its
    part on the weighted tokens; both L_MAR forms agree; W=1 is the paper."""
    from dataclasses import replace

    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    video = torch.rand(2, 4, 3, 16, 16)
    video[:, 1:, :, :8] = video[:, :1, :, :8]  # the top half stays still
    latents = tok.encode(video)
    rnd = losses.draw_randomness(model, 2, 4, micro_cfg.loss, torch.Generator().manual_seed(0))
    plain = losses.training_losses(model, latents, micro_cfg.loss, randomness=rnd)
    heavy = losses.training_losses(model, latents, replace(micro_cfg.loss, moving_weight=5.0),
                                   randomness=rnd)
    weights = losses.token_weights(model.to_tokens(latents), 5.0, model.latent_shape[1:])
    assert 0 < (weights > 1).float().mean() < 0.6  # near the moving half, frames 2 and 3
    for key in ("mar", "canvas", "static"):
        assert heavy[key] > plain[key] * 1.2, key
    from canvasmar.train.validation import validate  # validation stays unweighted

    torch.manual_seed(0)
    v1 = validate(model, tok, video, micro_cfg.loss)
    torch.manual_seed(0)
    assert validate(model, tok, video, replace(micro_cfg.loss, moving_weight=5.0)) == v1
    same = losses.training_losses(model, latents, replace(micro_cfg.loss, moving_weight=1.0),
                                  randomness=rnd)
    torch.testing.assert_close(same["loss"], plain["loss"], rtol=0, atol=0)
    targets = model.to_tokens(latents).flatten(0, 1)
    cond = torch.randn(8, model.num_tokens, model.cfg.dim)
    torch.testing.assert_close(mar_losses._mar_loss_static(model, cond, targets, rnd, weights),
                               mar_losses._mar_loss_gathered(model, cond, targets, rnd, weights),
                               rtol=1e-6, atol=0)
    # moving tokens only: the weighted loss is W x the unweighted one
    all_moving = torch.full_like(weights, 5.0)
    torch.testing.assert_close(mar_losses._mar_loss_gathered(model, cond, targets, rnd, all_moving),
                               5 * mar_losses._mar_loss_gathered(model, cond, targets, rnd, None))


def test_moving_weight_below_one_is_one_error_line():
    from canvasmar.config import load_config
    from canvasmar.errors import UserError

    with pytest.raises(UserError, match="loss.moving_weight"):
        load_config("tiny", ["loss.moving_weight=0.5"])
