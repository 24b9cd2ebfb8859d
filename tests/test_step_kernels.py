"""Pipeline.compile (step_kernels.py; issue 14, sampling on GPUs): each MAR step's network
work through torch.compile gives the frames eager sampling gives, compiles during the first
frame only (the schedule fixes every step's shapes), and drops keep_unchanged's nonzero.
Dynamo runs here with a backend that counts graphs and runs them eagerly (inductor's C++
compile would take minutes on our CPUs; `mode` picks inductor's settings on a real run)."""

from __future__ import annotations

import pytest
import torch

from canvasmar.config import load_config
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline
from tests.conftest import micro_overrides
from tests.test_sampler_syncs import CountedOps


class CountingBackend:
    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs):
        self.graphs += 1
        return gm.forward


def _pipe(*extra: str) -> Pipeline:
    cfg = load_config("tiny", [*micro_overrides(), "sample.flow_steps=3", *extra])
    torch.manual_seed(0)
    model, tokenizer = build_model(cfg)
    return Pipeline(model.eval(), tokenizer, cfg)


def _frames(pipe: Pipeline, count: int, **options) -> list[torch.Tensor]:
    context = torch.rand(2, 2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    stream = pipe.stream(context, count, generator=torch.Generator().manual_seed(0), **options)
    return list(stream)


@pytest.mark.parametrize("extra,options,static_keep", [
    ([], {}, False),
    ([], {"cfg_canvas": 1.5, "cfg_temporal": 1.2}, False),
    ([], {"keep_unchanged": 0.05}, False),
    ([], {"keep_unchanged": 0.05}, True),
    (["model.group=2"], {}, False),
], ids=["plain", "guided", "keep_unchanged", "keep_unchanged-static", "next-2"])
def test_compiled_steps_draw_the_frames_eager_steps_draw(extra, options, static_keep,
                                                         one_thread):
    from canvasmar.step_kernels import step_kernels

    torch._dynamo.reset()
    options = {"steps": 4} | options
    pipe = _pipe(*extra)
    eager = _frames(pipe, 4, **options)
    backend = CountingBackend()
    pipe.kernels = step_kernels("default", backend, static_keep)
    compiled = _frames(pipe, 4, **options)
    assert backend.graphs >= 2  # the MAR pass and the head's ODE went through Dynamo
    for a, b in zip(eager, compiled, strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


def test_only_the_first_frame_compiles_and_keep_unchanged_reads_no_mask(one_thread):
    """As a GPU pipeline compiles (static_keep: no nonzero for keep_unchanged)."""
    from canvasmar.step_kernels import step_kernels

    torch._dynamo.reset()
    backend = CountingBackend()
    pipe = _pipe()
    pipe.kernels = step_kernels("default", backend, static_keep=True)
    context = torch.rand(1, 2, 3, 16, 16)
    stream = pipe.stream(context, 3, generator=torch.Generator().manual_seed(0), steps=4,
                         keep_unchanged=0.05)
    next(stream)
    after_first = backend.graphs
    with CountedOps() as ops:
        next(stream)
        next(stream)
    assert backend.graphs == after_first  # no recompile: the step shapes repeat every frame
    assert ops.syncs() == {}  # eager keep_unchanged reads one nonzero per MAR step


def test_an_unknown_mode_is_one_clear_error():
    with pytest.raises(UserError, match="compile mode 'fast'"):
        _pipe().compile("fast")
    assert _pipe().compile("off").kernels.compiled is False
    assert _pipe().compile("default").kernels.static_keep is False  # a CPU keeps its nonzero


def test_the_sampling_bench_times_compiled_steps_and_says_so(one_thread):
    from canvasmar.bench import run_bench, to_markdown

    torch._dynamo.reset()
    pipe = _pipe().compile("default", backend=CountingBackend())
    result = run_bench(pipe, [1], [2], frames=1, rollout=2)
    assert result["compile"] == "default" and result["machine"]["dtype"] == "float32"
    assert all(row["median_ms"] > 0 and row["mfu"] > 0 for row in result["table"])
    assert "MAR steps compiled: default" in to_markdown(result)


def test_a_backend_that_cannot_compile_is_one_clear_error(one_thread):
    """E.g. inductor on a CPU without a C++ compiler: it fails at the first frame."""
    def failing(gm, example_inputs):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")

    torch._dynamo.reset()
    pipe = _pipe().compile("default", backend=failing)
    with pytest.raises(UserError, match="--compile default: torch.compile could not compile"
                                        ".*No working C.. compiler.*--compile off"):
        _frames(pipe, 1)
