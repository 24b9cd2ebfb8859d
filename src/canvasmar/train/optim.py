"""AdamW with decoupled weight decay on matrices only, and warm-up + cosine learning rate."""

from __future__ import annotations

import math

import torch
from torch import nn

from canvasmar.config import TrainConfig


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """No decay on biases, norms, positional tables and learned tokens (1-D or 'pos'/'token').

    train.action_lr_mult != 1: the action embedding (models/actions.py) and model.action_film's
    layer are a third group whose learning rate is that multiple of the schedule's (`lr_mult`,
    read by the trainer) and that is not decayed. Why: the embedding is added to frame tokens
    ~20x its initial size, and AdamW moves a weight by ~lr per step whatever its gradient, so
    at the network's rate it stays too small to steer the prediction (docs/world-model.md).
    At 1 the groups are as before, so runs saved before the key existed resume."""
    decay, no_decay, action = [], [], []
    split_action = cfg.action_lr_mult != 1
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        skip = param.dim() < 2 or any(k in name for k in ("pos", "bos", "token", "null", "norm"))
        if split_action and {"action", "action_film"} & set(name.split(".")):
            action.append(param)
        else:
            (no_decay if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if action:
        groups.append({"params": action, "weight_decay": 0.0, "lr_mult": cfg.action_lr_mult})
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """This step's rate for every group, times its `lr_mult` (train.action_lr_mult)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to cfg.lr * min_lr_ratio at cfg.steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
