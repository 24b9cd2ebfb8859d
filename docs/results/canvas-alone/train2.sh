#!/bin/bash
# Session 15, round 2 of train.sh: each arm continues its own round-1 result (EMA weights, by
# train.init_from) for 45 more minutes, the same settings with seed 3 (new batches), one
# thread each, side by side:
#   joint:        45 minutes of the full objective, from runs/ca-joint
#   canvas-alone: 30 minutes with loss.mar_weight=0, then 15 of the full objective, from
#                 runs/ca-canvas-joint
SEED=3 source "$(dirname "$0")/common.sh"
run ca2-joint runs/ca-joint 45 1800 300 &
( run ca2-canvas runs/ca-canvas-joint 30 4000 1000 loss.mar_weight=0 &&
  run ca2-canvas-joint runs/ca2-canvas 15 600 300 ) &
wait
# Stopped after 8 minutes (session 15) for train3.sh; its partial rows: ca2-*-validation-rows.jsonl.
