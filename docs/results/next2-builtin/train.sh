#!/bin/bash
# Session 26 (issue 15): does the next-2 architecture (App. B: temporal attention inside the
# Spatial MAR, two frames drawn together) make the *shipped* built-in model read its revealed
# tokens and keep objects moving? $1 = run name, $2 = group (2: next-2, 1: the control, same
# command otherwise). Both start from checkpoints/builtin (EMA weights) and see the same
# batches (seed 3); run side by side, one thread each, from a src snapshot (PYTHONPATH).
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=1 PYTHONPATH=${SNAP:-/tmp/snap}/src
name=$1; group=$2
.venv/bin/python -m canvasmar train tiny --out runs/$name --no-progress --force \
  train.init_from=checkpoints/builtin model.group=$group train.seed=3 \
  model.residual=true model.motion_input=true loss.head_repeat=1 data.frames=8 \
  sample.head_temperature=0.5 sample.keep_unchanged=0.1 \
  train.steps=${STEPS:-800} train.lr=3e-4 train.warmup_steps=30 train.eval_every=${EVAL_EVERY:-200} \
  train.eval_clips=16 train.save_every=200 train.threads=1 train.time_limit_min=${LIMIT:-80} \
  train.tensorboard=false train.device=cpu > runs/$name.log 2>&1
