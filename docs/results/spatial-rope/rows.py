"""Validation rows of two runs side by side (session 31): python rows.py RUN_A RUN_B [OUT.md].

Reads each run's metrics.jsonl (the rows with validation numbers, 32 val clips, raw weights)
and prints a markdown table at the steps both have; writes RUN-validation-rows.jsonl copies
next to this script so the numbers stay in the repo when runs/ does not."""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEYS = [("val_canvas_mse", "canvas MSE", 5), ("val_mar", "val L_MAR", 4),
        ("diag_canvas_moving_gain", "canvas moving gain", 3),
        ("diag_canvas_history_gain", "history gain", 3), ("diag_swap_mse", "swap_mse", 6),
        ("diag_canvas_static_mse", "canvas static MSE", 6)]


def validation_rows(run: Path) -> dict[int, dict]:
    rows = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "val_canvas_mse" in row:
            rows[row["step"]] = row
    return rows


def main() -> None:
    runs = [Path(a) for a in sys.argv[1:3]]
    here = Path(__file__).parent
    tables = [validation_rows(r) for r in runs]
    for run, rows in zip(runs, tables, strict=True):
        (here / f"{run.name}-validation-rows.jsonl").write_text(
            "".join(json.dumps(rows[s]) + "\n" for s in sorted(rows)))
    steps = sorted(set(tables[0]) & set(tables[1]))
    head = "| step | run | " + " | ".join(k[1] for k in KEYS) + " |"
    lines = [head, "|" + "---|" * (len(KEYS) + 2)]
    for step in steps:
        for run, rows in zip(runs, tables, strict=True):
            cells = [f"{rows[step][key]:.{digits}f}" if key in rows[step] else ""
                     for key, _, digits in KEYS]
            lines.append(f"| {step} | {run.name} | " + " | ".join(cells) + " |")
    copy_last = tables[0][steps[0]]["val_copy_last_mse"] if steps else float("nan")
    text = "\n".join(lines) + f"\n\n(copy-last MSE {copy_last:.5f}.)\n"
    print(text)
    if len(sys.argv) > 3:
        Path(sys.argv[3]).write_text(text)


if __name__ == "__main__":
    main()
