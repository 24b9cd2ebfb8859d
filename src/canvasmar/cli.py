"""The `canvasmar` command line: the only code that reads argv or prints for humans.

Every subcommand takes a CONFIG (preset name or YAML path) plus `section.key=value`
overrides. Mistakes the user can fix print one line, `error: ...`, and exit with status 2;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from canvasmar.errors import UserError


def _info(args: argparse.Namespace) -> None:
    import torch

    from canvasmar.config import load_config
    from canvasmar.models.factory import build_model

    cfg = load_config(args.config, args.overrides)
    with torch.device("meta"):  # count without allocating (733M presets included)
        model, _ = build_model(cfg)
    print(f"config: {cfg.name}   frame {cfg.tokenizer.channels}x{cfg.data.resolution}x"
          f"{cfg.data.resolution}   latent {model.latent_shape}   tokens/frame "
          f"{model.num_tokens}")
    for name, child in model.named_children():
        count = sum(p.numel() for p in child.parameters())
        print(f"  {name:<12} {count:>14,d}")
    print(f"total parameters: {sum(p.numel() for p in model.parameters())}")


def _train(args: argparse.Namespace) -> None:
    from canvasmar.config import load_config
    from canvasmar.train.loop import train

    cfg = load_config(args.config, args.overrides)
    val = train(cfg, Path(args.out), resume=args.resume, force=args.force,
                progress=not args.no_progress)
    print(f"done: {args.out} (checkpoints, metrics.jsonl, preview.png, preview.mp4, losses.png)")
    if val:
        print("validation: " + ", ".join(f"{k}={v:.5f}" for k, v in val.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canvasmar", description="CanvasMAR video prediction")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on a dataset",
                       description="Train CanvasMAR. CONFIG: a preset (tiny, bair, ucf, k600) "
                                   "or a YAML file; then key=value overrides such as "
                                   "train.steps=500 model.canvas=false data.resolution=64.")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.add_argument("--out", required=True, help="run folder for checkpoints, metrics, previews")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true", help="start over in an existing --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = sub.add_parser("info", help="parameter counts of a config",
                       description="Print parameter counts per module and the total.")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Overrides may come before or after options (`train tiny --out D train.steps=5`):
    # argparse leaves the later ones unparsed, so collect them here.
    args, extra = parser.parse_known_args(argv)
    unknown = [a for a in extra if a.startswith("-") or "=" not in a]
    if unknown or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    if args.debug:
        args.func(args)
        return 0
    try:
        args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
