"""Session 30: issue 17's "next-2 at least 1.8x faster than next-1 at batch 1 on our CPU",
measured on the models the issue names (a next-2 fine-tune of checkpoints/builtin and its
next-1 control, session 26: runs/n2-builtin, runs/n1-builtin-control) at their shipped
sampling settings (4 MAR steps, 30 flow steps, T 0.5, keep_unchanged 0.1), eager and with
the compiled MAR steps (Pipeline.compile), 16 frames from 2 context frames of a built-in test
clip (repeat r uses clip r: with keep_unchanged a frame's work depends on its content, so the
random-pixel context of `canvasmar bench` would not say what a real video costs), the models
timed in turn so that drifts of the shared machine hit both.

    OMP_NUM_THREADS=1 python docs/results/next2-speed/latency.py OUT.json [REPEATS] [MODES]
"""

import json
import statistics
import sys
import time

import torch

import canvasmar
from canvasmar.bench import machine
from canvasmar.data.procedural import ProceduralVideos
from canvasmar.versions import versions

MODELS = {"next-1": "runs/n1-builtin-control", "next-2": "runs/n2-builtin"}


def rollout_ms(pipe: "canvasmar.pipeline.Pipeline", context: torch.Tensor, frames: int) -> dict:
    """Milliseconds until the first frame arrives (a next-2 model's comes with its group) and
    until all `frames` are made, at batch 1."""
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    arrivals = [1000 * (time.perf_counter() - start)
                for _ in pipe.stream(context, frames, generator=g)]
    return {"first_frame_ms": arrivals[0], "total_ms": arrivals[-1]}


def main(out: str, repeats: int = 5, modes: str = "off,default") -> None:
    rows = []
    clips = ProceduralVideos("test", frames=2, resolution=32)
    for mode in modes.split(","):
        pipes = {k: canvasmar.load_pipeline(v).compile(mode) for k, v in MODELS.items()}
        for name, pipe in pipes.items():  # untimed: compiling and first-call costs
            start = time.perf_counter()
            rollout_ms(pipe, clips[100][None], 4)
            print(f"{mode} {name}: warm-up {time.perf_counter() - start:.1f} s", flush=True)
        runs = {k: [] for k in pipes}
        for r in range(repeats):
            for name, pipe in pipes.items():
                runs[name].append(rollout_ms(pipe, clips[r][None], 16))
        for name, measured in runs.items():
            total = [r["total_ms"] for r in measured]
            rows.append({"model": name, "compile": mode, "batch": 1, "frames": 16,
                         "runs": measured, "total_ms": statistics.median(total),
                         "total_min_max": [min(total), max(total)],
                         "first_frame_ms": statistics.median(r["first_frame_ms"]
                                                             for r in measured)})
            print(json.dumps(rows[-1] | {"runs": None}), flush=True)
        ratios = [a["total_ms"] / b["total_ms"] for a, b in zip(runs["next-1"], runs["next-2"])]
        rows.append({"ratio_next1_over_next2": statistics.median(ratios), "compile": mode,
                     "per_repeat": ratios})
        print(mode, "next-1 / next-2 per repeat:", [round(r, 2) for r in ratios], flush=True)
    result = {"versions": versions(), "machine": machine("cpu"),
              "threads": torch.get_num_threads(), "rows": rows}
    with open(out, "w") as f:
        f.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) if a.isdigit() else a for a in sys.argv[2:]))
