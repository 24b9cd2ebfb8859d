#!/bin/bash
# Session 13, after builtin_train_told.sh: $1 = run, $2 = step; diagnostics (64 val clips)
# and val rollouts (32 videos x 2 samples, 16 frames from 2, T 0.5, keep_unchanged 0.1, FID)
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=1
R=docs/results/motion-input; C=runs/$1/checkpoints/step_$(printf %08d $2)
.venv/bin/canvasmar diagnose --checkpoint $C --clips 64 --samples 4 \
  --out $R/diagnose-$1-$2.json --force > runs/$1-diagnose.log 2>&1
.venv/bin/canvasmar eval --checkpoint $C --protocol builtin --split val --context 2 \
  --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid --head-temperature 0.5 \
  sample.keep_unchanged=0.1 --batch-size 32 --no-progress \
  --out $R/$1-val-$2.json --force > runs/$1-val.log 2>&1
