#!/bin/bash
# Session 34: the canvas-first run against the shipped model at the shipped settings (T 0.5,
# keep_unchanged 0.1, 4 MAR steps), seed 0, one thread per lane (docs/results/rope-ship/
# evaluate.sh's protocol, so its JSONs compare with `canvasmar compare`):
#   lane 1: issue 15's test protocol (32 test videos x 4 samples = 2,048 frames, 16 from 2
#           context frames; FID/KID, PSNR/SSIM, motion), against builtin-ship/builtin-test.json;
#   lane 2: canvasmar diagnose on 64 val clips, pictures of test clips 0-3 (shipped, this run),
#           then 32 val videos x 2 samples (against noise-share/builtin-val-rho0.json).
#   bash docs/results/canvas-first/evaluate.sh RUN
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 PYTHONPATH=${SNAP:-/tmp/snap}/src
here=docs/results/canvas-first run=$1 name=$(basename $1)
settings="sample.head_temperature=0.5 sample.keep_unchanged=0.1 sample.steps=4"
.venv/bin/python -m canvasmar eval --checkpoint $run --protocol builtin --split test \
  --context 2 --num-videos 32 --samples 4 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
  --no-progress --out $here/$name-test.json --force $settings > $here/$name-test.log 2>&1 &
.venv/bin/python -m canvasmar diagnose --checkpoint $run --split val --clips 64 --force \
  --no-progress --out $here/diagnose-$name.json $settings > /dev/null 2>&1 \
  || echo "diagnose failed: $run"
.venv/bin/python docs/results/spatial-rope/pictures.py $here/test-pictures.png \
  "shipped builtin=checkpoints/builtin" "canvas-first=$run" || echo "pictures failed"
.venv/bin/python -m canvasmar eval --checkpoint $run --protocol builtin --split val \
  --context 2 --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
  --no-progress --out $here/$name-val.json --force $settings > $here/$name-val.log 2>&1
wait
