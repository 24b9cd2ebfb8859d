"""Write a game model's play files (play.json + play.npz, src/canvasmar/web/play.py) from a
recorded episode, so that `canvasmar serve --checkpoint DIR` offers play mode with or without
the emulator installed:

    python3 scripts/play_files.py CHECKPOINT_DIR EPISODE.mp4 --game pong \
        --keys ArrowUp=RIGHT,ArrowDown=LEFT,Space=FIRE [--start 60] [--context 4] [--fps 15] [--help-line TEXT]

The start frames are EPISODE's frames START .. START+CONTEXT-1 at the model's size (read as
training reads them), with the recorded actions between them; the action names are the
game's minimal action set (ale-py), in the order `canvasmar data record atari` indexes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from canvasmar.checkpoint import load_checkpoint_config, resolve_checkpoint
from canvasmar.data.videoio import read_frames
from canvasmar.errors import UserError
from canvasmar.web.play import PlaySpec, save_play

KEY_NAMES = {"Space": " "}  # KeyboardEvent.key of the space bar is " "


def action_names(game: str) -> list[str]:
    from canvasmar.data.record import AtariEnv

    env = AtariEnv(game)
    env.reset(0)
    return env.action_names()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("episode", type=Path, help="a recorded NAME_EEEE.mp4 (with .actions.json)")
    p.add_argument("--game", required=True)
    p.add_argument("--keys", required=True, help="KEY=ACTION,... e.g. ArrowUp=RIGHT")
    p.add_argument("--idle", default="NOOP", help="the action while no key is held")
    p.add_argument("--start", type=int, default=60, help="first frame of the start")
    p.add_argument("--context", type=int, default=4, help="start frames")
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--frame-skip", type=int, default=4)
    p.add_argument("--help-line", default="", help="one line for the player")
    args = p.parse_args(argv)
    try:
        names = action_names(args.game)
        keys = {}
        for pair in args.keys.split(","):
            key, _, action = pair.partition("=")
            if action not in names:
                raise UserError(f"--keys {pair}: {action} is not one of {', '.join(names)}")
            keys[KEY_NAMES.get(key, key)] = names.index(action)
        cfg = load_checkpoint_config(resolve_checkpoint(args.checkpoint))
        recorded = json.loads(args.episode.with_suffix(".actions.json").read_text())["actions"]
        span = range(args.start, args.start + args.context)
        frames = read_frames(args.episode, list(span), cfg.data.resolution)
        spec = PlaySpec(game=args.game, actions=names, keys=keys, idle=names.index(args.idle),
                        frame_skip=args.frame_skip, fps=args.fps, warmup=args.start,
                        help=args.help_line,
                        start=np.ascontiguousarray(frames),
                        start_actions=[int(a) for a in recorded[args.start:span[-1]]])
        for path in save_play(resolve_checkpoint(args.checkpoint), spec):
            print(f"wrote {path}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
