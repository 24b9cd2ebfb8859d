"""`canvasmar compare A.json B.json`: two evaluations of the same clips, paired per video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from canvasmar.outputs import claim_outputs


def _compare(args: argparse.Namespace) -> None:
    from canvasmar.atomic import write_text_atomic
    from canvasmar.evaluation.compare import compare, comparison_table

    if args.out:
        claim_outputs([Path(args.out)], force=args.force)
    result = compare(args.a, args.b, args.setting_a, args.setting_b)
    print(comparison_table(result))
    if args.out:
        write_text_atomic(Path(args.out), json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `compare` on the main parser's subparsers."""
    p = sub.add_parser("compare", parents=[common], help="compare two evaluations, paired",
                       description="Compare two `canvasmar eval` JSONs of the same clips "
                                   "(protocol, split, seed, counts): per-video MSE/PSNR/SSIM "
                                   "(mean and best of K) as the paired difference A - B with "
                                   "its 95%% bootstrap interval; FID/KID/FVD side by side.")
    p.add_argument("a", help="evaluation JSON A")
    p.add_argument("b", help="evaluation JSON B")
    p.add_argument("--setting-a", help="setting of A (default: its model_steps_N); e.g. "
                                       "canvas_only, copy_last")
    p.add_argument("--setting-b", help="setting of B (default: its model_steps_N)")
    p.add_argument("--out", help="also write the comparison as JSON")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_compare)
