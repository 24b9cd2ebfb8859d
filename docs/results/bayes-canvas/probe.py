"""How good can a canvas be on the built-in data? The Bayes-optimal canvas, by Monte Carlo.

Session 31. The canvas approximates E[f_i | past] (paper Sec. 4.3), and `canvasmar diagnose`
scores it by `canvas_moving_gain` (the share of copy-last's error it removes on the tokens
that move). Our models reach 0.40-0.55; what is the most any canvas can reach? The built-in
clips are procedural (data/procedural.py), so the answer can be computed: given the true
scene at the frame before the target (every object's position, direction and speed, which
two clean frames nearly always show), the next frame's randomness is only the per-object
change (probability 0.1 per moving object: a new direction and/or speed). Rendering the
target frame under `--draws` draws of that change and averaging gives the Bayes canvas;
the constant-velocity future (no change) is the mode; one draw is what a perfect sampler
would give. Each is scored by diagnose's own `canvas_motion` on the last frame of the first
`--clips` val clips, as the training validation's `diag_*` rows are.

    python docs/results/bayes-canvas/probe.py [--clips 64] [--draws 256] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from canvasmar.data.procedural import (
    _CHANGE_PROB,
    _SPEED,
    ProceduralVideos,
    clip_scene,
    move,
    render_scene,
)
from canvasmar.evaluation.diagnostics import canvas_motion
from canvasmar.models.tokenizer import PixelPatchTokenizer


def _state(scene: dict, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Each object's (n, 2) direction and (n,) speed after frame t (0 for still ones)."""
    vel = scene["velocities"][t]
    speed = np.hypot(vel[:, 0], vel[:, 1])
    return vel / np.maximum(speed, 1e-12)[:, None], speed


def _moved(scene: dict, t: int, unit: np.ndarray, speed: np.ndarray) -> np.ndarray:
    lo, hi = scene["radius"][:, None], 1 - scene["radius"][:, None]
    return move(scene["positions"][t], unit, speed, lo, hi)[0]


def next_positions(scene: dict, t: int, rng: np.random.Generator | None) -> np.ndarray:
    """(n, 2) positions at frame t + 1 under one draw of the generator's change rule; rng
    None: no change (every object keeps its velocity, the likeliest future)."""
    unit, speed = _state(scene, t)
    if rng is None:
        return _moved(scene, t, unit, speed)
    change = (speed > 0) & (rng.random(len(speed)) < _CHANGE_PROB)
    what = rng.integers(0, 3, len(speed))  # 0: new direction, 1: new speed, 2: both
    heading = rng.uniform(0, 2 * np.pi, len(speed))
    new_unit = np.stack([np.cos(heading), np.sin(heading)], 1)
    unit = np.where((change & (what != 1))[:, None], new_unit, unit)
    speed = np.where(change & (what != 0), rng.uniform(*_SPEED, len(speed)), speed)
    return _moved(scene, t, unit, speed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--draws", type=int, default=256)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--out")
    args = parser.parse_args()
    data = ProceduralVideos("val", frames=args.frames, resolution=32)
    tok = PixelPatchTokenizer(4)
    rng = np.random.default_rng(0)
    rows = {"truth": [], "prev": [], "bayes": [], "mode": [], "draw": []}
    t = args.frames - 2  # the target is the clip's last frame, as in diagnose
    for i in range(args.clips):
        bg, scene = clip_scene(data.clip_seed(i), args.frames, 32)
        clip = render_scene(bg, scene, scene["positions"])
        assert np.array_equal(clip, data[i].permute(0, 2, 3, 1).numpy())  # the val clip itself
        futures = np.stack([render_scene(bg, scene, next_positions(scene, t, rng)[None])[0]
                            for _ in range(args.draws)])
        mode = render_scene(bg, scene, next_positions(scene, t, None)[None])[0]
        frames = {"truth": clip[t + 1], "prev": clip[t], "bayes": futures.mean(0),
                  "mode": mode, "draw": futures[0]}
        for key, frame in frames.items():
            rows[key].append(torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1))
    tokens = {k: tok.encode(torch.stack(v)[:, None]).flatten(3)[:, 0].mT for k, v in rows.items()}
    out = {name: canvas_motion(tokens[name], tokens["prev"], tokens["truth"])
           for name in ("bayes", "mode", "draw")}
    out["settings"] = vars(args)
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
