#!/bin/bash
# Session 13: $1 = run name, then extra overrides. builtin_train.sh's command (run R of
# docs/quality.md with the motion input: tiny, residual, seed 0, batch 8, lr 1e-3, 2000-step
# schedule), one thread, stopped by its time limit (LIMIT minutes).
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
name=$1; shift
.venv/bin/python -m canvasmar train tiny --out runs/$name --no-progress --force \
  train.steps=2000 train.eval_every=250 train.save_every=250 train.threads=1 \
  train.time_limit_min=${LIMIT:-50} train.tensorboard=false train.device=cpu \
  model.residual=true model.motion_input=true "$@" > runs/$name.log 2>&1
