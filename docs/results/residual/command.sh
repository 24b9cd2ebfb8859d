#!/bin/bash
# Residual experiment (issue 15): tiny preset from scratch with model.residual=true, all else as
# run A (docs/quality.md), 2 threads.
cd /work/runs
COMMON="train.steps=2000 train.eval_every=250 train.save_every=250 train.threads=2 train.time_limit_min=110 train.tensorboard=false train.device=cpu"
PYTHONPATH=/tmp/exp-res/src exec /work/main/.venv/bin/python -m canvasmar.cli train tiny --out /work/runs/residual-R --force --no-progress $COMMON model.residual=true
