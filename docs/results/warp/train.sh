#!/bin/bash
# Session 16: the shift canvas (model.warp=4, models/warp.py) fine-tuned from the
# history_freeze arm of session 15 (runs/fr-freeze2, EMA weights; the warp layer is new and
# starts at the zero shift), the same settings as its last phase (docs/results/canvas-alone/
# train4.sh: lr 5e-4, head_repeat 1, history_freeze 0.2), seed 6, two threads, nothing beside it.
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=2 PYTHONPATH=/tmp/snap/src
.venv/bin/python -m canvasmar train tiny --out runs/warp --no-progress --force \
  train.seed=6 train.lr=5e-4 train.warmup_steps=50 train.threads=2 train.tensorboard=false \
  train.device=cpu model.residual=true model.motion_input=true loss.head_repeat=1 \
  model.warp=4 train.init_from=runs/fr-freeze2 train.time_limit_min=${MINUTES:-45} \
  train.steps=3000 train.eval_every=500 train.save_every=500 loss.history_freeze=0.2 \
  > runs/warp.log 2>&1
