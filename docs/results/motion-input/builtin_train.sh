#!/bin/bash
# $1 = run name, $2 = motion_input true/false: run R of docs/quality.md (residual, tiny preset,
# seed 0, batch 8, lr 1e-3, 2000-step schedule), one thread each, stopped by the time limit
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=2 PYTHONPATH=/tmp/snap/src
.venv/bin/python -m canvasmar train tiny --out runs/$1 --no-progress --force \
  train.steps=2000 train.eval_every=250 train.save_every=250 train.threads=2 \
  train.time_limit_min=${LIMIT:-50} train.tensorboard=false train.device=cpu \
  model.residual=true model.motion_input=$2 > runs/$1.log 2>&1
# Run as: LIMIT=55 builtin_train.sh builtin-motion true (stopped at step 745), then continued
# with the same command plus --resume (no --force) and train.time_limit_min=33: step 1274.
