#!/bin/bash
# Session 15: does training the canvas path alone first (loss.mar_weight=0: no Spatial MAR or
# flow head pass, 3.3x the steps per minute at tiny size) teach the canvas motion faster than
# the joint objective, at equal minutes? Both arms continue checkpoints/builtin (EMA weights
# of 4,661 steps) with lr 5e-4, 50 warm-up steps, seed 2 (new batches), head_repeat 1, one
# thread each, side by side on the 2 cores:
#   joint:        55 minutes of the full objective (Eq. 10)
#   canvas-alone: 35 minutes with loss.mar_weight=0, then 20 minutes of the full objective
#                 (train.init_from the first phase's EMA weights) so the MAR adapts
# Run from a src snapshot (PYTHONPATH=/tmp/snap/src) so edits do not reach running jobs.
SEED=2 source "$(dirname "$0")/common.sh"
run ca-joint checkpoints/builtin 55 2200 250 &
( run ca-canvas checkpoints/builtin 35 4500 750 loss.mar_weight=0 &&
  run ca-canvas-joint runs/ca-canvas 20 800 250 ) &
wait
