"""The matmul peak of a device and dtype, measured: the denominator of MFU.

MFU = model FLOPs per second (models/flops.py) / this peak. The peak is what one large square
matmul reaches here and now (the same threads, the same TF32 setting the run uses), not a
datasheet figure: on our 2-core CPU an fp32 2048^3 matmul runs at about 255 GFLOP/s, on an H200
a bf16 8192^3 one at about 788 TFLOP/s (ENVIRONMENT.md). Measured once per process, device,
dtype and thread count (under a second on the CPU, less on a GPU) and cached; a training run
times it again after each validation and keeps the best (trainer.StepClock.refresh_peak).
"""

from __future__ import annotations

import time

import torch

_CACHE: dict[tuple[str, torch.dtype, int], float] = {}
BUDGET_S = 0.6  # timed repeats stop after this long (at least MIN_REPEATS of them)
MIN_REPEATS, MAX_REPEATS = 4, 50
ONE_MATMUL_S = 0.25  # the longest one timed matmul may take (affordable_size)


def precision_dtype(precision: str) -> torch.dtype:
    """The matmul dtype of train.precision: bf16 autocast multiplies in bf16."""
    return torch.bfloat16 if precision == "bf16" else torch.float32


def matmul_size(device: torch.device) -> int:
    """Large enough to reach the peak (2048^3 in fp32 on our CPU: 70 ms); `affordable_size`
    takes a smaller one where a matmul of this size would be slow (emulated bf16)."""
    return 8192 if device.type == "cuda" else 2048


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _square_pair(size: int, device: torch.device, dtype: torch.dtype
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator(device=device).manual_seed(0)
    return tuple(torch.randn(size, size, generator=g, device=device).to(dtype) for _ in "ab")


def _timed_mm(a: torch.Tensor, b: torch.Tensor) -> float:
    """Seconds of one a @ b, the device synchronised before the clock stops."""
    t0 = time.perf_counter()
    torch.mm(a, b)
    _sync(a.device)
    return time.perf_counter() - t0


def affordable_size(device: torch.device, dtype: torch.dtype, largest: int) -> int:
    """`largest`, or a smaller power of two where one matmul of that size would take more
    than ONE_MATMUL_S: CPUs without bf16 units emulate bf16 matmuls at ~1 GFLOP/s (measured
    on a 2-core AMD EPYC, session 26: 2048^3 would take ~20 s, five times per measurement,
    and a bf16 training run measures again after each validation). A 256^3 probe decides."""
    probe = 256
    a, b = _square_pair(probe, device, dtype)
    with torch.no_grad():
        _timed_mm(a, b)  # warm-up
        seconds = max(_timed_mm(a, b), 1e-9)
    size = largest
    while size > probe and seconds * (size / probe) ** 3 > ONE_MATMUL_S:
        size //= 2
    return size


def measure_peak(device: torch.device | str, dtype: torch.dtype = torch.float32,
                 size: int | None = None) -> float:
    """FLOP/s of the fastest of a few (size x size) @ (size x size) matmuls, after a warm-up;
    by default the largest size up to `matmul_size` that one matmul does in ONE_MATMUL_S."""
    device = torch.device(device)
    size = size or affordable_size(device, dtype, matmul_size(device))
    a, b = _square_pair(size, device, dtype)
    with torch.no_grad():
        _timed_mm(a, b)  # warm-up (kernel choice, clocks)
        best, start = float("inf"), time.perf_counter()
        for repeat in range(MAX_REPEATS):
            best = min(best, _timed_mm(a, b))
            if repeat + 1 >= MIN_REPEATS and time.perf_counter() - start > BUDGET_S:
                break
    return 2.0 * size**3 / best


def matmul_peak(device: torch.device | str, dtype: torch.dtype = torch.float32,
                remeasure: bool = False) -> float:
    """`measure_peak`, once per process for each (device, dtype, threads); `remeasure` times
    it again and keeps the higher figure (a CPU shared with other work reads low at times:
    a bench measures before every setting and divides by the best)."""
    device = torch.device(device)
    key = (str(device), dtype, torch.get_num_threads())
    if key not in _CACHE or remeasure:
        _CACHE[key] = max(_CACHE.get(key, 0.0), measure_peak(device, dtype))
    return _CACHE[key]
