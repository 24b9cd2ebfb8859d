#!/bin/bash
# $1 = run name, $2 = motion_input true/false
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
.venv/bin/python -m canvasmar train tiny --out runs/$1 --data data/pong --no-progress \
  model.actions=6 model.residual=true model.motion_input=$2 tokenizer.patch=8 \
  data.resolution=64 data.frames=8 train.steps=600 train.batch_size=8 train.threads=1 \
  train.warmup_steps=50 train.lr=5e-4 train.ema_decay=0.995 train.eval_every=150 \
  train.save_every=150 train.eval_clips=16 sample.steps=2 sample.flow_steps=10 \
  train.init_from=checkpoints/atari-pong > runs/$1.log 2>&1
# Run as: pong_finetune.sh pong-motion true; pong_finetune.sh pong-ft-control false; and the
# history-noise run pong-motion-hnoise: motion_input=true plus loss.history_noise_max=0.3
# (from a later src snapshot that has it).
