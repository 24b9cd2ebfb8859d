#!/bin/bash
# after the Pong fine-tunes: diagnostics and val FID at the shipped settings, each run
cd "$(dirname "$0")/../../.."  # the repository root; run from a src snapshot (PYTHONPATH)
export OMP_NUM_THREADS=1
R=docs/results/motion-input
for run in pong-motion pong-ft-control; do (
  .venv/bin/canvasmar diagnose --checkpoint runs/$run --clips 64 --samples 4 \
    --out $R/diagnose-$run.json --force > runs/$run-diagnose.log 2>&1
  .venv/bin/canvasmar eval --checkpoint runs/$run --protocol folder --data-root data/pong \
    --split val --context 2 --num-videos 16 --samples 2 --metrics mse,psnr,ssim,fid \
    --head-temperature 0.5 sample.keep_unchanged=0.1 --batch-size 32 --no-progress \
    --out runs/$run-val.json --force > runs/$run-val.log 2>&1 ) &
done
wait
