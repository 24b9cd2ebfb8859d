"""Speed measurements: sampling (ms per generated frame, long rollouts) and training
(clips/s per batch size and precision, data loader excluded and included), each with its
TFLOP/s and MFU.

Sampling times come from wall-clock around each streamed frame (the pipeline yields a frame as
soon as it exists), after a warm-up frame, with the median and the spread reported. Training
times are whole optimizer steps of the `canvasmar train` task itself, after warm-up steps.
FLOPs are analytic (models/flops.py), the peak is a matmul measured here (peak.py). Nothing
here is a constant: every figure is measured on the machine that runs it. Each result
records the code that measured it (`versions`: canvasmar, torch, git commit).
"""

from __future__ import annotations

import gc
import itertools
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from canvasmar.atomic import write_text_atomic
from canvasmar.config import RunConfig
from canvasmar.config.checks import one_of
from canvasmar.errors import UserError
from canvasmar.models.flops import (
    cache_frames,
    frame_flops,
    latent_frames,
    run_training_flops,
    static_objective,
)
from canvasmar.peak import matmul_peak, precision_dtype
from canvasmar.pipeline import Pipeline
from canvasmar.versions import versions

GUIDED = {"cfg_canvas": 1.5, "cfg_temporal": 1.2}  # Table 3 (BAIR / UCF-101)
PLAIN = {"cfg_canvas": 1.0, "cfg_temporal": 1.0}


def warmup_frames(pipe: Pipeline) -> int:
    """Pixel frames of a rollout's first temporal step, not timed: one frame, or a next-K
    model's first group (App. B: K latent frames at once)."""
    group = pipe.model.group
    first = 1 if group == 1 else group * pipe.tokenizer.temporal_factor
    # compiled steps (Pipeline.compile): the first frame compiles, and CUDA graphs
    # (reduce-overhead) are recorded on a later run of the same shapes
    return 3 * first if pipe.kernels.compiled else first


def frame_times(pipe: Pipeline, batch: int, num_frames: int, context: int = 2,
                seed: int = 0, **options) -> list[float]:
    """Milliseconds for each of `num_frames` generated frames (one rollout). A next-K model's
    frames arrive K at a time: each frame of a group is given the group's time / K."""
    c, h, w = pipe.frame_shape
    g = torch.Generator().manual_seed(seed)
    ctx = torch.rand(batch, context, c, h, w, generator=g)
    times = []
    start = time.perf_counter()
    for frame in pipe.stream(ctx, num_frames, generator=g, **options):
        if frame.is_cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(1000 * (now - start))
        start = now
    burst = warmup_frames(pipe)
    if burst > 1:
        starts = [i - i % burst for i in range(len(times))]  # each frame's group
        times = [statistics.mean(times[start:start + burst]) for start in starts]
    return times


def rollout_latency(pipe: Pipeline, batch: int, num_frames: int, context: int = 2,
                    seed: int = 0, **options) -> dict[str, float]:
    """Fig. 6: milliseconds until the first generated frame arrives (a next-K model's comes
    with its whole group) and until the whole `num_frames` rollout is done, at `batch`."""
    times = frame_times(pipe, batch, num_frames, context, seed, **options)
    burst = warmup_frames(pipe)  # frame_times spread a group's time evenly over its frames
    return {"first_frame_ms": sum(times[:burst]), "total_ms": sum(times)}


def summarize(times: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def machine(device: torch.device | str) -> dict:
    return {"platform": platform.platform(), "processor": platform.processor(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": str(device)}


def frames_flops(pipe: Pipeline, batch: int, timed: int, context: int = 2, **options) -> float:
    """Mean forward FLOPs of the pixel frames 1..timed of a `frame_times` rollout (frame 0 is
    the warm-up); with a VAE that compresses time by k, a latent frame's work spread over its
    k pixel frames (approximately: the timed frames need not align with latent frames)."""
    opts = pipe.options(**options)
    k = pipe.tokenizer.temporal_factor
    inputs = latent_frames(context, k) + 1  # BOS + the context's latent frames
    model, group = pipe.model, pipe.model.group
    if group > 1:  # the groups after the first (App. B), each group's work over its frames
        limit = cache_frames(model.cfg, opts.window)
        cached = [min(limit, inputs + i * group)
                  for i in range(1, 1 + max(1, -(-timed // (group * k))))]
        return statistics.mean(frame_flops(model.cfg, model.latent_shape, opts, c, batch)
                               for c in cached) / (group * k)
    first, last = 1 // k, max(1, -(-(timed + 1) // k))
    cached = [min(opts.window, inputs + i) for i in range(first, last)] or [opts.window]
    return statistics.mean(frame_flops(model.cfg, model.latent_shape, opts, c, batch)
                           for c in cached) / k


def throughput(flops: float, seconds: float, peak: float) -> dict[str, float]:
    """TFLOP/s and MFU of `flops` done in `seconds` against a `peak` in FLOP/s."""
    return {"tflops_per_s": flops / seconds / 1e12, "mfu": flops / seconds / peak}


def _check_counts(*flags: tuple[str, list[int]]) -> None:
    for flag, values in flags:
        if not values or min(values) < 1:
            raise UserError(f"{flag} {','.join(map(str, values))}: every value must be at "
                            f"least 1")


def run_bench(pipe: Pipeline, batches: list[int], sweep_steps: list[int], frames: int = 3,
              rollout: int = 60, progress_bar: bool = False) -> dict:
    """The speed table (batch x MAR steps of `sweep_steps` x guidance) and a long-rollout
    profile at the config's sample.steps; `progress_bar`: one tick per setting (stderr)."""
    _check_counts(("--batches", batches), ("--sweep-steps", sweep_steps), ("--frames", [frames]))
    if rollout < 2:
        raise UserError(f"--rollout {rollout} must be at least 2 (the first frame is a warm-up)")
    rows = []
    bar = tqdm(total=len(batches) * len(sweep_steps) * 2 + 1, desc="bench",
               disable=not progress_bar, dynamic_ncols=True)
    for batch in batches:
        matmul_peak(pipe.device, pipe.dtype, remeasure=True)  # in the pipeline's dtype
        for n_steps in sweep_steps:
            for name, scales in (("none", PLAIN), ("compositional", GUIDED)):
                warm = warmup_frames(pipe)
                times = frame_times(pipe, batch, frames + warm, steps=n_steps, **scales)[warm:]
                flops = frames_flops(pipe, batch, frames, steps=n_steps, **scales)
                rows.append({"batch": batch, "steps": n_steps, "guidance": name,
                             "frames_timed": len(times), **summarize(times),
                             "ms_per_frame_per_sample": statistics.median(times) / batch,
                             "gflop_per_frame": flops / 1e9})
                bar.update(1)
    bar.set_postfix_str(f"rollout of {rollout} frames")
    profile = frame_times(pipe, 1, rollout, steps=pipe.cfg.sample.steps, **PLAIN)
    bar.update(1)
    bar.close()
    peak = matmul_peak(pipe.device, pipe.dtype, remeasure=True)  # the best of the run
    for row in rows:
        row |= throughput(row["gflop_per_frame"] * 1e9, row["median_ms"] / 1000, peak)
    return {
        "versions": versions(),
        "machine": machine(pipe.device) | {"peak_tflops": peak / 1e12,
                                            "dtype": str(pipe.dtype).removeprefix("torch.")},
        "compile": pipe.kernels.mode,
        "model": {"name": pipe.cfg.name, "frame_shape": list(pipe.frame_shape),
                  "parameters": sum(p.numel() for p in pipe.model.parameters()),
                  "flow_steps": pipe.cfg.sample.flow_steps},
        "table": rows,
        "rollout": {"frames": rollout, "steps": pipe.cfg.sample.steps, "ms": profile,
                    "frame_2_ms": profile[1], "frame_last_ms": profile[-1],
                    "median_first_10_ms": statistics.median(profile[1:11]),
                    "median_last_10_ms": statistics.median(profile[-10:])},
    }


def to_markdown(result: dict) -> str:
    if result.get("kind") == "train":
        return train_markdown(result)
    m, mod, r = result["machine"], result["model"], result["rollout"]
    lines = [f"Model `{mod['name']}` ({mod['parameters']:,} parameters, frames "
             f"{'x'.join(map(str, mod['frame_shape']))}, {mod['flow_steps']} flow steps), "
             f"{m['device']}, torch {m['torch']}, {m['threads']} threads, {m['platform']}; "
             f"matmul peak {m['peak_tflops'] * 1000:.0f} GFLOP/s ({m.get('dtype', 'float32')}, "
             f"measured); MAR steps compiled: {result.get('compile', 'off')}.",
             "",
             "| batch | MAR steps | guidance | ms/frame (median) | min-max | ms/frame/sample "
             "| GFLOP/frame | TFLOP/s | MFU |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in result["table"]:
        lines.append(f"| {row['batch']} | {row['steps']} | {row['guidance']} | "
                     f"{row['median_ms']:.1f} | {row['min_ms']:.1f}-{row['max_ms']:.1f} | "
                     f"{row['ms_per_frame_per_sample']:.1f} | {row['gflop_per_frame']:.2f} | "
                     f"{row['tflops_per_s']:.3f} | {row['mfu']:.1%} |")
    lines += ["", f"Rollout of {r['frames']} frames at batch 1, {r['steps']} steps: frame 2 "
              f"{r['frame_2_ms']:.1f} ms, frame {r['frames']} {r['frame_last_ms']:.1f} ms; "
              f"median of frames 2-11 {r['median_first_10_ms']:.1f} ms, of the last 10 "
              f"{r['median_last_10_ms']:.1f} ms (ratio "
              f"{r['median_last_10_ms'] / r['median_first_10_ms']:.2f})."]
    return "\n".join(lines) + "\n"


# ---- training throughput
LOADER_MODES = {"both": ("excluded", "included"), "excluded": ("excluded",),
                "included": ("included",)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_gib(device: torch.device) -> float:
    """CUDA: the most memory allocated since the last reset; CPU: the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def train_step_times(cfg: RunConfig, device: torch.device, loader: bool, steps: int,
                     warmup: int) -> tuple[list[float], float]:
    """Seconds of each of `warmup + steps` optimizer steps of the `canvasmar train` task
    (forward, backward, clipping, AdamW, EMA) and the peak memory. `loader=False` feeds one
    fetched batch again and again (the data loader excluded; tokenizer encoding stays in)."""
    from canvasmar.train.dist import DistContext
    from canvasmar.train.loop import CanvasMARTask
    from canvasmar.train.trainer import deterministic_kernels

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)
    with deterministic_kernels(device):  # as `canvasmar train` runs
        task = CanvasMARTask(cfg, DistContext(device=device), Path("."), None,
                             validation=False)
        if not loader:
            task.batches = itertools.repeat(next(task.batches).to(device))
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for step in range(warmup + steps):
            _sync(device)
            start = time.perf_counter()
            if task.train_step(step, lambda: False).finite:
                task.apply_update(step)
            task.optimizer.zero_grad(set_to_none=True)
            _sync(device)
            times.append(time.perf_counter() - start)
        memory = _peak_memory_gib(device)
    del task
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return times[warmup:], memory


def _train_row(cfg: RunConfig, device: torch.device, batch: int, precision: str, mode: str,
               steps: int, warmup: int) -> dict:
    """One setting's row; an out-of-memory setting is a row saying so, not the end."""
    row = {"batch": batch, "precision": precision, "loader": mode}
    matmul_peak(device, precision_dtype(precision), remeasure=True)
    run = replace(cfg, train=replace(cfg.train, batch_size=batch, precision=precision,
                                     steps=warmup + steps, device=str(device),
                                     tensorboard=False)).validate()
    try:
        times, memory = train_step_times(run, device, mode == "included", steps, warmup)
    except torch.OutOfMemoryError:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return row | {"error": "out of memory"}
    median = statistics.median(times)
    return row | {"steps_timed": len(times), "median_s": median, "min_s": min(times),
                  "max_s": max(times), "clips_per_s": batch / median, "peak_memory_gib": memory}


def run_train_bench(cfg: RunConfig, device: torch.device, batches: list[int],
                    precisions: list[str], loader: str = "both", steps: int = 5,
                    warmup: int = 2, progress: Callable[[dict], None] | None = None,
                    progress_bar: bool = False) -> dict:
    """Training throughput for each batch size x precision x data loader excluded/included:
    median seconds per step, clips/s, TFLOP/s, MFU against the measured matmul peak of the
    precision, and peak memory. `progress` gets each row as soon as it is measured;
    `progress_bar`: one tick per setting (stderr)."""
    from canvasmar.models.factory import build_model

    _check_counts(("--batches", batches), ("--timed-steps", [steps]))
    if warmup < 0:
        raise UserError(f"--warmup-steps {warmup} must be at least 0")
    if loader not in LOADER_MODES:
        raise UserError(f"--loader {loader}: use {', '.join(LOADER_MODES)}")
    for precision in precisions:
        one_of("--precisions", precision, ("fp32", "bf16"))
    with torch.device("meta"):  # shapes and sizes only
        model, tokenizer = build_model(cfg)
    frames = latent_frames(cfg.data.frames, tokenizer.temporal_factor)
    per_clip = run_training_flops(cfg, device.type, model.latent_shape,
                                  tokenizer.temporal_factor)
    rows = []
    settings = list(itertools.product(batches, precisions, LOADER_MODES[loader]))
    bar = tqdm(settings, desc="bench --train", disable=not progress_bar, dynamic_ncols=True)
    for batch, precision, mode in bar:
        bar.set_postfix_str(f"batch {batch} {precision} loader {mode}")
        rows.append(_train_row(cfg, device, batch, precision, mode, steps, warmup))
        if progress is not None:
            progress(rows[-1])
    # the best peak of the run: measured before every setting and once more at the end
    peaks = {p: matmul_peak(device, precision_dtype(p), remeasure=True) for p in precisions}
    for row in rows:
        if "median_s" in row:
            row |= throughput(per_clip * row["batch"], row["median_s"], peaks[row["precision"]])
    return {
        "kind": "train",
        "versions": versions(),
        "machine": machine(device) | {"peak_tflops": {p: v / 1e12 for p, v in peaks.items()},
                                      "memory": "CUDA max allocated" if device.type == "cuda"
                                      else "process peak RSS"},
        "model": {"name": cfg.name, "parameters": sum(p.numel() for p in model.parameters()),
                  "latent_shape": list(model.latent_shape), "latent_frames": frames,
                  "gflop_per_clip": per_clip / 1e9, "compile": cfg.train.compile,
                  "static_objective": static_objective(device.type)},
        "table": rows,
    }


def train_markdown(result: dict) -> str:
    m, mod = result["machine"], result["model"]
    peaks = ", ".join(f"{p} {v * 1000:.0f} GFLOP/s" for p, v in m["peak_tflops"].items())
    lines = [f"Training `{mod['name']}` ({mod['parameters']:,} parameters, latents "
             f"{mod['latent_frames']}x{'x'.join(map(str, mod['latent_shape']))}, "
             f"{mod['gflop_per_clip']:.2f} GFLOP per clip forward + backward), {m['device']}, "
             f"torch {m['torch']}, {m['threads']} threads, {m['platform']}; matmul peak "
             f"(measured): {peaks}. Memory: {m['memory']}.",
             "",
             "| batch | precision | data loader | s/step (median) | min-max | clips/s | TFLOP/s "
             "| MFU | peak GiB |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in result["table"]:
        if "error" in row:
            lines.append(f"| {row['batch']} | {row['precision']} | {row['loader']} | "
                         f"{row['error']} | | | | | |")
            continue
        lines.append(f"| {row['batch']} | {row['precision']} | {row['loader']} | "
                     f"{row['median_s']:.3f} | {row['min_s']:.3f}-{row['max_s']:.3f} | "
                     f"{row['clips_per_s']:.2f} | {row['tflops_per_s']:.3f} | {row['mfu']:.1%} | "
                     f"{row['peak_memory_gib']:.2f} |")
    return "\n".join(lines) + "\n"


def output_paths(out: Path) -> list[Path]:
    """What `write_results` writes for `--out OUT`: OUT.json and OUT.md."""
    return [out.with_suffix(".json"), out.with_suffix(".md")]


def write_results(result: dict, out: Path) -> list[Path]:
    json_path, md_path = output_paths(out)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(result, indent=2))
    write_text_atomic(md_path, to_markdown(result))
    return [json_path, md_path]
