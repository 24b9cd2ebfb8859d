"""`canvasmar info`: parameter counts of a config, per module and in total."""

from __future__ import annotations

import argparse


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


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `info` on the main parser's subparsers."""
    p = sub.add_parser("info", parents=[common], help="parameter counts of a config",
                       description="Print parameter counts per module and the total.")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.set_defaults(func=_info)
