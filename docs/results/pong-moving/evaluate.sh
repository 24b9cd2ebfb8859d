#!/bin/bash
# Session 19: the action-following numbers of one checkpoint, one thread, ~5 minutes:
#   bash docs/results/pong-moving/evaluate.sh NAME CHECKPOINT   (OUT=FOLDER for the JSONs)
# diagnose (64 val clips with their actions: canvas_action_gain), the teacher-forced paddle
# probe (paddle_probe.py) at the shipped settings (T 0.5, keep_unchanged 0.1) and at T 1
# without keep_unchanged, and scripts/action_sensitivity.py (32 emulator starts, RIGHT vs
# LEFT held 8 steps) at T 0.5 with and without keep_unchanged. JSONs beside this script.
set -euo pipefail
cd "$(dirname "$0")/../../.."
name=$1 ckpt=$2 out=${OUT:-docs/results/pong-moving}
probe=docs/results/pong-moving/paddle_probe.py
export OMP_NUM_THREADS=1
.venv/bin/canvasmar diagnose --checkpoint "$ckpt" --data data/pong --clips 64 --samples 4 \
  --out $out/diagnose-$name.json --force > /dev/null
.venv/bin/python $probe "$ckpt" --set '{"head_temperature":0.5,"keep_unchanged":0.1}' \
  --out $out/probe-$name.json > /dev/null
.venv/bin/python $probe "$ckpt" --set '{"head_temperature":1.0,"keep_unchanged":0.0}' \
  --out $out/probe-$name-t1.json > /dev/null
.venv/bin/python scripts/action_sensitivity.py "$ckpt" $out/sensitivity-$name.json \
  --head-temperature 0.5 --set keep_unchanged=0.1 > /dev/null
.venv/bin/python scripts/action_sensitivity.py "$ckpt" $out/sensitivity-$name-k0.json \
  --head-temperature 0.5 --set keep_unchanged=0 --figure $out/sensitivity-$name-k0.png > /dev/null
.venv/bin/python - "$name" "$out" <<'PY'
import json, sys
name, out = sys.argv[1:3]
d = json.load(open(f"{out}/diagnose-{name}.json"))["diagnostics"]
row = [name, d["canvas_moving_gain"], d["canvas_action_gain"], d["canvas_static_mse"]]
for f in (f"probe-{name}", f"probe-{name}-t1"):
    s = json.load(open(f"{out}/{f}.json"))["summary"]
    row += [s["up_minus_down_px"], s["corr_model_true"], s["paddle_lost_share"]]
for f in (f"sensitivity-{name}", f"sensitivity-{name}-k0"):
    s = json.load(open(f"{out}/{f}.json"))
    row += [s["model_dy_mean"], s["gap_inside_mean"], s["gap_outside_mean"]]
print("| " + " | ".join(x if isinstance(x, str) else f"{x:.3g}" for x in row) + " |")
PY
