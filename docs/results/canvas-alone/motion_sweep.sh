#!/bin/bash
# Session 15: the motion metric (canvasmar eval) of sampling settings on val: 32 videos x 1
# sample, 16 frames from 2 context frames, MSE/PSNR/SSIM + motion, one thread.
# $1 = checkpoint, $2 = output prefix, then settings as name:overrides (comma-separated).
# OUTDIR (default this folder) is where the JSONs go (session 16: docs/results/warp).
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=${THREADS:-1}
ckpt=$1 prefix=$2; shift 2
for setting in "$@"; do
  name=${setting%%:*}; overrides=${setting#*:}
  .venv/bin/canvasmar eval --checkpoint $ckpt --protocol builtin --split val --context 2 \
    --num-videos 32 --samples 1 --metrics mse,psnr,ssim --batch-size 32 --no-progress \
    --out ${OUTDIR:-docs/results/canvas-alone}/$prefix-$name.json --force ${overrides//,/ } \
    > /dev/null 2>&1 || echo "failed: $setting"
done
