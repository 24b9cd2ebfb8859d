#!/bin/bash
# Session 31: continue a run of train.sh (its 2000-step schedule) with THREADS threads until
# LIMIT minutes: the rope arm after the side-by-side phase, alone on the 2 cores.
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=${THREADS:-2} PYTHONPATH=/tmp/snap/src
name=$1; shift
.venv/bin/python -m canvasmar train tiny --out runs/$name --resume --no-progress \
  train.steps=2000 train.eval_every=250 train.save_every=250 train.threads=${THREADS:-2} \
  train.time_limit_min=${LIMIT:-50} train.tensorboard=false train.device=cpu \
  model.residual=true model.motion_input=true loss.head_repeat=1 "$@" >> runs/$name.log 2>&1
