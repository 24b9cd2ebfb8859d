#!/bin/bash
# Session 32: stage 2 of the shipped recipe (docs/results/builtin-ship/cont_train.sh: a new
# schedule from the stage-1 run's EMA weights, lr 5e-4, 50 warm-up steps, seed 1 so the batches
# are new) on session 31's spatial_rope arm (runs/rope-arm, stage 1 stopped at step 1679 of its
# 2000-step cosine), with loss.history_freeze=0.2 (docs/quality.md session 15: it removes the
# canvas's absorbing state after a stuck frame) and one flow-head repeat. THREADS threads (2),
# a STEPS-step cosine (1800), stopped by its time limit (LIMIT minutes, default 80).
# $1 = run name, then extra overrides. Run from a src snapshot (PYTHONPATH=/tmp/snap/src).
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=${THREADS:-2} PYTHONPATH=/tmp/snap/src
name=$1; shift
.venv/bin/python -m canvasmar train tiny --out runs/$name --no-progress --force \
  train.init_from=runs/rope-arm train.seed=1 \
  train.steps=${STEPS:-1800} train.lr=5e-4 train.warmup_steps=50 train.eval_every=300 \
  train.save_every=150 train.threads=${THREADS:-2} train.time_limit_min=${LIMIT:-80} \
  train.tensorboard=false train.device=cpu \
  model.residual=true model.motion_input=true model.spatial_rope=true \
  loss.head_repeat=1 loss.history_freeze=0.2 "$@" > runs/$name.log 2>&1
