"""The generation loop: determinism, cache == recompute, guidance, order, long rollouts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from canvasmar.config import SampleConfig
from canvasmar.errors import UserError
from canvasmar.masking import masked_after_step, reveal_scores, tokens_to_reveal
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline
from canvasmar.sampler import PASSES, generate_frame, generate_group, guidance_weights, rollout
from canvasmar.step_kernels import StepKernels, predict_tokens


@pytest.fixture
def pipe(micro_cfg):
    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    for p in model.parameters():  # leave the zero init so every part matters
        p.data.add_(torch.randn_like(p) * 0.05)
    return Pipeline(model, tok, micro_cfg)


def _context(b=2, t=2):
    return torch.rand(b, t, 3, 16, 16, generator=torch.Generator().manual_seed(5))


def _run(pipe, **kw):
    g = torch.Generator().manual_seed(7)
    return pipe(_context(), 3, generator=g, flow_steps=5, **kw)


def test_same_seed_is_bitwise_identical_and_in_range(pipe):
    a, b = _run(pipe), _run(pipe)
    assert a.shape == (2, 3, 3, 16, 16) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, _run(pipe, steps=2))


def test_kv_cache_equals_recompute(pipe):
    torch.testing.assert_close(_run(pipe, use_kv_cache=False), _run(pipe), atol=1e-5, rtol=0)


def test_guidance_scales_of_one_equal_plain_sampling(pipe):
    plain = _run(pipe)
    assert guidance_weights(1.0, 1.0, True) == {"full": 1.0}
    torch.testing.assert_close(_run(pipe, cfg_canvas=1.0, cfg_temporal=1.0), plain)
    # The three-pass path (scales a hair away from 1) converges to the plain one.
    near = _run(pipe, cfg_canvas=1.0 + 1e-6, cfg_temporal=1.0 - 1e-6)
    torch.testing.assert_close(near, plain, atol=1e-3, rtol=0)
    assert not torch.allclose(_run(pipe, cfg_canvas=2.0, cfg_temporal=1.5), plain, atol=1e-3)


def test_guidance_weights_match_eq9():
    v = {"null": torch.randn(4), "temporal": torch.randn(4), "full": torch.randn(4)}
    w_s, w_t = 1.5, 1.2
    eq9 = v["null"] + w_t * (v["temporal"] - v["null"]) + w_s * (v["full"] - v["temporal"])
    combined = sum(w * v[name] for name, w in guidance_weights(w_s, w_t, True).items())
    torch.testing.assert_close(combined, eq9)
    assert PASSES["null"] == (True, True) and PASSES["full"] == (False, False)
    assert set(guidance_weights(1.5, 1.2, False)) == {"null", "temporal"}


def test_motion_order_prefers_static_tokens_first():
    g = torch.Generator().manual_seed(0)
    b, n, steps = 256, 64, 4
    staticness = torch.rand(b, n, generator=g)
    mask = torch.ones(b, n, dtype=torch.bool)
    count = n - masked_after_step(0, steps, n)
    idx = tokens_to_reveal(mask, reveal_scores(mask, 0, steps, staticness, 6.5, g), count)
    chosen = torch.zeros(b, n, dtype=torch.bool).scatter_(1, idx, True)
    assert staticness[chosen].mean() > staticness[~chosen].mean() + 0.05


def test_huge_temperature_gives_uniform_order():
    g = torch.Generator().manual_seed(0)
    b, n = 20_000, 16
    staticness = torch.linspace(0.01, 0.99, n).expand(b, n)
    mask = torch.ones(b, n, dtype=torch.bool)
    idx = tokens_to_reveal(mask, reveal_scores(mask, 0, 4, staticness, 1e6, g), 4)
    freq = torch.bincount(idx.flatten(), minlength=n).float() / idx.numel()
    assert (freq - 1 / n).abs().max() < 0.01  # every position equally likely first


def test_every_token_revealed_by_the_cosine_schedule(pipe):
    opts = pipe.options(steps=4, flow_steps=2)
    latents = pipe.tokenizer.encode(_context())
    (frame,) = list(rollout(pipe.model, latents, 1, opts, torch.Generator().manual_seed(0)))
    counts = torch.bincount(frame.reveal_step[0].flatten(), minlength=4).tolist()
    n = pipe.model.num_tokens
    expected = [n - masked_after_step(0, 4, n)] + [
        masked_after_step(k - 1, 4, n) - masked_after_step(k, 4, n) for k in range(1, 4)]
    assert counts == expected and sum(counts) == n
    assert frame.staticness.shape == (2, 8, 8) and frame.canvas.shape == latents[:, 0].shape


def test_long_rollout_keeps_cache_bounded(pipe):
    opts = dataclasses.replace(pipe.options(steps=1, flow_steps=1), window=3)
    latents = pipe.tokenizer.encode(_context(1, 1))
    model = pipe.model
    sizes = []
    real_step = model.temporal_step

    def spy(frame, cache, *args, **kw):
        out = real_step(frame, cache, *args, **kw)
        sizes.append(len(cache.layers[0]))
        return out

    model.temporal_step = spy
    frames = list(rollout(model, latents, 12, opts, torch.Generator().manual_seed(0)))
    assert len(frames) == 12 and max(sizes) == 3 * model.temporal.tokens_per_frame


def test_stream_yields_frames_with_canvas(pipe):
    outs = list(pipe.stream(_context(), 2, flow_steps=2, return_canvas=True,
                            generator=torch.Generator().manual_seed(0)))
    assert len(outs) == 2 and outs[0].frame.shape == (2, 3, 16, 16)
    assert outs[0].canvas.shape == (2, 3, 16, 16) and outs[0].staticness.shape == (2, 8, 8)


@pytest.mark.parametrize("context, message", [
    (torch.rand(1, 2, 1, 16, 16), "channels"),
    (torch.rand(1, 2, 3, 20, 20), "resize"),
    (torch.rand(1, 0, 3, 16, 16), "at least 1 context frame"),
    (torch.rand(2, 3, 16, 16), "(B, T, C, H, W)"),
])
def test_bad_context_is_a_clear_error(pipe, context, message):
    with pytest.raises(UserError, match=None) as info:
        pipe(context, 1)
    assert message in str(info.value)


def test_resize_offer_works(pipe):
    out = pipe(torch.rand(1, 1, 3, 24, 32), 1, resize=True, flow_steps=2)
    assert out.shape == (1, 1, 3, 16, 16)


def test_no_canvas_model_samples(micro_cfg):
    cfg = dataclasses.replace(micro_cfg, model=dataclasses.replace(micro_cfg.model,
                                                                    canvas=False))
    model, tok = build_model(cfg)
    out = Pipeline(model, tok, cfg)(_context(), 2, flow_steps=2, cfg_temporal=1.5)
    assert out.shape == (2, 2, 3, 16, 16)


def test_keep_unchanged_copies_what_the_canvas_leaves_unchanged(pipe):
    """0 is the plain sampler; a threshold above every token's canvas change keeps the
    previous frame whole (the rollout repeats the last context frame); in between, the kept
    tokens equal the previous frame's and the others are head draws."""
    plain = _run(pipe)
    assert torch.equal(_run(pipe, keep_unchanged=0.0), plain)
    frozen = _run(pipe, keep_unchanged=1e6)
    last = pipe.tokenizer.decode_new(pipe.tokenizer.encode(_context()))[:, -1]
    assert torch.allclose(frozen, last[:, None].expand_as(frozen), atol=1e-6)
    model, opts = pipe.model, pipe.options(flow_steps=5)
    prev = model.to_tokens(torch.randn(2, *model.latent_shape, generator=torch.Generator()
                                       .manual_seed(1)))
    z_t = torch.randn(2, model.num_tokens, model.cfg.dim, generator=torch.Generator()
                      .manual_seed(2))
    with torch.no_grad():
        canvas = model.predict_canvas(z_t, prev, prev).tokens
    change = (canvas - prev).pow(2).mean(-1).sqrt()  # (B, n)
    threshold = float(change.median())
    out = generate_frame(model, z_t, prev, dataclasses.replace(opts, keep_unchanged=threshold,
                                                                frame_noise=0.0))
    tokens = model.to_tokens(out.latent)
    kept = change < threshold
    assert kept.any() and (~kept).any()
    assert torch.equal(tokens[kept], prev[kept])
    assert not torch.isclose(tokens[~kept], prev[~kept], atol=1e-4).all(-1).any()
    with pytest.raises(UserError, match="sample.keep_unchanged=-1"):
        SampleConfig(keep_unchanged=-1).validate()


def test_sample_config_defaults_follow_table3():
    assert SampleConfig().temperature == 6.5 and SampleConfig().flow_steps == 30
    assert (SampleConfig().frame_noise, SampleConfig().canvas_noise) == (0.3, 0.2)


def test_static_temperature_scale_follows_the_staticness_map(pipe):
    """Every token static (s = 1): scale 0 draws them as temperature 0 does; every token
    moving (s = 0): the scale changes nothing; scale 1 is the plain sampler."""
    head = pipe.model.canvas_vit.static_head
    plain = _run(pipe)
    assert torch.equal(_run(pipe, static_temperature_scale=1.0), plain)
    with torch.no_grad():
        head.bias.fill_(50.0)  # sigmoid -> 1: static everywhere
        cold = _run(pipe, head_temperature=0.0)
        assert torch.allclose(_run(pipe, static_temperature_scale=0.0), cold, atol=1e-6)
        head.bias.fill_(-50.0)  # moving everywhere
        warm = _run(pipe)
        assert torch.allclose(_run(pipe, static_temperature_scale=0.0), warm, atol=1e-6)
        assert not torch.allclose(warm, _run(pipe, head_temperature=0.0), atol=1e-3)


def _head_noise(pipe, noise_share: float) -> torch.Tensor:
    """The ODE start of every token of one frame (B, n, C): the flow head replaced by the
    identity, so a token's draw is its noise."""
    model = pipe.model
    opts = pipe.options(flow_steps=5, keep_unchanged=0.0, head_temperature=1.0,
                        noise_share=noise_share, steps=3)
    model.from_head = lambda values, base: values  # the draw itself, not base + change
    kernels = StepKernels(predict_tokens, lambda m, cond, coeffs, noise, *a: noise, "off")
    z_t = torch.randn(64, model.num_tokens, model.cfg.dim, generator=torch.Generator()
                      .manual_seed(2))
    prev = torch.zeros(64, model.num_tokens, model.token_dim)
    out = generate_group(model, z_t, prev, opts, torch.Generator().manual_seed(3),
                         kernels=kernels)[0]
    return model.to_tokens(out.latent)


def test_noise_share_gives_a_frame_common_noise_with_unit_marginals(pipe):
    """0 draws each token's ODE start on its own; rho mixes in one draw per frame, common to
    all tokens across the MAR steps, so two tokens' starts correlate by rho while each stays
    N(0, I) (the trained distribution); 1 gives every token of a frame the same start."""
    def corr(x):  # mean correlation between tokens 0 and 1..n-1 over the batch and channels
        a, rest = x[:, :1], x[:, 1:]
        return float((a * rest).mean() / (a.pow(2).mean() * rest.pow(2).mean()).sqrt())

    own, half, same = (_head_noise(pipe, rho) for rho in (0.0, 0.5, 1.0))
    assert abs(corr(own)) < 0.05 and abs(corr(half) - 0.5) < 0.1
    assert torch.allclose(same, same[:, :1].expand_as(same))
    assert not torch.allclose(same[0], same[1])  # a new common draw per clip
    for x in (own, half, same):
        assert abs(float(x.std()) - 1) < 0.1
    with pytest.raises(UserError, match="sample.noise_share=1.5"):
        SampleConfig(noise_share=1.5).validate()
