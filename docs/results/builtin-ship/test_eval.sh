#!/bin/bash
# Session 14: $1 = a checkpoint or pretrained folder, $2 = output name. Issue 15's test
# protocol on the built-in data: 32 test videos x 4 samples = 2,048 generated frames, 16
# frames from 2 context frames, the folder's sampling settings (checkpoints/builtin: T 0.5,
# keep_unchanged 0.1, 4 MAR steps), frame FID/KID, mean and best-of-4 PSNR/SSIM, copy-last
# and canvas-only baselines in the same run. THREADS (default 2) torch threads.
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=${THREADS:-2}
.venv/bin/canvasmar eval --checkpoint $1 --protocol builtin --split test --context 2 \
  --num-videos 32 --samples 4 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
  --no-progress --out docs/results/builtin-ship/$2.json --force
