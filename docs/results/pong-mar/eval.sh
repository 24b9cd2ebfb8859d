#!/bin/bash
# Session 22: the numbers of one pong-mar arm's checkpoint (or the start, runs/pong-mixed-
# finetune): the learning diagnostics on 64 mixed val clips (the swap test with and without
# conditions) and the paddle in 8-step emulator rollouts (scripts/action_sensitivity.py: 16
# emulator starts, RIGHT vs LEFT held, head temperature 0.5, keep_unchanged 0) at 2 MAR steps
# in the motion order and 8 in random order. One thread.
#   bash docs/results/pong-mar/eval.sh NAME CHECKPOINT
set -euo pipefail
cd "$(dirname "$0")/../../.."
name=$1 ckpt=$2 out=docs/results/pong-mar
export OMP_NUM_THREADS=1
.venv/bin/canvasmar diagnose --checkpoint "$ckpt" --data data/pong-mixed --clips 64 \
  --samples 2 --out $out/diagnose-$name.json --force -q --no-progress > /dev/null
for s in "2 motion" "8 random"; do
  set -- $s
  .venv/bin/python scripts/action_sensitivity.py "$ckpt" $out/sensitivity-$name-$1$2.json \
    --starts 16 --steps 8 --head-temperature 0.5 --set keep_unchanged=0 --set steps=$1 \
    --set order=$2 --figure $out/sensitivity-$name-$1$2.png > /dev/null
done
