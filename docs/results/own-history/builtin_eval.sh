#!/bin/bash
# Session 23: a builtin-own arm's checkpoint on val: 16 videos x 2 samples, 16 frames from 2
# context frames, the shipped settings (T 0.5, keep_unchanged 0.1, 4 MAR steps); motion (the
# generated frame-to-frame change as a share of the real) per frame, MSE/PSNR/SSIM, FID/KID
# (512 frames: read FID differences under ~4 as noise, docs/quality.md), and a picture.
#   bash docs/results/own-history/builtin_eval.sh NAME CHECKPOINT
set -euo pipefail
cd "$(dirname "$0")/../../.."
name=$1 ckpt=$2 out=docs/results/own-history
export OMP_NUM_THREADS=${THREADS:-1}
.venv/bin/canvasmar eval --checkpoint "$ckpt" --protocol builtin --split val --context 2 \
  --num-videos 16 --samples 2 --metrics mse,psnr,ssim,fid,kid --head-temperature 0.5 \
  sample.keep_unchanged=0.1 sample.steps=4 --batch-size 32 --no-progress \
  --out $out/$name-val.json --force > /dev/null
