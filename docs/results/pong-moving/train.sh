#!/bin/bash
# Session 19: does upweighting the tokens that change (loss.moving_weight, losses.token_weights)
# teach the Pong model to move its paddle with the action? Two arms from checkpoints/atari-pong
# (EMA weights of step 1400), the shipped model's settings otherwise (scripts/pong_model.sh
# step 2), fine-tuned on the same recordings side by side, one thread each, same seed and
# minutes: WEIGHT=1 (control: more steps of the paper's objective) and WEIGHT=10 (moving
# tokens, ~4.5% of Pong's tokens, then carry ~30% of the loss weight). Code snapshot in $SNAP
# (default /tmp/snap), MINUTES (70), RESUME=1 continues the run; lr 5e-4 (session 17's rate).
# A third arm, started 9 minutes later: WEIGHT=1 LRMULT=30 (train.action_lr_mult: the action
# embedding learns 30x faster; its rows had norm 0.25-0.47 against frame tokens of 7.5).
# A fourth, replacing the control at its step 500: WEIGHT=1 LRMULT=30 FILM=true
# (model.action_film: the action also scales and shifts z_t; the new layer starts at zero).
# A fifth, from commit "loss.moving_weight weighs the tokens near motion in the history" on
# (the arms above used the first, target-side weight): NAME=pong-hist-w10 WEIGHT=10.
cd "$(dirname "$0")/../../.."
name=${NAME:-pong-moving-w${WEIGHT:-10}$([ -n "$LRMULT" ] && echo -a$LRMULT)$([ -n "$FILM" ] && echo -film)}
mode=--force; [ -n "$RESUME" ] && mode=--resume
OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=${SNAP:-/tmp/snap}/src .venv/bin/python -m canvasmar \
  train tiny --out runs/$name --data data/pong --no-progress $mode model.actions=6 \
  model.residual=true tokenizer.patch=8 data.resolution=64 data.frames=8 train.batch_size=8 \
  train.threads=${THREADS:-1} train.warmup_steps=50 train.lr=5e-4 train.ema_decay=0.999 \
  train.eval_every=250 train.save_every=250 train.eval_clips=16 sample.steps=2 \
  sample.flow_steps=10 train.tensorboard=false train.device=cpu \
  train.init_from=checkpoints/atari-pong loss.moving_weight=${WEIGHT:-10} train.action_lr_mult=${LRMULT:-1} \
  model.action_film=${FILM:-false} \
  train.seed=${SEED:-3} train.steps=${STEPS:-5000} train.time_limit_min=${MINUTES:-70} \
  > runs/$name.log 2>&1
