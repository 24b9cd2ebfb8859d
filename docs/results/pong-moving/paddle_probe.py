"""Teacher-forced paddle probe (session 19): one frame ahead of real Pong clips whose paddle is
on screen, with the true history and actions, does the model move the paddle the way the
last action says? For each val clip of data/pong (8 frames) with the paddle visible in its
last two frames, the model samples the last frame from the 7 before it (pipe.start +
session.step) under the true last action, under RIGHT (up) and under LEFT (down), and
`scripts/action_sensitivity.paddle_height` measures the paddle's move from frame 7.
The real move under RIGHT is about -6 px and under LEFT about +8 (the `true` rows), so a model
that follows the key has `up - down` near -14; one that copies the frame has 0.
    python docs/results/pong-moving/paddle_probe.py CHECKPOINT [--clips 64] [--out X.json]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
from action_sensitivity import paddle_height  # noqa: E402

from canvasmar.data.folder import folder_dataset  # noqa: E402
from canvasmar.pipeline import load_pipeline  # noqa: E402

UP, DOWN = 2, 3  # RIGHT, LEFT in Pong's minimal action set


def u8(frame: torch.Tensor) -> np.ndarray:
    return (frame.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--data", default=str(ROOT / "data/pong"))
    parser.add_argument("--out")
    parser.add_argument("--set", default="{}", help="JSON of sampling settings for start()")
    parser.add_argument("--no-ema", action="store_true",
                        help="the raw weights (a short fine-tune's EMA is mostly its start)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = load_pipeline(args.checkpoint, device="cpu", use_ema=not args.no_ema)
    settings = json.loads(args.set)
    ds = folder_dataset(args.data, "val", frames=pipe.cfg.data.frames, resolution=64,
                        stride=1, actions=6)
    rows = []
    for i in range(len(ds)):
        clip, acts = ds[i]
        before, last = paddle_height(u8(clip[-2])), paddle_height(u8(clip[-1]))
        if not (6 < before < 58 and 6 < last < 58):
            continue
        row = {"clip": i, "action": int(acts[-1]), "true": last - before}
        for name, action in (("model", int(acts[-1])), ("up", UP), ("down", DOWN)):
            with torch.no_grad():
                session = pipe.start(clip[None, :-1].float(), context_actions=acts[:-1],
                                     generator=torch.Generator().manual_seed(i), **settings)
                row[name] = paddle_height(u8(session.step(action)[0])) - before
        rows.append(row)
        if len(rows) == args.clips:
            break
    arr = {k: np.array([r[k] for r in rows], dtype=float) for k in ("true", "model", "up", "down")}
    both = ~np.isnan(arr["up"]) & ~np.isnan(arr["down"])
    seen = ~np.isnan(arr["model"])
    gap = arr["up"][both] - arr["down"][both]
    half = 1.96 * gap.std(ddof=1) / np.sqrt(len(gap))  # normal 95% interval over the clips
    summary = {
        "checkpoint": args.checkpoint, "ema": not args.no_ema, "clips": len(rows),
        "settings": settings, "up_minus_down_px": float(gap.mean()),
        "up_minus_down_ci95": [float(gap.mean() - half), float(gap.mean() + half)],
        "up_px": float(np.nanmean(arr["up"])), "down_px": float(np.nanmean(arr["down"])),
        "paddle_lost_share": float(1 - both.mean()),
        "corr_model_true": float(np.corrcoef(arr["model"][seen], arr["true"][seen])[0, 1]),
        "mean_abs_move_model_px": float(np.nanmean(np.abs(arr["model"]))),
        "mean_abs_move_true_px": float(np.mean(np.abs(arr["true"]))),
        "true_by_action": {a: float(np.mean([r["true"] for r in rows if r["action"] == a]))
                           for a in sorted({r["action"] for r in rows})},
    }
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
