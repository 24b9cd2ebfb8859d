#!/bin/bash
# Session 16, phase 3: the set-target arm (runs/warp-set, EMA weights) 35 more minutes on two
# threads, nothing beside it but editing: does the warp's gain keep rising?
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=2 PYTHONPATH=/tmp/snap2/src
.venv/bin/python -m canvasmar train tiny --out runs/warp3 --no-progress --force \
  train.seed=8 train.lr=5e-4 train.warmup_steps=50 train.threads=2 train.tensorboard=false \
  train.device=cpu model.residual=true model.motion_input=true loss.head_repeat=1 \
  model.warp=4 train.init_from=runs/warp-set train.time_limit_min=${MINUTES:-35} \
  train.steps=2200 train.eval_every=500 train.save_every=500 loss.history_freeze=0.2 \
  > runs/warp3.log 2>&1
