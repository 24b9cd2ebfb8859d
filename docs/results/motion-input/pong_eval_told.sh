#!/bin/bash
# Session 13, after pong_finetune_told.sh: $1 = run, $2 = tag, then sampling overrides.
# Diagnostics (once per run, tag "d") or val FID at the shipped settings (T 0.5, keep 0.1).
cd "$(dirname "$0")/../../.."  # the repository root
export OMP_NUM_THREADS=1
R=docs/results/motion-input; run=$1; tag=$2; shift 2
if [ "$tag" = d ]; then
  exec .venv/bin/canvasmar diagnose --checkpoint runs/$run --clips 64 --samples 4 \
    --out $R/diagnose-$run.json --force > runs/$run-diagnose.log 2>&1
fi
.venv/bin/canvasmar eval --checkpoint runs/$run --protocol folder --data-root data/pong \
  --split val --context 2 --num-videos 16 --samples 2 --metrics mse,psnr,ssim,fid \
  --head-temperature 0.5 sample.keep_unchanged=0.1 "$@" --batch-size 32 --no-progress \
  --out $R/$run-val-$tag.json --force > runs/$run-val-$tag.log 2>&1
