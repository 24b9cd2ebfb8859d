"""Carrying a run's weights across GPU windows (scripts/gpu_train_small.sh).

The device tool brings back at most 8 files of at most 16 MiB each, so the small preset's
weights (16.3M values, ~33 MB in fp16) travel as shards:

    python3 scripts/checkpoint_shards.py export RUN MODEL_DIR SHARD_DIR
        RUN's latest EMA weights (raw ones if it kept no EMA) in fp16 -> MODEL_DIR (a loadable
        folder: config.json + model.safetensors) and SHARD_DIR (config.json +
        part-N.safetensors, each <= 15 MiB)
    python3 scripts/checkpoint_shards.py join SHARD_DIR OUT_DIR
        the shards back into a loadable folder (train.init_from=OUT_DIR resumes from it)
    python3 scripts/checkpoint_shards.py steps PROBE_METRICS_JSONL MINUTES
        how many steps fit in MINUTES at the probe's median seconds per step (90% of it)
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SHARD_BYTES = 15 * 2**20


def _fail(message: str) -> None:
    raise SystemExit(f"error: {message}")


def export(run: Path, model: Path, shards: Path) -> dict[str, torch.Tensor]:
    latest = run / "latest"
    if not latest.is_file():
        _fail(f"{run} is not a run folder with a checkpoint (no 'latest')")
    ckpt = run / "checkpoints" / latest.read_text().strip()
    weights = ckpt / "ema.safetensors"
    if not weights.is_file():
        weights = ckpt / "model.safetensors"
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(weights).items()}
    for folder in (model, shards):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(ckpt / "config.json", folder / "config.json")
    save_file(state, model / "model.safetensors")
    part: dict[str, torch.Tensor] = {}
    size = index = 0
    for name in sorted(state):
        part[name] = state[name]
        size += state[name].numel() * state[name].element_size()
        if size > SHARD_BYTES:  # a shard may pass the mark by one tensor (< 1 MiB here)
            save_file(part, shards / f"part-{index}.safetensors")
            part, size, index = {}, 0, index + 1
    if part:
        save_file(part, shards / f"part-{index}.safetensors")
    print(f"{weights} -> {model}, {shards} ({sum(v.numel() for v in state.values()) / 1e6:.1f}M "
          f"values in fp16, {index + bool(part)} shards)")
    return state


def join(shards: Path, out: Path) -> Path:
    parts = sorted(shards.glob("part-*.safetensors"))
    if not parts or not (shards / "config.json").is_file():
        _fail(f"{shards} holds no part-*.safetensors and config.json: give the folder small/ "
              f"that the GPU run brought back")
    if out.exists():
        _fail(f"{out} exists: remove it or name another folder")
    state: dict[str, torch.Tensor] = {}
    for part in parts:
        state.update(load_file(part))
    out.mkdir(parents=True)
    save_file(state, out / "model.safetensors")
    shutil.copy(shards / "config.json", out / "config.json")
    return out


def steps_in(metrics: Path, minutes: float) -> int:
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    times = [r["sec_per_step"] for r in rows if "sec_per_step" in r]
    if not times:
        _fail(f"{metrics} has no timed steps")
    settled = times[len(times) // 3:] or times  # the first steps compile and warm up
    return max(20, int(minutes * 60 * 0.9 / statistics.median(settled)))


def main(argv: list[str]) -> None:
    if argv[:1] == ["export"] and len(argv) == 4:
        export(*(Path(a) for a in argv[1:]))
    elif argv[:1] == ["join"] and len(argv) == 3:
        print(f"wrote {join(Path(argv[1]), Path(argv[2]))}")
    elif argv[:1] == ["steps"] and len(argv) == 3:
        print(steps_in(Path(argv[1]), float(argv[2])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
