# Session 16: what train.sh, train2.sh and train3.sh share (sourced): the settings of the
# history_freeze arm they continue (docs/results/canvas-alone/train4.sh: lr 5e-4, 50 warm-up
# steps, head_repeat 1, history_freeze 0.2) with model.warp=4, and `run`.
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."  # the repository root
run() {  # name snapshot init seed threads minutes steps
  local name=$1 snap=$2 init=$3 seed=$4 threads=$5 minutes=$6 steps=$7
  OMP_NUM_THREADS=$threads PYTHONPATH=$snap/src .venv/bin/python -m canvasmar train tiny \
    --out runs/$name --no-progress --force train.seed=$seed train.lr=5e-4 \
    train.warmup_steps=50 train.threads=$threads train.tensorboard=false train.device=cpu \
    model.residual=true model.motion_input=true loss.head_repeat=1 model.warp=4 \
    train.init_from=$init train.time_limit_min=$minutes train.steps=$steps \
    train.eval_every=500 train.save_every=500 loss.history_freeze=0.2 > runs/$name.log 2>&1
}
