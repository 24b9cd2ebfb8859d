"""`canvasmar diagnose`: the learning diagnostics of a checkpoint (evaluation/diagnostics.py):
does the Spatial MAR use revealed tokens, is the flow head calibrated, the canvas on static
regions and on moving ones. Prints a short table; --out writes the JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

MEANINGS = {
    "swap_mse": "prediction change when the revealed tokens are another clip's (0 = ignored)",
    "swap_gain": "error with another clip's revealed tokens minus with the true ones (> 0: used)",
    "spread_over_error_static": "head draws' spread / error on static tokens (1 = calibrated)",
    "spread_over_error_moving": "the same on moving tokens",
    "canvas_static_mse": "canvas error on static tokens",
    "copy_last_static_mse": "copying the last frame, on the same tokens",
    "static_share": "share of tokens that are static",
    "canvas_moving_gain": "share of copy-last's error on moving tokens the canvas removes "
                          "(0 = predicts no motion)",
    "canvas_motion_recall": "share of moving tokens where the canvas predicts a change",
    "canvas_motion_precision": "share of tokens the canvas changes that do move",
    "canvas_history_gain": "share of the canvas's moving error that the frames before the last "
                           "remove (0 = unused)",
    "warp_moving_gain": "the same as canvas_moving_gain for the previous frame moved by "
                        "model.warp's shifts alone",
    "warp_static_mse": "the moved previous frame's error on static tokens (wrong shifts tear)",
}


def _diagnose(args: argparse.Namespace) -> None:
    import torch

    from canvasmar.atomic import write_text_atomic
    from canvasmar.cli.common import sampling_pipeline
    from canvasmar.data import build_dataset
    from canvasmar.errors import UserError
    from canvasmar.evaluation.diagnostics import diagnose
    from canvasmar.outputs import claim_outputs
    from canvasmar.versions import versions

    if args.clips < 2:
        raise UserError(f"--clips {args.clips}: the swap test needs at least 2 clips")
    if not 0 < args.revealed < 1:
        raise UserError(f"--revealed {args.revealed}: a share strictly between 0 and 1")
    if args.out:
        claim_outputs([Path(args.out)], force=args.force)
    pipe = sampling_pipeline(args)
    data = build_dataset(pipe.cfg.data, args.split, seed=0)
    clips = min(args.clips, len(data))
    if clips < 2:
        raise UserError(f"the {args.split} split holds {len(data)} clip(s); the swap test "
                        f"needs 2")
    videos = torch.stack([data[i] for i in range(clips)]).to(pipe.device)
    with torch.no_grad():
        latents = pipe.tokenizer.encode(videos)
    result = diagnose(pipe.model, latents, pipe.cfg.sample, args.revealed, args.samples,
                      args.seed)
    for key, value in result.items():
        print(f"{key:<26} {value:>10.6f}  {MEANINGS.get(key, '')}")
    if args.out:
        record = {"checkpoint": str(args.checkpoint), "split": args.split, "clips": clips,
                  "revealed": args.revealed, "samples": args.samples, "seed": args.seed,
                  "versions": versions(), "diagnostics": result}
        write_text_atomic(Path(args.out), json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `diagnose` on the main parser's subparsers."""
    from canvasmar.cli.common import sampling_parent

    p = sub.add_parser("diagnose", parents=[common, sampling_parent()],
                       help="what blocks learning: revealed-token use, head calibration",
                       description="On held-out clips given their true history: the swap test "
                                   "(does the Spatial MAR use the tokens it revealed?), the "
                                   "flow head's calibration on static and moving tokens, and "
                                   "the canvas against copy-last on static tokens. Token-space "
                                   "values; see canvasmar.evaluation.diagnostics.")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder")
    p.add_argument("--split", default="val", choices=("train", "val", "test"))
    p.add_argument("--clips", type=int, default=64, help="held-out clips (default 64)")
    p.add_argument("--revealed", type=float, default=0.7,
                   help="share of tokens revealed in the swap test (default 0.7)")
    p.add_argument("--samples", type=int, default=8, help="head draws per token (default 8)")
    p.add_argument("--out", help="also write the numbers as JSON here")
    p.set_defaults(func=_diagnose)
