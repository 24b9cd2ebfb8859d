#!/bin/bash
# Session 23: a builtin-own arm's checkpoint on val: 16 videos x 2 samples, 16 frames from 2
# context frames, the shipped settings (T 0.5, keep_unchanged 0.1, 4 MAR steps); motion (the
# generated frame-to-frame change as a share of the real) per frame, MSE/PSNR/SSIM, FID/KID
# (512 frames: read FID differences under ~4 as noise, docs/quality.md), and a picture
# (NAME.png: 2 built-in test clips; NAME.mp4 beside it).
#   bash docs/results/own-history/builtin_eval.sh NAME CHECKPOINT
set -euo pipefail
cd "$(dirname "$0")/../../.."
name=$1 ckpt=$2 out=docs/results/own-history
export OMP_NUM_THREADS=${THREADS:-1}
.venv/bin/canvasmar eval --checkpoint "$ckpt" --protocol builtin --split val --context 2 \
  --num-videos 16 --samples 2 --metrics mse,psnr,ssim,fid,kid --head-temperature 0.5 \
  sample.keep_unchanged=0.1 sample.steps=4 --batch-size 32 --no-progress \
  --out $out/$name-val.json --force > /dev/null
# the picture: 2 built-in test clips, 16 frames from 2, the same settings, seed 0
.venv/bin/canvasmar sample --checkpoint "$ckpt" --out $out/$name.mp4 --context 2 \
  --frames 16 --clips 2 --head-temperature 0.5 --keep-unchanged 0.1 --steps 4 --seed 0 \
  --force -q --no-progress > /dev/null
