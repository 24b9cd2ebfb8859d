# Session 15: what train.sh, train2.sh and train3.sh share (sourced, after `SEED=N`): the
# continuation settings (lr 5e-4, 50 warm-up steps, head_repeat 1, one thread, from a src
# snapshot at /tmp/snap/src so edits do not reach running jobs) and `run`.
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."  # the repository root
export OMP_NUM_THREADS=1 PYTHONPATH=/tmp/snap/src
common=(--no-progress --force train.seed=$SEED train.lr=5e-4 train.warmup_steps=50
        train.threads=1 train.tensorboard=false train.device=cpu model.residual=true
        model.motion_input=true loss.head_repeat=1)
run() {  # name init minutes steps eval_every overrides...
  local name=$1 init=$2 minutes=$3 steps=$4 every=$5; shift 5
  .venv/bin/python -m canvasmar train tiny --out runs/$name "${common[@]}" \
    train.init_from=$init train.time_limit_min=$minutes train.steps=$steps \
    train.eval_every=$every train.save_every=$every "$@" > runs/$name.log 2>&1
}
