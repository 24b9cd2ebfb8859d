#!/bin/bash
# Session 31: the rope arm against the shipped model, at the shipped settings (T 0.5,
# keep_unchanged 0.1, 4 MAR steps), one thread per lane:
#   lane 1: 32 val videos x 2 samples, 16 frames from 2 context frames: FID/KID, PSNR/SSIM,
#           motion (the protocol of docs/results/noise-share/val_eval.sh, whose
#           builtin-val-rho0.json is the shipped model on it);
#   lane 2: canvasmar diagnose on 64 val clips (both models), then pictures of test clips 0-3.
#   bash docs/results/spatial-rope/evaluate.sh RUN
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 PYTHONPATH=${SNAP:-/tmp/snap}/src
here=docs/results/spatial-rope run=$1 name=$(basename $1)
settings="sample.head_temperature=0.5 sample.keep_unchanged=0.1 sample.steps=4"
.venv/bin/python -m canvasmar eval --checkpoint $run --protocol builtin --split val \
  --context 2 --num-videos 32 --samples 2 --metrics mse,psnr,ssim,fid,kid --batch-size 32 \
  --no-progress --out $here/$name-val.json --force $settings > $here/$name-val.log 2>&1 &
for ckpt in $run checkpoints/builtin; do
  .venv/bin/python -m canvasmar diagnose --checkpoint $ckpt --split val --clips 64 --force \
    --no-progress --out $here/diagnose-$(basename $ckpt).json $settings \
    > /dev/null 2>&1 || echo "diagnose failed: $ckpt"
done
.venv/bin/python $here/pictures.py $here/test-pictures.png "shipped builtin=checkpoints/builtin" \
  "spatial_rope run=$run" || echo "pictures failed"
wait
