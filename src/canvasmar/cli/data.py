"""`canvasmar data record atari|dmc ...` and `canvasmar data inspect PATH`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _record(args: argparse.Namespace) -> None:
    from canvasmar.data.record import AtariEnv, DMCEnv, record

    if args.sim == "atari":
        env = AtariEnv(args.game, frame_skip=args.frame_skip)
    else:
        env = DMCEnv(args.task, size=args.size, action_repeat=args.action_repeat,
                     camera=args.camera)
    paths = record(env, Path(args.out), episodes=args.episodes, frames=args.frames,
                   policy=args.policy, seed=args.seed, fps=args.fps,
                   progress=not args.no_progress, force=args.force)
    print(f"wrote {len(paths)} episodes (videos + .actions.json) to {args.out}; train with "
          f"`canvasmar train tiny --data {args.out} --out RUN`")


def _inspect(args: argparse.Namespace) -> None:
    from canvasmar.data.inspect import format_report, inspect_folder

    report = inspect_folder(Path(args.path), sheet=Path(args.sheet) if args.sheet else None,
                            frames=args.frames, stride=args.stride, force=args.force)
    print(format_report(report, verbose=args.verbose))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `data` with its subcommands on the main parser's subparsers."""
    data = sub.add_parser("data", parents=[common], help="record simulator videos, inspect data",
                          description="Make and check training data (docs/data.md).")
    dsub = data.add_subparsers(dest="data_command", required=True)

    rec = dsub.add_parser("record", parents=[common], help="record simulator episodes",
                          description="Record episodes of a simulator with a random, sticky "
                                      "(hold a random action 4-15 steps) or mixed (alternate "
                                      "them by episode) policy as videos plus "
                                      ".actions.json files, in the folder format.")
    rsub = rec.add_subparsers(dest="sim", required=True)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--out", required=True, help="folder for the episodes")
    shared.add_argument("--episodes", type=int, default=20, help="episodes (default 20)")
    shared.add_argument("--frames", type=int, default=300,
                        help="frames per episode, fewer if it ends (default 300)")
    shared.add_argument("--policy", choices=["random", "sticky", "mixed"], default="sticky")
    shared.add_argument("--seed", type=int, default=0)
    shared.add_argument("--fps", type=int, default=15, help="fps written in the videos")
    shared.add_argument("--no-progress", action="store_true", help="no progress bar")
    shared.add_argument("--force", action="store_true",
                        help="replace episodes of the same names already in --out")

    p = rsub.add_parser("atari", parents=[common, shared], help="an Atari game (ale-py)")
    p.add_argument("--game", required=True, help="ALE ROM id, e.g. pong, breakout, boxing")
    p.add_argument("--frame-skip", type=int, default=4, help="emulator frames per step")
    p.set_defaults(func=_record)

    p = rsub.add_parser("dmc", parents=[common, shared], help="a dm_control task (MuJoCo)")
    p.add_argument("--task", required=True, help="DOMAIN-TASK, e.g. cartpole-swingup")
    p.add_argument("--size", type=int, default=64, help="rendered frame size (default 64)")
    p.add_argument("--action-repeat", type=int, default=2, help="physics steps per frame")
    p.add_argument("--camera", type=int, default=0, help="camera id")
    p.set_defaults(func=_record)

    p = dsub.add_parser("inspect", parents=[common], help="summarise a folder of videos",
                        description="Count videos, frames, durations, sizes and fps; list the "
                                    "files that are skipped and why; write a contact sheet.")
    p.add_argument("path", help="folder of videos (or numbered-frame folders)")
    p.add_argument("--sheet", help="contact-sheet PNG (default ./NAME-contact.png, NAME "
                                    "being the folder's name)")
    p.add_argument("--frames", type=int, default=8,
                   help="clip length checked for 'too short' (default 8)")
    p.add_argument("--stride", type=int, default=1, help="frame stride (default 1)")
    p.add_argument("--verbose", action="store_true", help="list every video")
    p.add_argument("--force", action="store_true", help="replace an existing --sheet")
    p.set_defaults(func=_inspect)
