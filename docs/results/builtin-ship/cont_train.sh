#!/bin/bash
# Session 14: $1 = run name, then extra overrides. Continue the built-in motion-input model
# (runs/builtin-motion-rerun, step 1525, EMA weights: docs/results/motion-input/
# builtin_train_told.sh, resumed) for a new 2000-step schedule (lr 5e-4, 50 warm-up steps,
# seed 1 so the batches are new), one thread, stopped by its time limit (LIMIT minutes).
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
name=$1; shift
.venv/bin/python -m canvasmar train tiny --out runs/$name --no-progress --force \
  train.init_from=runs/builtin-motion-rerun train.seed=1 \
  train.steps=2000 train.lr=5e-4 train.warmup_steps=50 train.eval_every=250 \
  train.save_every=250 train.threads=1 train.time_limit_min=${LIMIT:-88} \
  train.tensorboard=false train.device=cpu \
  model.residual=true model.motion_input=true "$@" > runs/$name.log 2>&1
# run here (session 14, side by side):
#   cont_train.sh builtin-cont-clean
#   cont_train.sh builtin-cont-noise loss.history_noise_max=0.1 model.history_noise_input=true
