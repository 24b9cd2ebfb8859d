#!/bin/bash
# Session 14: $1 = run, $2 = step (or a checkpoint folder as $1 and "-" as $2). Diagnostics
# (64 val clips) and val rollouts (32 videos x 2 samples, 16 frames from 2 context frames,
# T 0.5, keep_unchanged 0.1, 4 MAR steps, FID/KID) as in motion-input/builtin_eval_told.sh.
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=${THREADS:-1}
R=docs/results/builtin-ship
if [ "$2" = - ]; then C=$1; name=$(basename $1); else
  C=runs/$1/checkpoints/step_$(printf %08d $2); name=$1-$2; fi
.venv/bin/canvasmar diagnose --checkpoint $C --clips 64 --samples 4 \
  --out $R/diagnose-$name.json --force > runs/$name-diagnose.log 2>&1
.venv/bin/canvasmar eval --checkpoint $C --protocol builtin --split val --context 2 \
  --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid,kid --head-temperature 0.5 \
  sample.keep_unchanged=0.1 --batch-size 32 --no-progress \
  --out $R/$name-val.json --force > runs/$name-val.log 2>&1
