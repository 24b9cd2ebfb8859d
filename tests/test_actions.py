"""Action-conditioned CanvasMAR (issue 18, docs/world-model.md): the embedding and where it
enters, condition dropout and its shares of a global batch, guidance on the action and what it
costs, the interactive session against `pipe(...)` and recomputation, and a model without
actions left exactly as it was. Recordings as training data: tests/test_actions_data.py."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from canvasmar import losses
from canvasmar.config import RunConfig, load_config
from canvasmar.config.loading import from_dict, to_dict
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline
from canvasmar.sampler import NO_ACTION, guidance_weights
from tests.conftest import micro_overrides

DISCRETE = ["model.actions=3"]
CONTINUOUS = ["model.actions=2", "model.action_kind=continuous"]
FILM = [*DISCRETE, "model.action_film=true"]  # the action also scales and shifts z_t


pytestmark = pytest.mark.usefixtures("isolated_data")


def _pipe(*extra: str) -> Pipeline:
    """An untrained micro model with perturbed weights (as conftest.micro_pipe)."""
    cfg = load_config("tiny", [*micro_overrides(), *extra])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    return Pipeline(model, tok, cfg)


def _context(batch: int = 2, frames: int = 3) -> torch.Tensor:
    return torch.rand(batch, frames, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _gen(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- the model: where the action enters, what it changes


@pytest.mark.parametrize("extra", [DISCRETE, CONTINUOUS, FILM,
                                   [*CONTINUOUS, "model.action_film=true"]])
def test_the_action_after_frame_t_conditions_frame_t_plus_1_only(extra):
    model = _pipe(*extra).model
    history = torch.randn(2, 3, *model.latent_shape)
    if model.cfg.action_kind == "discrete":
        a, b = torch.tensor([[0, 1, 2]] * 2), torch.tensor([[0, 2, 2]] * 2)
    else:
        a = torch.randn(2, 3, 2)
        b = a.clone()
        b[:, 1] += 1.0
    za, zb = (model.temporal_embeddings(history, actions=x) for x in (a, b))
    # action 1 follows history frame 1: targets 0..1 cannot see it, targets 2..3 do
    assert torch.equal(za[:, :2], zb[:, :2])
    assert (za[:, 2:] - zb[:, 2:]).abs().amax(dim=(2, 3)).min() > 1e-4
    null = model.temporal_embeddings(history)  # None: the null action everywhere
    assert torch.equal(null, model.temporal_embeddings(history, actions=model.null_actions(2, 3)))
    assert not torch.allclose(null[:, 1:], za[:, 1:])


@pytest.mark.parametrize("extra", [DISCRETE, [*CONTINUOUS, "model.residual=true"], FILM])
def test_the_action_changes_the_predicted_frame(extra):
    pipe = _pipe(*extra)
    discrete = pipe.model.cfg.action_kind == "discrete"
    choices = [[0], [2]] if discrete else [[[1.0, -1.0]], [[-1.0, 1.0]]]

    def run(actions, **kw):
        return pipe(_context(), 1, actions=actions, generator=_gen(), flow_steps=3, **kw)

    first, second = run(choices[0]), run(choices[1])
    assert torch.equal(first, run(choices[0]))  # same action, same seed: the same frame
    assert (first - second).abs().amax(dim=(1, 2, 3, 4)).min() > 1e-3  # every clip changes
    assert not torch.equal(first, run(None))  # no action (null) is another condition
    # the actions between the context frames matter too
    past = [[0, 1], [2, 2]] if discrete else [[[0.5, 0.5]] * 2, [[-0.5, 0.5]] * 2]
    assert not torch.equal(run(choices[0], context_actions=past[0]),
                           run(choices[0], context_actions=past[1]))


def test_the_action_embedding_is_drawn_after_every_other_weight():
    """Same seed: a model with actions has exactly the weights of the one without, plus its
    action embedding, so twins start from the same initialisation."""
    torch.manual_seed(3)
    plain = build_model(load_config("tiny", micro_overrides()))[0].state_dict()
    torch.manual_seed(3)
    acting = build_model(load_config("tiny", [*micro_overrides(), *DISCRETE]))[0].state_dict()
    extra = sorted(set(acting) - set(plain))
    assert extra == ["temporal.action.table.weight"] and set(plain) <= set(acting)
    assert acting[extra[0]].shape == (4, 32)  # 3 actions + the null action
    assert all(torch.equal(plain[k], acting[k]) for k in plain)


def test_without_actions_nothing_changes(micro_cfg):
    """model.actions=0 (the default) and a config.json written before the keys existed build
    the same model and give bit-identical samples, losses and draws."""
    data = to_dict(micro_cfg)
    for section, key in (("model", "actions"), ("model", "action_kind"),
                         ("loss", "drop_action"), ("sample", "cfg_action")):
        del data[section][key]
    old = from_dict(RunConfig, data).validate()
    explicit = load_config("tiny", [*micro_overrides(), "model.actions=0", "loss.drop_action=0.3"])
    outputs = []
    for cfg in (old, explicit):
        torch.manual_seed(0)
        model, tok = build_model(cfg)
        assert not model.has_actions and model.temporal.action is None
        pipe = Pipeline(model, tok, cfg)
        video = pipe(_context(), 2, generator=_gen(), flow_steps=3, cfg_temporal=1.2)
        latents = tok.encode(_context(2, 4))
        rnd = losses.draw_randomness(model, 2, 4, cfg.loss, _gen(3))
        assert rnd.drop_action is None
        loss = losses.training_losses(model, latents, cfg.loss, randomness=rnd)["loss"]
        outputs.append((video, loss, model.state_dict()))
    (v0, l0, s0), (v1, l1, s1) = outputs
    assert torch.equal(v0, v1) and torch.equal(l0, l1)
    assert all(torch.equal(s0[k], s1[k]) for k in s0)


# ---- training: condition dropout


def test_action_dropout_is_drawn_with_the_step_and_shards_exactly():
    cfg = load_config("tiny", [*micro_overrides(), *DISCRETE, "loss.drop_action=0.25"])
    model, tok = build_model(cfg)
    plain = build_model(load_config("tiny", micro_overrides()))[0]
    rnd = losses.draw_randomness(model, 4, 4, cfg.loss, _gen(3))
    before = losses.draw_randomness(plain, 4, 4, cfg.loss, _gen(3))
    for f in dataclasses.fields(before):  # drawn last: every other draw is unchanged
        if f.name != "drop_action":
            value = getattr(before, f.name)
            assert (torch.equal(value, getattr(rnd, f.name)) if isinstance(value, torch.Tensor)
                    else value == getattr(rnd, f.name)), f.name
    assert rnd.drop_action.shape == (16,) and rnd.drop_action.dtype == torch.bool
    many = losses.draw_randomness(model, 1000, 4, cfg.loss, _gen(4)).drop_action
    assert abs(many.float().mean().item() - 0.25) < 0.02

    latents = tok.encode(torch.rand(4, 4, 3, 16, 16, generator=_gen(5)))
    actions = torch.randint(0, 3, (4, 3), generator=_gen(6))
    whole = losses.training_losses(model, latents, cfg.loss, randomness=rnd, actions=actions)
    parts = [losses.training_losses(model, latents[i:i + 2], cfg.loss,
                                    randomness=rnd.clips(i, 2), actions=actions[i:i + 2])
             for i in (0, 2)]
    for key in whole:
        torch.testing.assert_close(parts[0][key] + parts[1][key], whole[key])

    def loss(drop, acts):
        every = dataclasses.replace(rnd, drop_action=torch.full((16,), drop))
        return losses.training_losses(model, latents, cfg.loss, randomness=every,
                                      actions=acts)["loss"]

    # every action dropped = no actions given; none dropped = the actions' own loss
    assert torch.equal(loss(True, actions), loss(True, None))
    assert not torch.equal(loss(False, actions), loss(True, actions))
    assert not torch.equal(loss(False, actions), loss(False, (actions + 1) % 3))


# ---- guidance on the action


def test_action_guidance_weights_compose_with_eq9():
    v = {name: torch.randn(5) for name in ("null", "temporal", "full")}
    v |= {name + NO_ACTION: torch.randn(5) for name in ("temporal", "full")}

    def eq9(w_s: float, w_t: float, canvas: bool, suffix: str) -> torch.Tensor:
        guided = v["null"] + w_t * (v["temporal" + suffix] - v["null"])
        return guided + w_s * (v["full" + suffix] - v["temporal" + suffix]) if canvas else guided

    for w_s, w_t, w_a, canvas in ((1.5, 1.2, 2.0, True), (1.0, 1.0, 3.0, True),
                                  (1.0, 1.3, 0.5, False)):
        free, full = eq9(w_s, w_t, canvas, NO_ACTION), eq9(w_s, w_t, canvas, "")
        expected = free + w_a * (full - free)
        weights = guidance_weights(w_s, w_t, canvas, w_a)
        torch.testing.assert_close(sum(w * v[name] for name, w in weights.items()), expected)
    assert guidance_weights(1.0, 1.0, True, 2.0) == {"full": 2.0, "full" + NO_ACTION: -1.0}
    assert guidance_weights(1.5, 1.2, True, 1.0) == guidance_weights(1.5, 1.2, True)


def test_cfg_action_of_one_costs_one_pass(monkeypatch):
    pipe = _pipe(*DISCRETE)
    model = pipe.model
    batches, peeks = [], []
    predict, step = model.predict_tokens, model.temporal_step

    def counted_predict(z_t, *args, **kw):
        batches.append(z_t.shape[0])
        return predict(z_t, *args, **kw)

    def counted_step(frame, cache, action=None, append=True, **kw):
        peeks.append(not append)
        return step(frame, cache, action, append, **kw)

    monkeypatch.setattr(model, "predict_tokens", counted_predict)
    monkeypatch.setattr(model, "temporal_step", counted_step)

    def run(**kw):
        batches.clear()
        peeks.clear()
        return pipe(_context(), 3, generator=_gen(), flow_steps=2, steps=2, **kw)

    plain = run(actions=[0, 1, 2])
    assert set(batches) == {2} and not any(peeks)  # one pass of B = 2, no extra temporal step
    assert torch.equal(run(actions=[0, 1, 2], cfg_action=1.0), plain)
    guided = run(actions=[0, 1, 2], cfg_action=3.0)
    assert set(batches) == {4} and sum(peeks) == 3  # two passes; one null-action z_t per frame
    assert (guided - plain).abs().max() > 1e-3
    run(cfg_action=3.0)  # no actions given: nothing to guide on, nothing extra
    assert set(batches) == {2} and not any(peeks)


def test_action_film_starts_as_the_model_without_it():
    """model.action_film: zero-initialised and drawn after everything (no random draws), so
    with the same seed the model has its twin's weights and predicts exactly its z_t; once
    trained (here: perturbed) the action scales z_t of the next frame only, and a model
    without actions refuses the key."""
    torch.manual_seed(3)
    plain = build_model(load_config("tiny", [*micro_overrides(), *DISCRETE]))[0]
    after_plain = torch.rand(1)
    torch.manual_seed(3)
    film = build_model(load_config("tiny", [*micro_overrides(), *FILM]))[0]
    assert torch.equal(torch.rand(1), after_plain)  # the global RNG is where it was
    extra = sorted(set(film.state_dict()) - set(plain.state_dict()))
    assert extra == ["temporal.action_film.bias", "temporal.action_film.weight"]
    history, actions = torch.randn(2, 3, *plain.latent_shape), torch.tensor([[0, 1, 2]] * 2)
    torch.testing.assert_close(film.temporal_embeddings(history, actions=actions),
                               plain.temporal_embeddings(history, actions=actions),
                               rtol=0, atol=0)
    with torch.no_grad():
        film.temporal.action_film.weight.normal_(std=0.5)
    moved = film.temporal_embeddings(history, actions=actions)
    same = plain.temporal_embeddings(history, actions=actions)
    assert (moved - same).abs().amax() > 1e-2
    with pytest.raises(UserError, match="model.action_film"):
        load_config("tiny", ["model.action_film=true"])


# ---- the interactive API


@pytest.mark.parametrize("extra", [DISCRETE, [*CONTINUOUS, "model.residual=true"],
                                   [*DISCRETE, "model.canvas=false"], FILM])
@pytest.mark.parametrize("cfg_action", [1.0, 1.5])
def test_a_session_equals_pipe_and_recomputation(extra, cfg_action):
    pipe = _pipe(*extra)
    if pipe.model.cfg.action_kind == "discrete":
        past, future = [[0, 2], [1, 1]], torch.tensor([[2, 0, 1, 1], [0, 0, 2, 1]])
    else:
        past, future = torch.randn(2, 2, 2, generator=_gen(1)), torch.randn(2, 4, 2,
                                                                          generator=_gen(2))
    # window 3 < 3 context + 4 new frames: the sliding window (BOS pinned) is exercised
    kw = dict(flow_steps=3, steps=2, window=3, cfg_action=cfg_action)
    whole = pipe(_context(), 4, actions=future, context_actions=past, generator=_gen(), **kw)
    session = pipe.start(_context(), context_actions=past, generator=_gen(), **kw)
    stepped = torch.stack([session.step(future[:, i]) for i in range(4)], 1)
    assert torch.equal(stepped, whole) and session.frames == 4
    assert session.latest.latent.shape == (2, *pipe.model.latent_shape)
    again = pipe.start(_context(), context_actions=past, generator=_gen(), use_kv_cache=False,
                       **kw)
    recomputed = torch.stack([again.step(future[:, i]) for i in range(4)], 1)
    torch.testing.assert_close(recomputed, whole, atol=1e-5, rtol=0)


def test_session_steps_take_one_action_for_all_clips_or_one_each():
    pipe = _pipe(*DISCRETE)
    shared = pipe.start(_context(), generator=_gen()).step(2)
    each = pipe.start(_context(), generator=_gen()).step(torch.tensor([2, 2]))
    assert torch.equal(shared, each) and shared.shape == (2, 3, 16, 16)
    assert 0 <= shared.min() and shared.max() <= 1
    null = pipe.start(_context(), generator=_gen()).step()  # no action: the null action
    assert not torch.equal(null, shared)


def test_a_model_without_actions_steps_without_them(micro_pipe):
    session = micro_pipe.start(_context(), generator=_gen(), flow_steps=3)
    frames = torch.stack([session.step() for _ in range(2)], 1)
    assert torch.equal(frames, micro_pipe(_context(), 2, generator=_gen(), flow_steps=3))
    with pytest.raises(UserError, match="trained without actions"):
        session.step(1)
    with pytest.raises(UserError, match="trained without actions"):
        micro_pipe(_context(), 2, actions=[0, 1])
    with pytest.raises(UserError, match="trained without actions"):
        micro_pipe.start(_context(), context_actions=[0, 1])
    with pytest.raises(UserError, match="sample.cfg_action=2.0 guides on actions"):
        micro_pipe(_context(), 1, cfg_action=2.0)


@pytest.mark.parametrize("extra, actions, message", [
    (DISCRETE, [0, 1], r"actions has shape \(1, 2\): this model takes \(3,\) or \(2, 3\)"),
    (DISCRETE, [0, 3, 1], "holds action 3: this model knows 3 actions, 0..2"),
    (DISCRETE, [0.5, 1, 1], "whole action indices"),
    (DISCRETE, "left", "must be numbers"),
    (CONTINUOUS, [[0.0, 1.0, 2.0]] * 3, r"\(3, 2\) or \(2, 3, 2\) action vectors"),
    (CONTINUOUS, [[0.0, float("inf")]] * 3, "infinite"),
])
def test_bad_actions_are_clear_errors(extra, actions, message):
    with pytest.raises(UserError, match=message):
        _pipe(*extra)(_context(), 3, actions=actions)


def test_bad_step_actions_are_clear_errors():
    session = _pipe(*DISCRETE).start(_context())
    with pytest.raises(UserError, match=r"action has shape \(2, 2\): a step takes an index"):
        session.step([[0, 1], [1, 0]])
    with pytest.raises(UserError, match="holds action 5"):
        session.step(5)
    with pytest.raises(UserError, match=r"a vector \(2,\) or \(B, 2\)"):
        _pipe(*CONTINUOUS).start(_context()).step(torch.zeros(2, 2, 2))


@pytest.mark.parametrize("override, message", [
    ("model.actions=-1", "model.actions=-1 must be at least 0"),
    ("model.action_kind=joystick", "model.action_kind='joystick': use one of discrete"),
    ("loss.drop_action=1.5", "loss.drop_action"),
    ("sample.cfg_action=.nan", "sample.cfg_action"),
])
def test_bad_action_settings_are_clear_errors(override, message):
    with pytest.raises(UserError, match=message):
        load_config("tiny", [override])


def test_action_lr_mult_speeds_up_only_the_action_embedding():
    """train.action_lr_mult: the action embedding is its own undecayed group at that multiple
    of the schedule's rate (AdamW's first step moves each weight by ~lr, so by 10x there);
    at 1 the optimizer has the two groups runs saved before the key have."""
    from canvasmar.train.optim import build_optimizer, set_learning_rate

    torch.manual_seed(0)
    model = _pipe("model.actions=3").model
    plain = build_optimizer(model, dataclasses.replace(RunConfig().train, action_lr_mult=1.0))
    assert len(plain.param_groups) == 2
    cfg = dataclasses.replace(RunConfig().train, action_lr_mult=10.0, weight_decay=0.0)
    optimizer = build_optimizer(model, cfg)
    action = optimizer.param_groups[2]
    assert action["lr_mult"] == 10.0 and action["weight_decay"] == 0.0
    assert [p is model.temporal.action.table.weight for p in action["params"]] == [True]
    film = _pipe(*FILM).model
    assert len(build_optimizer(film, cfg).param_groups[2]["params"]) == 3  # + FiLM's W, b
    set_learning_rate(optimizer, 1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-3, 1e-2]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    latents = torch.randn(2, 4, *model.latent_shape)
    actions = torch.tensor([[0, 1, 2], [2, 1, 0]])
    losses.training_losses(model, latents, RunConfig().loss, torch.Generator().manual_seed(0),
                           actions=actions)["loss"].backward()
    optimizer.step()
    moved = {name: (p.detach() - before[name]).abs().max().item()
             for name, p in model.named_parameters() if p.grad is not None}
    assert moved["temporal.action.table.weight"] == pytest.approx(1e-2, rel=1e-3)
    assert max(v for k, v in moved.items() if "action" not in k) <= 1e-3 * 1.001


def test_action_lr_mult_must_be_positive():
    with pytest.raises(UserError, match="train.action_lr_mult"):
        load_config("tiny", ["train.action_lr_mult=0"])
