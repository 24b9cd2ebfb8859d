#!/bin/bash
# Session 17: the shift canvas on Pong. checkpoints/atari-pong (EMA weights of step 1400) with
# model.warp=8 (on Pong's 64x64 frames and 8x8-pixel tokens the best integer shift per token
# within 8 px removes 83% of copying's moving-token error, 4 px 68%: oracle_pong.py), the
# shipped model's settings otherwise (scripts/pong_model.sh step 2), fine-tuned on the same
# recordings. The warp layer is new and starts at the zero shift. Code snapshot in $SNAP
# (default /tmp/snap), THREADS (2), MINUTES (50), RESUME=1 continues the run; lr 5e-4 (the builtin warp runs' fine-tune rate).
cd "$(dirname "$0")/../../.."
name=${NAME:-pong-warp}
mode=--force; [ -n "$RESUME" ] && mode=--resume
OMP_NUM_THREADS=${THREADS:-2} PYTHONPATH=${SNAP:-/tmp/snap}/src .venv/bin/python -m canvasmar \
  train tiny --out runs/$name --data data/pong --no-progress $mode model.actions=6 \
  model.residual=true tokenizer.patch=8 data.resolution=64 data.frames=8 train.batch_size=8 \
  train.threads=${THREADS:-2} train.warmup_steps=50 train.lr=5e-4 train.ema_decay=0.999 train.eval_every=250 \
  train.save_every=250 train.eval_clips=16 sample.steps=2 sample.flow_steps=10 \
  train.tensorboard=false train.device=cpu model.warp=8 train.init_from=checkpoints/atari-pong \
  train.seed=${SEED:-3} train.steps=${STEPS:-5000} train.time_limit_min=${MINUTES:-50} \
  > runs/$name.log 2>&1
