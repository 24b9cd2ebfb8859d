"""`canvasmar choose`: pick sampling settings on the validation split by frame FID
(evaluation/selection.py), print the table and write JSON + markdown."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _choose(args: argparse.Namespace) -> None:
    import dataclasses

    from canvasmar.atomic import write_text_atomic
    from canvasmar.cli.common import default_protocol, sampling_pipeline
    from canvasmar.errors import UserError
    from canvasmar.evaluation.protocol_run import protocol_test_clips
    from canvasmar.evaluation.selection import parse_grid, sweep, sweep_markdown
    from canvasmar.metrics import kid, load_fid_inception
    from canvasmar.outputs import claim_outputs
    from canvasmar.protocols import PROTOCOLS
    from canvasmar.versions import versions

    pipe = sampling_pipeline(args)
    default_protocol(args, pipe)
    if args.protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol '{args.protocol}' (choose "
                        f"{', '.join(PROTOCOLS)})")
    out = Path(args.out)
    paths = [out.with_suffix(".json"), out.with_suffix(".md")]
    claim_outputs(paths, force=args.force)
    grid = parse_grid(args.grid, pipe)
    protocol = PROTOCOLS[args.protocol]
    for key in ("num_videos", "context"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise UserError(f"--{key.replace('_', '-')} {value} must be at least 1")
        if value:
            protocol = dataclasses.replace(protocol, **{key: value})
    clips = protocol_test_clips(pipe, protocol, args.data_root, args.seed, args.split)
    extractor = load_fid_inception(pipe.device)
    # the points scored so far, kept beside the outputs: a killed choose goes on from there
    partial = out.with_name(f"{out.stem}.partial.json")
    fingerprint = {"checkpoint": str(args.checkpoint), "protocol": protocol.to_dict(),
                   "split": args.split, "clips": len(clips), "data_root": args.data_root,
                   "sample": dataclasses.asdict(pipe.cfg.sample), "kid": args.kid}
    result = sweep(pipe, protocol, clips, grid, frame_extractor=extractor,
                   kid_fn=kid if args.kid else None, seed=args.seed,
                   batch_size=args.batch_size, progress=not args.no_progress,
                   resume=partial, fingerprint=fingerprint)
    record = {"checkpoint": str(args.checkpoint), "protocol": protocol.to_dict(),
              "split": args.split, "seed": args.seed, "sample": dataclasses.asdict(
                  pipe.cfg.sample), "versions": versions(), **result}
    table = sweep_markdown(result)
    write_text_atomic(paths[0], json.dumps(record, indent=2) + "\n")
    write_text_atomic(paths[1], table)
    print(table)
    chosen = {k: v for k, v in result["chosen"].items() if k in grid}
    print("chosen (lowest FID): " + " ".join(f"sample.{k}={v}" for k, v in chosen.items()))
    print("wrote " + " ".join(str(p) for p in paths))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `choose` on the main parser's subparsers."""
    from canvasmar.cli.common import sampling_parent

    p = sub.add_parser("choose", parents=[common, sampling_parent()],
                       help="choose sampling settings on val by frame FID",
                       description="Score a grid of sampling settings on the validation split "
                                   "(frame FID with the real Inception weights, KID, best-of-K "
                                   "and mean PSNR/SSIM) and pick the lowest FID; copy-last and "
                                   "canvas-only are scored once beside them. Then report on "
                                   "test with `canvasmar eval` and the chosen settings.")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint folder")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a sampling setting and its values (repeat for a product grid), "
                        "e.g. --grid head_temperature=0.25,0.5,1 --grid steps=4,8")
    p.add_argument("--out", required=True, help="results path; .json and .md are written")
    p.add_argument("--protocol", help="as for `canvasmar eval` (default: builtin-quick, or "
                                      "the folder protocol on a folder model's own data)")
    p.add_argument("--split", default="val", choices=("val", "test"),
                   help="val (default): choose on val, report on test")
    p.add_argument("--num-videos", type=int, help="replace the protocol's video count")
    p.add_argument("--context", type=int, help="replace the protocol's context frames")
    p.add_argument("--data-root", help="dataset folder of the folder/benchmark protocols")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--kid", action="store_true", help="also KID (keeps the features)")
    p.set_defaults(func=_choose)
