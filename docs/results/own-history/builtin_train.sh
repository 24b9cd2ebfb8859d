#!/bin/bash
# Session 23: does training on the model's own one-step draws (loss.own_history, parallel
# scheduled sampling, src/canvasmar/history_inputs.py) make the built-in model's objects keep
# moving? checkpoints/builtin keeps its frames sharp but its objects stop after the first
# predicted frame (eval motion 0.05 of the real; docs/quality.md): once a generated frame
# under-moves an object, the history shows no motion and the canvas predicts none. With
# own_history the model sees its own under-moved frames as history and real, moving targets.
# Arms (side by side, one thread each, the same batches, draws and schedule; ARM=own|control):
#   own: loss.own_history=0.5 (draws at the model's shipped sampling settings: 4 MAR steps,
#        30 flow steps, T 0.5, keep_unchanged 0.1)
#   control: the same fine-tune without it
#   ARM=own MINUTES=60 bash docs/results/own-history/builtin_train.sh   (from a src snapshot:
#   SNAP=/tmp/snapN runs it with PYTHONPATH=$SNAP/src; RESUME=1 continues a stopped run)
cd "$(dirname "$0")/../../.."
arm=${ARM:-own}
case $arm in
  own) extra="loss.own_history=0.5" ;;
  control) extra="" ;;
  # session 24: the flow head's mean readout (src/canvasmar/mar_losses.py), against the same
  # control: does a draw-free squared error make the Spatial MAR read its revealed tokens?
  mean) extra="loss.mean_weight=1" ;;
  *) echo "error: ARM=$arm is not an arm: use own, control or mean" >&2; exit 2 ;;
esac
mode=--force; [ -n "$RESUME" ] && mode=--resume
OMP_NUM_THREADS=1 PYTHONPATH=${SNAP:-.}/src .venv/bin/python -m canvasmar train tiny \
  --out runs/builtin-own-$arm --no-progress $mode \
  train.init_from=checkpoints/builtin train.seed=2 train.steps=2000 train.lr=3e-4 \
  train.warmup_steps=50 train.ema_decay=0.999 train.eval_every=250 train.eval_clips=16 \
  train.save_every=250 train.threads=1 train.time_limit_min=${MINUTES:-60} \
  train.tensorboard=false train.device=cpu loss.head_repeat=1 \
  model.residual=true model.motion_input=true \
  sample.steps=4 sample.flow_steps=30 sample.head_temperature=0.5 sample.keep_unchanged=0.1 \
  $extra >> runs/builtin-own-$arm.log 2>&1
