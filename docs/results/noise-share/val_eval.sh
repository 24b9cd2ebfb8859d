#!/bin/bash
# Session 30: sample.noise_share on the shipped built-in model, on val: 32 val videos x 2
# samples, 16 frames from 2 context frames, the checkpoint's settings (T 0.5, keep_unchanged
# 0.1, 4 MAR steps) with noise_share $1; frame FID/KID, PSNR/SSIM, motion. One thread.
#   bash docs/results/noise-share/val_eval.sh RHO
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=${SNAP:-/tmp/snap}/src
.venv/bin/python -m canvasmar eval --checkpoint ${CKPT:-checkpoints/builtin} --protocol builtin \
  --split val --context 2 --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid,kid \
  --batch-size 32 --no-progress --noise-share $1 ${EXTRA:-} \
  --out docs/results/noise-share/${NAME:-builtin}-val-rho$1.json --force
