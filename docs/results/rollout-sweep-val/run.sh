#!/usr/bin/env bash
# Sampling settings for 16-frame rollouts, chosen on the VAL split (builtin form, 64 videos x 2).
cd /work/main
run() { name=$1; shift; start=$(date +%s)
  .venv/bin/canvasmar eval --checkpoint checkpoints/tiny --protocol builtin-quick --split val \
    --num-videos 64 --steps 4 --no-progress --out runs/sweep/$name.json "$@" > runs/sweep/$name.log 2>&1
  echo "$name $(( $(date +%s) - start )) s rc=$?" >> runs/sweep/done.txt; }
run default
run ht0 sample.head_temperature=0
run fn0 sample.frame_noise=0
run fn0.5 sample.frame_noise=0.5
run cn0 sample.canvas_noise=0
run cfg --cfg-canvas 1.5 --cfg-temporal 1.2
run temp1 sample.temperature=1
