"""How long scripts/reproduce.py's stages take: the per-unit costs behind the estimate it prints
first, and the one-second probe that scales them to the machine at hand.

Our "2-core CPUs" differ by 3-5x from one session to the next (an fp32 1024^3 matmul on one
thread ran at ~100 GFLOP/s on 2026-12-01 and at 36-41 on 2026-12-07), so a fixed estimate
was off by that much: on 2026-12-07 `--only pong` printed 0.6 h for what took over 4 h. The
costs in reproduce.py's Scale are measured on one reference machine (REFERENCE_GFLOPS, by
`python3 scripts/reproduce_estimate.py --calibrate`, which prints them for the machine it runs
on) and the estimate multiplies them by REFERENCE_GFLOPS / this machine's probe. A matmul
probe does not follow every cost of a machine (memory bandwidth, caches), so read the
estimate as within ~1.5x, not as a promise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# fp32 1024^3 matmul on one thread of the machine whose costs reproduce.py's cpu scale holds
# (session 28, 2026-12-07, a 2-core AMD EPYC; speed_probe there: 35.6-36.4 GFLOP/s)
REFERENCE_GFLOPS = 36.0
PROBE_SIZE = 1024


def speed_probe() -> float:
    """GFLOP/s of an fp32 1024^3 matmul on one thread (the best of a few, ~1 s): what one lane
    of `--lanes` gets, whatever the thread count of the process."""
    import torch

    from canvasmar.peak import measure_peak

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return measure_peak("cpu", torch.float32, size=PROBE_SIZE) / 1e9
    finally:
        torch.set_num_threads(threads)


def machine_factor(device: str) -> tuple[float, str]:
    """How many times longer than the reference this machine takes, and a line saying so.
    On a GPU the CPU costs say nothing: 1.0, and the estimate is an upper bound."""
    if device != "cpu":
        return 1.0, "CPU figures; a GPU is far faster"
    gflops = speed_probe()
    factor = REFERENCE_GFLOPS / gflops
    return factor, (f"this CPU's fp32 matmul: {gflops:.0f} GFLOP/s per thread, the reference's "
                    f"{REFERENCE_GFLOPS:.0f}: x{factor:.2f}")


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _frame_ms(pipe, batch: int, frames: int, steps: int) -> float:
    """ms per generated frame and sample at `batch`, unguided; frame 0 of the rollout is the
    warm-up (its prefill), the others are what an evaluation pays."""
    from canvasmar.bench import frame_times

    ms = frame_times(pipe, batch, frames + 1, steps=steps, cfg_canvas=1, cfg_temporal=1)
    return statistics.median(ms[1:]) / batch


def calibrate(datasets: list[str], batch: int = 32, frames: int = 3) -> dict:
    """The cpu scale's per-unit costs measured here on two threads with nothing beside:
    seconds per training step (batch 8, the data loader excluded), ms per generated frame at
    `batch` split into a fixed part and a part per MAR step (1 and 4 steps), ms per frame
    through the FID Inception; random weights (time does not depend on them)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _measured(datasets, batch, frames)
    finally:
        torch.set_num_threads(threads)


def _measured(datasets: list[str], batch: int, frames: int) -> dict:
    import torch

    from canvasmar.bench import train_step_times
    from canvasmar.config import load_config
    from canvasmar.metrics.frames import load_fid_inception
    from canvasmar.models.factory import build_model
    from canvasmar.pipeline import Pipeline

    sys.path.insert(0, str(REPO / "scripts"))
    from reproduce import CPU

    out = {"probe_gflops_per_thread": speed_probe(), "threads": 2}
    for dataset in datasets:
        data = [f"data.source={REPO / 'data' / 'pong'}"] if dataset == "pong" else []
        cfg = load_config("tiny", [*CPU.model[dataset], *data, "train.threads=2"])
        times, _ = train_step_times(cfg, torch.device("cpu"), loader=False, steps=3, warmup=1)
        model, tokenizer = build_model(cfg)
        pipe = Pipeline(model.eval(), tokenizer, cfg)

        one, four = (_frame_ms(pipe, batch, frames, steps) for steps in (1, 4))
        step = (four - one) / 3
        out[dataset] = {"s_per_train_step": statistics.median(times),
                        "ms_per_frame": one - step, "ms_per_frame_step": step}
    extract = load_fid_inception("cpu")
    images = torch.rand(batch, 3, 64, 64)
    out["ms_per_fid_frame"] = 1000 * _timed(lambda: extract(images), 2) / batch
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calibrate", action="store_true",
                   help="measure the per-unit costs here (a few minutes; nothing else running)")
    p.add_argument("--datasets", default="builtin,pong")
    args = p.parse_args()
    if not args.calibrate:
        factor, line = machine_factor("cpu")
        print(line)
        return 0
    import json

    print(json.dumps(calibrate(args.datasets.split(",")), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
