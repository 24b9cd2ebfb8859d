"""The two steps of scripts/reproduce.py that are not one `canvasmar` command:

    python3 scripts/reproduce_steps.py guidance CHOICE.json BRANCH EVAL_ARGV_JSON [UNGUIDED]
        score CanvasMAR on test with the guidance branch BRANCH (both, canvas, temporal, none)
        at the scales `canvasmar choose` picked on val (CHOICE.json); the unguided run's
        record UNGUIDED is copied when those scales are both 1
    python3 scripts/reproduce_steps.py latency NEXT1 NEXT2 OUT.json DEVICE BATCHES REPEATS
        Fig. 6: first-frame latency and whole-rollout time of a next-1 and a next-2 model
        against batch size, with and without guidance, the two measured in turn
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

FRAMES = 16  # generated frames per timed rollout (the protocols' 16)
CONTEXT = 2


def branch_scales(chosen: dict, branch: str) -> tuple[float, float]:
    """(w_s, w_t) of one guidance branch. Eq. 9 as sampler.guidance_weights implements it:
    null + w_t (temporal - null) + w_s (full - temporal), so a scale of 1 turns its branch
    off: the canvas branch alone is (w_s, 1), the temporal branch alone (1, w_t)."""
    w_s, w_t = float(chosen["cfg_canvas"]), float(chosen["cfg_temporal"])
    return {"both": (w_s, w_t), "canvas": (w_s, 1.0), "temporal": (1.0, w_t),
            "none": (1.0, 1.0)}[branch]


def guidance(choice: str, branch: str, eval_argv: str, unguided: str = "") -> int:
    """Score one branch; when val chose scale 1 for it (w_s = w_t = 1, no guidance at all),
    the run is the unguided one that the motion sweep already scored with the same seed,
    clips and batches, so UNGUIDED's record is copied instead of evaluating it again."""
    from canvasmar.cli import main as canvasmar

    chosen = json.loads(Path(choice).read_text())["chosen"]
    w_s, w_t = branch_scales(chosen, branch)
    argv = json.loads(eval_argv)
    if (w_s, w_t) == (1.0, 1.0) and unguided and Path(unguided).exists():
        out = Path(argv[argv.index("--out") + 1])
        shutil.copyfile(unguided, out)
        print(f"  {branch}: val chose no guidance on it, so it is the unguided run: "
              f"{unguided} copied to {out}", flush=True)
        return 0
    return canvasmar([*argv, "--cfg-canvas", str(w_s), "--cfg-temporal", str(w_t)])


def latency(next1: str, next2: str, out: str, device: str, batches: str, repeats: str) -> int:
    import canvasmar
    from canvasmar.bench import GUIDED, PLAIN, machine, rollout_latency
    from canvasmar.versions import versions

    pipes = {"next-1": canvasmar.load_pipeline(next1, device=device),
             "next-2": canvasmar.load_pipeline(next2, device=device)}
    rows = []
    for batch in map(int, batches.split(",")):
        for name, scales in (("none", PLAIN), ("compositional", GUIDED)):
            measured = {k: [] for k in pipes}
            for pipe in pipes.values():  # untimed: first-call costs out of the way
                rollout_latency(pipe, batch, 2, CONTEXT, steps=4, **scales)
            for _ in range(int(repeats)):  # in turn, so drifts of a shared machine hit both
                for k, pipe in pipes.items():
                    measured[k].append(rollout_latency(pipe, batch, FRAMES, CONTEXT, steps=4,
                                                       **scales))
            for k, runs in measured.items():
                rows.append({"model": k, "batch": batch, "guidance": name, "steps": 4,
                             "frames": FRAMES, "runs": runs,
                             "first_frame_ms": statistics.median(r["first_frame_ms"]
                                                                 for r in runs),
                             "total_ms": statistics.median(r["total_ms"] for r in runs)})
    result = {"versions": versions(),
              "machine": machine(device),
              "rows": rows}
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def run_step(argv: list[str]) -> int:
    steps = {"guidance": guidance, "latency": latency}
    if not argv or argv[0] not in steps:
        print(f"error: give one of {', '.join(steps)} (see the docstring)", file=sys.stderr)
        return 2
    return steps[argv[0]](*argv[1:])


if __name__ == "__main__":
    sys.exit(run_step(sys.argv[1:]))
