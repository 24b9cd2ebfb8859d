#!/bin/bash
# Next experiment (written in session 21, run in sessions 21-22): make the Spatial MAR use the tokens it
# has already revealed, so that a moving paddle is drawn once instead of as fragments in every
# token of its column. Session 21 measured (docs/world-model.md, "Session 21") that the mixed
# fine-tune (runs/pong-mixed-finetune, 2945 steps) draws the same fragmented paddles at 2, 8
# and 16 MAR steps, in motion order and in random order: its swap test is 1e-6 to 2e-5 at
# every validation of its training, so later MAR steps ignore earlier ones and every token
# of the column decides "paddle here?" on its own.
# Arms, each a fine-tune of runs/pong-mixed-finetune on data/pong-mixed (train.sh ARM=finetune
# settings otherwise), one thread each side by side, MINUTES each:
#   ARM=reveal: loss.mask_ratio_min=0.3 (30-100% masked instead of 70-100%: more revealed
#     neighbours to learn from) and loss.moving_weight=10 (the tokens near the history's
#     motion, where a revealed neighbour says where the paddle is, weigh 10x; history side,
#     so each token's optimum is unchanged: docs/world-model.md, session 19)
#   ARM=nocanvas: loss.drop_canvas=0.5 (half the frames' masked tokens hold the mask token,
#     not the canvas guess, so the MAR must complete them from what is revealed)
#   ARM=change (session 22): model.reveal_change=true (each revealed token also enters the
#     Spatial MAR as its change from the previous frame, zero-initialised: a revealed moving
#     token says "the paddle is here" at the input layer instead of through z_t)
#   ARM=change-nocanvas (session 22): change and nocanvas together
#   ARM=change-reveal (session 22): change and reveal together (more revealed tokens, so that
#     a masked moving token often has a revealed moving neighbour whose change it can read)
#   ARM=change-uncond (session 22): change with half the frames unconditional (loss.drop_both
#     0.5: canvas and z_t dropped, so the revealed tokens are all the MAR has): can it learn
#     to read revealed changes at all, when it must? (swap_*_unconditional)
#   ARM=change-noisy (session 22): change with the canvas embedding noised up to r' = 1 in
#     training (0.3 before; sampling keeps its own level), so that on some frames the canvas
#     is unreliable and the revealed neighbours' changes carry what it lacks
#   ARM=own (session 23): loss.own_history=0.5 (each input frame is, with chance 0.5, the
#     model's own one-step draw of it at the rollout's settings, T 0.5 and 2 MAR steps;
#     the targets stay real: parallel scheduled sampling, src/canvasmar/history_inputs.py), so
#     that the model learns to repair its own fragments instead of extrapolating them
#   ARM=control: the same fine-tune continued unchanged
# Watch diag_swap_moving_gain (new in session 21; 0.0005 at the start: the true revealed
# neighbours remove 0.05% of the moving tokens' error) and diag_swap_mse in
# runs/pong-mar-$ARM/metrics.jsonl (every 250 steps),
# then scripts/action_sensitivity.py (--set keep_unchanged=0, --set steps=2 and 8): the
# paddle should stay one piece (valid_by_step up) and follow the key.
cd "$(dirname "$0")/../../.."
arm=${ARM:-reveal}
case $arm in
  reveal) extra="loss.mask_ratio_min=0.3 loss.moving_weight=10" ;;
  nocanvas) extra="loss.drop_canvas=0.5" ;;
  change) extra="model.reveal_change=true" ;;
  change-nocanvas) extra="model.reveal_change=true loss.drop_canvas=0.5" ;;
  change-reveal) extra="model.reveal_change=true loss.mask_ratio_min=0.3 loss.moving_weight=10" ;;
  change-uncond) extra="model.reveal_change=true loss.drop_both=0.5" ;;
  change-noisy) extra="model.reveal_change=true loss.canvas_noise_max=1.0" ;;
  own) extra="loss.own_history=0.5 sample.head_temperature=0.5" ;;
  control) extra="" ;;
  *) echo "error: ARM=$arm is not an arm: use one of those listed at the top of $0" >&2
     exit 2 ;;
esac
mode=--force; [ -n "$RESUME" ] && mode=--resume
OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=${SNAP:-.}/src .venv/bin/python -m canvasmar \
  train tiny --out runs/pong-mar-$arm --data data/pong-mixed --no-progress $mode \
  model.actions=6 model.residual=true model.action_film=true tokenizer.patch=8 \
  data.resolution=64 data.frames=8 train.batch_size=8 train.threads=${THREADS:-1} \
  train.ema_decay=0.999 train.eval_every=250 train.save_every=250 train.eval_clips=16 \
  sample.steps=2 sample.flow_steps=10 train.tensorboard=false train.device=cpu \
  train.init_from=runs/pong-mixed-finetune train.lr=3e-4 train.warmup_steps=50 \
  train.action_lr_mult=30 train.seed=${SEED:-4} train.steps=${STEPS:-3000} \
  train.time_limit_min=${MINUTES:-90} $extra > runs/pong-mar-$arm.log 2>&1
