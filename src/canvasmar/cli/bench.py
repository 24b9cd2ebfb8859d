"""`canvasmar bench`: measure sampling speed of a checkpoint, or with --train the training
throughput of a config (canvasmar.bench); print and write the table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from canvasmar.cli.common import add_compile_flag, int_list, name_list
from canvasmar.errors import UserError


def _config_and_overrides(args: argparse.Namespace) -> tuple[str, list[str]]:
    """CONFIG from --config or the first positional word without '='; the rest overrides."""
    words = list(args.overrides)
    config = args.config
    if config is None and words and "=" not in words[0]:
        config = words.pop(0)
    if config is None:
        raise UserError("bench --train needs a config: a preset (tiny, bair, ucf, k600) or a "
                        "YAML file, as CONFIG or --config")
    return config, words


def _bench_train(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from canvasmar.bench import run_train_bench
    from canvasmar.config import load_config
    from canvasmar.devices import resolve_device

    name, overrides = _config_and_overrides(args)
    cfg = load_config(name, overrides)
    batches = int_list(args.batches, "--batches") if args.batches else [cfg.train.batch_size]
    precisions = list(name_list(args.precisions)) if args.precisions else [cfg.train.precision]

    def progress(row: dict) -> None:  # one line per setting as it completes (above the bar)
        took = (f"{row['median_s']:.3f} s/step, {row['clips_per_s']:.2f} clips/s"
                if "median_s" in row else row["error"])
        tqdm.write(f"batch {row['batch']} {row['precision']} loader {row['loader']}: {took}",
                   file=sys.stderr)

    return run_train_bench(cfg, resolve_device(args.device), batches, precisions, args.loader,
                           args.timed_steps, args.warmup_steps,
                           progress=None if args.quiet else progress,
                           progress_bar=not args.no_progress)


def _bench(args: argparse.Namespace) -> None:
    import canvasmar
    from canvasmar.bench import output_paths, run_bench, to_markdown, write_results
    from canvasmar.devices import resolve_device
    from canvasmar.outputs import claim_outputs

    if not args.train:
        if args.checkpoint is None or args.out is None:
            raise UserError("bench needs --checkpoint and --out (or --train CONFIG to measure "
                            "training)")
        if args.overrides or args.config:
            raise UserError("a config and overrides are for bench --train; a sampling bench "
                            "reads the checkpoint's")
    elif args.dtype or args.compile != "off":
        raise UserError("--dtype and --compile are for a sampling bench; --train measures "
                        "--precisions, and train.compile=true compiles the training step")
    if args.out is not None:
        claim_outputs(output_paths(Path(args.out)), force=args.force)
    if args.train:
        result = _bench_train(args)
    else:
        batches = int_list(args.batches or "1,16", "--batches")
        sweep = int_list(args.sweep_steps, "--sweep-steps")
        pipe = canvasmar.load_pipeline(args.checkpoint, device=resolve_device(args.device),
                                       torch_dtype=args.dtype or "float32")
        pipe.compile(args.compile)
        result = run_bench(pipe, batches, sweep, args.frames, args.rollout,
                           progress_bar=not args.no_progress)
    print(to_markdown(result))
    if args.out is not None:
        paths = write_results(result, Path(args.out))
        print("wrote " + " ".join(str(p) for p in paths))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `bench` on the main parser's subparsers."""
    p = sub.add_parser("bench", parents=[common], help="measure sampling or training speed",
                       description="Sampling (--checkpoint): ms per generated frame over batch "
                                   "sizes, MAR steps and guidance, and the per-frame time of a "
                                   "long rollout (at the config's sample.steps). Training "
                                   "(--train CONFIG [KEY=VALUE ...]): clips/s per batch size "
                                   "and precision, the data loader excluded and included. "
                                   "Both report TFLOP/s and MFU (analytic FLOPs over a "
                                   "matmul peak measured on the device).")
    p.add_argument("overrides", nargs="*", metavar="[CONFIG] KEY=VALUE",
                   help="--train: a preset or YAML file, then section.key=value overrides")
    p.add_argument("--checkpoint", help="the run to sample from (sampling bench)")
    p.add_argument("--train", action="store_true",
                   help="measure training throughput of a config (no checkpoint needed)")
    p.add_argument("--config", help="--train: a preset (tiny, bair, ucf, k600) or a YAML file")
    p.add_argument("--out", help="results path; .json and .md are written (required for the "
                                 "sampling bench; --train without it only prints)")
    p.add_argument("--batches", metavar="N,N,...",
                   help="batch sizes (default: 1,16 for sampling, train.batch_size for --train)")
    p.add_argument("--sweep-steps", default="1,2,4,8", metavar="N,N,...",
                   help="MAR steps of the table (default 1,2,4,8)")
    p.add_argument("--frames", type=int, default=3, help="timed frames per setting")
    add_compile_flag(p)
    p.add_argument("--dtype", help="sampling bench: the pipeline's dtype, float32 (default) or "
                                   "bfloat16 (a GPU's; ~30x slower on our CPUs)")
    p.add_argument("--rollout", type=int, default=60, help="frames of the long rollout")
    p.add_argument("--precisions", metavar="P,P,...",
                   help="--train: fp32 and/or bf16 (default: train.precision)")
    p.add_argument("--loader", default="both", choices=("both", "excluded", "included"),
                   help="--train: time steps with the data loader excluded (one batch fed "
                        "again), included, or both (default)")
    p.add_argument("--timed-steps", type=int, default=5,
                   help="--train: timed optimizer steps per setting (default 5)")
    p.add_argument("--warmup-steps", type=int, default=2,
                   help="--train: untimed steps first (default 2; more with train.compile)")
    p.add_argument("--device", default="auto", help="auto (a GPU if torch sees one), cpu, "
                                                     "cuda or cuda:N")
    p.add_argument("--force", action="store_true", help="replace existing results at --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_bench)
