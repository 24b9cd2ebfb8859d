"""One global batch, any split: shares of the loss, gradient accumulation, DDP and FSDP2
(2 real CPU processes on gloo) all give the one-process loss curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from canvasmar import losses
from canvasmar.cli import main
from canvasmar.models.factory import build_model
from tests.conftest import micro_overrides

RUN = [*micro_overrides(), "train.steps=3", "train.batch_size=4", "train.save_every=3",
       "train.eval_every=3", "train.eval_clips=2", "train.warmup_steps=1", "train.lr=3e-3",
       "train.tensorboard=false", "train.device=cpu"]


def _curve(run_dir) -> dict[int, dict[str, float]]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k: r[k] for k in ("loss", "mar", "canvas", "static")}
            for r in rows if "loss" in r}


def _assert_same_curve(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert sorted(a) == sorted(b)
    for step in a:
        for key, value in a[step].items():
            assert abs(value - b[step][key]) <= tol * max(1.0, abs(value)), (step, key, a, b)


def test_shares_of_a_global_batch_sum_to_its_loss_and_gradient(micro_cfg):
    model, tok = build_model(micro_cfg)
    latents = tok.encode(torch.rand(4, 4, 3, 16, 16))
    rnd = losses.draw_randomness(model, 4, 4, micro_cfg.loss, torch.Generator().manual_seed(3))
    whole = losses.training_losses(model, latents, micro_cfg.loss, randomness=rnd)
    whole["loss"].backward()
    grad_whole = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    parts = [losses.training_losses(model, latents[i:i + 1], micro_cfg.loss,
                                    randomness=rnd.clips(i, 1)) for i in range(4)]
    sum(p["loss"] for p in parts).backward()
    for key in whole:
        torch.testing.assert_close(sum(p[key] for p in parts), whole[key])
    grad_parts = [p.grad for p in model.parameters() if p.grad is not None]
    for a, b in zip(grad_whole, grad_parts, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def _torchrun(out, *extra: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "canvasmar.cli", "train", "tiny", "--out", str(out), "--no-progress",
           *RUN, "train.threads=1", *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_and_accumulation_equal_one_process(tmp_path):
    single, accum = tmp_path / "single", tmp_path / "accum"
    assert main(["train", "tiny", "--out", str(single), *RUN, "--no-progress",
                 "train.threads=1"]) == 0
    assert main(["train", "tiny", "--out", str(accum), *RUN, "--no-progress",
                 "train.threads=1", "train.grad_accum=2"]) == 0
    reference = _curve(single)
    assert len(reference) == 3
    _assert_same_curve(reference, _curve(accum))
    ddp, fsdp = tmp_path / "ddp", tmp_path / "fsdp"
    _torchrun(ddp)
    _assert_same_curve(reference, _curve(ddp))
    _torchrun(fsdp, "train.parallel=fsdp", "train.grad_accum=2")
    _assert_same_curve(reference, _curve(fsdp))
    # The checkpoints hold the same full (unsharded) weights. Adam divides by sqrt(v), so a
    # weight whose gradient is ~0 can move by ~lr on rounding noise alone: tolerance 1e-3.
    from safetensors.torch import load_file

    a = load_file(str(single / "checkpoints/step_00000003/model.safetensors"))
    for other in (ddp, fsdp):
        b = load_file(str(other / "checkpoints/step_00000003/model.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-3)


def test_batch_that_does_not_split_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "tiny", "--out", str(tmp_path / "r"), *RUN,
                 "train.grad_accum=3"]) == 2
    assert "multiple of train.grad_accum" in capsys.readouterr().err


def test_bf16_autocast_and_activation_checkpointing_train_and_save_plain_weights(tmp_path):
    out = tmp_path / "r"
    assert main(["train", "tiny", "--out", str(out), *RUN, "--no-progress", "train.steps=2",
                 "train.precision=bf16", "train.activation_checkpointing=true"]) == 0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["loss"] == r["loss"] for r in rows if "loss" in r)  # finite, not NaN
    from safetensors.torch import load_file

    from canvasmar.config import load_config
    from canvasmar.models.factory import build_model as build

    weights = load_file(str(out / "checkpoints/step_00000002/ema.safetensors"))
    assert all(v.dtype == torch.float32 for v in weights.values())  # bf16 only in compute
    model, _ = build(load_config("tiny", micro_overrides()))
    assert set(weights) == set(model.state_dict())  # no checkpoint-wrapper names leak out


@pytest.mark.slow
def test_torch_compile_gives_the_eager_losses(tmp_path):
    eager, compiled = tmp_path / "eager", tmp_path / "compiled"
    args = [*RUN, "--no-progress", "train.steps=2", "train.threads=1"]
    assert main(["train", "tiny", "--out", str(eager), *args]) == 0
    assert main(["train", "tiny", "--out", str(compiled), *args, "train.compile=true"]) == 0
    _assert_same_curve(_curve(eager), _curve(compiled), tol=1e-4)
