"""scripts/play_files.py (a game model's play files from a recorded episode) and
scripts/action_sensitivity.py (up vs down futures, emulator vs model), on real Pong and an
untrained micro model (the atari extra: `make setup` installs it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from canvasmar.config import load_config
from canvasmar.data.record import AtariEnv, record
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline
from canvasmar.web.play import load_play
from tests.conftest import micro_overrides

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("ale_py", reason="the atari extra (make setup installs it)")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pong_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pong-model")
    cfg = load_config("tiny", [*micro_overrides(), "model.actions=6", "data.resolution=64",
                               "tokenizer.patch=8", "sample.steps=1", "sample.flow_steps=2"])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    Pipeline(model, tok, cfg).save_pretrained(folder)
    return folder


def test_play_files_from_a_recorded_episode(pong_model, tmp_path, capsys):
    record(AtariEnv("pong"), tmp_path / "rec", episodes=1, frames=20, progress=False)
    episode = tmp_path / "rec" / "pong_0000.mp4"
    main = _script("play_files").main
    assert main([str(pong_model), str(episode), "--game", "pong", "--start", "5",
                 "--keys", "ArrowUp=RIGHT,ArrowDown=LEFT,Space=FIRE",
                 "--help-line", "you are green"]) == 0
    spec = load_play(pong_model)
    assert spec.actions[:4] == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert spec.keys == {"ArrowUp": 2, "ArrowDown": 3, " ": 1} and spec.help == "you are green"
    recorded = json.loads(episode.with_suffix(".actions.json").read_text())["actions"]
    assert spec.start.shape == (4, 64, 64, 3) and spec.start_actions == recorded[5:8]
    assert main([str(pong_model), str(episode), "--game", "pong", "--keys", "ArrowUp=JUMP"]) == 2
    assert "JUMP is not one of NOOP, FIRE" in capsys.readouterr().err


def test_action_sensitivity_measures_both_futures(pong_model, tmp_path):
    out = tmp_path / "sens.json"
    assert _script("action_sensitivity").main([
        str(pong_model), str(out), "--starts", "3", "--steps", "3", "--context", "2",
        "--figure", str(tmp_path / "sens.png")]) == 0
    result = json.loads(out.read_text())
    assert len(result["per_start"]) == 3 and (tmp_path / "sens.png").stat().st_size > 0
    # the real paddle moves: up-future minus down-future is not zero in some start
    assert any(abs(r["real_dy"]) > 1 for r in result["per_start"] if r["real_dy"] == r["real_dy"])
    # every step's gap: the last step's is the final frames' (the same starts where valid)
    assert len(result["valid_by_step"]) == 3 and len(result["model_dy_by_step"]) == 3
    last = [r for r in result["per_start"]
            if r["real_dy"] == r["real_dy"] and r["model_dy"] == r["model_dy"]]
    assert result["valid_by_step"][-1] == len(last) > 0
    assert abs(result["real_dy_by_step"][-1] - result["real_dy_mean"]) < 1e-9
    # the real paddle is one piece (or off screen) at every step
    assert all(0 <= n <= 1 for n in result["real_pieces_by_step"])
    assert len(result["model_pieces_by_step"]) == 3
    assert len(result["spurious_by_step"]) == 3 and all(
        0 <= v <= 1 for v in result["spurious_by_step"])


def test_paddle_pieces_counts_separate_runs_in_the_paddle_column():
    pieces = _script("action_sensitivity").paddle_pieces
    frame = torch.tensor([144, 72, 17], dtype=torch.uint8).expand(64, 64, 3).clone()
    frame[:4] = 236  # the wall above the field is not a piece
    assert pieces(frame.numpy()) == 0
    frame[10:18, 54:58] = torch.tensor([92, 186, 92], dtype=torch.uint8)  # the paddle
    assert pieces(frame.numpy()) == 1
    frame[13, 54:58] = frame[20, 54]  # a one-row gap: still one paddle
    assert pieces(frame.numpy()) == 1
    frame[30:33, 56] = torch.tensor([120, 20, 10], dtype=torch.uint8)  # dark red speckle
    frame[62:64, 58] = frame[10, 54]  # and a green piece at the bottom
    assert pieces(frame.numpy()) == 3
    frame[40, 20] = 255  # elsewhere in the frame: not the paddle's column
    assert pieces(frame.numpy()) == 3



def test_spurious_pixels_count_what_the_model_adds_to_the_field():
    script = _script("action_sensitivity")
    real = torch.tensor([144, 72, 17], dtype=torch.uint8).expand(64, 64, 3).clone()
    real[:4] = 236  # the wall: never counted
    real[10:18, 54:58] = torch.tensor([92, 186, 92], dtype=torch.uint8)  # the real paddle
    model = real.clone()
    assert script.spurious_pixels(model.numpy(), real.numpy()) == 0
    model[30:33, 56] = torch.tensor([120, 20, 10], dtype=torch.uint8)  # 3 speckle pixels
    model[10:12, 54:58] = real[40, 40]  # a missing paddle part is not spurious
    model[0, 0] = 0  # nor anything on the wall
    assert script.spurious_pixels(model.numpy(), real.numpy()) == pytest.approx(3 / (60 * 64))
