"""`canvasmar vae ...`: train the causal VAE, measure its latent statistics, score its
reconstructions, and encode a dataset once into latent shards (docs/vae.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import add_run_arguments


def _train(args: argparse.Namespace) -> None:
    from canvasmar.config.vae import load_vae_config
    from canvasmar.train.vae import train_vae

    cfg = load_vae_config(args.config, args.overrides)
    result = train_vae(cfg, Path(args.out), resume=args.resume, force=args.force,
                       progress=not args.no_progress, quiet=args.quiet)
    print(f"done: {args.out} (checkpoints with latent_stats.json, metrics.jsonl)")
    if result:
        print(f"val_psnr={result['val_psnr']:.2f} dB after {result['steps']} steps, "
              f"{result['train_seconds'] / 60:.1f} min of training")


def _stats(args: argparse.Namespace) -> None:
    from canvasmar.evaluation.vae import run_stats

    print(f"wrote {run_stats(args.vae, args.kind, args.resolution, args.frames, args.clips)}")


def _eval(args: argparse.Namespace) -> None:
    from canvasmar.evaluation.vae import run_eval

    result = run_eval(args.vae, args.kind, video=args.video, split=args.split,
                      clips=args.clips, resolution=args.resolution, frames=args.frames)
    print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in result.items()))


def _cache(args: argparse.Namespace) -> None:
    from canvasmar.config import load_config
    from canvasmar.train.latent_cache import write_latent_cache

    cfg = load_config(args.config, args.overrides)
    path = write_latent_cache(cfg, Path(args.out), args.clips, args.shard_size,
                              progress=not args.no_progress)
    print(f"wrote {path}; train from it with tokenizer.cache={args.out}")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `canvasmar vae {train,stats,eval,cache}` on the main parser."""
    vae = sub.add_parser("vae", parents=[common], help="train and use the causal video VAE",
                         description="Train the causal 3D VAE (Table 3) and prepare latents.")
    vsub = vae.add_subparsers(dest="vae_command", required=True)
    kinds = ["vae", "diffusers"]

    p = vsub.add_parser("train", parents=[common], help="train a VAE",
                        description="CONFIG: a VAE preset (vae-tiny, vae-bair) or a YAML file, "
                                    "then key=value overrides such as train.steps=500 "
                                    "model.temporal=2 data.frames=17.")
    add_run_arguments(p, "run folder")
    p.set_defaults(func=_train, on_interrupt="interrupted; continue from the last checkpoint "
                                               "with --resume")

    def source(p: argparse.ArgumentParser) -> None:
        p.add_argument("--vae", required=True, help="VAE run/checkpoint folder, or a "
                                                   "diffusers AutoencoderKL folder")
        p.add_argument("--kind", choices=kinds, default="vae")
        p.add_argument("--resolution", type=int, default=64)
        p.add_argument("--frames", type=int, default=9)
        p.add_argument("--clips", type=int, default=64)

    p = vsub.add_parser("stats", parents=[common], help="measure per-channel latent stats",
                        description="Encode built-in train clips and save latent_stats.json "
                                    "(per-channel mean/std) in the VAE folder.")
    source(p)
    p.set_defaults(func=_stats)

    p = vsub.add_parser("eval", parents=[common], help="reconstruction PSNR",
                        description="Reconstruction PSNR/MSE of held-out built-in clips "
                                    "or of a video file (cut into clips).")
    source(p)
    p.add_argument("--video", help="a video file (resized/cropped to --resolution)")
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.set_defaults(func=_eval)

    p = vsub.add_parser("cache", parents=[common], help="encode a dataset into latent shards",
                        description="CONFIG: a CanvasMAR config with tokenizer.kind=vae; "
                                    "encodes the first --clips train clips once.")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.add_argument("--out", required=True, help="cache folder")
    p.add_argument("--clips", type=int, default=2048)
    p.add_argument("--shard-size", type=int, default=256)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cache)
