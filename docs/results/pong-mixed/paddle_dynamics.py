"""How much of the Pong paddle's next move does the action explain beyond the history?
(session 20). For each recording folder, every step t whose paddle is on screen in frames
t-2..t+1 gives dy = y[t+1] - y[t] (scripts/action_sensitivity.paddle_height, 64x64 frames),
and linear least squares reports the share of dy's variance (R^2) explained by the last two
moves alone, by the action a[t] alone (one-hot), by both, and by both plus a[t-1]. If the
history alone explains nearly everything, a model trained on that recording can ignore the key.
    python docs/results/pong-mixed/paddle_dynamics.py FOLDER... [--episodes 16] [--out X.json]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from action_sensitivity import paddle_height  # noqa: E402

from canvasmar.media import read_video, resize_video, to_uint8  # noqa: E402


def steps(folder: Path, episodes: int, policy: str | None) -> np.ndarray:
    """Rows (dy, last move, the move before, a[t], a[t-1]) of up to `episodes` episodes."""
    rows = []
    for meta_path in sorted(folder.glob("*.actions.json")):
        meta = json.loads(meta_path.read_text())
        if policy and meta["policy"] != policy:
            continue
        video = read_video(meta_path.with_name(meta_path.name.replace(".actions.json", ".mp4")))
        y = np.array([paddle_height(f) for f in to_uint8(resize_video(video[None], 64)[0])])
        a = meta["actions"]
        for t in range(2, len(y) - 1):
            if np.isfinite(y[t - 2:t + 2]).all():
                rows.append((y[t + 1] - y[t], y[t] - y[t - 1], y[t - 1] - y[t - 2], a[t], a[t - 1]))
        episodes -= 1
        if episodes == 0:
            break
    return np.array(rows, dtype=float)


def r2(x: np.ndarray, y: np.ndarray) -> float:
    x = np.c_[x, np.ones(len(x))]
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(1 - ((y - x @ beta) ** 2).mean() / y.var())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--out")
    args = parser.parse_args()
    results = []
    for folder in args.folders:
        for policy in ("sticky", "random"):
            d = steps(Path(folder), args.episodes, policy)
            if len(d) == 0:
                continue
            dy, history = d[:, 0], d[:, 1:3]
            action, previous = np.eye(6)[d[:, 3].astype(int)], np.eye(6)[d[:, 4].astype(int)]
            results.append({"folder": folder, "policy": policy, "steps": len(d),
                            "dy_std_px": float(dy.std()), "r2_history": r2(history, dy),
                            "r2_action": r2(action, dy),
                            "r2_history_action": r2(np.c_[history, action], dy),
                            "r2_history_both_actions": r2(np.c_[history, action, previous], dy)})
            print(json.dumps(results[-1]))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
