"""`canvasmar eval`: score a checkpoint under a protocol; print the results, write JSON and
plots (canvasmar.evaluation.protocol_run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import int_list, name_list, sampling_parent, sampling_pipeline


def _eval(args: argparse.Namespace) -> None:
    import json

    from canvasmar.evaluation.protocol_run import EvalRequest, run_eval

    sweep = int_list(args.sweep_steps, "--sweep-steps") if args.sweep_steps else []
    request = EvalRequest(
        checkpoint=args.checkpoint, out=Path(args.out), protocol=args.protocol,
        metrics=name_list(args.metrics), sweep_steps=tuple(sweep), num_videos=args.num_videos,
        samples=args.samples, split=args.split, data_root=args.data_root, i3d=args.i3d,
        stats_cache=args.stats_cache, batch_size=args.batch_size, seed=args.seed,
        progress=not args.no_progress, force=args.force)
    pipe = sampling_pipeline(args)
    result = run_eval(pipe, request)
    print(json.dumps(result["results"], indent=2))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.png')}")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `eval` on the main parser's subparsers."""
    p = sub.add_parser("eval", parents=[common, sampling_parent()],
                       help="score a model under a protocol",
                       description="Score generated videos under a protocol of the paper's "
                                   "App. A (or the built-in one): MSE/PSNR/SSIM (mean and "
                                   "best of K), FVD with --i3d, FID/KID with --fid; baselines "
                                   "copy-last-frame and canvas-only in the same run.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--protocol", default="builtin-quick",
                   help="builtin-quick (default), builtin, next-frame, bair, ucf, k600, "
                        "folder (with --data-root DIR)")
    p.add_argument("--sweep-steps", default=None, metavar="N,N,...",
                   help="score the model at each of these MAR steps, e.g. 1,2,4,8 "
                        "(default: the sampling steps, --steps or the config's)")
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
    p.set_defaults(func=_eval, on_interrupt="stopped; the evaluation's state is saved in "
                   "OUT.partial.pt beside --out: run the same command again to continue")
