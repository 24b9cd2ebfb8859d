#!/bin/bash
# Session 34: does a much better canvas change the rollouts? The canvas path alone trains at
# ~3x the clips per minute of the full objective (loss.mar_weight=0, docs/quality.md session
# 15), so one CPU session can show the canvas ~6x the clips session 31's spatial_rope arm saw.
# Phase 1 (PHASE=canvas): from scratch, the shipped model's architecture with spatial_rope
# (tiny, residual heads, motion input) and loss.history_freeze=0.2, canvas path alone, seed 0,
# batch 8, lr 1e-3 on a STEPS-step cosine (9000), stopped by LIMIT minutes (72).
# Phase 2 (PHASE=joint): the full objective (Eq. 10) from phase 1's EMA weights, so the Spatial
# MAR and flow head learn on the trained canvas: lr 5e-4, 50 warm-up steps, seed 1, a STEPS-step
# cosine (1600), LIMIT minutes (36). Phase 3 (PHASE=more): the full objective again from phase
# 2's EMA weights (lr 3e-4, 50 warm-up steps, seed 2, a STEPS-step cosine (1000), LIMIT minutes
# (20)), to see whether the sample's gap to its canvas closes with MAR steps. Two threads,
# nothing beside it. Run from a src snapshot (PYTHONPATH=/tmp/snap/src) so edits do not reach
# the running job.
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=2 PYTHONPATH=/tmp/snap/src
common="train.threads=2 train.tensorboard=false train.device=cpu model.residual=true
  model.motion_input=true model.spatial_rope=true loss.head_repeat=1 loss.history_freeze=0.2"
if [ "${PHASE:-canvas}" = canvas ]; then
  .venv/bin/python -m canvasmar train tiny --out runs/canvas-first --no-progress --force \
    train.steps=${STEPS:-9000} train.eval_every=1000 train.save_every=500 \
    train.time_limit_min=${LIMIT:-72} loss.mar_weight=0 $common > runs/canvas-first.log 2>&1
elif [ "$PHASE" = more ]; then
  .venv/bin/python -m canvasmar train tiny --out runs/canvas-first-more --no-progress --force \
    train.init_from=runs/canvas-first-joint train.seed=2 train.steps=${STEPS:-1000} \
    train.lr=3e-4 train.warmup_steps=50 train.eval_every=500 train.save_every=250 \
    train.time_limit_min=${LIMIT:-20} $common > runs/canvas-first-more.log 2>&1
else
  .venv/bin/python -m canvasmar train tiny --out runs/canvas-first-joint --no-progress --force \
    train.init_from=runs/canvas-first train.seed=1 train.steps=${STEPS:-1600} train.lr=5e-4 \
    train.warmup_steps=50 train.eval_every=400 train.save_every=200 \
    train.time_limit_min=${LIMIT:-36} $common > runs/canvas-first-joint.log 2>&1
fi
