"""Action-conditioned CanvasMAR on recordings (docs/world-model.md): clips carry the actions
between their frames (aligned with data.stride), discrete and continuous recordings, one clear
error per unusable folder, and training an action model through the command line."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from canvasmar.cli import main
from canvasmar.config import DataConfig, with_sample_overrides
from canvasmar.data import build_dataset
from canvasmar.data.actions import actions_path
from canvasmar.data.folder import folder_dataset
from canvasmar.data.record import record
from canvasmar.errors import UserError
from canvasmar.pipeline import load_pipeline
from tests.conftest import micro_overrides
from tests.data_fixtures import SquareEnv
from tests.test_actions import _context

pytestmark = pytest.mark.usefixtures("isolated_data")


# ---- recordings as training data


class PushEnv(SquareEnv):
    """Continuous actions (dx, dy) in [-1, 1]^2; the square moves by dx > 0."""

    def __init__(self) -> None:
        super().__init__("push")

    def step(self, action):
        return super().step(int(action[0] > 0))

    def random_action(self, rng):
        return rng.uniform(-1, 1, size=2).round(4).tolist()


def _record(env, out, episodes=3, frames=12):
    record(env, out, episodes=episodes, frames=frames, policy="random", seed=2, progress=False)
    return out


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_clips_carry_the_actions_between_their_frames(tmp_path, stride):
    """Frames t and t+stride are paired with actions[t], the first of the skipped steps; the
    frames themselves show the moves of all the steps between them."""
    rec = _record(SquareEnv(), tmp_path / "rec")
    ds = folder_dataset(rec, "train", frames=4, resolution=32, stride=stride, val_fraction=0,
                        actions=2)
    for i in range(8):
        clip, acts = ds[i]
        v, start = ds.clip(i)
        recorded = json.loads(actions_path(ds.videos[v].source).read_text())["actions"]
        assert acts.dtype == torch.long and acts.shape == (3,)
        assert acts.tolist() == [recorded[start + j * stride] for j in range(3)]
        cols = [int((frame[0, 12] > 0.5).numpy().argmax()) for frame in clip]
        moves = [2 * sum(recorded[start + j * stride:start + (j + 1) * stride])
                 for j in range(3)]
        assert np.diff(cols).tolist() == moves


def test_continuous_recordings_give_float_actions(tmp_path):
    rec = _record(PushEnv(), tmp_path / "rec")
    ds = folder_dataset(rec, "train", frames=3, resolution=16, val_fraction=0, actions=2,
                        action_kind="continuous")
    clip, acts = ds[0]
    v, start = ds.clip(0)
    recorded = json.loads(actions_path(ds.videos[v].source).read_text())["actions"]
    assert clip.shape == (3, 3, 16, 16) and acts.dtype == torch.float32
    torch.testing.assert_close(acts, torch.tensor(recorded[start:start + 2]))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch[0].shape == (2, 3, 3, 16, 16) and batch[1].shape == (2, 2, 2)


def _edit_actions(path, actions):
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(meta | {"actions": actions}))


def test_unusable_recordings_are_one_clear_error_each(tmp_path):
    squares = _record(SquareEnv(), tmp_path / "squares")
    pushes = _record(PushEnv(), tmp_path / "pushes")

    def error(root, **kw):
        with pytest.raises(UserError) as info:
            folder_dataset(root, "train", frames=3, resolution=16, val_fraction=0, **kw)
        return str(info.value)

    assert "holds action 1, outside 0..0 of model.actions=1" in error(squares, actions=1)
    assert "set model.action_kind=continuous model.actions=2" in error(pushes, actions=3)
    message = error(pushes, actions=3, action_kind="continuous")
    assert "actions of size 2" in message and "set model.actions=2" in message
    assert "holds discrete actions" in error(squares, actions=2, action_kind="continuous")
    first = squares / "square_0000.actions.json"
    _edit_actions(first, [0, 1])
    assert f"{first} holds 2 actions for the 12 frames" in error(squares, actions=2)
    first.unlink()
    message = error(squares, actions=2)
    assert f"{first} is missing" in message and "canvasmar data record" in message
    with pytest.raises(UserError, match="data.source to a folder from `canvasmar data record"):
        build_dataset(DataConfig(), "train", actions=2)


# ---- training through the command line


TRAIN = [*micro_overrides(), "train.steps=2", "train.batch_size=2", "train.save_every=2",
         "train.eval_every=2", "train.eval_clips=2", "train.warmup_steps=1",
         "train.tensorboard=false", "train.device=cpu", "data.val_fraction=0.3"]


@pytest.mark.parametrize("env, kind", [(SquareEnv(), "discrete"), (PushEnv(), "continuous")])
def test_train_an_action_model_through_the_cli(tmp_path, env, kind):
    rec = _record(env, tmp_path / "rec", episodes=4, frames=16)  # 2 val clips or more
    run = tmp_path / "run"
    assert main(["train", "tiny", "--out", str(run), "--no-progress", *TRAIN,
                 f"data.source={rec}", "model.actions=2", f"model.action_kind={kind}",
                 "data.stride=2"]) == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]
    assert any("val_loss" in r and "diag_swap_mse" in r for r in rows)
    pipe = load_pipeline(run)
    assert pipe.model.has_actions and pipe.cfg.model.action_kind == kind
    action = env.random_action(np.random.default_rng(0))
    frame = pipe.start(_context(1, 2), flow_steps=2).step(action)
    assert frame.shape == (1, 3, 16, 16)


def test_diagnose_gives_an_action_model_the_true_actions(tmp_path, monkeypatch, capsys):
    """`canvasmar diagnose` on recordings: an action model's canvas is measured with each
    clip's true actions (and `canvas_action_gain` against the last one nulled); --no-actions
    gives it the null ones."""
    from canvasmar.evaluation import diagnostics

    rec = _record(SquareEnv(), tmp_path / "rec", episodes=4, frames=16)
    run = tmp_path / "run"
    assert main(["train", "tiny", "--out", str(run), "--no-progress", *TRAIN,
                 f"data.source={rec}", "model.actions=2"]) == 0
    seen, real = [], diagnostics.diagnose

    def spy(model, latents, *args, actions=None, **kw):
        seen.append(actions)
        return real(model, latents, *args, actions=actions, **kw)

    monkeypatch.setattr(diagnostics, "diagnose", spy)
    command = ["diagnose", "--checkpoint", str(run), "--data", str(rec), "--clips", "2",
               "--samples", "2"]
    capsys.readouterr()
    assert main(command) == 0
    said = capsys.readouterr().out
    assert "with their actions" in said and "canvas_action_gain" in said
    pipe = load_pipeline(run)
    data = build_dataset(dataclasses.replace(pipe.cfg.data, source=str(rec)), "val",
                         actions=2)
    assert torch.equal(seen[0], torch.stack([data[i][1] for i in range(2)]))
    assert main([*command, "--no-actions"]) == 0
    said = capsys.readouterr().out
    assert seen[1] is None and "null actions" in said and "canvas_action_gain" not in said


def test_train_refuses_a_folder_without_actions(tmp_path, capsys):
    rec = _record(SquareEnv(), tmp_path / "rec", episodes=2)
    for path in rec.glob("*.actions.json"):
        path.unlink()
    assert main(["train", "tiny", "--out", str(tmp_path / "run"), "--no-progress", *TRAIN,
                 f"data.source={rec}", "model.actions=2"]) == 2
    err = capsys.readouterr().err
    assert "actions.json is missing" in err and "model.actions=0" in err


def test_eval_gives_an_action_model_the_true_actions(tmp_path, monkeypatch):
    """`canvasmar eval --protocol folder` on recordings: the model sees each clip's recorded
    actions (context_actions between the context frames, then one per predicted frame);
    --no-actions gives it none."""
    import dataclasses

    from canvasmar.evaluation.protocol_run import protocol_test_clips
    from canvasmar.evaluation.scoring import evaluate
    from canvasmar.protocols import PROTOCOLS
    from tests.test_actions import _pipe

    rec = _record(SquareEnv(), tmp_path / "rec", episodes=4, frames=12)
    pipe = _pipe("model.actions=2")
    protocol = dataclasses.replace(PROTOCOLS["folder"], context=3, predict=4, samples=1,
                                   num_videos=2)
    seen = []
    call = type(pipe).__call__

    def spy(self, context, num_frames, **kw):
        seen.append((kw.get("context_actions"), kw.get("actions")))
        return call(self, context, num_frames, **kw)

    monkeypatch.setattr(type(pipe), "__call__", spy)
    clips = protocol_test_clips(pipe, protocol, str(rec), split="val")
    evaluate(pipe, protocol, clips, [1], progress=False, batch_size=2, flow_steps=2)
    truth = torch.stack([clips.load(i)[1] for i in range(len(clips))])
    assert len(seen) == 2  # canvas-only and the model, one batch
    for context_actions, actions in seen:
        assert torch.equal(context_actions, truth[:, :2]) and torch.equal(actions, truth[:, 2:6])
    seen.clear()
    plain = protocol_test_clips(pipe, protocol, str(rec), split="val", actions=False)
    evaluate(pipe, protocol, plain, [1], progress=False, batch_size=2, flow_steps=2)
    assert seen == [(None, None)] * 2


def test_sample_takes_recorded_or_given_actions(tmp_path):
    from canvasmar.predict import run_sample, sample_actions
    from tests.test_actions import _pipe

    rec = _record(SquareEnv(), tmp_path / "rec", episodes=1, frames=8)
    video = str(rec / "square_0000.mp4")
    truth = json.loads((rec / "square_0000.actions.json").read_text())["actions"]
    pipe = _pipe("model.actions=2")
    auto = sample_actions(pipe, video, "auto", 3, 10)  # 7 recorded actions, 12 asked for
    assert auto["context_actions"].tolist() == truth[:2]
    assert auto["actions"].tolist() == truth[2:] + [-1] * 5  # the rest unknown
    given = sample_actions(pipe, None, "1,1,0", 2, 4)
    assert given == {"actions": given["actions"]} and given["actions"].tolist() == [1, 1, 0, -1]
    assert sample_actions(pipe, video, "none", 3, 4) == {}
    assert sample_actions(_pipe(), video, "auto", 3, 4) == {}  # a model without actions
    for choice, message in (("1,x", "action indices such as"), ("0,2", "from 0 to 1"),
                            ("1,1,1,1,1", "at most --frames 4")):
        with pytest.raises(UserError, match=message):
            sample_actions(pipe, None, choice, 2, 4)
    with pytest.raises(UserError, match="trained without actions"):
        sample_actions(_pipe(), None, "1", 2, 4)
    seen = []
    stream = pipe.stream

    def spy(*args, **kw):
        seen.append(kw.get("actions"))
        return stream(*args, **kw)

    pipe.stream = spy
    pipe.cfg = with_sample_overrides(pipe.cfg, ["sample.flow_steps=2"])
    run_sample(pipe, tmp_path / "out.mp4", video=video, context=2, frames=3, num_samples=1,
               clips=1, first_clip=0, seed=0, resize=True, gif=False, progress=False)
    assert seen[0].tolist() == truth[1:4]
