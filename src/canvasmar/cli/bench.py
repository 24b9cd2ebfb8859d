"""`canvasmar bench`: measure sampling speed (canvasmar.bench), print and write the table."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import int_list


def _bench(args: argparse.Namespace) -> None:
    import canvasmar
    from canvasmar.bench import output_paths, run_bench, to_markdown, write_results
    from canvasmar.devices import resolve_device
    from canvasmar.outputs import claim_outputs

    batches = int_list(args.batches, "--batches")
    sweep = int_list(args.sweep_steps, "--sweep-steps")
    claim_outputs(output_paths(Path(args.out)), force=args.force)
    pipe = canvasmar.load_pipeline(args.checkpoint, device=resolve_device(args.device))
    result = run_bench(pipe, batches, sweep, args.frames, args.rollout)
    paths = write_results(result, Path(args.out))
    print(to_markdown(result))
    print("wrote " + " ".join(str(p) for p in paths))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `bench` on the main parser's subparsers."""
    p = sub.add_parser("bench", parents=[common], help="measure sampling speed",
                       description="ms per generated frame over batch sizes, MAR steps and "
                                   "guidance, and the per-frame time of a long rollout (at the "
                                   "config's sample.steps).")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="results path; .json and .md are written")
    p.add_argument("--batches", default="1,16", metavar="N,N,...",
                   help="batch sizes of the table (default 1,16)")
    p.add_argument("--sweep-steps", default="1,2,4,8", metavar="N,N,...",
                   help="MAR steps of the table (default 1,2,4,8)")
    p.add_argument("--frames", type=int, default=3, help="timed frames per setting")
    p.add_argument("--rollout", type=int, default=60, help="frames of the long rollout")
    p.add_argument("--device", default="auto", help="auto (a GPU if torch sees one), cpu, "
                                                     "cuda or cuda:N")
    p.add_argument("--force", action="store_true", help="replace existing results at --out")
    p.set_defaults(func=_bench)
