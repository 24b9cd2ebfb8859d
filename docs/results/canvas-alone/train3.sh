#!/bin/bash
# Session 15: does loss.history_freeze (input frames that repeat the one before, real targets)
# keep rollouts moving? Two arms from the same start (runs/ca-canvas-joint, round 1's canvas-
# alone arm, EMA weights), side by side, one thread each, seed 4, lr 5e-4, head_repeat 1:
# 22 minutes canvas path alone (loss.mar_weight=0), then 10 minutes of the full objective,
# one arm with loss.history_freeze=0.2 in both phases, the other without.
SEED=4 source "$(dirname "$0")/common.sh"
arm() {  # name overrides...
  local name=$1; shift
  run $name-canvas runs/ca-canvas-joint 22 3000 1000 loss.mar_weight=0 "$@" &&
  run $name runs/$name-canvas 10 400 200 "$@"
}
arm fr-freeze loss.history_freeze=0.2 &
arm fr-control &
wait
