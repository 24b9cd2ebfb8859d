"""MFU: the analytic FLOP count (models/flops.py) against torch's FlopCounterMode, the measured
matmul peak (peak.py), MFU in the training log and in `canvasmar bench --train`."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from canvasmar.cli import main
from canvasmar.config import load_config
from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.masking import random_masks, sample_mask_ratios
from canvasmar.models import flops
from canvasmar.models.factory import build_model
from canvasmar.sampler import guidance_weights, rollout
from tests.conftest import micro_overrides

aten = torch.ops.aten


def _attention(q, k, v, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(q, k, v)


def _attention_backward(grad, q, k, v, *args, out_shape=None, **kwargs) -> int:
    return 2 * sdpa_flop_count(q, k, v)  # model FLOPs: 4 products, no recomputed scores


# torch counts SDPA's CUDA kernels but not the CPU one; count it the same way (backward as
# four products, the convention models/flops.py uses).
CPU_ATTENTION = {aten._scaled_dot_product_flash_attention_for_cpu: _attention,
                 aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward}


def counter() -> FlopCounterMode:
    return FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION)


def _cfg(base: str, *overrides: str):
    """The tiny preset, or "micro" (conftest's), with overrides."""
    micro = micro_overrides() if base == "micro" else []
    return load_config("tiny", [*micro, *overrides])


def _measured_training(cfg, static: bool) -> tuple[float, float]:
    """FlopCounterMode of one clip's forward + backward in the gathered or the static form
    of L_MAR, and the masked tokens per frame."""
    model, _ = build_model(cfg)
    c, h, w = model.latent_shape
    frames = cfg.data.frames
    latents = torch.randn(1, frames, c, h, w)
    rnd = draw_randomness(model, 1, frames, cfg.loss, torch.Generator().manual_seed(0))
    with counter() as count:
        TrainingObjective(model, cfg.loss, static_shapes=static)(latents, rnd)["loss"].backward()
    return count.get_total_flops(), float(rnd.total_masked) / cfg.loss.head_repeat / frames


TRAINING_CASES = [
    ("tiny",),
    ("micro",),
    ("micro", "model.canvas=false", "model.canvas_layers=0"),
    ("micro", "model.temporal_patch=2"),
    ("micro", "model.motion_input=true", "model.temporal_patch=2"),  # a second input embedding
    ("micro", "loss.head_repeat=2", "model.expert_norm=false", "model.mlp_ratio=2.5"),
    ("micro", "loss.mar_weight=0"),  # the canvas path alone: no Spatial MAR, no head
    ("micro", "model.residual=true", "model.warp=2"),  # the shift logits (models/warp.py)
    ("micro", "model.residual=true", "model.reveal_change=true"),  # the change embedding
    ("micro", "data.frames=6", "data.resolution=24", "loss.mask_ratio_min=0.5"),
    # next-group models (App. B): the Canvas ViT per group, K canvas heads, temporal attention
    ("micro", "model.group=2"),
    ("micro", "model.group=2", "model.spatial_layers=5", "model.canvas=false",
     "model.canvas_layers=0"),
]


@pytest.mark.parametrize("case", TRAINING_CASES, ids=lambda c: " ".join(c))
def test_training_flops_match_the_flop_counter(case, one_thread):
    cfg = _cfg(*case)
    shape, frames = flops.pixel_latent_shape(cfg), cfg.data.frames
    measured, masked = _measured_training(cfg, static=False)  # eager on the CPU
    exact = flops.training_flops(cfg.model, cfg.loss, shape, frames, False, masked)
    assert exact == pytest.approx(measured, rel=1e-9)  # every matmul, given this mask
    expected = flops.run_training_flops(cfg, "cpu")  # the expected mask: what MFU uses
    assert abs(expected / measured - 1) < 0.05
    measured, _ = _measured_training(cfg, static=True)  # the form a GPU runs
    assert flops.run_training_flops(cfg, "cuda") == pytest.approx(measured, rel=1e-9)


def test_expected_masked_count_is_the_mean_of_the_masks():
    g = torch.Generator().manual_seed(0)
    for n, low, std in ((64, 0.7, 0.25), (16, 0.5, 0.25), (256, 0.7, 0.1)):
        counts = random_masks(sample_mask_ratios((20_000,), low, std, g), n, g).sum(-1)
        assert flops.expected_masked(n, low, std) == pytest.approx(counts.double().mean().item(),
                                                                   rel=0.01)


def test_guidance_passes_are_the_samplers():
    for canvas in (True, False):
        for w_s in (0.0, 1.0, 1.5, 2.25):
            for w_t in (0.0, 1.0, 1.2, 1.5):
                assert flops.guidance_passes(w_s, w_t, canvas) == len(
                    guidance_weights(w_s, w_t, canvas))


SAMPLING_CASES = [  # (config overrides, sample settings, context, frames, window)
    ((), {}, 2, 3, 4),
    ((), {"steps": 2, "cfg_canvas": 1.5, "cfg_temporal": 1.2}, 1, 5, 3),  # sliding window
    ((), {"steps": 1, "cfg_canvas": 1.0, "cfg_temporal": 1.2}, 2, 2, 0),
    (("model.canvas=false", "model.canvas_layers=0", "model.temporal_patch=2"),
     {"steps": 3, "cfg_temporal": 1.5}, 2, 3, 4),
    # next-2: groups against a sliding window (2 frames appended per step), a partial last group
    (("model.group=2",), {"steps": 2, "cfg_canvas": 1.5, "cfg_temporal": 1.2}, 1, 7, 3),
    (("model.group=2", "model.spatial_layers=4"), {}, 2, 4, 0),
    (("model.motion_input=true",), {"steps": 2}, 2, 3, 3),
    (("model.residual=true", "model.warp=1"), {"steps": 2, "cfg_canvas": 1.5}, 2, 3, 3),
    (("model.residual=true", "model.reveal_change=true"), {"steps": 2, "cfg_canvas": 1.5}, 2, 3, 0),
]


@pytest.mark.parametrize("overrides,settings,context,frames,window", SAMPLING_CASES)
def test_sampling_flops_match_the_flop_counter(overrides, settings, context, frames, window,
                                               one_thread):
    cfg = _cfg("micro", *overrides)
    opts = dataclasses.replace(cfg.sample, flow_steps=3, window=window, **settings)
    model = build_model(cfg)[0].eval()
    c, h, w = model.latent_shape
    with counter() as count:
        list(rollout(model, torch.randn(2, context, c, h, w), frames, opts,
                     torch.Generator().manual_seed(0)))
    analytic = flops.rollout_flops(cfg.model, model.latent_shape, opts, context, frames,
                                   window or None, batch=2)
    assert analytic == pytest.approx(count.get_total_flops(), rel=1e-9)


def test_tiny_presets_flops_per_frame_and_clip():
    cfg = load_config("tiny")
    shape = flops.pixel_latent_shape(cfg)
    frame = flops.frame_flops(cfg.model, shape, cfg.sample, cached_frames=cfg.data.frames)
    assert 5e9 < frame < 7e9 and 20e9 < flops.run_training_flops(cfg, "cpu") < 25e9


def test_peak_is_measured_once_and_kept_at_its_best(monkeypatch):
    from canvasmar import peak

    monkeypatch.setattr(peak, "_CACHE", {})
    readings = iter([2e9, 1e9, 3e9])
    monkeypatch.setattr(peak, "measure_peak", lambda device, dtype: next(readings))
    assert peak.matmul_peak("cpu") == 2e9 == peak.matmul_peak("cpu")  # cached
    assert peak.matmul_peak("cpu", remeasure=True) == 2e9  # a low reading does not win
    assert peak.matmul_peak("cpu", remeasure=True) == 3e9
    assert peak.precision_dtype("bf16") == torch.bfloat16


def test_a_real_peak_is_a_plausible_rate():
    from canvasmar.peak import measure_peak

    assert 1e9 < measure_peak("cpu", size=256) < 1e14


def test_the_peak_matmul_shrinks_where_one_would_be_slow(monkeypatch):
    """bf16 on a CPU without bf16 units runs matmuls at ~1 GFLOP/s: a 2048^3 one took ~20 s,
    so a bf16 run's peak measurement cost minutes (session 26). The size adapts to the time."""
    from canvasmar import peak

    cpu = torch.device("cpu")
    monkeypatch.setattr(peak, "ONE_MATMUL_S", 1e-12)  # nothing is fast enough: the probe size
    assert peak.affordable_size(cpu, torch.float32, 2048) == 256
    monkeypatch.setattr(peak, "ONE_MATMUL_S", 1e9)  # everything is: the largest
    assert peak.affordable_size(cpu, torch.float32, 2048) == 2048
    assert peak.affordable_size(cpu, torch.float32, 128) == 128  # never above the largest


def test_step_clock_rows_carry_tflops_and_mfu():
    from canvasmar.train.trainer import StepClock

    clock = StepClock(4, torch.device("cpu"), flops_per_clip=1e9, peak_flops=1e10)
    clock.last -= 1.0  # a one-second step
    row = clock.lap()
    assert row["tflops_per_s"] == pytest.approx(4e-3, rel=0.01)
    assert row["mfu"] == pytest.approx(0.4, rel=0.01)
    assert "mfu" not in StepClock(4, torch.device("cpu")).lap()  # a task without FLOPs


def test_training_logs_mfu_and_shows_it(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "tiny", *micro_overrides(), "train.steps=2", "train.batch_size=2",
            "train.eval_every=100", "train.eval_clips=1", "train.tensorboard=false",
            "--out", str(run)]
    assert main(args) == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert len(steps) == 2 and all(r["tflops_per_s"] > 0 and 0 < r["mfu"] for r in steps)
    assert "MFU=" in capsys.readouterr().err


def test_bench_train_reports_mfu(tmp_path, capsys):
    out = tmp_path / "train-speed"
    assert main(["bench", "--train", "tiny", "--batches", "1,2", "--timed-steps", "1",
                 "--warmup-steps", "0", "--out", str(out), *micro_overrides()]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert [(r["batch"], r["loader"]) for r in result["table"]] == [
        (1, "excluded"), (1, "included"), (2, "excluded"), (2, "included")]
    cfg = load_config("tiny", micro_overrides())
    per_clip = flops.run_training_flops(cfg, "cpu")
    assert result["model"]["gflop_per_clip"] * 1e9 == pytest.approx(per_clip)
    assert all(r["clips_per_s"] > 0 and r["mfu"] > 0 and r["tflops_per_s"] > 0
               for r in result["table"])
    assert "| MFU |" in out.with_suffix(".md").read_text() and "MFU" in capsys.readouterr().out
    assert main(["bench", "--train", "--out", str(tmp_path / "x")]) == 2
    assert "needs a config" in capsys.readouterr().err
    assert main(["bench", "--train", "tiny", "--precisions", "fp16"]) == 2
    assert "--precisions" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path / "y")]) == 2  # sampling needs a checkpoint
    assert "--checkpoint" in capsys.readouterr().err
    for flag in (["--dtype", "bfloat16"], ["--compile", "default"]):  # not silently ignored
        assert main(["bench", "--train", "tiny", *flag]) == 2
        assert "are for a sampling bench" in capsys.readouterr().err


def test_sampling_bench_reports_flops_and_mfu(micro_pipe):
    from canvasmar.bench import run_bench, to_markdown

    result = run_bench(micro_pipe, [2], [2], frames=2, rollout=2)
    cfg = micro_pipe.cfg
    opts = micro_pipe.options(steps=2, cfg_canvas=1.0, cfg_temporal=1.0)
    shape = micro_pipe.model.latent_shape
    # frames 1 and 2 of a rollout from 2 context frames: caches of BOS + 3 and BOS + 4 frames,
    # kept to the window of data.frames = 4
    assert opts.window == cfg.data.frames == 4
    per_frame = [flops.frame_flops(cfg.model, shape, opts, cached, batch=2) for cached in (4, 4)]
    plain = result["table"][0]
    assert plain["guidance"] == "none"
    assert plain["gflop_per_frame"] * 1e9 == pytest.approx(sum(per_frame) / 2)
    assert result["table"][1]["gflop_per_frame"] > plain["gflop_per_frame"]  # 3 passes
    assert all(row["mfu"] > 0 and row["tflops_per_s"] > 0 for row in result["table"])
    assert "| MFU |" in to_markdown(result)


def test_own_history_flops_are_the_draws_matmuls(one_thread):
    """loss.own_history adds its forward-only draw of frames 1..T-1 (keep_unchanged 0: every
    head row integrated) to the objective's count: the FlopCounter's difference, exactly."""
    cfg = _cfg("micro", "sample.keep_unchanged=0", "sample.steps=2", "sample.cfg_canvas=1.5")
    own = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, own_history=0.5))
    model, _ = build_model(cfg)
    c, h, w = model.latent_shape
    latents = torch.randn(1, cfg.data.frames, c, h, w)
    counts = []
    for run in (cfg, own):
        rnd = draw_randomness(model, 1, cfg.data.frames, run.loss,
                              torch.Generator().manual_seed(0))
        with counter() as count:
            TrainingObjective(model, run.loss, static_shapes=False, sample=run.sample)(
                latents, rnd)["loss"].backward()
        counts.append(count.get_total_flops())
    added = flops.own_history_flops(cfg.model, model.latent_shape, cfg.data.frames, cfg.sample)
    assert counts[1] - counts[0] == pytest.approx(added, rel=1e-9)
    assert flops.run_training_flops(own, "cpu") - flops.run_training_flops(cfg, "cpu") == \
        pytest.approx(added, rel=1e-9)
