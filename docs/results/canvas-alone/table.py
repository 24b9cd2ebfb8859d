"""Session 15: validation rows against training minutes (the sum of sec_per_step up to each
validation). An argument is a run folder, or several joined by commas: phases of one arm, whose
minutes add up. python table.py runs/ca-joint runs/ca-canvas,runs/ca-canvas-joint > table.md;
also writes each run's validation rows beside this script."""
import json
import sys
from pathlib import Path

KEYS = ("val_canvas_mse", "val_mar", "diag_canvas_moving_gain", "diag_canvas_history_gain",
        "diag_swap_mse", "diag_spread_over_error_moving")
here = Path(__file__).parent
print("| arm | run | step | minutes | " + " | ".join(KEYS) + " |")
print("|---|---|---:|---:|" + "---:|" * len(KEYS))
for arm in sys.argv[1:]:
    seconds = 0.0
    for run in arm.split(","):
        rows = []
        for line in open(Path(run) / "metrics.jsonl"):
            row = json.loads(line)
            seconds += row.get("sec_per_step", 0.0)
            if "val_canvas_mse" in row:
                row["minutes"] = seconds / 60
                rows.append(row)
        (here / f"{Path(run).name}-validation-rows.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows))
        for r in rows:
            print(f"| {Path(arm.split(',')[0]).name} | {Path(run).name} | {r['step']} | "
                  f"{r['minutes']:.0f} | " + " | ".join(f"{r[k]:.3g}" for k in KEYS) + " |")
