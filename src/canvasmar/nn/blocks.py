"""Pre-norm transformer block, with the option of expert LayerNorm.

Expert LayerNorm (paper Sec. 5.1, after CogVideoX): the condition sequence, clean tokens and
mask/canvas tokens are different kinds of input, so each kind gets its own LayerNorm scale and
shift while all weights of attention and MLP are shared. Implemented as one affine-free norm
followed by a per-token gather of (scale, shift): no Python loop over token types.

With grad on, the norms, the GELU and the linears around them run as nn/recompute.py's
Functions: the same forward, but backward keeps only each norm's input and the MLP's hidden
layer (~10 of the ~20 widths per token that plain autograd keeps).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from canvasmar.nn import recompute
from canvasmar.nn.attention import Attention, KVCache


class ExpertLayerNorm(nn.Module):
    """LayerNorm with `experts` sets of affine parameters, picked per token by `token_type`."""

    def __init__(self, dim: int, experts: int = 1, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(experts, dim))
        self.bias = nn.Parameter(torch.zeros(experts, dim))

    def forward(self, x: torch.Tensor, token_type: torch.Tensor | None = None) -> torch.Tensor:
        if recompute.active():
            return recompute.affine_norm(x, token_type, self.weight, self.bias, self.eps)
        x = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        if token_type is None:  # one expert: the ordinary LayerNorm
            return x * self.weight[0] + self.bias[0]
        return x * self.weight[token_type] + self.bias[token_type]


class Block(nn.Module):
    """x + Attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, norm_experts: int = 1):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = ExpertLayerNorm(dim, norm_experts)
        self.attn = Attention(dim, heads)
        self.norm2 = ExpertLayerNorm(dim, norm_experts)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, dim))

    def forward(
        self,
        x: torch.Tensor,  # (B, L, D)
        mask: torch.Tensor | None = None,
        token_type: torch.Tensor | None = None,  # (L,) or (B, L) long, for expert norms
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        if recompute.active():  # the same values; backward keeps fewer activations
            qkv = recompute.norm_linear(x, token_type, self.norm1, self.attn.qkv)
            x = x + self.attn(qkv, mask=mask, positions=positions, cache=cache, projected=True)
            return x + recompute.norm_mlp(x, token_type, self.norm2, self.mlp[0], self.mlp[2])
        x = x + self.attn(self.norm1(x, token_type), mask=mask, positions=positions, cache=cache)
        return x + self.mlp(self.norm2(x, token_type))


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform linears, zero biases (ViT/MAE convention); call via `model.apply`."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
