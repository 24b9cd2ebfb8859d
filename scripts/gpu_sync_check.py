"""Issue 14, sampling on GPUs: does a generated frame make the host wait for the device?

On a CUDA device, `torch.cuda.set_sync_debug_mode("error")` raises at any op that
synchronises (.item(), nonzero, a blocking host->device copy, ...). This runs a rollout's
second temporal step under it for next-1, next-2 and an action model, plain and guided,
with a CPU generator (as `canvasmar eval` uses, so a seed repeats across devices: its draws
must reach the GPU without a blocking copy, augment.to_device). `keep_unchanged` > 0 is
listed apart: it reads the tokens to integrate with one nonzero per MAR step, by design.
The CPU counterpart is tests/test_sampler_syncs.py (ops counted as dispatched).

Usage: python3 scripts/gpu_sync_check.py OUT.json [--preset tiny] [--dtype bfloat16]
(`--device cpu` runs the same rollouts unwatched: how the test checks this script.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import torch

from canvasmar.config import load_config
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline

CASES = {"next-1": [], "next-2": ["model.group=2"], "actions": ["model.actions=3"]}


@contextlib.contextmanager
def sync_watch(device: torch.device):
    """Every synchronising op raises inside (CUDA); nothing is watched on a CPU."""
    if device.type != "cuda":
        yield
        return
    torch.cuda.synchronize(device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


def second_frame(pipe: Pipeline, **options) -> str:
    """'ok', or the first synchronising op's message."""
    group, (c, h, w) = pipe.model.group, pipe.frame_shape
    context = torch.rand(2, 2, c, h, w, device=pipe.device)
    frames = pipe.stream(context, 2 * group, generator=torch.Generator().manual_seed(0),
                         **options)
    for _ in range(group):
        next(frames)
    try:
        with sync_watch(pipe.device):
            next(frames)
        return "ok"
    except RuntimeError as err:
        return str(err).splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--set", action="append", default=[], help="a config override")
    args = parser.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available():
        print("error: no CUDA device: this check is for a GPU session (scripts/gpu_check.sh)",
              file=sys.stderr)
        return 2
    results = {}
    for name, extra in CASES.items():
        torch.manual_seed(0)
        cfg = load_config(args.preset, [*args.set, *extra])
        model, tokenizer = build_model(cfg)
        pipe = Pipeline(model.eval(), tokenizer, cfg).to(args.device, args.dtype)
        settings = {"plain": {}, "guided": {"cfg_canvas": 1.5, "cfg_temporal": 1.2},
                    "keep_unchanged 0.1 (one nonzero per MAR step, by design)":
                        {"keep_unchanged": 0.1}}
        for label, options in settings.items():
            options = {"steps": 4, "keep_unchanged": 0.0} | options
            results[f"{name}, {label}"] = second_frame(pipe, **options)
            print(f"{name}, {label}: {results[f'{name}, {label}']}", flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
