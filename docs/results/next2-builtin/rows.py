"""Session 26: the validation rows (16 val clips, raw weights) of the two fine-tunes, side by
side. python docs/results/next2-builtin/rows.py runs/n2-builtin runs/n1-builtin-control"""
import json
import sys

KEYS = ["val_mar", "val_canvas_mse", "diag_swap_mse", "diag_swap_moving_gain",
        "diag_swap_mse_unconditional", "diag_canvas_moving_gain", "diag_spread_over_error_moving"]
runs = {r: [json.loads(x) for x in open(f"{r}/metrics.jsonl") if '"val_mar"' in x]
        for r in sys.argv[1:]}
print("| step | run | " + " | ".join(KEYS) + " |")
print("|---:|---|" + "---:|" * len(KEYS))
for step in sorted({row["step"] for rows in runs.values() for row in rows}):
    for r, rows in runs.items():
        for row in rows:
            if row["step"] == step:
                print(f"| {step} | {r.split('/')[-1]} | "
                      + " | ".join(f"{row[k]:.3g}" for k in KEYS) + " |")
