#!/bin/bash
# Session 15: 18 more minutes of the full objective for the history_freeze arm (runs/fr-freeze,
# EMA weights), loss.history_freeze=0.2, seed 5, two threads (nothing beside it).
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=2 PYTHONPATH=/tmp/snap/src
.venv/bin/python -m canvasmar train tiny --out runs/fr-freeze2 --no-progress --force \
  train.seed=5 train.lr=5e-4 train.warmup_steps=50 train.threads=2 train.tensorboard=false \
  train.device=cpu model.residual=true model.motion_input=true loss.head_repeat=1 \
  train.init_from=runs/fr-freeze train.time_limit_min=18 train.steps=1000 \
  train.eval_every=500 train.save_every=500 loss.history_freeze=0.2 > runs/fr-freeze2.log 2>&1
