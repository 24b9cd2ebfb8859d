"""Sampling-speed measurements: ms per generated frame and the cost of long rollouts.

Times come from wall-clock around each streamed frame (the pipeline yields a frame as soon as
it exists), after a warm-up frame, with the median and the spread reported. Nothing here is a
constant: every figure is measured on the machine that runs it.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import torch

from canvasmar.atomic import write_text_atomic
from canvasmar.errors import UserError
from canvasmar.pipeline import Pipeline

GUIDED = {"cfg_canvas": 1.5, "cfg_temporal": 1.2}  # Table 3 (BAIR / UCF-101)
PLAIN = {"cfg_canvas": 1.0, "cfg_temporal": 1.0}


def frame_times(pipe: Pipeline, batch: int, num_frames: int, context: int = 2,
                seed: int = 0, **options) -> list[float]:
    """Milliseconds for each of `num_frames` generated frames (one rollout)."""
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
    return times


def summarize(times: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def run_bench(pipe: Pipeline, batches: list[int], sweep_steps: list[int], frames: int = 3,
              rollout: int = 60) -> dict:
    """The speed table (batch x MAR steps of `sweep_steps` x guidance) and a long-rollout
    profile at the config's sample.steps."""
    for flag, values in (("--batches", batches), ("--sweep-steps", sweep_steps),
                         ("--frames", [frames])):
        if not values or min(values) < 1:
            raise UserError(f"{flag} {','.join(map(str, values))}: every value must be at "
                            f"least 1")
    if rollout < 2:
        raise UserError(f"--rollout {rollout} must be at least 2 (the first frame is a warm-up)")
    rows = []
    for batch in batches:
        for n_steps in sweep_steps:
            for name, scales in (("none", PLAIN), ("compositional", GUIDED)):
                times = frame_times(pipe, batch, frames + 1, steps=n_steps, **scales)[1:]
                rows.append({"batch": batch, "steps": n_steps, "guidance": name,
                             "frames_timed": len(times), **summarize(times),
                             "ms_per_frame_per_sample": statistics.median(times) / batch})
    profile = frame_times(pipe, 1, rollout, steps=pipe.cfg.sample.steps, **PLAIN)
    return {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "device": str(pipe.device)},
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
    m, mod, r = result["machine"], result["model"], result["rollout"]
    lines = [f"Model `{mod['name']}` ({mod['parameters']:,} parameters, frames "
             f"{'x'.join(map(str, mod['frame_shape']))}, {mod['flow_steps']} flow steps), "
             f"{m['device']}, torch {m['torch']}, {m['threads']} threads, {m['platform']}.",
             "",
             "| batch | MAR steps | guidance | ms/frame (median) | min-max | ms/frame/sample |",
             "|---:|---:|---|---:|---:|---:|"]
    for row in result["table"]:
        lines.append(f"| {row['batch']} | {row['steps']} | {row['guidance']} | "
                     f"{row['median_ms']:.1f} | {row['min_ms']:.1f}-{row['max_ms']:.1f} | "
                     f"{row['ms_per_frame_per_sample']:.1f} |")
    lines += ["", f"Rollout of {r['frames']} frames at batch 1, {r['steps']} steps: frame 2 "
              f"{r['frame_2_ms']:.1f} ms, frame {r['frames']} {r['frame_last_ms']:.1f} ms; "
              f"median of frames 2-11 {r['median_first_10_ms']:.1f} ms, of the last 10 "
              f"{r['median_last_10_ms']:.1f} ms (ratio "
              f"{r['median_last_10_ms'] / r['median_first_10_ms']:.2f})."]
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
