#!/bin/bash
# Session 31: model.spatial_rope from scratch against a control, side by side, one thread each.
# $1 = run name, then extra overrides. The shipped model's stage-1 command
# (docs/results/motion-input/builtin_train_told.sh: tiny, residual heads, motion input, seed 0,
# batch 8, lr 1e-3 on a 2000-step cosine) with one flow-head repeat (faster per minute at this
# size, docs/quality.md session 14), stopped by its time limit (LIMIT minutes, default 60).
name=$1; shift
LIMIT=${LIMIT:-60} exec bash "$(dirname "$0")/../motion-input/builtin_train_told.sh" "$name" \
  loss.head_repeat=1 "$@"
