"""One training code path for one CPU process and for torchrun on many GPUs and nodes.

`torchrun --nproc-per-node N $(which canvasmar) train ...` sets RANK / WORLD_SIZE /
LOCAL_RANK; without them the run is a single process and nothing here talks to a process
group. Global batch semantics: `train.batch_size` clips per optimizer step in total, split
into `processes x train.grad_accum` equal micro-batches (`micro_batches`); the loss of each
micro-batch is its share of the global mean (losses.py), so gradients do not depend on the
split. The network is wrapped (DDP or FSDP2 `fully_shard`) here, never inside the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn

from canvasmar.config import TrainConfig
from canvasmar.devices import resolve_device
from canvasmar.errors import UserError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def pick_device(requested: str, local_rank: int = 0) -> torch.device:
    """train.device -> this process's device (one GPU per torchrun process)."""
    return resolve_device(requested, local_rank, option="train.device")


def init_distributed(cfg: TrainConfig) -> DistContext:
    """Join the process group that torchrun describes, or return the single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(cfg.device, local_rank)
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                          device_id=device if device.type == "cuda" else None)
    ctx = DistContext(rank, world, local_rank, device)
    micro_batches(cfg, ctx)  # fail early on a batch that does not split
    return ctx


def micro_batches(cfg: TrainConfig, ctx: DistContext) -> int:
    """Clips per micro-batch: batch_size / (processes x grad_accum), which must divide."""
    parts = ctx.world * cfg.grad_accum
    if cfg.batch_size % parts:
        raise UserError(f"train.batch_size={cfg.batch_size} does not split into {ctx.world} "
                        f"processes x {cfg.grad_accum} accumulation steps; make it a "
                        f"multiple of {parts}")
    return cfg.batch_size // parts


def wrap_for_training(module: nn.Module, cfg: TrainConfig, ctx: DistContext,
                      blocks: type[nn.Module]) -> nn.Module:
    """Activation checkpointing, then DDP / FSDP2 across processes, then torch.compile.

    `blocks`: the transformer block class, the unit of checkpointing and of FSDP sharding.
    """
    if cfg.activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
            apply_activation_checkpointing,
        )

        apply_activation_checkpointing(module, check_fn=lambda m: isinstance(m, blocks))
    if ctx.distributed and cfg.parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for sub in module.modules():
            if isinstance(sub, blocks):
                fully_shard(sub)
        fully_shard(module)
    elif ctx.distributed:
        # Not every parameter gets a gradient every step (the null tokens of condition
        # dropout, Sec. 4.4), so DDP must look for unused ones.
        module = nn.parallel.DistributedDataParallel(
            module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
            find_unused_parameters=True)
    if cfg.compile:
        # The objective is one graph of static shapes (tests/test_compile.py), so inductor
        # sees the whole step and "reduce-overhead" can replay it as a CUDA graph. fullgraph
        # stays off here: DDP / FSDP2 hooks may split it, and a break should slow a run, not
        # stop it; the test is where a break fails.
        module = torch.compile(module, mode=cfg.compile_mode)
    return module


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a small tensor over processes (identity in one process)."""
    if ctx.distributed:
        values = values.clone()
        torch_dist.all_reduce(values)
    return values


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        torch_dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def full_model_state(model: nn.Module, cfg: TrainConfig, ctx: DistContext
                     ) -> dict[str, torch.Tensor]:
    """The whole state dict on CPU (under FSDP2 a collective; only the main process gets it)."""
    if ctx.distributed and cfg.parallel == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                    cpu_offload=True))
    return {k: v.detach().to("cpu") for k, v in model.state_dict().items()}


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Optimizer state keyed by parameter names, unsharded (collective under FSDP2)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(model, optimizer, options=StateDictOptions(
        full_state_dict=True, cpu_offload=True))


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict
                         ) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    # Not strict: AdamW makes a parameter's state at its first gradient, so one that never had
    # one (the canvas input layer of a `model.canvas=false` model, a null token that condition
    # dropout has not drawn yet) has none saved, and a fresh state is exactly what it had. The
    # weights were loaded strictly before this, so the parameters are the checkpoint's.
    set_optimizer_state_dict(model, optimizer, state,
                             options=StateDictOptions(full_state_dict=True, strict=False))
