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

    data = []
    if args.data is not None:  # a folder is stored absolute, so --resume works from anywhere
        source = Path(args.data)
        data = [f"data.source={source.resolve() if source.is_dir() else args.data}"]
    cfg = load_config(args.config, [*args.overrides, *data])
    val = train(cfg, Path(args.out), resume=args.resume, force=args.force,
                progress=not args.no_progress)
    print(f"done: {args.out} (checkpoints, metrics.jsonl, preview.png, preview.mp4, losses.png)")
    if val:
        print("validation: " + ", ".join(f"{k}={v:.5f}" for k, v in val.items()))


def _pipeline(args: argparse.Namespace):
    """The checkpoint's pipeline with the command line's `sample.KEY=VALUE` settings."""
    import canvasmar
    from canvasmar.config import with_sample_overrides

    pipe = canvasmar.load_pipeline(args.checkpoint, device=args.device, use_ema=not args.no_ema)
    pipe.cfg = with_sample_overrides(pipe.cfg, args.overrides)
    return pipe


def _sample(args: argparse.Namespace) -> None:
    from canvasmar.sample_cli import run_sample

    pipe = _pipeline(args)
    paths = run_sample(
        pipe, Path(args.out), video=args.video, context=args.context, frames=args.frames,
        num_samples=args.num_samples, clips=args.clips, first_clip=args.clip, seed=args.seed,
        resize=args.resize, gif=args.gif, progress=not args.no_progress, steps=args.steps,
        cfg_canvas=args.cfg_canvas, cfg_temporal=args.cfg_temporal, order=args.order,
        flow_steps=args.flow_steps, head_temperature=args.head_temperature)
    print("wrote " + " ".join(str(p) for p in paths))


def _bench(args: argparse.Namespace) -> None:
    import canvasmar
    from canvasmar.bench import run_bench, to_markdown, write_results

    def ints(text: str) -> list[int]:
        try:
            return [int(x) for x in text.split(",")]
        except ValueError:
            raise UserError(f"'{text}' is not a comma-separated list of integers") from None

    pipe = canvasmar.load_pipeline(args.checkpoint, device=args.device)
    result = run_bench(pipe, ints(args.batches), ints(args.steps), args.frames, args.rollout)
    paths = write_results(result, Path(args.out))
    print(to_markdown(result))
    print("wrote " + " ".join(str(p) for p in paths))


def _eval(args: argparse.Namespace) -> None:
    import json

    from canvasmar.eval_cli import run_eval

    pipe = _pipeline(args)
    result = run_eval(pipe, args)
    print(json.dumps(result["results"], indent=2))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.png')}")


def add_run_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    """CONFIG, overrides and the run-folder options shared by every training command."""
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true", help="start over in an existing --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canvasmar", description="CanvasMAR video prediction")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)  # lets --debug follow the subcommand too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of errors")
    sampling = argparse.ArgumentParser(add_help=False)  # options shared by sample and eval
    sampling.add_argument("--cfg-canvas", type=float, help="canvas guidance scale w_s (Eq. 9)")
    sampling.add_argument("--cfg-temporal", type=float,
                          help="temporal guidance scale w_t (Eq. 9)")
    sampling.add_argument("--order", choices=["motion", "random"],
                          help="token order (Sec. 4.3)")
    sampling.add_argument("--head-temperature", type=float,
                          help="flow-head noise scale (1 = trained distribution, < 1 sharper)")
    sampling.add_argument("--seed", type=int, default=0)
    sampling.add_argument("--device", default="cpu", help="cpu or cuda")
    sampling.add_argument("--no-ema", action="store_true",
                          help="use the raw weights, not the EMA ones (the default if saved)")
    sampling.add_argument("--no-progress", action="store_true", help="no progress bar")
    sampling.add_argument("overrides", nargs="*",
                          help="sample.KEY=VALUE sampling settings, e.g. sample.frame_noise=0.5 "
                               "sample.temperature=4 (any key of the config's sample section)")

    p = sub.add_parser("train", parents=[common], help="train a model on a dataset",
                       description="Train CanvasMAR. CONFIG: a preset (tiny, bair, ucf, k600) "
                                   "or a YAML file; then key=value overrides such as "
                                   "train.steps=500 model.canvas=false data.resolution=64.")
    add_run_arguments(p, "run folder for checkpoints, metrics, previews")
    p.add_argument("--data", help="builtin (default), a folder of videos, or bair / ucf101 / "
                                   "k600 with data.root=DIR (sets data.source)")
    p.set_defaults(func=_train)

    p = sub.add_parser("sample", parents=[common, sampling],
                       help="predict frames from a trained model",
                       description="Predict future frames and write an MP4 plus a PNG grid "
                                   "(context | canvas | staticness | generated | ground truth).")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder")
    p.add_argument("--out", required=True, help="output .mp4 (the .png is written beside it)")
    p.add_argument("--video", help="context from this video (default: built-in test split)")
    p.add_argument("--resize", action="store_true", help="resize/crop --video to the model")
    p.add_argument("--context", type=int, default=2, help="context frames (default 2)")
    p.add_argument("--frames", type=int, default=16, help="frames to generate (default 16)")
    p.add_argument("--steps", type=int, help="spatial MAR steps per frame (config default)")
    p.add_argument("--flow-steps", type=int, help="flow ODE steps (config default, 30)")
    p.add_argument("--num-samples", type=int, default=1, help="samples per context")
    p.add_argument("--clips", type=int, default=2, help="built-in test clips (default 2)")
    p.add_argument("--clip", type=int, default=0, help="first built-in test clip index")
    p.add_argument("--gif", action="store_true", help="also write a GIF")
    p.set_defaults(func=_sample)

    p = sub.add_parser("bench", parents=[common], help="measure sampling speed",
                       description="ms per generated frame over batch sizes, MAR steps and "
                                   "guidance, and the per-frame time of a long rollout.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="results path; .json and .md are written")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--steps", default="1,2,4,8")
    p.add_argument("--frames", type=int, default=3, help="timed frames per setting")
    p.add_argument("--rollout", type=int, default=60, help="frames of the long rollout")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_bench)

    p = sub.add_parser("eval", parents=[common, sampling], help="score a model under a protocol",
                       description="Score generated videos under a protocol of the paper's "
                                   "App. A (or the built-in one): MSE/PSNR/SSIM (mean and "
                                   "best of K), FVD with --i3d, FID/KID with --fid; baselines "
                                   "copy-last-frame and canvas-only in the same run.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--protocol", default="builtin-quick",
                   help="builtin-quick (default), builtin, next-frame, bair, ucf, k600, "
                        "folder (with --data-root DIR)")
    p.add_argument("--steps", default=None, help="MAR steps, e.g. 1,2,4,8 (config default)")
    p.add_argument("--metrics", default="mse,psnr,ssim",
                   help="comma list of mse,psnr,ssim,fvd,fid,kid")
    p.add_argument("--num-videos", type=int, help="override the protocol's video count")
    p.add_argument("--samples", type=int, help="override the protocol's samples per context")
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="builtin and folder protocols: score the val split instead of test "
                        "(to choose sampling settings without looking at test)")
    p.add_argument("--i3d", help="path to StyleGAN-V's i3d_torchscript.pt (for fvd)")
    p.add_argument("--data-root", help="dataset folder for the bair, ucf, k600 and folder "
                                       "protocols")
    p.add_argument("--stats-cache", default="~/.cache/canvasmar/fvd-stats",
                   help="folder for cached real I3D statistics (keyed by dataset, protocol, "
                        "seed, resolution, clip length, count and I3D weights)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", default="results.json",
                   help="JSON results (a .png plot beside); a killed evaluation keeps its "
                        "state in OUT.partial.pt and the same command resumes it")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_eval)

    from canvasmar.data_cli import add_parser as add_data_parser

    add_data_parser(sub, common)

    p = sub.add_parser("info", parents=[common], help="parameter counts of a config",
                       description="Print parameter counts per module and the total.")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.set_defaults(func=_info)

    from canvasmar.vae_cli import add_vae_parser

    add_vae_parser(sub, common)
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
