"""Selective recomputation: cheap elementwise work redone in backward instead of kept for it.

A pre-norm block's autograd keeps, per token, the norm's input, its normalised output, the
gathered per-token scale and the affine output (the next linear's input), the MLP's pre- and
post-activation (4 widths each), and attention's inputs. Only some of these cost a matmul to
make again. The autograd Functions here keep the inputs of each norm (and the MLP's
pre-activation, a matmul output) and redo the norm, affine and activation in backward:

- `norm_linear`: LN (expert affine) + the linear after it (attention's qkv): keeps x;
- `norm_mlp`: LN (expert affine) + fc1 + GELU + fc2: keeps x and fc1's output;
- `affine_norm`: a lone expert LN (a stack's final norm): keeps x;
- the flow head (models/flow_head.py): `modulated_mlp` (a residual AdaLN block: keeps x, the
  modulations, fc1's and fc2's outputs), `modulated_linear` (its output layer: keeps x and
  the modulations), `silu_linear` (each AdaLN projection: keeps the condition, one tensor for
  all of them), `silu_mlp` (the time embedding: keeps fc1's output).

Not activation checkpointing: no matmul runs twice (FLOPs counted by FlopCounterMode are the
plain model's, tests/test_flops.py). Forward runs the plain modules' ops in their order and
dtypes (under autocast too), so its values are bitwise the plain ones; backward records the
dtypes autocast chose, runs the same matmuls as autograd's addmm backward and torch's own
backward kernels (`native_layer_norm_backward`, `gelu_backward`, `silu_backward`) in
autograd's order, so the gradients are bitwise the plain ones on our CPU, fp32 and bf16
autocast alike (tests/test_recompute.py holds them to 1e-6 relative in fp32).
`plain_autograd()` turns it off (the tests' reference); without grad (sampling) the plain
modules run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

_ENABLED = [True]


def active() -> bool:
    """Whether modules take the recomputing Functions (grad on and not `plain_autograd`)."""
    return _ENABLED[0] and torch.is_grad_enabled()


@contextmanager
def plain_autograd() -> Iterator[None]:
    """Let autograd keep every activation as the plain modules do (the reference form)."""
    before = _ENABLED[0]
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = before


def _sum_to(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A gradient reduced over broadcast dimensions and cast to the input's dtype (what the
    autograd engine does with a broadcast, type-promoted input)."""
    return grad.sum_to_size(like.shape).to(like.dtype)


def linear_backward(grad: torch.Tensor, inp: torch.Tensor, weight: torch.Tensor,
                    needs: tuple[bool, bool, bool]
                    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Gradients of `F.linear(inp, weight, bias)` (input, weight, bias; None where `needs` says
    not) as autograd's addmm backward makes them: matmuls in the output's dtype (autocast's),
    results cast back to the input's and the parameters' dtypes."""
    dtype = grad.dtype
    g = grad.reshape(-1, grad.shape[-1])
    d_inp = d_weight = d_bias = None
    if needs[0]:
        d_inp = g.mm(weight.to(dtype)).view(*inp.shape[:-1], -1).to(inp.dtype)
    if needs[1]:
        d_weight = g.t().mm(inp.reshape(-1, inp.shape[-1]).to(dtype)).to(weight.dtype)
    if needs[2]:
        d_bias = g.sum(0).to(weight.dtype)  # the bias's dtype: modules keep them alike
    return d_inp, d_weight, d_bias


def _norm(x: torch.Tensor, ctx, weight=None, bias=None):
    """The forward's LayerNorm again, on x cast as autocast cast it: (that x, the norm's
    output, mean, rstd)."""
    x_in = x.to(ctx.norm_dtype)  # autocast's cast before the norm, if it made one
    normed, mean, rstd = torch.ops.aten.native_layer_norm(x_in, [x.shape[-1]], weight, bias,
                                                          ctx.eps)
    return x_in, normed, mean, rstd


def _norm_backward(grad, recomputed, weight=None, bias=None):
    """torch's LayerNorm backward kernel (input, weight, bias), on the recomputed statistics."""
    x_in, normed, mean, rstd = recomputed
    mask = [True, weight is not None, bias is not None]
    return torch.ops.aten.native_layer_norm_backward(
        _sum_to(grad, normed), x_in, [x_in.shape[-1]], mean, rstd, weight, bias, mask)


def _gather(param: torch.Tensor, token_type: torch.Tensor | None) -> torch.Tensor:
    return param[0] if token_type is None else param[token_type]


def _gather_backward(grad: torch.Tensor, param: torch.Tensor,
                     token_type: torch.Tensor | None) -> torch.Tensor:
    """The gradient of `param[token_type]` (`param[0]` without types) back on param's rows."""
    if token_type is None:
        row = grad.sum_to_size(param.shape[1:]).to(param.dtype)
        return torch.cat([row[None], torch.zeros_like(param[1:])])
    grad = grad.sum_to_size(*token_type.shape, param.shape[-1]).to(param.dtype)
    return torch.index_put(torch.zeros_like(param), (token_type,), grad, accumulate=True)


def _affine_norm(x, token_type, weight, bias, eps):
    """ExpertLayerNorm's forward: affine-free LN, then the per-token (scale, shift)."""
    normed = F.layer_norm(x, x.shape[-1:], eps=eps)
    return normed * _gather(weight, token_type) + _gather(bias, token_type), normed


def _affine_norm_again(ctx, x, token_type, weight, bias):
    """`_affine_norm` in backward: its output and what `_affine_norm_backward` needs."""
    recomputed = _norm(x, ctx)
    return recomputed[1] * _gather(weight, token_type) + _gather(bias, token_type), recomputed


def _affine_norm_backward(grad, recomputed, x, token_type, weight, bias):
    """Gradients (x, weight, bias) of `_affine_norm`."""
    normed = recomputed[1]
    d_normed = grad * _gather(weight, token_type)
    d_weight = _gather_backward(grad * normed, weight, token_type)
    d_bias = _gather_backward(grad, bias, token_type)
    return _norm_backward(d_normed, recomputed)[0].to(x.dtype), d_weight, d_bias


class _AffineNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, token_type, weight, bias, eps):
        out, normed = _affine_norm(x, token_type, weight, bias, eps)
        ctx.eps, ctx.norm_dtype = eps, normed.dtype
        ctx.save_for_backward(x, token_type, weight, bias)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, token_type, weight, bias = ctx.saved_tensors
        recomputed = _norm(x, ctx)
        d_x, d_w, d_b = _affine_norm_backward(grad, recomputed, x, token_type, weight, bias)
        return d_x, None, d_w, d_b, None


class _NormLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, token_type, norm_w, norm_b, eps, weight, bias):
        normed_affine, normed = _affine_norm(x, token_type, norm_w, norm_b, eps)
        ctx.eps, ctx.norm_dtype = eps, normed.dtype
        ctx.save_for_backward(x, token_type, norm_w, norm_b, weight)
        return F.linear(normed_affine, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, token_type, norm_w, norm_b, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        upstream = needs[0] or needs[2] or needs[3]  # as autograd: no matmul nobody needs
        y, recomputed = _affine_norm_again(ctx, x, token_type, norm_w, norm_b)
        d_y, d_weight, d_bias = linear_backward(grad, y, weight, (upstream, *needs[5:]))
        if not upstream:
            return None, None, None, None, None, d_weight, d_bias
        d_x, d_nw, d_nb = _affine_norm_backward(d_y, recomputed, x, token_type, norm_w, norm_b)
        return d_x, None, d_nw, d_nb, None, d_weight, d_bias


class _NormMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, token_type, norm_w, norm_b, eps, w1, b1, w2, b2):
        normed_affine, normed = _affine_norm(x, token_type, norm_w, norm_b, eps)
        hidden = F.linear(normed_affine, w1, b1)
        ctx.eps, ctx.norm_dtype = eps, normed.dtype
        ctx.save_for_backward(x, token_type, norm_w, norm_b, w1, w2, hidden)
        return F.linear(F.gelu(hidden, approximate="tanh"), w2, b2)

    @staticmethod
    def backward(ctx, grad):
        x, token_type, norm_w, norm_b, w1, w2, hidden = ctx.saved_tensors
        needs = ctx.needs_input_grad
        act = F.gelu(hidden, approximate="tanh")
        d_act, d_w2, d_b2 = linear_backward(grad, act, w2, (True, *needs[7:]))
        d_hidden = torch.ops.aten.gelu_backward(d_act, hidden, approximate="tanh")
        upstream = needs[0] or needs[2] or needs[3]
        y, recomputed = _affine_norm_again(ctx, x, token_type, norm_w, norm_b)
        d_y, d_w1, d_b1 = linear_backward(d_hidden, y, w1, (upstream, *needs[5:7]))
        if not upstream:
            return None, None, None, None, None, d_w1, d_b1, d_w2, d_b2
        d_x, d_nw, d_nb = _affine_norm_backward(d_y, recomputed, x, token_type, norm_w, norm_b)
        return d_x, None, d_nw, d_nb, None, d_w1, d_b1, d_w2, d_b2


def affine_norm(x: torch.Tensor, token_type: torch.Tensor | None, weight: torch.Tensor,
                bias: torch.Tensor, eps: float) -> torch.Tensor:
    """LN(x) * weight[token_type] + bias[token_type] (row 0 without types), keeping only x."""
    return _AffineNorm.apply(x, token_type, weight, bias, eps)


def norm_linear(x: torch.Tensor, token_type: torch.Tensor | None, norm, linear) -> torch.Tensor:
    """`linear(norm(x, token_type))` for an ExpertLayerNorm `norm`, keeping only x."""
    return _NormLinear.apply(x, token_type, norm.weight, norm.bias, norm.eps, linear.weight,
                             linear.bias)


def norm_mlp(x: torch.Tensor, token_type: torch.Tensor | None, norm, fc1, fc2) -> torch.Tensor:
    """`fc2(gelu_tanh(fc1(norm(x, token_type))))`, keeping x and fc1's output."""
    return _NormMLP.apply(x, token_type, norm.weight, norm.bias, norm.eps, fc1.weight, fc1.bias,
                          fc2.weight, fc2.bias)


def _modulated(x, ctx, ln_w, ln_b, shift, scale):
    """The flow head's AdaLN input `LN(x) * (1 + scale) + shift` again in backward: (m, the
    product before the shift, the recomputed norm)."""
    recomputed = _norm(x, ctx, ln_w, ln_b)
    product = recomputed[1] * (1 + scale)
    return product + shift, product, recomputed


def _modulated_backward(d_m, product, recomputed, shift, scale):
    """Gradients (normed, shift, scale) of `_modulated`'s m."""
    normed = recomputed[1]
    d_product = _sum_to(d_m, product)
    return (_sum_to(d_product * (1 + scale), normed), _sum_to(d_m, shift),
            _sum_to(d_product * normed, scale))


class _ModulatedMLP(torch.autograd.Function):
    """x + gate * fc2(silu(fc1(LN(x) * (1 + scale) + shift))), keeping x, the modulations,
    fc1's and fc2's outputs."""

    @staticmethod
    def forward(ctx, x, ln_w, ln_b, eps, shift, scale, gate, w1, b1, w2, b2):
        normed = F.layer_norm(x, x.shape[-1:], ln_w, ln_b, eps)
        hidden = F.linear(normed * (1 + scale) + shift, w1, b1)
        out = F.linear(F.silu(hidden), w2, b2)
        gated = gate * out
        ctx.eps, ctx.norm_dtype, ctx.gated = eps, normed.dtype, (gated.dtype, gated.shape)
        ctx.save_for_backward(x, ln_w, ln_b, shift, scale, gate, w1, w2, hidden, out)
        return x + gated

    @staticmethod
    def backward(ctx, grad):
        x, ln_w, ln_b, shift, scale, gate, w1, w2, hidden, out = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_gated = grad.sum_to_size(ctx.gated[1]).to(ctx.gated[0])
        d_gate, d_out = _sum_to(d_gated * out, gate), _sum_to(d_gated * gate, out)
        d_act, d_w2, d_b2 = linear_backward(d_out, F.silu(hidden), w2, (True, *needs[9:]))
        d_hidden = torch.ops.aten.silu_backward(d_act, hidden)
        m, product, recomputed = _modulated(x, ctx, ln_w, ln_b, shift, scale)
        d_m, d_w1, d_b1 = linear_backward(d_hidden, m, w1, (True, *needs[7:9]))
        d_normed, d_shift, d_scale = _modulated_backward(d_m, product, recomputed, shift, scale)
        d_x, d_ln_w, d_ln_b = _norm_backward(d_normed, recomputed, ln_w, ln_b)
        d_x = _sum_to(grad, x) + d_x.to(x.dtype)
        return (d_x, d_ln_w, d_ln_b, None, d_shift, d_scale, d_gate, d_w1, d_b1, d_w2, d_b2)


class _ModulatedLinear(torch.autograd.Function):
    """linear(LN(x) * (1 + scale) + shift) (LN without affine), keeping x and the
    modulations."""

    @staticmethod
    def forward(ctx, x, eps, shift, scale, weight, bias):
        normed = F.layer_norm(x, x.shape[-1:], eps=eps)
        ctx.eps, ctx.norm_dtype = eps, normed.dtype
        ctx.save_for_backward(x, shift, scale, weight)
        return F.linear(normed * (1 + scale) + shift, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, shift, scale, weight = ctx.saved_tensors
        m, product, recomputed = _modulated(x, ctx, None, None, shift, scale)
        d_m, d_weight, d_bias = linear_backward(grad, m, weight, (True, *ctx.needs_input_grad[4:]))
        d_normed, d_shift, d_scale = _modulated_backward(d_m, product, recomputed, shift, scale)
        d_x = _norm_backward(d_normed, recomputed)[0].to(x.dtype)
        return d_x, None, d_shift, d_scale, d_weight, d_bias


class _SiluMLP(torch.autograd.Function):
    """fc2(silu(fc1(x))), keeping x and fc1's output."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        hidden = F.linear(x, w1, b1)
        ctx.save_for_backward(x, w1, w2, hidden)
        return F.linear(F.silu(hidden), w2, b2)

    @staticmethod
    def backward(ctx, grad):
        x, w1, w2, hidden = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_act, d_w2, d_b2 = linear_backward(grad, F.silu(hidden), w2, (True, *needs[3:]))
        d_hidden = torch.ops.aten.silu_backward(d_act, hidden)
        d_x, d_w1, d_b1 = linear_backward(d_hidden, x, w1, needs[:3])
        return d_x, d_w1, d_b1, d_w2, d_b2


class _SiluLinear(torch.autograd.Function):
    """linear(silu(x)), keeping x (the flow head's condition, shared by all its AdaLN
    projections, so kept once for all of them)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return F.linear(F.silu(x), weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        d_act, d_weight, d_bias = linear_backward(grad, F.silu(x), weight,
                                                  (True, *ctx.needs_input_grad[1:]))
        return torch.ops.aten.silu_backward(d_act, x), d_weight, d_bias


def silu_linear(x: torch.Tensor, ada) -> torch.Tensor:
    """`ada(x)` for ada = Sequential(SiLU, Linear) (an AdaLN projection), keeping only x."""
    return _SiluLinear.apply(x, ada[1].weight, ada[1].bias)


def modulated_mlp(x: torch.Tensor, norm, mlp, shift: torch.Tensor, scale: torch.Tensor,
                  gate: torch.Tensor) -> torch.Tensor:
    """`x + gate * mlp(norm(x) * (1 + scale) + shift)` for nn.LayerNorm `norm` and
    mlp = Sequential(Linear, SiLU, Linear): the flow head's residual block."""
    return _ModulatedMLP.apply(x, norm.weight, norm.bias, norm.eps, shift, scale, gate,
                               mlp[0].weight, mlp[0].bias, mlp[2].weight, mlp[2].bias)


def modulated_linear(x: torch.Tensor, norm, linear, shift: torch.Tensor,
                     scale: torch.Tensor) -> torch.Tensor:
    """`linear(norm(x) * (1 + scale) + shift)` for an affine-free nn.LayerNorm `norm`."""
    return _ModulatedLinear.apply(x, norm.eps, shift, scale, linear.weight, linear.bias)


def silu_mlp(x: torch.Tensor, mlp) -> torch.Tensor:
    """`mlp(x)` for mlp = Sequential(Linear, SiLU, Linear), keeping x and the first output."""
    return _SiluMLP.apply(x, mlp[0].weight, mlp[0].bias, mlp[2].weight, mlp[2].bias)
