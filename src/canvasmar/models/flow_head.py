"""Per-token flow-matching head (MAR's SimpleMLPAdaLN, trained with flow matching, Sec. 5.1).

An MLP of residual blocks; each block is modulated (AdaLN: shift, scale, gate) by the sum of a
time embedding and the token's condition vector from the Spatial MAR. AdaLN modulations and
the output layer start at zero, so the untrained head is the identity path plus a zero output.

With grad on, the blocks, the AdaLN projections, the output layer and the time MLP run as
nn/recompute.py's Functions: the same values, but backward redoes the norms and SiLUs instead of
keeping them (the condition is kept once for all the projections).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from canvasmar.nn import recompute


def timestep_embedding(t: torch.Tensor, dim: int = 256, max_period: float = 10_000.0):
    """Sinusoidal features (..., dim) of t (...) in [0, 1] (scaled by 1000 as DiT/MAR do)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t[..., None].float() * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if recompute.active():
            shift, scale, gate = recompute.silu_linear(c, self.ada).chunk(3, dim=-1)
            return recompute.modulated_mlp(x, self.norm, self.mlp, shift, scale, gate)
        shift, scale, gate = self.ada(c).chunk(3, dim=-1)
        return x + gate * self.mlp(self.norm(x) * (1 + scale) + shift)


class FlowHead(nn.Module):
    def __init__(self, token_dim: int, cond_dim: int, width: int, layers: int) -> None:
        super().__init__()
        self.input = nn.Linear(token_dim, width)
        self.time_embed = nn.Sequential(nn.Linear(256, width), nn.SiLU(), nn.Linear(width, width))
        self.cond_embed = nn.Linear(cond_dim, width)
        self.blocks = nn.ModuleList(ResBlock(width) for _ in range(layers))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.output = nn.Linear(width, token_dim)

    def zero_init(self) -> None:
        """Zero the AdaLN modulations and the output (called after the model-wide init)."""
        for layer in [*(b.ada[-1] for b in self.blocks), self.final_ada[-1], self.output]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x_t (..., C), t (...), cond (..., D) -> velocity (..., C).

        cond may broadcast against x_t: training passes one cond (F, n, D) for the k
        repeats (k, F, n, C) of each token, so `cond_embed` runs once per token, not k times.
        """
        # The sinusoid is computed in float32 (t * 1000 needs it), then cast to the weights'
        # dtype: a no-op in float32 and under autocast, needed after pipe.to(bfloat16).
        t_emb = timestep_embedding(t).to(self.input.weight.dtype)
        if not recompute.active():
            c = self.time_embed(t_emb) + self.cond_embed(cond)
            x = self.input(x_t)
            for block in self.blocks:
                x = block(x, c)
            shift, scale = self.final_ada(c).chunk(2, dim=-1)
            return self.output(self.final_norm(x) * (1 + scale) + shift)
        c = recompute.silu_mlp(t_emb, self.time_embed) + self.cond_embed(cond)
        x = self.input(x_t)
        for block in self.blocks:
            x = block(x, c)
        shift, scale = recompute.silu_linear(c, self.final_ada).chunk(2, dim=-1)
        return recompute.modulated_linear(x, self.final_norm, self.output, shift, scale)
