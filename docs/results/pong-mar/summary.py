"""Session 22: one markdown row per pong-mar eval (eval.sh): swap tests, paddle pieces and
starts with the paddle found per rollout step; session 23: spurious pixels (% of the field
where the model draws and the emulator shows background; evals before session 23 lack it).
    python docs/results/pong-mar/summary.py"""
import json
from pathlib import Path

here = Path(__file__).parent
print("| checkpoint | swap_mse | swap moving gain | unconditional swap_mse | unconditional "
      "moving gain | pieces 2 motion, steps 1/2/3/8 | pieces 8 random | found 2 motion | "
      "spurious % 2 motion, steps 1/2/3/8 |")
print("|---|---:|---:|---:|---:|---|---|---|---|")
for diag in sorted(here.glob("diagnose-*.json")):
    name = diag.stem.removeprefix("diagnose-")
    d = json.loads(diag.read_text())["diagnostics"]
    cells = [f"{d['swap_mse']:.1e}", f"{d['swap_moving_gain']:.4f}",
             f"{d['swap_mse_unconditional']:.1e}",
             f"{d.get('swap_moving_gain_unconditional', float('nan')):.4f}"]
    found = spurious = ""
    for tag in ("2motion", "8random"):
        f = here / f"sensitivity-{name}-{tag}.json"
        if not f.exists():
            cells.append("")
            continue
        s = json.loads(f.read_text())
        p = s["model_pieces_by_step"]
        cells.append(" / ".join(f"{p[i]:.1f}" for i in (0, 1, 2, len(p) - 1)))
        if tag == "2motion":
            found = " ".join(str(v) for v in s["valid_by_step"])
            q = s.get("spurious_by_step")
            spurious = "" if q is None else " / ".join(f"{100 * q[i]:.2f}"
                                                       for i in (0, 1, 2, len(q) - 1))
    print(f"| {name} | " + " | ".join(cells) + f" | {found} | {spurious} |")
real = json.loads((here / "sensitivity-start-2945-2motion.json").read_text())["real_pieces_by_step"]
print(f"\nReal frames, paddle pieces steps 1/2/3/8: "
      f"{' / '.join(f'{real[i]:.1f}' for i in (0, 1, 2, len(real) - 1))}")
