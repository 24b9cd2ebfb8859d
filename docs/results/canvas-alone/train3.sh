#!/bin/bash
# Session 15: does loss.history_freeze (input frames that repeat the one before, real targets)
# keep rollouts moving? Two arms from the same start (runs/ca-canvas-joint, round 1's canvas-
# alone arm, EMA weights), side by side, one thread each, seed 4, lr 5e-4, head_repeat 1:
# 22 minutes canvas path alone (loss.mar_weight=0), then 10 minutes of the full objective,
# one arm with loss.history_freeze=0.2 in both phases, the other without.
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
common=(--no-progress --force train.seed=4 train.lr=5e-4 train.warmup_steps=50 train.threads=1
        train.tensorboard=false train.device=cpu model.residual=true model.motion_input=true
        loss.head_repeat=1)
run() {  # name init minutes steps eval_every overrides...
  local name=$1 init=$2 minutes=$3 steps=$4 every=$5; shift 5
  .venv/bin/python -m canvasmar train tiny --out runs/$name "${common[@]}" \
    train.init_from=$init train.time_limit_min=$minutes train.steps=$steps \
    train.eval_every=$every train.save_every=$every "$@" > runs/$name.log 2>&1
}
arm() {  # name overrides...
  local name=$1; shift
  run $name-canvas runs/ca-canvas-joint 22 3000 1000 loss.mar_weight=0 "$@" &&
  run $name runs/$name-canvas 10 400 200 "$@"
}
arm fr-freeze loss.history_freeze=0.2 &
arm fr-control &
wait
