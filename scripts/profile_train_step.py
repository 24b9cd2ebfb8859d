"""Where does a training step's time go? Loader, host syncs, or the model's kernels.

Splits one `canvasmar train` step into what can be timed apart, on any device:
  1. the data loader alone (clips/s with `data.num_workers` workers, as training builds it);
  2. the step on a fixed batch already on the device: forward, backward, optimizer, each
     synchronised, median over steps (no loader, no logging);
  3. a torch.profiler table of the ops with the most self time (CUDA time on a GPU), and a
     Chrome trace to open in chrome://tracing or Perfetto.

Written for the open question of docs/training-at-scale.md: the tiny preset takes 0.235 s per
step at batch 32 on an H200, far more than its FLOPs need.

    python scripts/profile_train_step.py tiny --device cuda --out outputs/prof train.batch_size=32
    python scripts/profile_train_step.py tiny --device cpu --steps 4 --out /tmp/prof \
        train.batch_size=2

Writes OUT/profile.json (the timings), OUT/ops.txt (the table) and OUT/trace.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from canvasmar.config import load_config
from canvasmar.data import build_dataset
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model
from canvasmar.train.optim import build_optimizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def loader_rate(cfg, batches: int) -> float:
    """Clips per second the training loader delivers (first batch excluded: worker start)."""
    data = build_dataset(cfg.data, "train", seed=0)
    sampler = StepBatchSampler(len(data), cfg.train.batch_size, 0, 0, batches + 1)
    loader = iter(DataLoader(data, num_workers=cfg.data.num_workers, batch_sampler=sampler))
    next(loader)
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return batches * cfg.train.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up)")
    parser.add_argument("--out", required=True)
    args, extra = parser.parse_known_args()  # overrides may also follow the options
    args.overrides += extra
    cfg = load_config(args.config, args.overrides)
    device, tc, out = torch.device(args.device), cfg.train, Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model, tokenizer = build_model(cfg)
    model.to(device)
    tokenizer.to(device)
    objective = TrainingObjective(model, cfg.loss)
    optimizer = build_optimizer(model, tc)
    data = build_dataset(cfg.data, "train", seed=0)
    video = torch.stack([data[i] for i in range(tc.batch_size)]).to(device)
    amp = torch.autocast(device.type, torch.bfloat16, enabled=tc.precision == "bf16")

    def step(times: dict[str, list[float]] | None) -> None:
        marks = [time.perf_counter()]

        def mark() -> None:
            _sync(device)
            marks.append(time.perf_counter())

        latents = tokenizer.encode(video)
        generator = torch.Generator(device).manual_seed(0)
        randomness = draw_randomness(model, tc.batch_size, latents.shape[1], cfg.loss,
                                     generator)
        mark()
        with amp:
            losses = objective(latents, randomness)
        mark()
        losses["loss"].backward()
        mark()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        mark()
        if times is not None:
            for name, a, b in zip(("draw", "forward", "backward", "optimizer"), marks[:-1],
                                  marks[1:], strict=True):
                times[name].append(b - a)

    for _ in range(3):
        step(None)
    times: dict[str, list[float]] = {k: [] for k in ("draw", "forward", "backward", "optimizer")}
    for _ in range(args.steps):
        step(times)
    medians = {k: statistics.median(v) for k, v in times.items()}

    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(3):
            step(None)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    (out / "ops.txt").write_text(prof.key_averages().table(sort_by=sort, row_limit=40))
    prof.export_chrome_trace(str(out / "trace.json"))

    result = {"config": args.config, "overrides": args.overrides, "device": str(device),
              "torch": torch.__version__, "batch_size": tc.batch_size,
              "precision": tc.precision, "median_s": medians,
              "step_s": sum(medians.values()),
              "loader_clips_per_s": loader_rate(cfg, batches=max(3, args.steps // 2)),
              "clips_per_s_without_loader": tc.batch_size / sum(medians.values())}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
        result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    (out / "profile.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}/profile.json, ops.txt, trace.json")


if __name__ == "__main__":
    main()
