"""`canvasmar eval`: score a checkpoint under a protocol; print a short table of the results,
write the whole record as JSON and the plots (canvasmar.evaluation.protocol_run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import (
    default_protocol,
    int_list,
    name_list,
    sampling_parent,
    sampling_pipeline,
)

# The table's columns, in this order when present: the JSON holds more (per-frame curves,
# confidence intervals, ...), hundreds of lines that belong in a file, not on a terminal.
COLUMNS = ("mse", "psnr", "ssim", "mse_best_of_k", "psnr_best_of_k", "ssim_best_of_k", "fvd",
           "fvd_debiased", "fid", "kid", "motion")


def _label(column: str, samples: int) -> str:
    """'psnr_best_of_k' -> 'PSNR best of 4', 'fvd_debiased' -> 'FVD debiased'."""
    name, best, _ = column.partition("_best_of_k")
    metric, _, variant = name.partition("_")
    return " ".join(filter(None, (metric.upper(), variant, f"best of {samples}" if best else "")))


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def results_table(results: dict[str, dict], samples: int) -> str:
    """One row per setting (baselines, then the model at each MAR steps), one column per
    headline metric (best of K only with K = `samples` > 1: else it is the mean) and the
    paired difference of MSE with copy-last, with its 95% interval."""
    rows = list(results.values())
    columns = [c for c in COLUMNS if any(c in r for r in rows)
               and (samples > 1 or not c.endswith("_best_of_k"))]
    header = ["setting", *(_label(c, samples) for c in columns)]
    if any("mse_minus_copy_last" in r for r in rows):
        header.append("MSE - copy_last [95% CI]")
    table = [header]
    for name, r in results.items():
        line = [name, *(_number(r[c]) if c in r else "" for c in columns)]
        if len(header) > len(columns) + 1:
            d = r.get("mse_minus_copy_last")
            line.append(f"{d['mean']:+.3g} [{d['ci95_low']:+.3g}, {d['ci95_high']:+.3g}]"
                        if d else "")
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:  # names left, numbers right
        cells = [row[0].ljust(widths[0]),
                 *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _eval(args: argparse.Namespace) -> None:
    from canvasmar.evaluation.protocol_run import EvalRequest, output_paths, run_eval
    from canvasmar.protocols import PROTOCOLS

    sweep = int_list(args.sweep_steps, "--sweep-steps") if args.sweep_steps else []
    pipe = sampling_pipeline(args)
    default_protocol(args, pipe)
    request = EvalRequest(
        checkpoint=args.checkpoint, out=Path(args.out), protocol=args.protocol,
        metrics=name_list(args.metrics), sweep_steps=tuple(sweep), num_videos=args.num_videos,
        samples=args.samples, context=args.context, split=args.split,
        data_root=args.data_root, actions=not args.no_actions, i3d=args.i3d,
        stats_cache=args.stats_cache, batch_size=args.batch_size, seed=args.seed,
        progress=not args.no_progress, force=args.force)
    result = run_eval(pipe, request)
    protocol = result["protocol"]
    print(f"{protocol['name']}: {protocol['num_videos']} videos x {protocol['samples']} "
          f"samples, {protocol['context']} context -> {protocol['predict']} predicted frames "
          f"({request.split} split, {result['weights']} weights)")
    print(results_table(result["results"], protocol["samples"]))
    plots = output_paths(Path(args.out), PROTOCOLS[protocol["name"]])
    print("wrote " + " ".join(str(p) for p in [Path(args.out), *plots]) + " (the JSON holds "
          "everything: per-frame curves, settings, versions)")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `eval` on the main parser's subparsers."""
    p = sub.add_parser("eval", parents=[common, sampling_parent()],
                       help="score a model under a protocol",
                       description="Score generated videos under a protocol of the paper's "
                                   "App. A (or the built-in one): MSE/PSNR/SSIM (mean and "
                                   "best of K), FVD (--metrics ...,fvd with --i3d), FID/KID "
                                   "(--metrics ...,fid,kid); baselines "
                                   "copy-last-frame and canvas-only in the same run.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--protocol",
                   help="builtin-quick, builtin, next-frame, bair, ucf, k600, folder (with "
                        "--data-root DIR); default: builtin-quick for a model of the built-in "
                        "videos, the folder protocol on its own data for a model of a folder")
    p.add_argument("--sweep-steps", default=None, metavar="N,N,...",
                   help="score the model at each of these MAR steps, e.g. 1,2,4,8 "
                        "(default: the sampling steps, --steps or the config's)")
    p.add_argument("--metrics", default="mse,psnr,ssim",
                   help="comma list of mse,psnr,ssim,fvd,fid,kid")
    p.add_argument("--num-videos", type=int, help="override the protocol's video count")
    p.add_argument("--context", type=int, help="override the protocol's context frames (e.g. 2 "
                   "for the built-in protocols, so velocities can be seen)")
    p.add_argument("--samples", type=int, help="override the protocol's samples per context")
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="builtin and folder protocols: score the val split instead of test "
                        "(to choose sampling settings without looking at test)")
    p.add_argument("--no-actions", action="store_true",
                   help="an action model on a folder of recordings: predict under the null "
                        "action instead of each clip's true actions (what the actions add)")
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
