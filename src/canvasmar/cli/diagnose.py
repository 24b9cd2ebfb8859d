"""`canvasmar diagnose`: the learning diagnostics of a checkpoint (evaluation/diagnostics.py):
does the Spatial MAR use revealed tokens, is the flow head calibrated, the canvas on static
regions and on moving ones. Prints a short table; --out writes the JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

MEANINGS = {
    "swap_mse": "prediction change when the revealed tokens are another clip's (0 = ignored)",
    "swap_gain": "error with another clip's revealed tokens minus with the true ones (> 0: used)",
    "swap_moving_gain": "share of the moving masked tokens' error the true revealed ones remove",
    "swap_mse_unconditional": "swap_mse with both conditions dropped (revealed tokens only)",
    "swap_gain_unconditional": "swap_gain with both conditions dropped",
    "swap_moving_gain_unconditional": "swap_moving_gain with both conditions dropped",
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
    "canvas_action_gain": "the same with the action before the frame nulled (0 = unused)",
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
    if args.samples < 2:
        raise UserError(f"--samples {args.samples}: the calibration compares the spread of "
                        f"the head's draws with their error, which needs at least 2")
    if not 0 < args.revealed < 1:
        raise UserError(f"--revealed {args.revealed}: a share strictly between 0 and 1")
    if args.out:
        claim_outputs([Path(args.out)], force=args.force)
    pipe = sampling_pipeline(args)
    data_cfg = pipe.cfg.data
    if args.data:  # the recordings moved, or other data with the same frame size
        data_cfg = dataclasses.replace(data_cfg, source=args.data)
    # An action model on recordings is diagnosed with each clip's true actions (its canvas
    # under null actions is another model's); --no-actions asks for the null ones.
    with_actions = (pipe.model.has_actions and not args.no_actions and bool(data_cfg.source)
                    and Path(data_cfg.source).is_dir())
    data = build_dataset(data_cfg, args.split, seed=0,
                         actions=pipe.model.cfg.actions if with_actions else 0,
                         action_kind=pipe.cfg.model.action_kind)
    clips = min(args.clips, len(data))
    if clips < 2:
        raise UserError(f"the {args.split} split holds {len(data)} clip(s); the swap test "
                        f"needs 2")
    items = [data[i] for i in range(clips)]
    actions = torch.stack([a for _, a in items]).to(pipe.device) if with_actions else None
    videos = torch.stack([c for c, _ in items] if with_actions else items).to(pipe.device)
    with torch.no_grad():
        latents = pipe.tokenizer.encode(videos)
    print(f"{clips} {args.split} clips of {data_cfg.source}"
          + (", with their actions" if with_actions else
             ", null actions" if pipe.model.has_actions else ""))
    result = diagnose(pipe.model, latents, pipe.cfg.sample, args.revealed, args.samples,
                      args.seed, actions=actions)
    for key, value in result.items():
        print(f"{key:<26} {value:>10.6f}  {MEANINGS.get(key, '')}")
    if args.out:
        record = {"checkpoint": str(args.checkpoint), "split": args.split, "clips": clips,
                  "data": data_cfg.source, "actions": with_actions,
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
    p.add_argument("--data", help="the clips' folder or source (default: the run's "
                                  "data.source)")
    p.add_argument("--no-actions", action="store_true",
                   help="an action model: null actions instead of each clip's true ones")
    p.add_argument("--out", help="also write the numbers as JSON here")
    p.set_defaults(func=_diagnose)
