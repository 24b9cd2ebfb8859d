"""Issue 14, sampling on GPUs: a generated frame makes no host-device synchronisation. On a
GPU a `.item()`, a `nonzero`, a boolean-mask index or a `unique` waits for the device and
breaks CUDA graphs; here on the CPU the same ops are counted as they are dispatched, so one
added later fails this test. The one documented exception: `sample.keep_unchanged` > 0 picks
the tokens the flow head integrates with one `nonzero` per MAR step (sampler._head_draw)."""

from __future__ import annotations

import collections

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from canvasmar.config import load_config
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline
from tests.conftest import micro_overrides

# ops whose result size or value the host must read from the device
SYNCING = ("_local_scalar_dense", "nonzero", "masked_select", "_unique", "unique_dim",
           "unique_consecutive", "item", "is_nonzero", "equal")


class CountedOps(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))

    def syncs(self) -> dict[str, int]:
        return {op: n for op, n in self.counts.items() if op.startswith(SYNCING)}


def _pipe(*extra: str) -> Pipeline:
    cfg = load_config("tiny", [*micro_overrides(), "sample.flow_steps=2", *extra])
    torch.manual_seed(0)
    model, tokenizer = build_model(cfg)
    return Pipeline(model.eval(), tokenizer, cfg)


def _second_frame_ops(pipe: Pipeline, **options) -> CountedOps:
    """The ops of a rollout's second temporal step (the first also prefills the context; a
    next-K model makes K frames per step)."""
    group = pipe.model.group
    frames = pipe.stream(torch.rand(2, 2, 3, 16, 16), 2 * group, generator=torch.Generator()
                         .manual_seed(0), **options)
    for _ in range(group):
        next(frames)
    with CountedOps() as ops:
        next(frames)
    assert sum(ops.counts.values()) > 100  # the frame really ran under the counter
    return ops


@pytest.mark.parametrize("extra", [[], ["model.group=2"], ["model.actions=3"]],
                         ids=["next-1", "next-2", "actions"])
@pytest.mark.parametrize("guided", [False, True], ids=["plain", "guided"])
def test_a_generated_frame_makes_no_host_sync(extra, guided, one_thread):
    options = {"steps": 4, "keep_unchanged": 0.0}
    if guided:
        options |= {"cfg_canvas": 1.5, "cfg_temporal": 1.2}
    assert _second_frame_ops(_pipe(*extra), **options).syncs() == {}


def test_keep_unchanged_reads_one_mask_per_mar_step(one_thread):
    ops = _second_frame_ops(_pipe(), steps=4, keep_unchanged=0.1)
    assert ops.syncs() == {"nonzero": 4}


def test_host_draws_reach_a_gpu_through_pinned_memory(monkeypatch):
    """A copy from pageable host memory to a GPU waits for the stream (CUDA's rule): the CPU
    generator's noise, copied each MAR step, made the host wait for every queued kernel.
    augment.to_device pins it and copies with non_blocking=True; on the CPU it is a plain .to.
    (No GPU here: the two torch calls are recorded instead of run.)"""
    from canvasmar.augment import to_device

    calls = []
    real_to = torch.Tensor.to

    def pin(self):
        calls.append("pin")
        return self

    def fake_to(self, *args, **kwargs):
        target = args[0] if args and not isinstance(args[0], torch.dtype) else None
        if isinstance(target, torch.device) and target.type == "cuda":
            calls.append(("to cuda", kwargs.get("non_blocking", False)))
            return self  # stands for the GPU copy
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    monkeypatch.setattr(torch.Tensor, "to", fake_to)
    noise = torch.randn(3, 4)
    moved = to_device(noise, "cuda", torch.float16)
    assert calls == ["pin", ("to cuda", True)]
    assert moved.dtype == torch.float16 and torch.equal(moved, noise.half())
    calls.clear()
    assert to_device(noise, "cpu") is noise and calls == []


def test_the_gpu_sync_check_runs_its_cases(tmp_path, one_thread):
    """scripts/gpu_sync_check.py (run by scripts/gpu_check.sh on a GPU, where every
    synchronising op raises) runs all its rollouts; here on the CPU, unwatched."""
    import json

    from scripts.gpu_sync_check import main

    overrides = [arg for o in [*micro_overrides(), "sample.flow_steps=2"] for arg in ("--set", o)]
    out = tmp_path / "syncs.json"
    assert main([str(out), "--device", "cpu", "--dtype", "float32", *overrides]) == 0
    results = json.loads(out.read_text())
    assert len(results) == 9 and set(results.values()) == {"ok"}
