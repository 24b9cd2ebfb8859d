"""Temporal ViT: exact frame-causal attention, and KV cache == full recomputation."""

from __future__ import annotations

import pytest
import torch

from canvasmar.models.factory import build_model
from canvasmar.nn.patches import frame_causal_mask


def test_frame_causal_mask_is_exact():
    frames, per = 4, 3
    mask = frame_causal_mask(frames, per)
    for i in range(frames * per):
        for j in range(frames * per):
            assert mask[i, j].item() == (j // per <= i // per)


def test_outputs_depend_exactly_on_past_and_own_frame(micro_cfg):
    """Gradient of z_t(target i) w.r.t. input frame k is non-zero iff k < i (input k feeds
    target k+1); BOS is input 0. Inside a frame every token sees every other one."""
    model, tok = build_model(micro_cfg)
    model.eval()
    history = tok.encode(torch.rand(1, 4, 3, 16, 16))[:, :-1].requires_grad_(True)  # 3 inputs
    z_t = model.temporal_embeddings(history)  # targets 0..3
    probe = torch.randn(z_t.shape[-1])  # a plain sum would vanish through the final LayerNorm
    for target in range(4):
        (grad,) = torch.autograd.grad((z_t[:, target] @ probe).sum(), history, retain_graph=True)
        per_frame = grad.abs().flatten(2).sum(-1)[0]  # (3,)
        for k in range(3):
            assert (per_frame[k] > 1e-6).item() == (k < target), (target, k, per_frame)
    # Bidirectional inside a frame: the first token of the newest frame's output depends on
    # the last token of its input frame.
    (grad,) = torch.autograd.grad(z_t[0, 3, 0] @ probe, history)
    assert grad[0, 2, :, -1, -1].abs().sum() > 1e-6


def test_kv_cache_equals_recompute(micro_cfg):
    model, tok = build_model(micro_cfg)
    model.eval()
    latents = tok.encode(torch.rand(2, 6, 3, 16, 16))
    with torch.no_grad():
        full = model.temporal_embeddings(latents[:, :-1])  # (B, 6, n, D)
        cache = model.new_cache()
        stepwise = [model.encode_history(latents[:, :2], cache)]  # z_t of frame 2
        for i in range(2, 5):
            stepwise.append(model.temporal_step(latents[:, i], cache))  # frames 3..5
        cache_empty = model.new_cache()
        first = model.encode_history(latents[:, :0], cache_empty)  # BOS only -> frame 0
    torch.testing.assert_close(torch.stack(stepwise, 1), full[:, 2:], atol=1e-5, rtol=0)
    torch.testing.assert_close(first, full[:, 0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("keep_bos", [False, True])
def test_sliding_window_cache_is_bounded_and_equals_windowed_recompute(micro_cfg, keep_bos):
    model, tok = build_model(micro_cfg)
    model.eval()
    latents = tok.encode(torch.rand(1, 9, 3, 16, 16))
    window, n_t = 3, model.temporal.tokens_per_frame
    cache = model.new_cache(window, keep_bos)
    with torch.no_grad():
        stepwise = [model.encode_history(latents[:, :2], cache)]
        bos_keys = cache.layers[0].k[:, :, :n_t].clone()
        for i in range(2, 8):
            stepwise.append(model.temporal_step(latents[:, i], cache))
            assert len(cache.layers[0]) <= window * n_t
        full = model.temporal_embeddings(latents[:, :8], window=window, keep_bos=keep_bos)
        other = model.temporal_embeddings(latents[:, :8], window=window,
                                          keep_bos=not keep_bos)
    assert cache.next_position == 9  # BOS + 8 frames
    torch.testing.assert_close(torch.stack(stepwise, 1), full[:, 2:], atol=1e-5, rtol=0)
    # BOS is still the first frame of the cache only when pinned, and pinning changes z_t
    # once the window has slid past it (targets 3.. here), never before.
    assert torch.equal(cache.layers[0].k[:, :, :n_t], bos_keys) == keep_bos
    torch.testing.assert_close(full[:, :3], other[:, :3], atol=1e-6, rtol=0)
    assert (full[:, 3:] - other[:, 3:]).abs().max() > 1e-4


def test_window_mask_pins_the_first_frames():
    mask = frame_causal_mask(6, 1, window=3, keep_first=1)
    # frame 5 sees BOS (frame 0) and the 2 newest frames 4, 5; frame 2 sees 0..2
    assert mask[5].tolist() == [True, False, False, False, True, True]
    assert mask[2].tolist() == [True, True, True, False, False, False]
    with pytest.raises(ValueError, match="keep_first"):
        frame_causal_mask(4, 1, window=1, keep_first=1)


@pytest.mark.parametrize("group,keep_bos,motion", [(1, False, False), (1, True, False),
                                                  (2, False, False), (2, True, False),
                                                  (1, True, True), (2, False, True)])
def test_a_context_longer_than_the_window_prefills_like_recompute(group, keep_bos, motion):
    """A 7-frame context with a 3-frame window: the cache cannot hold it all, so prefill steps
    through the overflow (it used to fail on a mask/key shape mismatch)."""
    import dataclasses

    from canvasmar.config import load_config
    from canvasmar.models.factory import build_model
    from canvasmar.sampler import rollout
    from tests.conftest import micro_overrides

    cfg = load_config("tiny", micro_overrides() + [f"model.group={group}",
                                                   f"model.motion_input={str(motion).lower()}"])
    model, _ = build_model(cfg)
    for p in model.parameters():  # (the motion input's zero layer included)
        p.data.add_(torch.randn_like(p) * 0.05)
    context = torch.rand(2, 7, 12, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    opts = dataclasses.replace(cfg.sample, window=3, keep_bos=keep_bos, flow_steps=2, steps=2)
    outs = []
    for cache in (True, False):
        frames = rollout(model, context, 4, opts, torch.Generator().manual_seed(0),
                         use_kv_cache=cache)
        outs.append(torch.stack([f.latent for f in frames]))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=0)


def _motion_model(overrides: tuple[str, ...] = ()):
    """A micro model with the motion input, its zero-initialised layer made non-zero."""
    from canvasmar.config import load_config
    from tests.conftest import micro_overrides

    cfg = load_config("tiny", micro_overrides() + ["model.motion_input=true", *overrides])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    with torch.no_grad():
        model.temporal.motion.weight.normal_(0, 0.3)
    return model.eval(), tok


def test_motion_input_starts_as_the_model_without_it(micro_cfg):
    """Zero-initialised and drawn after every other weight: the same numbers at the start, so
    train.init_from a model without it starts from that model's predictions."""
    import dataclasses

    torch.manual_seed(0)
    plain, tok = build_model(micro_cfg)
    torch.manual_seed(0)
    cfg = dataclasses.replace(micro_cfg, model=dataclasses.replace(micro_cfg.model,
                                                                   motion_input=True))
    motion, _ = build_model(cfg)
    latents = tok.encode(torch.rand(2, 5, 3, 16, 16))
    with torch.no_grad():
        torch.testing.assert_close(motion.temporal_embeddings(latents[:, :-1]),
                                   plain.temporal_embeddings(latents[:, :-1]), atol=0, rtol=0)


def test_motion_input_makes_z_t_see_the_frame_before_last_at_each_place():
    """With the motion input, changing only the frame before last changes z_t through the
    embedding of the last frame's change, and the first frame's change is zero (a history of
    one frame gives the z_t of the model without the layer)."""
    model, tok = _motion_model()
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16))
    with torch.no_grad():
        z = model.temporal_embeddings(latents[:, :3])[:, -1]
        moved = latents[:, :3].clone()
        moved[:, 1] = latents[:, 1].roll(1, dims=-1)
        assert (model.temporal_embeddings(moved)[:, -1] - z).abs().max() > 1e-2
        one = model.temporal_embeddings(latents[:, :1])
        model.temporal.motion = None
        torch.testing.assert_close(one, model.temporal_embeddings(latents[:, :1]), atol=0,
                                   rtol=0)


@pytest.mark.parametrize("group", [1, 2])
def test_motion_input_cache_equals_recompute(group):
    """The cache keeps the last frame it saw, so a step's change is the same as in one pass;
    a step with append=False leaves it as it was."""
    model, tok = _motion_model((f"model.group={group}",))
    latents = tok.encode(torch.rand(2, 7, 3, 16, 16))
    with torch.no_grad():
        full = model.temporal_embeddings(latents[:, :-1])  # (B, 7, n, D): z_t of frames 0..6
        cache = model.new_cache()
        got = [model.encode_history(latents[:, :2], cache)]  # z_t of frame 2
        if group == 1:
            model.temporal_step(latents[:, 3], cache, append=False)  # must leave no trace
            for i in range(2, 6):
                got.append(model.temporal_step(latents[:, i], cache))
            torch.testing.assert_close(torch.stack(got, 1), full[:, 2:], atol=1e-5, rtol=0)
        else:  # next-2: each step appends two frames; z_t of frames 4 and 6
            got.append(model.temporal_step(latents[:, 2:4], cache))
            got.append(model.temporal_step(latents[:, 4:6], cache))
            torch.testing.assert_close(torch.stack(got, 1), full[:, 2::2], atol=1e-5, rtol=0)


def test_noise_level_input_starts_as_the_model_without_it_and_draws_nothing(micro_cfg):
    """model.history_noise_input: zero-initialised and drawing no random numbers, so every
    weight and the first z_t equal the model without it (train.init_from starts from it)."""
    import dataclasses

    torch.manual_seed(0)
    plain, tok = build_model(micro_cfg)
    torch.manual_seed(0)
    cfg = dataclasses.replace(micro_cfg, model=dataclasses.replace(
        micro_cfg.model, history_noise_input=True))
    told, _ = build_model(cfg)
    assert not told.temporal.noise_level.weight.any()
    latents = tok.encode(torch.rand(2, 5, 3, 16, 16))
    level = torch.rand(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(told.temporal_embeddings(latents[:, :-1], noise_level=level),
                                   plain.temporal_embeddings(latents[:, :-1]), atol=0, rtol=0)
    with pytest.raises(ValueError, match="history_noise_input"):
        plain.temporal_embeddings(latents[:, :-1], noise_level=level)


def test_noise_level_input_tells_each_frame_its_bucket_and_inference_passes_level_0():
    """Each history frame's level picks one of 10 embeddings ([0, 0.1) -> 0 ... 1 -> 9) added
    to that frame's tokens; no level (inference) is level 0, so the cached steps of a rollout
    equal one pass told level 0 everywhere."""
    from canvasmar.config import load_config
    from canvasmar.models.temporal_vit import NOISE_LEVEL_BUCKETS
    from tests.conftest import micro_overrides

    cfg = load_config("tiny", micro_overrides() + ["model.history_noise_input=true",
                                                   "loss.history_noise_max=0.3"])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    with torch.no_grad():
        model.temporal.noise_level.weight.normal_(0, 0.3)
    model.eval()
    latents = tok.encode(torch.rand(2, 6, 3, 16, 16))
    history = latents[:, :-1]
    emb = model.temporal._noise_level_embedding
    buckets = emb(torch.tensor([[0.0, 0.05, 0.1, 0.95, 1.0]]), torch.Size([1, 5]))[0, :, 0]
    table = model.temporal.noise_level.weight
    for got, want in zip(buckets, [0, 0, 1, NOISE_LEVEL_BUCKETS - 1, NOISE_LEVEL_BUCKETS - 1],
                         strict=True):
        torch.testing.assert_close(got, table[want], atol=0, rtol=0)
    with torch.no_grad():
        clean = model.temporal_embeddings(history)
        torch.testing.assert_close(clean, model.temporal_embeddings(
            history, noise_level=torch.zeros(2, 5)), atol=0, rtol=0)
        assert (model.temporal_embeddings(history, noise_level=torch.full((2, 5), 0.25))
                - clean).abs().max() > 1e-2
        cache = model.new_cache()
        got = [model.encode_history(history[:, :2], cache)]
        for i in range(2, 5):
            got.append(model.temporal_step(history[:, i], cache))
        torch.testing.assert_close(torch.stack(got, 1), clean[:, 2:], atol=1e-5, rtol=0)


def test_noise_level_input_without_history_noise_is_one_error_line():
    from canvasmar.config import load_config
    from canvasmar.errors import UserError

    with pytest.raises(UserError, match="needs loss.history_noise_max"):
        load_config("tiny", ["model.history_noise_input=true"])


@pytest.mark.parametrize("group", [1, 2])
def test_history_noise_at_sampling_is_the_same_through_the_cache_and_recompute(group):
    """sample.history_noise=L: each generated frame is read noised at level L, and a model
    with the noise level input is told L (the context: clean, level 0), the same through
    the KV cache as recomputed; the canvas still starts from the clean frame."""
    import dataclasses

    from canvasmar.config import load_config
    from canvasmar.sampler import rollout
    from canvasmar.temporal_state import TemporalState
    from tests.conftest import micro_overrides

    cfg = load_config("tiny", micro_overrides() + [
        "model.history_noise_input=true", "loss.history_noise_max=0.3", "model.motion_input=true",
        f"model.group={group}"])
    torch.manual_seed(0)
    model, _ = build_model(cfg)
    for p in model.parameters():  # the zero-initialised layers included
        p.data.add_(torch.randn_like(p) * 0.05)
    model.eval()
    context = torch.rand(2, 3, 12, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    outs = {}
    for level, cache in ((0.2, True), (0.2, False), (0.0, True)):
        opts = dataclasses.replace(cfg.sample, history_noise=level, flow_steps=2, steps=2)
        frames = rollout(model, context, 4, opts, torch.Generator().manual_seed(0),
                         use_kv_cache=cache)
        outs[level, cache] = torch.stack([f.latent for f in frames])
    torch.testing.assert_close(outs[0.2, True], outs[0.2, False], atol=1e-5, rtol=0)
    assert (outs[0.2, True] - outs[0.0, True]).abs().max() > 1e-3
    opts = dataclasses.replace(cfg.sample, history_noise=0.2)
    state = TemporalState(model, context, opts)
    frame = context[:, -1] * 0.5
    state.push(frame, generator=torch.Generator().manual_seed(3))
    assert torch.equal(state.last, frame) and state.pending_level == 0.2
    torch.testing.assert_close(state.pending, frame * 0.8 + 0.2 * torch.randn(
        frame.shape, generator=torch.Generator().manual_seed(3)), atol=1e-6, rtol=0)
