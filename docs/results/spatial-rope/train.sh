#!/bin/bash
# Session 31: model.spatial_rope from scratch against a control, side by side, one thread each.
# $1 = run name, then extra overrides. The shipped model's stage-1 command
# (docs/results/motion-input/builtin_train_told.sh: tiny, residual heads, motion input, seed 0,
# batch 8, lr 1e-3 on a 2000-step cosine) with one flow-head repeat (faster per minute at this
# size, docs/quality.md session 14), stopped by its time limit (LIMIT minutes).
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
name=$1; shift
.venv/bin/python -m canvasmar train tiny --out runs/$name --no-progress --force \
  train.steps=2000 train.eval_every=250 train.save_every=250 train.threads=1 \
  train.time_limit_min=${LIMIT:-60} train.tensorboard=false train.device=cpu \
  model.residual=true model.motion_input=true loss.head_repeat=1 "$@" > runs/$name.log 2>&1
