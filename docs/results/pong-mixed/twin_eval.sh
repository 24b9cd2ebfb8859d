#!/bin/bash
# Session 21: the mixed fine-tune (ARM=finetune of train.sh) and its unconditioned twin
# (twin.sh) on the held-out mixed episodes (data/pong-mixed/test, seed 2): 16-frame rollouts
# from 2 context frames, 32 clips x 4 samples = 2,048 generated frames each, the card's
# sampling settings for both (head temperature 0.5, keep_unchanged 0.1, 2 MAR steps), the
# action model given the recorded actions; both at step STEP (default 2750: the fine-tune's
# checkpoint of that step, EMA weights). Then the paired comparison.
#   RUN=finetune bash docs/results/pong-mixed/twin_eval.sh ; RUN=twin ... ; RUN=compare ...
# Peak memory from /usr/bin/time -v goes to runs/pong-mixed-$RUN-test.time.
cd "$(dirname "$0")/../../.."
run=${RUN:-finetune}
if [ "$run" = compare ]; then
  .venv/bin/canvasmar compare runs/pong-mixed-finetune-test.json runs/pong-mixed-twin-test.json \
    --out runs/pong-mixed-compare.json --force > runs/pong-mixed-compare.txt
  exit
fi
OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=${SNAP:-/tmp/snap21b}/src /usr/bin/time -v \
  -o runs/pong-mixed-$run-test.time .venv/bin/python -m canvasmar eval \
  --checkpoint runs/pong-mixed-$run/checkpoints/step_$(printf %08d "${STEP:-2750}") \
  --protocol folder --data-root data/pong-mixed --context 2 \
  --num-videos 32 --samples 4 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
  sample.head_temperature=0.5 sample.keep_unchanged=0.1 --no-progress --force \
  --out runs/pong-mixed-$run-test.json > runs/pong-mixed-$run-test.log 2>&1
