#!/bin/bash
# Session 21: the unconditioned twin of the session-20 fine-tune (runs/pong-mixed-finetune,
# train.sh ARM=finetune), for issue 18's "beats its unconditioned twin with the same compute".
# The same start (checkpoints/atari-pong's weights without its one action tensor,
# temporal.action.table, whose ~0.01 action gain showed it was unused), the same data
# (data/pong-mixed), lr 5e-4, warm-up 50, cosine over 5000 steps, batch 8, seed 3, EMA 0.999;
# model.actions=0, so no action input and no FiLM. The fine-tune got 1600 steps of pretraining
# (as the shipped action model) + 2945 here; the twin gets the same 1600 (the shipped action
# model's, whose action input it drops) + 2945. A watcher stops it with SIGTERM (a clean
# checkpoint) once it has logged STOP_AT steps (default 2945).
#   THREADS=2 MINUTES=110 bash docs/results/pong-mixed/twin.sh   (code snapshot in $SNAP)
# Run: 10:54-12:34 on our 2 cores (1.7-2.0 s/step alone), stopped by hand with SIGTERM after
# its step-2750 checkpoint (at 2765) to leave session time for the evaluation; both models
# are compared at step 2750 (twin_eval.sh).
cd "$(dirname "$0")/../../.."
init=runs/pong-noaction-init
if [ ! -f $init/model.safetensors ]; then
  mkdir -p $init
  .venv/bin/python - "$init" <<'PY'
import json, sys
from safetensors.torch import load_file, save_file
src, out = "checkpoints/atari-pong", sys.argv[1]
weights = {k: v for k, v in load_file(f"{src}/model.safetensors").items()
           if not k.startswith("temporal.action.")}
save_file(weights, f"{out}/model.safetensors")
cfg = json.load(open(f"{src}/config.json"))
cfg["model"]["actions"] = 0
json.dump(cfg, open(f"{out}/config.json", "w"), indent=2)
PY
fi
name=pong-mixed-twin
mode=--force; [ -n "$RESUME" ] && mode=--resume
OMP_NUM_THREADS=${THREADS:-2} PYTHONPATH=${SNAP:-/tmp/snap21}/src .venv/bin/python -m canvasmar \
  train tiny --out runs/$name --data data/pong-mixed --no-progress $mode model.actions=0 \
  model.residual=true tokenizer.patch=8 data.resolution=64 \
  data.frames=8 train.batch_size=8 train.threads=${THREADS:-2} train.ema_decay=0.999 \
  train.eval_every=250 train.save_every=250 train.eval_clips=16 sample.steps=2 \
  sample.flow_steps=10 train.tensorboard=false train.device=cpu \
  train.init_from=$init train.lr=5e-4 train.warmup_steps=50 \
  train.seed=${SEED:-3} train.steps=5000 train.time_limit_min=${MINUTES:-110} \
  > runs/$name.log 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
  sleep 5
  last=$(tail -1 runs/$name/metrics.jsonl 2>/dev/null | sed -n 's/^{"step": \([0-9]*\).*/\1/p')
  if [ -n "$last" ] && [ "$last" -ge "${STOP_AT:-2945}" ]; then kill -TERM $pid; break; fi
done
wait $pid
