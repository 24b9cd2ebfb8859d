"""Session 14: validation rows of two runs against training minutes (the sum of sec_per_step
up to each validation; the runs shared the 2 cores, one thread each).
python equal_time.py RUN_A RUN_B > table.md; also writes each run's rows beside this script."""
import json
import sys
from pathlib import Path

KEYS = ("val_canvas_mse", "val_mar", "diag_canvas_moving_gain", "diag_canvas_history_gain",
        "diag_swap_mse")
here = Path(__file__).parent
print("| run | step | minutes | " + " | ".join(KEYS) + " |")
print("|---|---:|---:|" + "---:|" * len(KEYS))
for run in sys.argv[1:]:
    seconds, rows = 0.0, []
    for line in open(Path(run) / "metrics.jsonl"):
        row = json.loads(line)
        seconds += row.get("sec_per_step", 0.0)
        if "val_canvas_mse" in row:
            row["minutes"] = seconds / 60
            rows.append(row)
    (here / f"{Path(run).name}-validation-rows.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    for r in rows:
        print(f"| {Path(run).name} | {r['step']} | {r['minutes']:.0f} | "
              + " | ".join(f"{r[k]:.3g}" for k in KEYS) + " |")
