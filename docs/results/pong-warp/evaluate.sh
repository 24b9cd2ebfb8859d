#!/bin/bash
# Session 17: one Pong model on the validation episodes, written to docs/results/pong-warp/NAME-*:
# diagnose (64 clips: warp and canvas moving gain, swap test), 16-frame rollouts from 2 context
# frames with the recorded actions (32 clips x 2 samples, frame FID + best-of-2 PSNR/SSIM,
# motion), action sensitivity against the emulator (32 starts, 8 steps up vs down), all at the
# shipped sampling settings (head temperature 0.5, keep_unchanged 0.1, 2 MAR steps).
#   bash evaluate.sh NAME CHECKPOINT        (THREADS, default 1)
cd "$(dirname "$0")/../../.."
name=$1 ckpt=$2 out=docs/results/pong-warp
export OMP_NUM_THREADS=${THREADS:-1}
.venv/bin/canvasmar diagnose --checkpoint $ckpt --split val --clips 64 \
  --out $out/$name-diagnose.json > /dev/null 2>&1 || echo "diagnose failed: $name"
.venv/bin/canvasmar eval --checkpoint $ckpt --protocol folder --data-root data/pong --split val \
  --context 2 --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid --batch-size 32 \
  --no-progress --out $out/$name-val.json --force --head-temperature 0.5 \
  --keep-unchanged 0.1 --steps 2 --flow-steps 10 > /dev/null 2>&1 \
  || echo "eval failed: $name"
.venv/bin/python scripts/action_sensitivity.py $ckpt $out/$name-sensitivity.json --starts 32 \
  --steps 8 --head-temperature 0.5 --set keep_unchanged=0.1 --set steps=2 --set flow_steps=10 \
  > /dev/null 2>&1 || echo "sensitivity failed: $name"
