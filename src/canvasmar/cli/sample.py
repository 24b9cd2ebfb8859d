"""`canvasmar sample`: predict frames from a checkpoint, write an MP4 and a PNG grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import sampling_parent, sampling_pipeline


def _sample(args: argparse.Namespace) -> None:
    from canvasmar.predict import run_sample

    pipe = sampling_pipeline(args)
    paths = run_sample(
        pipe, Path(args.out), video=args.video, context=args.context, frames=args.frames,
        num_samples=args.num_samples, clips=args.clips, first_clip=args.clip, seed=args.seed,
        resize=args.resize, gif=args.gif, progress=not args.no_progress, force=args.force,
        actions=args.actions)
    print("wrote " + " ".join(str(p) for p in paths))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `sample` on the main parser's subparsers."""
    p = sub.add_parser("sample", parents=[common, sampling_parent()],
                       help="predict frames from a trained model",
                       description="Predict future frames and write an MP4 plus a PNG grid "
                                   "(context | canvas | staticness | generated | ground truth).")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder")
    p.add_argument("--out", required=True, help="output .mp4 (the .png is written beside it)")
    p.add_argument("--video", help="context from this video (default: the test split of "
                                   "the model's own data, data.source)")
    p.add_argument("--resize", action="store_true", help="resize/crop --video to the model")
    p.add_argument("--context", type=int, default=2, help="context frames (default 2)")
    p.add_argument("--frames", type=int, default=16, help="frames to generate (default 16)")
    p.add_argument("--num-samples", type=int, default=1, help="samples per context")
    p.add_argument("--clips", type=int, default=2, help="test clips (default 2)")
    p.add_argument("--clip", type=int, default=0, help="first test clip index")
    p.add_argument("--gif", action="store_true", help="also write a GIF")
    p.add_argument("--actions", default="auto", metavar="auto|none|I,I,...",
                   help="a model with actions: auto (default; a recorded --video's own "
                        "actions from NAME.actions.json, else none), none (the null action), "
                        "or action indices after the last context frame, e.g. 2,2,2,3,3")
    p.set_defaults(func=_sample)
