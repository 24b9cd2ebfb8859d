#!/bin/bash
# Session 20: does a recording in which the action is not predictable from the history teach
# the Pong model to move its paddle with the key? data/pong-mixed: `canvasmar data record atari
# --game pong --policy mixed` (even episodes sticky, odd random; 96 train seed 0, 16 val seed 1,
# 16 test seed 2, 400 steps). Under the sticky policy alone the paddle's last two moves explain
# 87% of the variance of its next move (39% under random; paddle_dynamics.py), so the action
# was nearly redundant.
# Two arms side by side, one thread each, code snapshot in $SNAP (default /tmp/snap20):
#   ARM=finetune: from checkpoints/atari-pong with session 19's best arm (model.action_film,
#     train.action_lr_mult=30, lr 5e-4); only the data differs from pong-moving-w1-a30-film.
#   ARM=scratch: the shipped recipe (scripts/pong_model.sh step 2, lr 1e-3) from scratch,
#     plus model.action_film and train.action_lr_mult=10.
# MINUTES (default 90); RESUME=1 continues the run; THREADS (default 1).
# Run: both arms 07:54-08:46 side by side (SIGTERM at finetune step 939, scratch 922; the
# scratch arm's action gain was a fifth of the fine-tune's at 750), then the fine-tune alone:
#   ARM=finetune RESUME=1 THREADS=2 MINUTES=65 bash docs/results/pong-mixed/train.sh
# (stopped at step 2945 by the time limit), then final_eval.sh finetune-2945 runs/pong-mixed-finetune.
cd "$(dirname "$0")/../../.."
arm=${ARM:-finetune}
name=pong-mixed-$arm
mode=--force; [ -n "$RESUME" ] && mode=--resume
if [ "$arm" = finetune ]; then
  extra="train.init_from=checkpoints/atari-pong train.lr=5e-4 train.warmup_steps=50 train.action_lr_mult=30"
else
  extra="train.lr=1e-3 train.warmup_steps=100 train.action_lr_mult=10"
fi
OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=${SNAP:-/tmp/snap20}/src .venv/bin/python -m canvasmar \
  train tiny --out runs/$name --data data/pong-mixed --no-progress $mode model.actions=6 \
  model.residual=true model.action_film=true tokenizer.patch=8 data.resolution=64 \
  data.frames=8 train.batch_size=8 train.threads=${THREADS:-1} train.ema_decay=0.999 \
  train.eval_every=250 train.save_every=250 train.eval_clips=16 sample.steps=2 \
  sample.flow_steps=10 train.tensorboard=false train.device=cpu $extra \
  train.seed=${SEED:-3} train.steps=${STEPS:-5000} train.time_limit_min=${MINUTES:-90} \
  > runs/$name.log 2>&1
