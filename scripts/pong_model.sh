#!/bin/bash
# The shipped Pong world model (checkpoints/atari-pong, issue 18) and its unconditioned twin,
# end to end on a CPU: record, train both with equal compute, choose each one's head
# temperature on validation episodes, evaluate both on held-out episodes, compare paired,
# measure action sensitivity against the emulator, export with the play files.
# About 2.5 hours on our 2 cores (the two trainings run side by side, one thread each).
#   bash scripts/pong_model.sh             (needs `make setup`: ale-py, fid-helper weights)
#   FROM=choose bash scripts/pong_model.sh (the trainings are done: start at step 3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CM=".venv/bin/canvasmar"
STEPS=${STEPS:-1600}
FROM=${FROM:-record}
export OMP_NUM_THREADS=1
chosen() {  # the sampling settings `canvasmar choose` picked for run $1: sample.KEY=VALUE ...
  $PY -c "import json, sys; r = json.load(open(sys.argv[1]))
print(' '.join(f'sample.{k}={r[\"chosen\"][k]}' for k in r['grid']))" "runs/$1-choose.json"
}
both() {  # run a command for pong-act and pong-noact side by side: both CMD... (RUN in $run)
  for run in pong-act pong-noact; do (run=$run; eval "$*") & done
  wait
}

if [ "$FROM" = record ]; then
  # 1. data: 48 training, 8 validation and 8 test episodes of 400 steps (sticky random
  #    policy, frame skip 4); different seeds, so the held-out episodes are other games
  $CM data record atari --game pong --out data/pong/train --episodes 48 --frames 400 --seed 0
  $CM data record atari --game pong --out data/pong/val --episodes 8 --frames 400 --seed 1
  $CM data record atari --game pong --out data/pong/test --episodes 8 --frames 400 --seed 2
fi
if [ "$FROM" = record ] || [ "$FROM" = train ]; then
  # 2. the action model and its twin without actions: the same everything else
  both '$CM train tiny --out runs/$run --data data/pong --no-progress \
    model.actions=$([ $run = pong-act ] && echo 6 || echo 0) model.residual=true \
    tokenizer.patch=8 data.resolution=64 data.frames=8 train.steps=$STEPS \
    train.batch_size=8 train.threads=1 train.warmup_steps=100 train.ema_decay=0.999 \
    train.eval_every=400 train.save_every=200 train.eval_clips=16 sample.steps=2 \
    sample.flow_steps=10 > runs/$run.log 2>&1'
fi

# 3. each model's head temperature and keep_unchanged (docs/quality.md), chosen on the
#    validation episodes by frame FID
both '$CM choose --checkpoint runs/$run --protocol folder --data-root data/pong --context 2 \
  --num-videos 32 --grid head_temperature=0.5,1 --grid keep_unchanged=0,0.1 \
  --batch-size 32 --no-progress \
  --out runs/$run-choose.json --force > runs/$run-choose.log 2>&1'

# 4. held-out episodes: 16-frame rollouts from 2 context frames, 64 clips x 4 samples
#    (4,096 generated frames), the action model given the recorded actions
both '$CM eval --checkpoint runs/$run --protocol folder --data-root data/pong --context 2 \
  --num-videos 64 --samples 4 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
  $(chosen $run) --out runs/$run-test.json --force --no-progress > runs/$run-test.log 2>&1'
$CM compare runs/pong-act-test.json runs/pong-noact-test.json --out runs/pong-compare.json --force

# 5. action sensitivity against the real emulator
$PY scripts/action_sensitivity.py runs/pong-act runs/pong-sensitivity.json --starts 32 \
  --steps 8 $(chosen pong-act | sed 's/sample\./--set /g') --figure runs/pong-sensitivity.png

# 6. ship: weights + config (with the chosen sampling settings) + play files; the card
#    (README.md) is written by hand from runs/pong-*.json
$PY - <<'PY'
import dataclasses
import json
import canvasmar
pipe = canvasmar.load_pipeline("runs/pong-act")
choice = json.load(open("runs/pong-act-choose.json"))
sample = dataclasses.replace(pipe.cfg.sample, **{k: choice["chosen"][k] for k in choice["grid"]})
pipe.cfg = dataclasses.replace(pipe.cfg, sample=sample)
pipe.save_pretrained("checkpoints/atari-pong")
PY
$PY scripts/play_files.py checkpoints/atari-pong data/pong/test/pong_0000.mp4 --game pong \
  --keys ArrowUp=RIGHT,ArrowDown=LEFT,Space=FIRE \
  --help-line "You are the green paddle on the right: RIGHT moves it up, LEFT down."
