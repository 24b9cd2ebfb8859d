"""The learning diagnostics (evaluation/diagnostics.py, `canvasmar diagnose`, the diag_ rows
of training validation): each number moves the way its definition says."""

from __future__ import annotations

import json

import pytest
import torch

from canvasmar.checkpoint import save_checkpoint
from canvasmar.cli import main
from canvasmar.evaluation.diagnostics import STATIC_CHANGE, diagnose


def _latents(pipe, clips: int = 6) -> torch.Tensor:
    from canvasmar.data import build_dataset

    data = build_dataset(pipe.cfg.data, "val", seed=0)
    return pipe.tokenizer.encode(torch.stack([data[i] for i in range(clips)]))


def test_swap_test_is_zero_for_a_mar_that_ignores_revealed_tokens(micro_pipe, one_thread):
    latents = _latents(micro_pipe)
    using = diagnose(micro_pipe.model, latents, micro_pipe.cfg.sample, samples=2)
    assert using["swap_mse"] > 1e-6  # perturbed random weights: revealed tokens matter
    # a revealed token's embedding that no longer depends on its value: nothing to swap
    with torch.no_grad():
        micro_pipe.model.spatial.token_embed.weight.zero_()
    ignoring = diagnose(micro_pipe.model, latents, micro_pipe.cfg.sample, samples=2)
    assert ignoring["swap_mse"] == 0 and ignoring["swap_gain"] == 0
    assert using["swap_mse_unconditional"] > 1e-6 and ignoring["swap_mse_unconditional"] == 0
    # the moving tokens' share of help: defined (built-in clips move) and 0 when ignored
    assert using["swap_moving_gain"] != 0 and ignoring["swap_moving_gain"] == 0
    # the calibration part does not depend on the revealed tokens (nothing is revealed)
    assert ignoring["spread_over_error_moving"] == pytest.approx(
        using["spread_over_error_moving"], rel=1e-5)


def test_unconditional_swap_reads_revealed_changes(micro_pipe, one_thread):
    """model.reveal_change: revealed tokens read only through their change from the base still
    move the masked predictions with both conditions dropped; without it they do not."""
    from canvasmar.config import load_config
    from canvasmar.models.factory import build_model
    from tests.conftest import micro_overrides

    cfg = load_config("tiny", micro_overrides() + ["model.residual=true",
                                                   "model.reveal_change=true"])
    model, _ = build_model(cfg)
    latents = _latents(micro_pipe)
    with torch.no_grad():
        for p in model.parameters():  # as micro_pipe: a zero-initialised head predicts nothing
            p.add_(torch.randn_like(p) * 0.05)
        model.spatial.token_embed.weight.zero_()  # absolute values ignored
        torch.nn.init.normal_(model.spatial.change_embed.weight)
    reading = diagnose(model, latents, cfg.sample, samples=2)
    with torch.no_grad():
        model.spatial.change_embed.weight.zero_()
    blind = diagnose(model, latents, cfg.sample, samples=2)
    assert reading["swap_mse_unconditional"] > 1e-6
    assert blind["swap_mse_unconditional"] == 0 and blind["swap_mse"] == 0


def test_calibration_numbers_follow_their_definitions(micro_pipe, one_thread):
    latents = _latents(micro_pipe)
    result = diagnose(micro_pipe.model, latents, micro_pipe.cfg.sample, samples=3)
    assert 0 < result["static_share"] < 1  # built-in clips: a still background, moving objects
    assert result["copy_last_static_mse"] < STATIC_CHANGE  # static means unchanged
    assert result["canvas_static_mse"] > result["copy_last_static_mse"]  # untrained canvas
    # a head whose draws do not vary (temperature 0 everywhere: zero velocity from the noise)
    # has no spread: the ratio is 0, not a division error
    with torch.no_grad():
        for p in micro_pipe.model.head.parameters():
            p.zero_()
    flat = diagnose(micro_pipe.model, latents, micro_pipe.cfg.sample, samples=3)
    assert flat["spread_over_error_static"] > 0.5  # zero velocity: the draws are the noise
    assert diagnose(micro_pipe.model, latents, micro_pipe.cfg.sample, samples=3) == flat


def test_diagnose_command_prints_and_writes_json(micro_pipe, tmp_path, capsys):
    save_checkpoint(tmp_path / "run", 1, micro_pipe.model, micro_pipe.cfg, {"step": 1})
    out = tmp_path / "diag.json"
    assert main(["diagnose", "--checkpoint", str(tmp_path / "run"), "--clips", "4",
                 "--samples", "2", "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "swap_mse" in printed and "spread_over_error_moving" in printed
    record = json.loads(out.read_text())
    assert record["clips"] == 4 and record["diagnostics"]["swap_mse"] >= 0
    before = out.read_bytes()
    assert main(["diagnose", "--checkpoint", str(tmp_path / "run"), "--clips", "1",
                 "--device", "cpu"]) == 2
    assert main(["diagnose", "--checkpoint", str(tmp_path / "run"), "--clips", "4",
                 "--samples", "1", "--device", "cpu"]) == 2  # no spread from one draw
    assert main(["diagnose", "--checkpoint", str(tmp_path / "run"), "--clips", "4",
                 "--device", "cpu", "--out", str(out)]) == 2  # exists: needs --force
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "Traceback" not in err and "--samples 1" in err
    assert out.read_bytes() == before


def test_canvas_motion_numbers_follow_their_definitions():
    from canvasmar.evaluation.diagnostics import canvas_motion

    prev = torch.zeros(1, 4, 3)
    truth = prev.clone()
    truth[0, :2] = 0.5  # tokens 0 and 1 move
    perfect = canvas_motion(truth, prev, truth)
    assert perfect == {"canvas_moving_gain": 1.0, "canvas_motion_recall": 1.0,
                       "canvas_motion_precision": 1.0}
    frozen = canvas_motion(prev, prev, truth)  # predicts no change: no gain, nothing found
    assert frozen == {"canvas_moving_gain": 0.0, "canvas_motion_recall": 0.0}
    wrong = prev.clone()
    wrong[0, 2:] = 0.5  # moves the two tokens that stay
    out = canvas_motion(wrong, prev, truth)
    assert out["canvas_motion_recall"] == 0.0 and out["canvas_motion_precision"] == 0.0
    half = prev.clone()
    half[0, :2] = 0.25  # half the way: the error on moving tokens is a quarter of copy-last's
    assert abs(canvas_motion(half, prev, truth)["canvas_moving_gain"] - 0.75) < 1e-6


def test_history_gain_is_zero_when_the_past_shows_nothing_the_last_frame_does_not(one_thread):
    """Clips whose history frames are all the same frame: the frozen history is the true one,
    so the gain is exactly 0. With history that moves, a canvas that sees it gains != 0."""
    from canvasmar.config import load_config
    from canvasmar.evaluation.diagnostics import history_use
    from canvasmar.models.factory import build_model
    from tests.conftest import micro_overrides

    cfg = load_config("tiny", micro_overrides() + ["model.motion_input=true"])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    with torch.no_grad():
        model.temporal.motion.weight.normal_(0, 0.5)
    data = torch.rand(4, 4, 3, 16, 16)
    data[:, :, :, 4:8] = data[:, :1, :, 4:8]  # still rows: not every token moves
    still = data.clone()
    still[:, :3] = data[:, 2:3]  # frames 0-2 equal, then frame 3 changes
    blind = diagnose(model, tok.encode(still), cfg.sample, samples=2)
    assert blind["canvas_history_gain"] == 0
    seeing = diagnose(model, tok.encode(data), cfg.sample, samples=2)
    assert abs(seeing["canvas_history_gain"]) > 1e-4
    # the definition: a canvas as good as the frozen one gains 0, a perfect one 1
    prev, truth = torch.zeros(1, 4, 3), torch.ones(1, 4, 3)
    assert history_use(prev, prev, prev, truth) == {"canvas_history_gain": 0.0}
    assert history_use(truth, prev, prev, truth) == {"canvas_history_gain": 1.0}
    assert history_use(truth, prev, prev, prev) == {}  # nothing moves
