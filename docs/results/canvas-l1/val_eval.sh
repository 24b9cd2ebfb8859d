#!/bin/bash
# Session 30: a fine-tune of the built-in model on val, as docs/results/noise-share/val_eval.sh
# (32 val videos x 2 samples, 16 frames from 2 context frames, the run's settings: T 0.5,
# keep_unchanged 0.1, 4 MAR steps; frame FID/KID, PSNR/SSIM, motion). One thread.
#   bash docs/results/canvas-l1/val_eval.sh RUN NAME
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=${THREADS:-1} PYTHONPATH=${SNAP:-/tmp/snap}/src
.venv/bin/python -m canvasmar eval --checkpoint $1 --protocol builtin --split val --context 2 \
  --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid,kid --batch-size 32 --no-progress \
  --out docs/results/canvas-l1/$2-val.json --force
