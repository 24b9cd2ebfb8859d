"""Action sensitivity of a Pong world model against the real emulator (issue 18, part 4).

From N emulator states (each after a random sticky-policy warm-up), play the same F actions
"up" (RIGHT) and the same F actions "down" (LEFT) in the emulator (its state cloned, so both
futures start from one moment) and in the model (the same context, its recorded actions and
the same sampling noise). Measured:

- paddle displacement: the player's paddle (green, columns 54-58 of a 64x64 frame) height
  after F steps, up-future minus down-future, real vs model, per start (pixels);
- paddle pieces: how many separate runs of non-background rows the paddle's columns hold at
  each step (the real paddle: 1, 0 off screen; a model that cannot decide where the paddle
  is draws it as several pieces down its column, docs/world-model.md session 21);
- spurious pixels: the share of the field (below the wall) where the model draws something
  other than the background while the real future, under the same actions, shows the
  background: fragments and speckles that a rollout piles up (session 23);
- where the futures differ: mean |up - down| of the model's frames inside the pixels where
  the real futures differ and outside them (a model that moves the paddle, not the
  background, has a large inside/outside ratio).

    python3 scripts/action_sensitivity.py CHECKPOINT OUT.json [--starts 32] [--steps 8]
        [--context 4] [--figure OUT.png] [--head-temperature T] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from canvasmar.config import with_sample_overrides
from canvasmar.data.frames import array_to_rgb
from canvasmar.data.record import AtariEnv
from canvasmar.errors import UserError
from canvasmar.pipeline import load_pipeline

PADDLE_COLUMNS = slice(54, 59)  # the player's paddle at 64x64 (x = 140-143 of 160)
BACKGROUND = np.array([144, 72, 17])  # Pong's brown field at 64x64
WALL_ROWS = 4  # the white wall above the field


def paddle_height(frame: np.ndarray) -> float:
    """Row centroid (pixels from the top) of the green paddle in (H, W, 3) uint8; NaN if absent."""
    strip = frame[:, PADDLE_COLUMNS].astype(np.float64)
    green = np.clip(strip[..., 1] - strip[..., 0] - 20, 0, None).sum(1)  # per row
    if green.sum() < 20:
        return float("nan")
    return float((green * np.arange(len(green))).sum() / green.sum())


def paddle_pieces(frame: np.ndarray) -> int:
    """Separate runs of rows, below the top wall, in which the paddle's columns of (H, W, 3)
    uint8 hold anything but the background: the real paddle is 1 (0 off screen, 2 while the
    ball crosses); a model unsure where the paddle is draws pieces down the column. Gaps of
    one row are bridged, so a paddle with one faint row is still one piece."""
    strip = frame[WALL_ROWS:, PADDLE_COLUMNS].astype(np.int64)
    rows = (np.abs(strip - BACKGROUND).sum(-1) > 40).any(1)
    rows[1:-1] |= rows[:-2] & rows[2:]  # bridge one-row gaps
    return int((rows[1:] & ~rows[:-1]).sum() + rows[0])


def field(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of (H, W, 3) uint8, below the wall, that are not background
    (the paddle's threshold)."""
    drawn = (np.abs(frame.astype(np.int64) - BACKGROUND).sum(-1) > 40)
    drawn[:WALL_ROWS] = False
    return drawn


def spurious_pixels(model: np.ndarray, real: np.ndarray) -> float:
    """Share of the field below the wall where `model` draws something and `real` (the same
    moment of the emulator) is background: fragments and speckles (0 for a perfect frame)."""
    return float((field(model) & ~field(real))[WALL_ROWS:].mean())


def start_state(env: AtariEnv, seed: int, context: int, size: int, rng: np.random.Generator
                ) -> tuple[list[np.ndarray], list[int]]:
    """Reset, play a sticky random policy for 40-120 steps, then `context` more frames."""
    env.reset(seed)
    frames, actions, action, hold = [], [], 0, 0
    warmup = int(rng.integers(40, 121))
    for t in range(warmup + context):
        if hold == 0:
            action, hold = env.random_action(rng), int(rng.integers(4, 16))
        hold -= 1
        screen, _ = env.step(action)
        if t >= warmup:
            frames.append(array_to_rgb(screen, size))
            actions.append(action)
    return frames, actions[1:]  # actions[t] led from frame t to t+1 (drop the one before)


def future(env: AtariEnv, state: object, action: int, steps: int, size: int
           ) -> list[np.ndarray]:
    env.restore(state)
    return [array_to_rgb(env.step(action)[0], size) for _ in range(steps)]


def imagine(pipe, frames, actions, action: int, steps: int, seed: int, **options
            ) -> list[np.ndarray]:
    context = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)[None].float() / 255
    session = pipe.start(context, context_actions=actions,
                         generator=torch.Generator().manual_seed(seed), **options)
    out = []
    for _ in range(steps):
        frame = session.step(action)[0].clamp(0, 1)
        out.append((frame * 255).round().byte().permute(1, 2, 0).numpy())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("out", type=Path)
    p.add_argument("--starts", type=int, default=32)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--context", type=int, default=4)
    p.add_argument("--figure", type=Path)
    p.add_argument("--head-temperature", type=float, help="default: the checkpoint's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="another sampling setting, e.g. --set keep_unchanged=0.1")
    args = p.parse_args(argv)
    options = {} if args.head_temperature is None else {"head_temperature":
                                                        args.head_temperature}
    pipe = load_pipeline(args.checkpoint)
    # the one checked path of sampling overrides, as `canvasmar sample` takes them
    try:
        pipe.cfg = with_sample_overrides(pipe.cfg, [f"sample.{item}" for item in args.set])
    except UserError as exc:
        p.error(str(exc))
    size = pipe.frame_shape[1]
    env = AtariEnv("pong")
    env.reset(0)
    names = env.action_names()
    up, down = names.index("RIGHT"), names.index("LEFT")
    rng = np.random.default_rng(0)
    rows, shown = [], None
    for i in range(args.starts):
        frames, actions = start_state(env, 10_000 + i, args.context, size, rng)
        state = env.clone()
        real = {a: future(env, state, a, args.steps, size) for a in (up, down)}
        model = {a: imagine(pipe, frames, actions, a, args.steps, seed=i, **options)
                 for a in (up, down)}
        moved = np.abs(real[up][-1].astype(int) - real[down][-1]).sum(-1) > 30
        gap = np.abs(model[up][-1].astype(int) - model[down][-1]).mean(-1)
        # every step's gap (a paddle that moves, then is lost, shows only there); the last
        # step's is the start's result
        real_steps = [paddle_height(d) - paddle_height(u)
                      for u, d in zip(real[up], real[down], strict=True)]
        model_steps = [paddle_height(d) - paddle_height(u)
                       for u, d in zip(model[up], model[down], strict=True)]
        rows.append({
            "real_pieces_steps": [paddle_pieces(f) for f in real[up] + real[down]],
            "model_pieces_steps": [paddle_pieces(f) for f in model[up] + model[down]],
            "spurious_steps": [spurious_pixels(m, r) for m, r in zip(
                model[up] + model[down], real[up] + real[down], strict=True)],
            "real_dy": real_steps[-1], "model_dy": model_steps[-1],
            "real_dy_steps": real_steps, "model_dy_steps": model_steps,
            "model_gap_inside": float(gap[moved].mean()) if moved.any() else float("nan"),
            "model_gap_outside": float(gap[~moved].mean())})
        if shown is None and moved.any():
            shown = (frames, real, model)
    table = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    steps_valid = ~np.isnan(table["real_dy_steps"]) & ~np.isnan(table["model_dy_steps"])
    valid = ~np.isnan(table["real_dy"]) & ~np.isnan(table["model_dy"])
    summary = {
        "checkpoint": str(args.checkpoint), "starts": args.starts, "steps": args.steps,
        "context": args.context, "sampling": {**vars(pipe.options()), **options},
        "valid_starts": int(valid.sum()),
        "real_dy_mean": float(table["real_dy"][valid].mean()),
        "model_dy_mean": float(table["model_dy"][valid].mean()),
        "dy_correlation": float(np.corrcoef(table["real_dy"][valid],
                                            table["model_dy"][valid])[0, 1]),
        "same_direction": float((np.sign(table["real_dy"][valid])
                                 == np.sign(table["model_dy"][valid])).mean()),
        # per step k = 1..steps, over the starts with the paddle found in all four frames
        "valid_by_step": steps_valid.sum(0).tolist(),
        "real_dy_by_step": [float(table["real_dy_steps"][ok, k].mean()) if ok.any() else None
                            for k, ok in enumerate(steps_valid.T)],
        "model_dy_by_step": [float(table["model_dy_steps"][ok, k].mean()) if ok.any() else None
                             for k, ok in enumerate(steps_valid.T)],
        # mean over starts and both futures (real: 1 where on screen)
        **{f"{who}_pieces_by_step": table[f"{who}_pieces_steps"].reshape(
            len(rows), 2, args.steps).mean((0, 1)).tolist() for who in ("real", "model")},
        "spurious_by_step": table["spurious_steps"].reshape(len(rows), 2, args.steps)
        .mean((0, 1)).tolist(),
        "gap_inside_mean": float(np.nanmean(table["model_gap_inside"])),
        "gap_outside_mean": float(np.nanmean(table["model_gap_outside"])),
        "per_start": rows}
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_start"}, indent=2))
    if args.figure and shown is not None:
        draw(args.figure, *shown, up, down)
    return 0


def draw(path: Path, frames, real, model, up: int, down: int) -> None:
    from canvasmar.media import saved_figure

    rows = [("real, up", real[up]), ("model, up", model[up]),
            ("real, down", real[down]), ("model, down", model[down])]
    cols = len(frames) + len(real[up])
    with saved_figure(path, len(rows), cols, figsize=(cols * 1.1, len(rows) * 1.25)) as (_, ax):
        for r, (label, fut) in enumerate(rows):
            for c, image in enumerate([*frames, *fut]):
                ax[r, c].imshow(image, interpolation="nearest")
                ax[r, c].set_xticks([])
                ax[r, c].set_yticks([])
                if r == 0:
                    ax[r, c].set_title("context" if c < len(frames) else f"+{c - len(frames) + 1}",
                                       fontsize=8)
            ax[r, 0].set_ylabel(label, fontsize=8)


if __name__ == "__main__":
    sys.exit(main())
