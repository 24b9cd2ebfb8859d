#!/bin/bash
# Session 30: sample.noise_share on the shipped Pong model: the paddle in 8-step emulator
# rollouts (scripts/action_sensitivity.py: 16 emulator starts, RIGHT vs LEFT held, head
# temperature 0.5, keep_unchanged 0, 2 MAR steps in the motion order, as
# docs/results/pong-mar/eval.sh) with noise_share $1. One thread.
#   bash docs/results/noise-share/pong_sensitivity.sh RHO
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 PYTHONPATH=${SNAP:-/tmp/snap}/src
out=docs/results/noise-share
.venv/bin/python ${SNAP:-/tmp/snap}/scripts/action_sensitivity.py ${CKPT:-checkpoints/atari-pong} \
  $out/pong-sensitivity-rho$1.json --starts 16 --steps 8 --head-temperature 0.5 \
  --set keep_unchanged=0 --set steps=2 --set order=motion --set noise_share=$1 \
  --figure $out/pong-sensitivity-rho$1.png
