"""Exponential moving average of the weights (MAR and NOVA sample from EMA weights).

The shadow copies live beside the parameters (same device, and the same sharding under
FSDP2, so each process averages only its shard) and are updated with one fused
`_foreach_lerp_` per step: no Python loop over tensors on the hot path.
"""

from __future__ import annotations

import torch
from torch import nn

WRAPPER = "_checkpoint_wrapped_module."


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """A plain tensor from a parameter or an FSDP2 DTensor shard (collective for DTensors)."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


class EMA:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        # state-dict names: activation checkpointing inserts a wrapper level into the
        # parameter names that the state dict (and so the checkpoint) does not have
        self.names = [n.replace(WRAPPER, "") for n, p in model.named_parameters()
                      if p.requires_grad]
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.shadow = [p.detach().clone().float() for p in self.params]

    def decay_at(self, step: int) -> float:
        """Warm-up as in timm/MAE: early averages forget the random initialisation faster."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, step: int) -> None:
        weight = 1.0 - self.decay_at(step)
        current = [p.detach().float() for p in self.params]
        torch._foreach_lerp_(self.shadow, current, weight)

    def state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's full state dict with EMA values for the parameters (CPU tensors)."""
        averaged = dict(zip(self.names, self.shadow, strict=True))
        out = {}
        for name, value in model.state_dict().items():
            value = averaged.get(name, value)
            out[name] = full_tensor(value).detach().to("cpu", torch.float32).contiguous()
        if missing := set(averaged) - set(out):
            raise RuntimeError(f"EMA parameters not in the state dict: {sorted(missing)[:3]}")
        return out

    @torch.no_grad()
    def load(self, weights: dict[str, torch.Tensor]) -> None:
        """Restore the shadows from a full state dict (re-sharded like each parameter)."""
        for shadow, name in zip(self.shadow, self.names, strict=True):
            value = weights[name].to(shadow.device, shadow.dtype)
            if hasattr(shadow, "device_mesh"):  # FSDP2 DTensor: keep only this shard
                from torch.distributed.tensor import distribute_tensor

                value = distribute_tensor(value, shadow.device_mesh, shadow.placements)
            shadow.copy_(value)
