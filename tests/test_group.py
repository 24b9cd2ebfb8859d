"""Next-group prediction (model.group = K, paper App. B; docs/next-group.md): a next-1 model is
unchanged, a next-K model trains on K-frame groups, samples any number of frames through every
entry point, keeps KV cache == recomputation, and is fine-tuned from a next-1 checkpoint
(train.init_from) starting from the next-1 behaviour."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import pytest
import torch

from canvasmar.checkpoint import save_checkpoint
from canvasmar.config import load_config
from canvasmar.errors import UserError
from canvasmar.losses import draw_randomness, training_losses
from canvasmar.masking import masked_after_step
from canvasmar.models.factory import build_model
from canvasmar.models.group import attention_after
from canvasmar.pipeline import Pipeline, StreamedFrame
from canvasmar.sampler import rollout
from tests.conftest import micro_overrides

K2 = [*micro_overrides(), "model.group=2"]
NEW_LAYERS = ("canvas_vit.group_heads.", "spatial.group_attention.")


def _gen(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _build(overrides: list[str], seed: int = 0):
    cfg = load_config("tiny", overrides)
    torch.manual_seed(seed)
    model, tok = build_model(cfg)
    return cfg, model.eval(), tok


def _perturb(model: torch.nn.Module, seed: int = 1, only: set[str] | None = None) -> None:
    """Move the weights off their (partly zero) initialisation, the same way for every model
    holding the same names."""
    g = _gen(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if only is None or name in only:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


def _pipe(overrides: list[str] = K2) -> Pipeline:
    cfg, model, tok = _build(overrides)
    _perturb(model)
    return Pipeline(model, tok, cfg)


def _context(b: int = 2, t: int = 2) -> torch.Tensor:
    return torch.rand(b, t, 3, 16, 16, generator=_gen(5))


def _twins() -> tuple:
    """A next-1 model and its next-2 twin: the same shared weights (perturbed alike), the
    next-2 model's new layers as initialised."""
    _, one, tok = _build(micro_overrides())
    _, two, _ = _build(K2)
    shared = {n for n, _ in one.named_parameters()}
    _perturb(one)
    _perturb(two, only=shared)
    return one, two, tok


# ---- next-1 is today's model; next-K adds layers drawn after it


def test_a_next1_model_has_no_group_layers_and_its_next2_twin_holds_its_weights():
    _, one, _ = _build(micro_overrides())
    _, two, _ = _build(K2)
    assert one.group == 1 and one.canvas_vit.group_heads is None
    assert one.spatial.group_attention is None
    latents = torch.randn(1, 4, 2)
    assert one.group_starts(latents) is latents
    first, second = one.state_dict(), two.state_dict()
    assert all(torch.equal(second[name], value) for name, value in first.items())
    assert {n for n in second if n not in first} == {n for n in second if n.startswith(NEW_LAYERS)}
    assert list(two.spatial.group_attention) == ["1"]  # after the last of 2 blocks


def test_temporal_attention_every_four_spatial_layers():
    """App. B: every four spatial layers; a stack of fewer than four gets one."""
    assert attention_after(16) == [3, 7, 11, 15] and attention_after(8) == [3, 7]
    assert attention_after(5) == [3] and attention_after(3) == [2] and attention_after(1) == [0]


def test_new_layers_start_as_the_identity():
    """With its new layers as initialised, a next-2 model gives both frames of a group the
    next-1 canvas, and the first frame the next-1 model's Spatial MAR conditions."""
    one, two, tok = _twins()
    latents = tok.encode(_context(2, 3))
    z_t = one.temporal_embeddings(latents[:, :-1])[:, -1]
    assert torch.equal(z_t, two.temporal_embeddings(latents[:, :-1])[:, -1])
    prev, n = one.to_tokens(latents[:, -2]), one.num_tokens
    with torch.no_grad():
        c1, c2 = one.predict_canvas(z_t, prev, prev), two.predict_canvas(z_t, prev, prev)
        for k in range(2):
            torch.testing.assert_close(c2.tokens[k::2], c1.tokens, atol=1e-6, rtol=0)
            torch.testing.assert_close(c2.staticness[k::2], c1.staticness, atol=1e-6, rtol=0)
        tokens = torch.randn(4, n, one.token_dim, generator=_gen(2))
        mask = torch.rand(4, n, generator=_gen(3)) < 0.7
        cond1 = one.spatial(z_t, tokens[::2], mask[::2], c1.embedding)
        cond2 = two.spatial(z_t, tokens, mask, c2.embedding)
    torch.testing.assert_close(cond2[::2], cond1, atol=1e-5, rtol=0)


# ---- training


def test_a_next2_model_trains_and_its_new_layers_learn():
    from canvasmar.data.procedural import render_clip

    cfg, model, tok = _build([*K2, "model.spatial_layers=4"])
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    clip = torch.from_numpy(render_clip(3, 4, 16)).permute(0, 3, 1, 2)[None].float()
    latents = tok.encode(clip).repeat(2, 1, 1, 1, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g, history = _gen(0), []
    for _ in range(25):
        out = training_losses(model, latents, cfg.loss, g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        history.append({k: v.item() for k, v in out.items()})
    first = {k: sum(h[k] for h in history[:3]) / 3 for k in history[0]}
    last = {k: sum(h[k] for h in history[-3:]) / 3 for k in history[0]}
    assert last["loss"] < 0.7 * first["loss"] and last["canvas"] < 0.5 * first["canvas"], (
        first, last)
    for name, p in model.named_parameters():
        if name.startswith(NEW_LAYERS):
            assert not torch.equal(p, before[name]), name


def test_group_draws_shard_exactly():
    """Per-group draws (noise on the previous frame, dropout) slice with their clips: the
    shares of two one-clip slices add up to the two-clip loss."""
    cfg, model, tok = _build(K2)
    _perturb(model)
    latents = tok.encode(torch.rand(2, 4, 3, 16, 16, generator=_gen(1)))
    rnd = draw_randomness(model, 2, 4, cfg.loss, _gen(3))
    assert rnd.group == 2 and rnd.drop_canvas.shape == (4,) and rnd.mask.shape[0] == 8
    whole = training_losses(model, latents, cfg.loss, randomness=rnd)
    parts = [training_losses(model, latents[i:i + 1], cfg.loss, randomness=rnd.clips(i, 1))
             for i in range(2)]
    for key in ("loss", "mar", "canvas", "static"):
        torch.testing.assert_close(parts[0][key] + parts[1][key], whole[key], atol=1e-6,
                                   rtol=1e-5)


# ---- sampling


def test_any_number_of_frames_through_every_entry_point():
    pipe = _pipe()
    kw = dict(flow_steps=3, steps=2)
    three = pipe(_context(), 3, generator=_gen(), **kw)  # 2 groups made, 3 frames kept
    four = pipe(_context(), 4, generator=_gen(), **kw)
    assert three.shape == (2, 3, 3, 16, 16) and torch.equal(three, four[:, :3])
    assert 0 <= three.min() and three.max() <= 1
    streamed = list(pipe.stream(_context(), 3, generator=_gen(), return_canvas=True, **kw))
    assert len(streamed) == 3 and all(isinstance(s, StreamedFrame) for s in streamed)
    assert all(s.frame.shape == (2, 3, 16, 16) and s.staticness.shape == (2, 8, 8)
               for s in streamed)
    assert torch.equal(torch.stack([s.frame for s in streamed], 1), three)
    session = pipe.start(_context(), generator=_gen(), **kw)
    stepped = torch.stack([session.step() for _ in range(3)], 1)
    assert torch.equal(stepped, three) and session.frames == 3
    only = pipe(_context(), 3, generator=_gen(), canvas_only=True, **kw)
    assert only.shape == (2, 3, 3, 16, 16)


@pytest.mark.parametrize("window,keep_bos", [(2, True), (3, True), (3, False), (4, True)])
def test_kv_cache_equals_recompute(window, keep_bos):
    """The cache takes 2 frames per step (frame-causal inside them) and slides; recomputing
    the whole history with the same windowed mask gives the same frames."""
    pipe = _pipe()
    kw = dict(flow_steps=3, steps=2, window=window, keep_bos=keep_bos, cfg_canvas=1.5,
              cfg_temporal=1.2)
    cached = pipe(_context(), 7, generator=_gen(), **kw)
    again = pipe(_context(), 7, generator=_gen(), use_kv_cache=False, **kw)
    torch.testing.assert_close(again, cached, atol=1e-5, rtol=0)


def test_temporal_group_steps_equal_the_windowed_pass():
    _, model, tok = _build(K2)
    latents = tok.encode(torch.rand(1, 9, 3, 16, 16, generator=_gen(1)))
    n_t = model.temporal.tokens_per_frame
    for window in (None, 3):
        cache = model.new_cache(window, keep_bos=True)
        with torch.no_grad():
            stepwise = [model.encode_history(latents[:, :1], cache)]  # z_t of frame 1
            for start in (1, 3, 5):  # frames 1-2, 3-4, 5-6 -> z_t of frames 3, 5, 7
                stepwise.append(model.temporal_step(latents[:, start:start + 2], cache))
                assert window is None or len(cache.layers[0]) <= (window + 1) * n_t
            full = model.temporal_embeddings(latents[:, :8], window=window, keep_bos=True)
        torch.testing.assert_close(torch.stack(stepwise, 1), full[:, 1::2], atol=1e-5, rtol=0)


def test_the_motion_order_and_schedule_span_the_group():
    """One cosine schedule over the group's K x n tokens: each step reveals the schedule's
    count from both frames together, every token once."""
    pipe = _pipe()
    model, steps = pipe.model, 3
    opts = dataclasses.replace(pipe.cfg.sample, steps=steps, flow_steps=2)
    latents = pipe.tokenizer.encode(_context())
    frames = list(rollout(model, latents, 2, opts, _gen()))
    reveal = torch.stack([f.reveal_step for f in frames], 1).flatten(1)  # (B, 2n)
    m = 2 * model.num_tokens
    counts = [m - masked_after_step(0, steps, m)]
    counts += [masked_after_step(s - 1, steps, m) - masked_after_step(s, steps, m)
               for s in range(1, steps)]
    for row in reveal:
        assert [(row == s).sum().item() for s in range(steps)] == counts


def test_a_next2_model_without_canvas_trains_and_samples():
    cfg, model, tok = _build([*K2, "model.canvas=false", "model.canvas_layers=0"])
    losses = training_losses(model, tok.encode(_context(2, 4)), cfg.loss, _gen())
    assert set(losses) == {"loss", "mar"} and torch.isfinite(losses["loss"])
    video = Pipeline(model, tok, cfg)(_context(), 3, generator=_gen(), flow_steps=2)
    assert video.shape == (2, 3, 3, 16, 16)


def test_bench_spreads_a_groups_time_and_flops_over_its_frames(monkeypatch):
    from canvasmar import bench
    from canvasmar.models import flops

    pipe = _pipe()
    clock = iter([0.0, 1.0, 1.0, 1.5, 1.5, 2.0])  # start, then when each frame is ready
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    assert bench.frame_times(pipe, 1, 5) == [500.0, 500.0, 250.0, 250.0, 500.0]
    assert bench.warmup_frames(pipe) == 2
    opts = pipe.options(steps=2)
    per_group = flops.frame_flops(pipe.model.cfg, pipe.model.latent_shape, opts, 5, batch=2)
    assert bench.frames_flops(pipe, 2, 2, steps=2) == pytest.approx(per_group / 2)


# ---- fine-tuning from a next-1 checkpoint (train.init_from)


def test_init_from_a_next1_checkpoint_starts_from_its_canvas(tmp_path, capsys):
    from canvasmar.train.loop import init_from

    one, _, tok = _twins()
    ema = {k: v + 0.01 for k, v in one.state_dict().items()}  # the weights init_from uses
    save_checkpoint(tmp_path / "next1", 2, one, load_config("tiny", micro_overrides()), {},
                    ema=ema)
    one.load_state_dict(ema)
    _, two, _ = _build(K2, seed=5)  # other weights everywhere before the load
    init_from(two, str(tmp_path / "next1"))
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and "ema.safetensors" in line, line
    loaded = int(re.search(r"loaded (\d+) tensors", line).group(1))
    assert loaded == len(one.state_dict())
    assert "new: canvas_vit.group_heads.* (8), spatial.group_attention.* (6)" in line
    latents = tok.encode(_context(2, 3))
    z_t = one.temporal_embeddings(latents[:, :-1])[:, -1]
    prev = one.to_tokens(latents[:, -2])
    with torch.no_grad():
        c1, c2 = one.predict_canvas(z_t, prev, prev), two.predict_canvas(z_t, prev, prev)
    torch.testing.assert_close(c2.tokens[0::2], c1.tokens, atol=1e-6, rtol=0)
    torch.testing.assert_close(c2.tokens[1::2], c1.tokens, atol=1e-6, rtol=0)


def test_init_from_errors_are_clear(tmp_path):
    from canvasmar.train.loop import init_from

    _, two, _ = _build(K2)
    with pytest.raises(UserError, match=r"train.init_from=.*does not exist"):
        init_from(two, str(tmp_path / "missing"))
    cfg, wide, _ = _build([*micro_overrides(), "model.dim=16"])
    save_checkpoint(tmp_path / "wide", 1, wide, cfg, {})
    with pytest.raises(UserError, match=r"does not fit this model: '.*' is \(.*16.*\) there"):
        init_from(two, str(tmp_path / "wide"))
    save_checkpoint(tmp_path / "next2", 1, two, load_config("tiny", K2), {})
    _, one, _ = _build(micro_overrides())
    with pytest.raises(UserError, match="no place for"):
        init_from(one, str(tmp_path / "next2"))


def test_fine_tune_and_sample_through_the_cli(tmp_path, capsys):
    """train a next-1 model, fine-tune a next-2 one from it, sample the next-2 one."""
    from canvasmar.cli import main
    from canvasmar.pipeline import load_pipeline

    run = [*micro_overrides(), "train.steps=1", "train.batch_size=2", "train.eval_every=1",
           "train.eval_clips=2", "train.warmup_steps=1", "train.tensorboard=false",
           "train.diagnostics=false"]
    assert main(["train", "tiny", "--out", str(tmp_path / "one"), "--no-progress", *run]) == 0
    capsys.readouterr()
    assert main(["train", "tiny", "--out", str(tmp_path / "two"), "--no-progress", *run,
                 "model.group=2", f"train.init_from={tmp_path / 'one'}"]) == 0
    assert "new: canvas_vit.group_heads.* (8)" in capsys.readouterr().err
    pipe = load_pipeline(tmp_path / "two")
    assert pipe.model.group == 2
    assert pipe(_context(1, 1), 3, flow_steps=2, steps=1).shape == (1, 3, 3, 16, 16)
    out = tmp_path / "s.mp4"
    assert main(["sample", "--checkpoint", str(tmp_path / "two"), "--out", str(out),
                 "--frames", "3", "--steps", "1", "--flow-steps", "2", "--clips", "1",
                 "--no-progress"]) == 0
    assert out.is_file()
    assert main(["train", "tiny", "--out", str(tmp_path / "x"), *run,
                 f"train.init_from={tmp_path / 'nowhere'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: train.init_from=") and err.count("\n") == 1, err


# ---- settings that do not fit


@pytest.mark.parametrize("overrides, message", [
    (["model.group=0"], "model.group=0 must be at least 1"),
    (["model.group=3"], "data.frames=4 gives 4 latent frames per clip, not a multiple of "
                        "model.group=3: use data.frames=6"),
    (["model.group=2", "model.actions=3"], "action conditioning is for next-frame models"),
])
def test_bad_group_settings_are_clear_errors(overrides, message):
    with pytest.raises(UserError, match=re.escape(message)):
        load_config("tiny", [*micro_overrides(), *overrides])


def test_a_clip_that_does_not_split_into_groups_is_refused():
    from canvasmar.config.checks import check_group_frames

    cfg, model, tok = _build(K2)
    with pytest.raises(UserError, match="a clip of 3 latent frames does not split"):
        training_losses(model, tok.encode(_context(1, 3)), cfg.loss, _gen())
    with pytest.raises(UserError, match="choose data.frames so that the latent frame count"):
        check_group_frames(2, 9, 17)  # a VAE that halves time: 17 frames -> 9 latent frames
    check_group_frames(2, 8, 15)
