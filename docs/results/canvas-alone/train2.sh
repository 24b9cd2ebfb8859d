#!/bin/bash
# Session 15, round 2 of train.sh: each arm continues its own round-1 result (EMA weights, by
# train.init_from) for 45 more minutes, the same settings with seed 3 (new batches), one
# thread each, side by side:
#   joint:        45 minutes of the full objective, from runs/ca-joint
#   canvas-alone: 30 minutes with loss.mar_weight=0, then 15 of the full objective, from
#                 runs/ca-canvas-joint
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
common=(--no-progress --force train.seed=3 train.lr=5e-4 train.warmup_steps=50 train.threads=1
        train.tensorboard=false train.device=cpu model.residual=true model.motion_input=true
        loss.head_repeat=1)
run() {  # name init minutes steps eval_every overrides...
  local name=$1 init=$2 minutes=$3 steps=$4 every=$5; shift 5
  .venv/bin/python -m canvasmar train tiny --out runs/$name "${common[@]}" \
    train.init_from=$init train.time_limit_min=$minutes train.steps=$steps \
    train.eval_every=$every train.save_every=$every "$@" > runs/$name.log 2>&1
}
run ca2-joint runs/ca-joint 45 1800 300 &
( run ca2-canvas runs/ca-canvas-joint 30 4000 1000 loss.mar_weight=0 &&
  run ca2-canvas-joint runs/ca2-canvas 15 600 300 ) &
wait
# Stopped after 8 minutes (session 15) for train3.sh; its partial rows: ca2-*-validation-rows.jsonl.
