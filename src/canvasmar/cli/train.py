"""`canvasmar train`: train CanvasMAR from a preset or YAML config (canvasmar.train.loop)."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import add_run_arguments


def _train(args: argparse.Namespace) -> None:
    from canvasmar.config import load_config
    from canvasmar.train.loop import train

    data = []
    if args.data is not None:  # a folder is stored absolute, so --resume works from anywhere
        source = Path(args.data)
        data = [f"data.source={source.resolve() if source.is_dir() else args.data}"]
    cfg = load_config(args.config, [*args.overrides, *data])
    val = train(cfg, Path(args.out), resume=args.resume, force=args.force,
                progress=not args.no_progress, quiet=args.quiet)
    print(f"done: {args.out} (checkpoints, metrics.jsonl, preview.png, preview.mp4, losses.png)")
    if val:
        print("validation: " + ", ".join(f"{k}={v:.5f}" for k, v in val.items()))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `train` on the main parser's subparsers."""
    p = sub.add_parser("train", parents=[common], help="train a model on a dataset",
                       description="Train CanvasMAR. CONFIG: a preset (tiny, bair, ucf, k600) "
                                   "or a YAML file; then key=value overrides such as "
                                   "train.steps=500 model.canvas=false data.resolution=64.")
    add_run_arguments(p, "run folder for checkpoints, metrics, previews")
    p.add_argument("--data", help="builtin (default), a folder of videos, or bair / ucf101 / "
                                   "k600 with data.root=DIR (sets data.source)")
    p.set_defaults(func=_train, on_interrupt="interrupted; continue from the last checkpoint "
                                               "with --resume")
