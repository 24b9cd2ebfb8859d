#!/bin/bash
# Session 26: issue 15's test protocol on the built-in data for $1 (a run or checkpoint
# folder), written to docs/results/next2-builtin/$2.json: 32 test videos x 4 samples = 2,048
# generated frames, 16 frames from 2 context frames, the folder's sampling settings (T 0.5,
# keep_unchanged 0.1), 4 MAR steps, frame FID/KID, mean and best-of-4 PSNR/SSIM, motion,
# copy-last and canvas-only in the same run (as docs/results/builtin-ship/test_eval.sh).
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=${THREADS:-2} PYTHONPATH=${SNAP:-/tmp/snap}/src
.venv/bin/python -m canvasmar eval --checkpoint $1 --protocol builtin --split test --context 2 \
  --num-videos 32 --samples 4 --sweep-steps 4 --metrics mse,psnr,ssim,fid,kid \
  --batch-size 32 --no-progress --out docs/results/next2-builtin/$2.json --force
