#!/bin/bash
# Session 13: $1 = run name, then extra overrides. pong_finetune.sh's command (600 steps from
# checkpoints/atari-pong, one thread) with the motion input and whatever else is given.
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
name=$1; shift
.venv/bin/python -m canvasmar train tiny --out runs/$name --data data/pong --no-progress --force \
  model.actions=6 model.residual=true model.motion_input=true tokenizer.patch=8 \
  data.resolution=64 data.frames=8 train.steps=600 train.batch_size=8 train.threads=1 \
  train.warmup_steps=50 train.lr=5e-4 train.ema_decay=0.995 train.eval_every=150 \
  train.save_every=150 train.eval_clips=16 sample.steps=2 sample.flow_steps=10 \
  train.init_from=checkpoints/atari-pong "$@" > runs/$name.log 2>&1
# Run as: pong_finetune_told.sh pong-motion-told loss.history_noise_max=0.3 \
#   model.history_noise_input=true; and pong_finetune_told.sh pong-motion-rerun (the
# motion-input run of session 12 again, on this machine, beside it)
