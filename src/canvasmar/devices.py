"""Which device a command runs on: `auto`, `cpu`, `cuda` or `cuda:N`, checked before any work;
which dtype a pipeline runs in (`resolve_dtype`).

One place for every command and for training, so that a missing GPU or a mistyped name is one
clear error, never torch's traceback halfway through a run.
"""

from __future__ import annotations

import torch

from canvasmar.errors import UserError

CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(requested: str | torch.device, local_rank: int = 0,
                   option: str = "--device") -> torch.device:
    """`auto` -> the GPU when torch sees one, else the CPU; `cuda` -> GPU `local_rank` (one per
    process under torchrun); anything unusable -> UserError naming `option` and the fix."""
    name = str(requested).strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = "a CPU build of torch" if torch.version.cuda is None else "no GPU driver"
            raise UserError(f"{option}={requested}: torch sees no CUDA device ({build}, "
                            f"torch {torch.__version__}); install a CUDA build of torch "
                            f"(README, 'GPU') or use {option}=cpu")
        count = torch.cuda.device_count()
        if name == "cuda":
            return torch.device("cuda", local_rank % count)
        index = name.partition(":")[2]
        if not index.isdigit() or int(index) >= count:
            raise UserError(f"{option}={requested}: this machine has CUDA devices 0..{count - 1}")
        return torch.device("cuda", int(index))
    raise UserError(f"{option}={requested} is not a device this package runs on: use {CHOICES}")


DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16, "half": torch.float16}


def resolve_dtype(requested: torch.dtype | str, option: str = "dtype") -> torch.dtype:
    """A floating torch dtype or its name ('bfloat16', 'bf16', 'torch.float16', ...) -> the
    dtype; integer dtypes and unknown names -> UserError naming `option`."""
    dtype = requested
    if isinstance(requested, str):
        dtype = DTYPES.get(requested.strip().lower().removeprefix("torch."))
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise UserError(f"{option}={requested!r} is not a floating dtype this package runs in: "
                        f"use torch.float32, torch.bfloat16 or torch.float16")
    return dtype
