#!/usr/bin/env bash
# The checks a GPU session runs (docs/training-at-scale.md), in one go, each stage bounded
# (about ten minutes in all):
#   1. training throughput, MFU and peak memory (canvasmar bench --train, docs/speed.md; bair at
#      batch 24, the issue's target, with selective recomputation on): the tiny preset
#      in fp32 and bf16, the bair preset (231M) in bf16 (data loader excluded and included)
#      and in fp32 for the ratio; peak memory of each,
#   2. the tiny preset trained on the GPU for a fixed time budget (steps sized from a probe),
#   3. its evaluation (EMA weights): next-frame and builtin-quick protocols,
#   4. the bair preset in bf16 through the whole training loop for a few hundred steps,
#   5. Fig. 6: first-frame and 16-frame latency of a next-1 and a next-2 bair model against
#      batch size, with and without guidance (scripts/reproduce_steps.py latency; issue 17),
#   6. the sampling bench of that bair next-1 model in bf16 at batch 1 and 64, the MAR steps
#      eager and compiled with CUDA graphs (`--compile reduce-overhead`; issue 14's MFU bar),
#   7. (first, it takes seconds) a generated frame under torch.cuda.set_sync_debug_mode("error"):
#      any op that makes the host wait for the GPU is named (scripts/gpu_sync_check.py).
# Usage: OUT=outputs/gpu bash scripts/gpu_check.sh   (TINY_SECONDS, BAIR_STEPS to resize)
# STAGES picks and orders stages (default: all, the order below: the issue-14 figures first);
# BUDGET_S (default 540) skips any stage that would start later than that, so one device
# call of 600 s always ends with the collect step: e.g. STAGES="syncs bench-train sampling".
set -uo pipefail
OUT=${OUT:-outputs/gpu}
RUNS=${RUNS:-/tmp/canvasmar-gpu}
TINY_SECONDS=${TINY_SECONDS:-150}
TINY_BATCH=${TINY_BATCH:-32}
BAIR_STEPS=${BAIR_STEPS:-200}
BAIR_BATCH=${BAIR_BATCH:-32}
WORKERS=${WORKERS:-6}
FIG6_PRESET=${FIG6_PRESET:-bair}  # issue 17's Fig. 6 on the GPU
FIG6_FRAMES=${FIG6_FRAMES:-16}
FIG6_BATCHES=${FIG6_BATCHES:-1,8,64}
STAGES=${STAGES:-syncs bench-train sampling tiny bair-train}
BUDGET_S=${BUDGET_S:-540}
mkdir -p "$OUT" "$RUNS"
OUT=$(cd "$OUT" && pwd) RUNS=$(cd "$RUNS" && pwd)  # absolute: the archive step uses tar -C
export PYTHONPATH=$PWD/src:${PYTHONPATH:-} PYTHONUNBUFFERED=1
cm() { python3 -m canvasmar.cli "$@"; }
stamp() { echo "== $(date +%T) $*"; }
median_sps() {  # median seconds per step of a run, steps after the first 10
  python3 -c "import json,statistics,sys; r=[json.loads(l) for l in open(sys.argv[1])]; \
print(statistics.median(x['sec_per_step'] for x in r if 'sec_per_step' in x and x['step']>10))" "$1"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())" \
  | tee -a "$OUT/gpu.txt"

stage_syncs() {
stamp "sampler: host-device syncs in a generated frame"
timeout 60 python3 scripts/gpu_sync_check.py "$OUT/sampler-syncs.json"
}

stage_bench_train() {
stamp "bench --train: MFU of tiny (fp32, bf16) and bair (bf16 by batch, fp32)"
timeout 90 python3 -m canvasmar.cli bench --train tiny --device cuda --batches 32,256 \
  --precisions fp32,bf16 --loader excluded --timed-steps 5 --warmup-steps 3 \
  --out "$OUT/bench-train-tiny" --force
timeout 200 python3 -m canvasmar.cli bench --train bair --device cuda --batches 8,24 \
  --precisions bf16 --loader both --timed-steps 3 --warmup-steps 2 \
  --out "$OUT/bench-train-bair-bf16" --force data.num_workers="$WORKERS"
timeout 60 python3 -m canvasmar.cli bench --train bair --device cuda --batches 8 \
  --precisions fp32 --loader excluded --timed-steps 3 --warmup-steps 2 \
  --out "$OUT/bench-train-bair-fp32" --force
}

stage_tiny() {
stamp "probe: tiny, 40 steps"
cm train tiny --out "$RUNS/probe" --force --no-progress train.steps=40 \
  train.batch_size="$TINY_BATCH" train.eval_every=1000 train.tensorboard=false \
  data.num_workers="$WORKERS"
SPS=$(median_sps "$RUNS/probe/metrics.jsonl")
STEPS=$(python3 -c "print(max(100, int($TINY_SECONDS / $SPS)))")
stamp "tiny: $SPS s/step -> $STEPS steps"
timeout $((TINY_SECONDS * 2)) python3 -m canvasmar.cli train tiny --out "$RUNS/tiny" --force \
  --no-progress train.steps="$STEPS" train.batch_size="$TINY_BATCH" \
  train.warmup_steps=200 train.eval_every=$((STEPS / 4)) train.save_every=$((STEPS / 4)) \
  train.time_limit_min=$(python3 -c "print($TINY_SECONDS * 1.5 / 60)") \
  data.num_workers="$WORKERS"

stamp "eval tiny (EMA weights)"
cm eval --checkpoint "$RUNS/tiny" --protocol next-frame --device cuda --no-progress \
  --out "$RUNS/eval/next-frame.json"
cm eval --checkpoint "$RUNS/tiny" --protocol next-frame --device cuda --no-progress \
  --head-temperature 0.5 --out "$RUNS/eval/next-frame-temp0.5.json"
cm eval --checkpoint "$RUNS/tiny" --protocol builtin-quick --device cuda --no-progress \
  --sweep-steps 1,2,4,8 --out "$RUNS/eval/builtin-quick.json"
}

stage_bair_train() {
stamp "bair bf16: $BAIR_STEPS steps at batch $BAIR_BATCH"
timeout 100 python3 -m canvasmar.cli train bair --out "$RUNS/bair-bf16" --force --no-progress \
  train.steps="$BAIR_STEPS" train.batch_size="$BAIR_BATCH" train.precision=bf16 \
  train.warmup_steps=50 train.eval_every=100000 train.save_every=100000 train.eval_clips=2 \
  train.time_limit_min=1.1 data.num_workers=8
}

stage_sampling() {
stamp "Fig. 6 on the GPU: bair next-1 vs next-2 latency (untrained weights, one step each)"
# Latency does not depend on the weights: one training step saves each model's checkpoint.
for K in 1 2; do
  timeout 90 python3 -m canvasmar.cli train "$FIG6_PRESET" --out "$RUNS/fig6-next$K" --force \
    --no-progress model.group=$K train.steps=1 train.batch_size=1 train.save_every=1 \
    train.eval_every=100000 train.eval_clips=2 train.tensorboard=false train.precision=bf16 \
    "data.frames=$FIG6_FRAMES"
done
timeout 240 python3 scripts/reproduce_steps.py latency "$RUNS/fig6-next1" "$RUNS/fig6-next2" \
  "$OUT/latency-$FIG6_PRESET.json" cuda "$FIG6_BATCHES" 2
stamp "sampling bench: bair next-1, bf16, MAR steps eager vs compiled (CUDA graphs)"
for MODE in off reduce-overhead; do
  timeout 150 python3 -m canvasmar.cli bench --checkpoint "$RUNS/fig6-next1" --device cuda \
    --dtype bfloat16 --compile "$MODE" --batches 1,64 --sweep-steps 4 --frames 3 --rollout 2 \
    --out "$OUT/bench-sample-bair-bf16-$MODE" --force --no-progress
done
}

for STAGE in $STAGES; do
  if [ "$SECONDS" -ge "$BUDGET_S" ]; then
    stamp "skipped $STAGE: ${SECONDS}s of ${BUDGET_S}s spent"
    continue
  fi
  "stage_${STAGE//-/_}" || stamp "stage $STAGE failed"
done

stamp "collect"
if [ -f "$RUNS/tiny/latest" ]; then
  CK="$RUNS/tiny/checkpoints/$(cat "$RUNS/tiny/latest")"
  cp "$CK/model.safetensors" "$CK/ema.safetensors" "$OUT/" 2>/dev/null
fi
# At most 8 files come back from $OUT: every small result goes into one archive with the run
# files, leaving results.tar.gz and the tiny run's two weight files.
SMALL=$(cd "$OUT" && ls | grep -v -e '\.safetensors$' -e '^results\.tar\.gz$')
tar czf "$RUNS/results.tar.gz" -C "$RUNS" --exclude='*.safetensors' --exclude='*.pt' \
  --exclude='tensorboard' tiny/config.json tiny/metrics.jsonl tiny/previews tiny/preview.png \
  tiny/losses.png eval bair-bf16/metrics.jsonl probe/metrics.jsonl -C "$OUT" $SMALL \
  2>&1 | tail -3
mv "$RUNS/results.tar.gz" "$OUT/" && (cd "$OUT" && rm -f $SMALL)
ls -la "$OUT"
stamp done
