"""Session 15: one row per eval JSON: MSE, PSNR, best-of-K PSNR, motion overall and at
predicted frames 1, 2, 3, 4, 8, 16, for the model (the first model_steps_* setting) and,
with --baselines, copy-last and canvas-only. python motion_table.py [--baselines] JSON ..."""
import json
import sys
from pathlib import Path

args = [a for a in sys.argv[1:] if a != "--baselines"]
print("| eval | setting | MSE | PSNR | best-of-K PSNR | motion | motion at 1 / 2 / 3 / 4 / 8 / 16 |")
print("|---|---|---:|---:|---:|---:|---|")
for path in args:
    results = json.loads(Path(path).read_text())["results"]
    names = [n for n in results if n.startswith("model_steps")][:1]
    if "--baselines" in sys.argv:
        names = ["copy_last", "canvas_only", *names]
    for name in names:
        r = results[name]
        curve = r["per_frame"]["motion"]
        at = " / ".join(f"{curve[i - 1]:.2f}" for i in (1, 2, 3, 4, 8, 16) if i <= len(curve))
        print(f"| {Path(path).stem} | {name} | {r['mse']:.5f} | {r['psnr']:.2f} | "
              f"{r['psnr_best_of_k']:.2f} | {r['motion']:.3f} | {at} |")
