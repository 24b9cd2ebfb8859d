"""eager vs compiled (inductor) sampling, interleaved in one process.

Usage: compile_probe.py CHECKPOINT MODE BATCH [KEEP_UNCHANGED]  (env REPS=6 FRAMES=8)
"""
import json, os, statistics, sys, time
import torch
import canvasmar
torch.set_num_threads(1)
ckpt, mode, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
eager = canvasmar.load_pipeline(ckpt)
comp = canvasmar.load_pipeline(ckpt).compile(mode)
c, h, w = eager.frame_shape
ctx = torch.rand(batch, 2, c, h, w, generator=torch.Generator().manual_seed(0))
opts = dict(steps=4, keep_unchanged=float(sys.argv[4]) if len(sys.argv) > 4 else None)
opts = {k: v for k, v in opts.items() if v is not None}
t0 = time.perf_counter()
first = list(comp(ctx, 2, generator=torch.Generator().manual_seed(0), **opts))
print("compile (first 2 frames):", round(time.perf_counter() - t0, 1), "s", flush=True)
a = eager(ctx, 8, generator=torch.Generator().manual_seed(0), **opts)
b = comp(ctx, 8, generator=torch.Generator().manual_seed(0), **opts)
print("max |diff| over 8 frames:", float((a - b).abs().max()), flush=True)
times = {"eager": [], "compiled": []}
REPS, FRAMES = int(os.environ.get("REPS", 6)), int(os.environ.get("FRAMES", 8))
for rep in range(REPS):
    for name, pipe in (("eager", eager), ("compiled", comp)):
        t = time.perf_counter()
        pipe(ctx, FRAMES, generator=torch.Generator().manual_seed(rep), **opts)
        times[name].append((time.perf_counter() - t) / FRAMES * 1000)
med = {k: statistics.median(v) for k, v in times.items()}
print(json.dumps({"ms_per_frame": times, "median": med,
                  "speedup": med["eager"] / med["compiled"]}, indent=1))
