#!/bin/bash
# Session 16, phase 2: two arms side by side from the phase-1 run (runs/warp, EMA weights),
# one thread each, 30 minutes, the same settings and seed: the shift target of phase 1 (the
# single best shift: losses.py and models/warp.py of commit 163a7aa, snapshot /tmp/snap, with
# the diagnostics of the next commit) against the set of shifts
# as good as it (acceptable_shifts, commit after it, snapshot /tmp/snap2).
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1
arm() {  # name snapshot
  PYTHONPATH=$2/src .venv/bin/python -m canvasmar train tiny --out runs/$1 --no-progress \
    --force train.seed=7 train.lr=5e-4 train.warmup_steps=50 train.threads=1 \
    train.tensorboard=false train.device=cpu model.residual=true model.motion_input=true \
    loss.head_repeat=1 model.warp=4 train.init_from=runs/warp \
    train.time_limit_min=${MINUTES:-30} train.steps=2000 train.eval_every=500 \
    train.save_every=500 loss.history_freeze=0.2 > runs/$1.log 2>&1
}
arm warp-argmin /tmp/snap &
arm warp-set /tmp/snap2 &
wait
