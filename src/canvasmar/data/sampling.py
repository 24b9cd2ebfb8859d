"""Which clips make up the batch of training step s: a pure function of (seed, step).

Epochs are seeded permutations of the dataset; step s takes positions s*B .. s*B+B-1 of the
concatenated epochs. So a resumed run sees exactly the batches the uninterrupted run would
have, with no sampler state to save.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def epoch_permutation(length: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(length, generator=g)


def batch_indices(step: int, batch_size: int, length: int, seed: int) -> list[int]:
    out: list[int] = []
    position = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(position, length)
        take = min(batch_size - len(out), length - offset)
        out += epoch_permutation(length, seed, epoch)[offset:offset + take].tolist()
        position += take
    return out


class StepBatchSampler(Sampler[list[int]]):
    """Index lists of steps start_step .. total_steps-1 (a DataLoader batch_sampler).

    With `parts` > 1 each step's global batch is cut into `parts` equal micro-batches and
    this sampler yields those numbered `first_part .. first_part + count - 1` in turn: a
    process of rank r with A accumulation steps takes parts r*A .. r*A+A-1 (train/dist.py).
    """

    def __init__(self, length: int, batch_size: int, seed: int, start_step: int,
                 total_steps: int, parts: int = 1, first_part: int = 0,
                 count: int | None = None) -> None:
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.start_step, self.total_steps = start_step, total_steps
        self.parts, self.first_part = parts, first_part
        self.count = parts if count is None else count

    def __iter__(self) -> Iterator[list[int]]:
        micro = self.batch_size // self.parts
        for step in range(self.start_step, self.total_steps):
            indices = batch_indices(step, self.batch_size, self.length, self.seed)
            for part in range(self.first_part, self.first_part + self.count):
                yield indices[part * micro:(part + 1) * micro]

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step) * self.count
