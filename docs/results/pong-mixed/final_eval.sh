#!/bin/bash
# Session 20: the numbers of the mixed-data fine-tune's last checkpoint, on both cores:
# evaluate.sh's numbers, the 8-step sensitivity with action guidance 3, the action gain on
# the mixed validation clips (half of them random-policy), and the shipped model card's
# held-out test (data/pong test, 32 clips x 2 samples, 16 frames from 2, T 0.5,
# keep_unchanged 0.1: the card's command, so its numbers are the shipped model's; the test
# alone took ~17 minutes on one thread beside the rest).
#   bash docs/results/pong-mixed/final_eval.sh NAME CHECKPOINT
set -euo pipefail
cd "$(dirname "$0")/../../.."
name=$1 ckpt=$2 out=docs/results/pong-mixed
export OMP_NUM_THREADS=1
OUT=$out bash docs/results/pong-moving/evaluate.sh "$name" "$ckpt" > $out/row-$name.md 2>/dev/null &
(.venv/bin/python scripts/action_sensitivity.py "$ckpt" $out/sensitivity-$name-cfg3.json \
   --head-temperature 0.5 --set keep_unchanged=0.1 --set cfg_action=3 \
   --figure $out/sensitivity-$name-cfg3.png > /dev/null 2>&1
 .venv/bin/canvasmar diagnose --checkpoint "$ckpt" --data data/pong-mixed --clips 64 \
   --samples 2 --out $out/diagnose-$name-mixedval.json --force -q --no-progress > /dev/null 2>&1
 .venv/bin/canvasmar eval --checkpoint "$ckpt" --protocol folder --data-root data/pong \
   --context 2 --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
   sample.head_temperature=0.5 sample.keep_unchanged=0.1 --out $out/test-$name.json \
   --force --no-progress > /dev/null 2>&1) &
wait
cat $out/row-$name.md
