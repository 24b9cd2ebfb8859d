"""nn/recompute.py: selective recomputation changes what backward keeps, not what it computes.

The recomputing Functions (the default with grad on) against plain autograd
(`recompute.plain_autograd()`, the modules as they were): forward values bitwise equal, every
gradient equal to 1e-6 relative in float32 and to bf16 rounding under autocast. (On torch
2.13's CPU they are bitwise equal too: backward replays autograd's own kernels in its order;
the tolerances leave room for another release's kernels.) What they keep is in
tests/test_activation_memory.py, their matmuls in tests/test_flops.py (the same count),
their compiled form in tests/test_compile.py.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from canvasmar.config import load_config
from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model
from canvasmar.models.flow_head import FlowHead
from canvasmar.nn import recompute
from canvasmar.nn.blocks import Block, ExpertLayerNorm
from tests.conftest import micro_overrides


def _assert_close(got: torch.Tensor, want: torch.Tensor, rel: float, name: str) -> None:
    """Largest difference within `rel` of the tensor's largest magnitude."""
    err = (got - want).abs().max().item()
    assert err <= rel * want.abs().max().item(), f"{name}: off by {err:.3g}"


def _forward_backward(fn, inputs, params, plain: bool, bf16: bool):
    """fn(*inputs) and the gradients of a fixed random projection of it."""
    for p in params.values():
        p.grad = None
    inputs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    with (recompute.plain_autograd() if plain else contextlib.nullcontext(),
          torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)):
        out = fn(*inputs)
    out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(1)))
    grads = {n: p.grad for n, p in params.items() if p.grad is not None}
    grads |= {f"input {i}": x.grad for i, x in enumerate(inputs) if x.grad is not None}
    return out.detach(), grads


def _compare(fn, inputs, params, bf16: bool) -> None:
    want, want_grads = _forward_backward(fn, inputs, params, plain=True, bf16=bf16)
    got, got_grads = _forward_backward(fn, inputs, params, plain=False, bf16=bf16)
    assert torch.equal(got, want)  # the forward is the plain one, bit for bit
    assert got_grads.keys() == want_grads.keys() and len(want_grads) > 2
    for name, grad in want_grads.items():
        _assert_close(got_grads[name], grad, 1e-2 if bf16 else 1e-6, name)


def _perturbed(module: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():  # off the zero-initialised gates and outputs
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return module


@pytest.mark.parametrize("bf16", [False, True])
def test_blocks_norms_and_head_give_the_plain_values_and_gradients(one_thread, bf16):
    x = torch.randn(2, 6, 16)
    block = _perturbed(Block(16, 2, norm_experts=3))
    params = dict(block.named_parameters())
    for token_type in (torch.randint(0, 3, (2, 6)), torch.randint(0, 3, (6,))):
        _compare(lambda x, t=token_type: block(x, token_type=t), [x], params, bf16)
    plain_block = _perturbed(Block(16, 2))
    _compare(plain_block, [x], dict(plain_block.named_parameters()), bf16)
    norm = _perturbed(ExpertLayerNorm(16, 3))
    _compare(lambda x: norm(x, torch.randint(0, 3, (6,), generator=torch.Generator()
                                             .manual_seed(2))), [x], dict(norm.named_parameters()),
             bf16)
    head = _perturbed(FlowHead(token_dim=4, cond_dim=16, width=24, layers=2))
    # training's form: one condition (F, n, D) broadcast over k repeats (k, F, n, C)
    _compare(head, [torch.randn(3, 2, 5, 4), torch.rand(3, 2, 5), torch.randn(2, 5, 16)],
             dict(head.named_parameters()), bf16)


@pytest.mark.parametrize("overrides", [[], ["model.group=2"],
                                       ["model.canvas=false", "model.expert_norm=false"],
                                       ["model.residual=true", "model.actions=3"]])
@pytest.mark.parametrize("static,bf16", [(True, False), (False, False), (True, True)])
def test_training_objective_gradients_are_the_plain_ones(one_thread, overrides, static, bf16):
    """The whole objective on a micro config: the losses bitwise, every weight's gradient."""
    cfg = load_config("tiny", [*micro_overrides(), *overrides])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    _perturbed(model)
    latents = tok.encode(torch.rand(2, cfg.data.frames, 3, 16, 16))
    rnd = draw_randomness(model, 2, cfg.data.frames, cfg.loss, torch.Generator().manual_seed(1))
    actions = (torch.randint(0, 3, (2, cfg.data.frames - 1), generator=torch.Generator()
                             .manual_seed(3)) if cfg.model.actions else None)
    objective = TrainingObjective(model, cfg.loss, static_shapes=static)
    _compare(lambda: objective(latents, rnd, actions)["loss"], [],
             dict(model.named_parameters()), bf16)


def test_sampling_and_plain_autograd_run_the_plain_modules():
    assert recompute.active()
    with torch.no_grad():
        assert not recompute.active()  # sampling: nothing is kept, so nothing to recompute
    with recompute.plain_autograd():
        assert not recompute.active()
    assert recompute.active()


@pytest.mark.parametrize("input_grad", [True, False])
def test_the_matmuls_are_the_plain_ones(one_thread, input_grad):
    """No matmul runs twice, none is skipped: forward + backward FLOPs as plain autograd's,
    with and without a gradient for the input (a first layer's)."""
    from torch.utils.flop_counter import FlopCounterMode

    block, head = Block(16, 2, norm_experts=3), FlowHead(4, 16, 24, 2)
    x = torch.randn(2, 6, 16, requires_grad=input_grad)
    token_type = torch.randint(0, 3, (2, 6))

    def flops(plain: bool) -> int:
        with (recompute.plain_autograd() if plain else contextlib.nullcontext(),
              FlopCounterMode(display=False) as counter):
            z = block(x, token_type=token_type)
            head(torch.randn(3, 2, 6, 4), torch.rand(3, 2, 6), z).sum().backward()
        return counter.get_total_flops()

    assert flops(plain=False) == flops(plain=True) > 0
