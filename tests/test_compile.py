"""The training objective compiles to one graph (issue: training at the speed a GPU allows).

`torch.compile(fullgraph=True)` raises on a graph break (anything Dynamo cannot trace, a
branch on a tensor's value). It does not raise on a data-dependent shape or a host read: under
fullgraph, Dynamo captures a boolean-mask index (`nonzero`) or `.item()` / `int(tensor)` as an
"unbacked" symbolic size instead of breaking the graph. Those are host-device syncs on a GPU
and shapes CUDA graphs cannot replay, so the backend here also refuses any symbolic size in the
captured graph (`dynamic=False`: every shape must be a constant). So a sync or a data-dependent
shape added to the training step later fails here, on the CPU, in CI. The backend then runs
"aot_eager": AOTAutograd's joint forward-backward graph, as inductor gets it, without inductor's
C++ compile time. Recompiling on a new step's draws (another masked count) is refused too.

The objective is compiled with `static_shapes=True`, the form every accelerator runs by
default; on the CPU, training gathers the masked tokens instead (cheaper there, and nothing to
sync with: losses.py), a form that is data-dependent by design and compared here as the
reference values.
"""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import pytest
import torch
import torch.utils._pytree as pytree
from torch.fx.experimental.symbolic_shapes import free_symbols

from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model


class StaticAotEager:
    """A torch.compile backend: checks that the captured graph's values all have constant
    shapes (no data-dependent size, no host read), then compiles it with aot_eager."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs):
        for node in gm.graph.nodes:
            for value in pytree.tree_leaves(node.meta.get("example_value")):
                if isinstance(value, torch.Tensor | torch.SymInt | torch.SymFloat |
                              torch.SymBool):
                    assert not free_symbols(value), (
                        f"data-dependent {value!r} in the compiled training step (a host sync "
                        f"on a GPU): {node.format_node()}\n{node.meta.get('stack_trace', '')}")
        self.graphs += 1
        return torch._dynamo.lookup_backend("aot_eager")(gm, example_inputs)


def _setup(cfg):
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    with torch.no_grad():  # move off the zero-initialised head so every part has a gradient
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    latents = tok.encode(torch.rand(2, cfg.data.frames, 3, 16, 16))
    # static_shapes: the objective as an accelerator runs it (the CPU's own default gathers)
    return model, TrainingObjective(model, cfg.loss, static_shapes=True), latents


def _losses_and_grads(objective, model, latents, rnd):
    model.zero_grad(set_to_none=True)
    out = objective(latents, rnd)
    out["loss"].backward()
    return ({k: v.detach() for k, v in out.items()},
            {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})


@pytest.mark.parametrize("canvas,group,warp,rope", [
    (True, 1, 0, False), (False, 1, 0, False), (True, 2, 0, False),
    (True, 1, 1, False),  # warp: models/warp.py
    (True, 2, 0, True)])  # model.spatial_rope with next-2's group attention (nn/rope.py)
def test_training_objective_compiles_fullgraph_without_recompiles(micro_cfg, one_thread,
                                                                  canvas, group, warp, rope):
    cfg = replace(micro_cfg, model=replace(micro_cfg.model, canvas=canvas, group=group,
                                           warp=warp, residual=bool(warp), spatial_rope=rope))
    model, objective, latents = _setup(cfg)
    torch._dynamo.reset()
    backend = StaticAotEager()
    compiled = torch.compile(objective, backend=backend, fullgraph=True, dynamic=False)
    with mock.patch.object(torch._dynamo.config, "error_on_recompile", True):
        for seed in (1, 2):  # two steps' draws: other masks, other masked counts
            rnd = draw_randomness(model, 2, cfg.data.frames, cfg.loss,
                                  torch.Generator().manual_seed(seed))
            got, got_grads = _losses_and_grads(compiled, model, latents, rnd)
            # the compiled objective gives the eager (gathering) one's values
            want, want_grads = _losses_and_grads(TrainingObjective(model, cfg.loss), model,
                                                 latents, rnd)
            assert got.keys() == want.keys() and got_grads.keys() == want_grads.keys()
            for key in want:
                torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-6)
            for name in want_grads:
                torch.testing.assert_close(got_grads[name], want_grads[name], rtol=1e-4,
                                           atol=1e-6, msg=name)
    assert backend.graphs == 1  # the whole objective, once
    torch._dynamo.reset()


def test_compile_mode_is_checked_and_reaches_torch_compile(micro_cfg):
    from canvasmar.config import load_config
    from canvasmar.errors import UserError
    from canvasmar.nn.blocks import Block
    from canvasmar.train import dist

    with pytest.raises(UserError, match="train.compile_mode='fast'"):
        load_config("tiny", ["train.compile_mode=fast"])
    tc = replace(micro_cfg.train, compile=True, compile_mode="max-autotune-no-cudagraphs")
    module = torch.nn.Linear(2, 2)
    with mock.patch.object(torch, "compile", side_effect=lambda m, **kw: (m, kw)) as compile_:
        dist.wrap_for_training(module, tc.validate(), dist.DistContext(), Block)
    compile_.assert_called_once_with(module, mode="max-autotune-no-cudagraphs")
