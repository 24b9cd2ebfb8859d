"""Scoring generated videos under a protocol (paper App. A), with baselines in the same run.

For each setting (the model at each number of MAR steps, and two baselines: copying the last
context frame, and rolling out the one-pass canvas alone) every context is sampled K times and
scored on the predicted segment: MSE, PSNR and SSIM (mean over all samples, and best of the K
samples of each context), each also per predicted frame; FVD with a user-supplied I3D (plus
BAIR's debiased FVD when its real statistics are given); frame FID/KID with a user-supplied
Inception, over all predicted frames and per predicted-frame position (`per_frame`: the
field's way to see samples blur or fade as a rollout goes on); and `motion`, how much the
generated frames change from one to the next against how much the real ones do (mean absolute
pixel change, frame 1 against the last context frame; overall and per predicted frame): 1
moves as much as the real video, 0 is a frozen one (copy-last scores 0 by construction) and
above 1 flickers. FID and PSNR can score a frozen rollout well (docs/quality.md); this says
whether anything moves. Read it beside them: noise changes frames too.

Clips are read from the protocol's dataset one batch at a time and every setting scores that
batch before the next is read, so memory holds one batch of clips plus running statistics
(UCF-101's 5K and Kinetics-600's 50K clips never sit in memory at once). Each setting has its
own generator seeded with `seed` and consumes it batch after batch, so the numbers do not
depend on which other settings run, and repeated runs give identical numbers. Long
evaluations (50K Kinetics clips) save their running state every few minutes and resume from
it after a kill (`resume_path`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from canvasmar.atomic import atomic_path
from canvasmar.data.videoio import BadVideo
from canvasmar.errors import UserError
from canvasmar.metrics import (
    FeatureStats,
    best_of_k,
    extract_features,
    frechet_distance_stats,
    fvd,
    i3d_features,
    psnr_frames,
    ssim_frames,
)
from canvasmar.metrics.paired import paired_difference
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import Protocol
from canvasmar.train.stopping import StopRequest

PIXEL_METRICS = ("mse", "psnr", "ssim")
log = logging.getLogger("canvasmar")
Clips = Sequence[torch.Tensor]  # clip i -> (context + predict, C, H, W) in [0, 1]


def _score_pixels(fake: torch.Tensor, real: torch.Tensor
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(B, T, C, H, W) pairs -> per-clip MSE, PSNR, SSIM (means over frames), and the same
    metrics per frame (B, T), for the error-against-time curves."""
    psnr_f, ssim_f = psnr_frames(fake, real), ssim_frames(fake, real)  # float64
    per_clip = {"mse": (fake - real).pow(2).flatten(1).mean(1).double(),
                "psnr": psnr_f.mean(1), "ssim": ssim_f.mean(1)}
    per_frame = {"mse": (fake - real).double().pow(2).mean((2, 3, 4)), "psnr": psnr_f,
                 "ssim": ssim_f}
    return per_clip, per_frame


def read_item(clips: Clips, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Clip `index` exactly, and its actions (None without): a protocol clip that fails to
    decode stops the evaluation with its file named (a training loader would skip it, but a
    skipped test clip changes the score)."""
    try:  # ClipDataset.load raises instead of falling back to a neighbouring clip
        item = clips.load(index) if hasattr(clips, "load") else clips[index]
    except BadVideo as exc:
        raise UserError(f"test clip {index} cannot be read ({exc}); fix or remove that file, "
                        f"then run the evaluation again") from None
    return item if isinstance(item, tuple) else (item, None)


def read_clip(clips: Clips, index: int) -> torch.Tensor:
    """Clip `index`'s frames exactly (read_item without the actions)."""
    return read_item(clips, index)[0]


def _action_keywords(actions: torch.Tensor | None, context: int, predict: int) -> dict:
    """A clip's actions -> the pipeline's `context_actions` (between the context frames) and
    `actions` (the one after the last context frame, then one per predicted frame)."""
    if actions is None:
        return {}
    return {"context_actions": actions[:, :context - 1],
            "actions": actions[:, context - 1:context - 1 + predict]}


def _batches(n: int, k: int, batch_size: int):
    """(video index, sample index) tensors of each batch of the n x k generated clips."""
    flat = torch.arange(n * k)  # clip i*k + j = sample j of video i
    for start in range(0, n * k, batch_size):
        idx = flat[start:start + batch_size]
        yield idx // k, idx % k


def real_i3d_stats(clips: Clips, protocol: Protocol, detector: Callable,
                   batch_size: int = 16) -> FeatureStats:
    """I3D statistics of the protocol's real segments (the `predict` frames after the context),
    for caching under a `StatsKey` and passing to `evaluate(real_i3d=...)`."""
    c, p, stats = protocol.context, protocol.predict, FeatureStats()
    for start in range(0, len(clips), batch_size):
        batch = torch.stack([read_clip(clips, i)
                             for i in range(start, min(start + batch_size, len(clips)))])
        stats.update(i3d_features(batch[:, c:c + p], detector))
    return stats


class _FrameFeatures:
    """Per-frame Inception features of one set of (B, T, ...) videos: running moments of all
    frames (FID) and of each frame position t (FID per predicted frame), and, when KID is
    asked for, the features themselves (float32, to halve the memory; video-major, so frame t
    of every video is `features().view(-1, T, D)[:, t]`)."""

    def __init__(self, extractor: Callable, keep: bool, frames: int) -> None:
        self.extractor, self.stats = extractor, FeatureStats()
        self.positions = [FeatureStats() for _ in range(frames)]
        self.kept: list[torch.Tensor] | None = [] if keep else None

    def add(self, videos: torch.Tensor) -> None:
        feats = extract_features(videos, self.extractor)
        self.stats.update(feats)
        by_position = feats.view(videos.shape[0], videos.shape[1], -1)
        for t, stats in enumerate(self.positions):
            stats.update(by_position[:, t])
        if self.kept is not None:
            self.kept.append(feats.float())

    def features(self, position: int | None = None) -> torch.Tensor:
        feats = torch.cat(self.kept).double()
        if position is None:
            return feats
        return feats.view(-1, len(self.positions), feats.shape[-1])[:, position]

    def state(self) -> dict:
        return {"stats": self.stats.state_dict() if self.stats.count else None,
                "positions": [s.state_dict() for s in self.positions] if self.stats.count
                else None,
                "kept": torch.cat(self.kept) if self.kept else None}

    def load_state(self, state: dict) -> None:
        if state["stats"] is not None:
            self.stats = FeatureStats.from_state_dict(state["stats"])
            self.positions = [FeatureStats.from_state_dict(s) for s in state["positions"]]
        if self.kept is not None and state["kept"] is not None:
            self.kept = [state["kept"]]


class _Scores:
    """Per-(video, sample) pixel scores and streaming feature statistics of one setting."""

    def __init__(self, videos: int, samples: int, frames: int,
                 frame_extractor: Callable | None, keep_frame_features: bool) -> None:
        self.values = {m: torch.zeros(videos, samples, dtype=torch.float64)
                       for m in PIXEL_METRICS}
        self.frame_sums = {m: torch.zeros(frames, dtype=torch.float64) for m in PIXEL_METRICS}
        # per (video, sample, frame): best of K at each predicted frame
        self.frame_values = {m: torch.zeros(videos, samples, frames, dtype=torch.float64)
                             for m in PIXEL_METRICS}
        self.clips = 0
        # summed mean |frame t - frame t-1| of the generated (row 0) and real (row 1) videos
        self.change = torch.zeros(2, frames, dtype=torch.float64)
        self.i3d = FeatureStats()
        self.frames = (_FrameFeatures(frame_extractor, keep_frame_features, frames)
                       if frame_extractor is not None else None)

    def state(self) -> dict:
        return {"values": self.values, "i3d": self.i3d.state_dict() if self.i3d.count else None,
                "frames": self.frames.state() if self.frames is not None else None,
                "frame_sums": self.frame_sums, "frame_values": self.frame_values,
                "clips": self.clips, "change": self.change}

    def load_state(self, state: dict) -> None:
        self.values, self.frame_sums = state["values"], state["frame_sums"]
        self.frame_values = state["frame_values"]
        self.clips, self.change = int(state["clips"]), state["change"]
        if state["i3d"] is not None:
            self.i3d = FeatureStats.from_state_dict(state["i3d"])
        if self.frames is not None:
            self.frames.load_state(state["frames"])

    def add(self, fake: torch.Tensor, real: torch.Tensor, last: torch.Tensor, vid: torch.Tensor,
            sample: torch.Tensor, detector: Callable | None) -> None:
        """Score (B, T, C, H, W) generated against real segments; `last` (B, C, H, W) is the
        last context frame (the `motion` of frame 1 is its change from it)."""
        per_clip, per_frame = _score_pixels(fake, real)
        for row, video in enumerate((fake, real)):
            frames = torch.cat([last[:, None], video], 1).double()
            self.change[row] += (frames[:, 1:] - frames[:, :-1]).abs().mean((2, 3, 4)).sum(0)
        for m, v in per_clip.items():
            self.values[m][vid, sample] = v
            self.frame_sums[m] += per_frame[m].sum(0)
            self.frame_values[m][vid, sample] = per_frame[m]
        self.clips += len(vid)
        if detector is not None:
            self.i3d.update(i3d_features(fake, detector))
        if self.frames is not None:
            self.frames.add(fake)

    def summary(self, real_i3d: FeatureStats | None, debiased_real: FeatureStats | None,
                real_frames: _FrameFeatures | None, kid_fn: Callable | None
                ) -> dict[str, float]:
        out, per_video = {}, {}
        for m, v in self.values.items():
            best = best_of_k(v, higher_is_better=m != "mse")
            out[m], out[f"{m}_best_of_k"] = v.mean().item(), best.mean().item()
            # per video (mean over its samples / best of them): paired comparisons of two
            # evaluations on the same clips (`canvasmar compare`, evaluation/compare.py)
            per_video[m], per_video[f"{m}_best_of_k"] = v.mean(1).tolist(), best.tolist()
        out["per_video"] = per_video
        # mean over all clips and samples of each predicted frame (1 = first after context)
        out["per_frame"] = {m: (v / self.clips).tolist() for m, v in self.frame_sums.items()}
        for m, v in self.frame_values.items():  # (N, K, T) -> best of the K, mean over N
            best = v.amax(1) if m != "mse" else v.amin(1)
            out["per_frame"][f"{m}_best_of_k"] = best.mean(0).tolist()
            # (N, T) per video and predicted-frame position: paired per-position intervals
            per_video[f"{m}_per_frame"] = v.mean(1).tolist()
            per_video[f"{m}_best_of_k_per_frame"] = best.tolist()
        generated, real = self.change
        if (real > 0).all():  # a segment in which nothing ever moves has no motion to keep
            out["motion"] = (generated.sum() / real.sum()).item()
            out["per_frame"]["motion"] = (generated / real).tolist()
        if real_i3d is not None:
            out["fvd"] = fvd(real_i3d, self.i3d)
        if debiased_real is not None:
            out["fvd_debiased"] = fvd(debiased_real, self.i3d)
        if real_frames is not None:
            out["fid"] = frechet_distance_stats(real_frames.stats, self.frames.stats)
            out["per_frame"]["fid"] = [frechet_distance_stats(r, f) for r, f in
                                       zip(real_frames.positions, self.frames.positions,
                                           strict=True)]
            if kid_fn is not None:
                out["kid"] = kid_fn(real_frames.features(), self.frames.features())
                out["per_frame"]["kid"] = [kid_fn(real_frames.features(t),
                                                  self.frames.features(t))
                                           for t in range(len(self.frames.positions))]
        return out


class _Resume:
    """The evaluation's resume file: saved every `every_s` seconds, checked on load against
    the settings it was written for, removed when the evaluation completes."""

    def __init__(self, path: str | Path | None, fingerprint: dict, every_s: float) -> None:
        self.path = Path(path) if path is not None else None
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.every_s, self.last = every_s, time.monotonic()

    def load(self, scores: dict[str, _Scores], generators: dict[str, torch.Generator],
             real_frames: _FrameFeatures | None) -> int:
        """Restore a saved state; returns the first batch still to score (0 if none)."""
        if self.path is None or not self.path.is_file():
            return 0
        try:
            state = torch.load(self.path, weights_only=True)
        except Exception as exc:  # a truncated file cannot come from atomic writes, but say so
            raise UserError(f"cannot read the partial evaluation {self.path} ({exc}); delete "
                            f"it to start over") from None
        if state["fingerprint"] != self.fingerprint:
            raise UserError(f"{self.path} holds a partial evaluation with other settings; "
                            f"delete it to start over, or use another --out")
        for name, s in scores.items():
            s.load_state(state["scores"][name])
            generators[name].set_state(state["generators"][name])
        if real_frames is not None:
            real_frames.load_state(state["real_frames"])
        log.info("resuming the evaluation from %s at batch %d", self.path, state["next_batch"])
        return int(state["next_batch"])

    def maybe_save(self, next_batch: int, scores: dict[str, _Scores],
                   generators: dict[str, torch.Generator],
                   real_frames: _FrameFeatures | None, now: bool = False) -> None:
        """Save the state before batch `next_batch` if `every_s` passed (or `now`)."""
        if self.path is None or (not now and time.monotonic() - self.last < self.every_s):
            return
        state = {"fingerprint": self.fingerprint, "next_batch": next_batch,
                 "scores": {name: s.state() for name, s in scores.items()},
                 "generators": {name: g.get_state() for name, g in generators.items()},
                 "real_frames": real_frames.state() if real_frames is not None else None}
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)
        self.last = time.monotonic()

    def done(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@torch.no_grad()
def evaluate(pipe: Pipeline, protocol: Protocol, clips: Clips, steps: list[int], *,
             seed: int = 0, batch_size: int = 16, detector: Callable | None = None,
             real_i3d: FeatureStats | None = None, debiased_real: FeatureStats | None = None,
             frame_extractor: Callable | None = None, kid_fn: Callable | None = None,
             progress: bool = True, resume_path: str | Path | None = None,
             fingerprint: dict | None = None, save_every_s: float = 300.0,
             baselines: bool = True, **options) -> dict:
    """Score `clips` (a dataset or an (N, context + predict, C, H, W) tensor in [0, 1]).

    Returns {setting: {metric: value}}. `detector`: an I3D TorchScript module (FVD), with
    `real_i3d` the real statistics if already known (else computed here); `debiased_real`:
    BAIR's debiased real statistics (adds `fvd_debiased`); `frame_extractor`: images ->
    features (FID, and KID when `kid_fn` is given). Extra keywords go to the pipeline
    (guidance, order, head temperature).

    `resume_path`: every `save_every_s` seconds the running state (scores, statistics and
    each setting's generator) is written there atomically; a later call with the same file
    and the same settings (`fingerprint` adds the caller's, e.g. the weights) continues from
    the saved batch and returns exactly the numbers of an uninterrupted run. The file is
    removed when the evaluation completes. `baselines=False` scores the model settings alone
    (a sweep of sampling settings scores the baselines once, not at every point).
    """
    n, k, c, p = len(clips), protocol.samples, protocol.context, protocol.predict
    if detector is not None and real_i3d is None:
        real_i3d = real_i3d_stats(clips, protocol, detector, batch_size)
    settings: list[tuple[str, dict]] = [("copy_last", {})] if baselines else []
    if pipe.model.has_canvas and baselines:
        settings.append(("canvas_only", {"canvas_only": True}))
    settings += [(f"model_steps_{s}", {"steps": s}) for s in steps]
    keep = kid_fn is not None
    scores = {name: _Scores(n, k, p, frame_extractor, keep) for name, _ in settings}
    generators = {name: torch.Generator().manual_seed(seed) for name, _ in settings}
    real_frames = _FrameFeatures(frame_extractor, keep, p) if frame_extractor else None
    batches = -(-n * k // batch_size)
    resume = _Resume(resume_path, {
        "protocol": protocol.to_dict(), "clips": n, "steps": list(steps), "seed": seed,
        "batch_size": batch_size, "settings": [name for name, _ in settings],
        "options": {key: repr(v) for key, v in sorted(options.items())},
        "metrics": {"fvd": detector is not None, "fid": frame_extractor is not None,
                    "kid": keep, "motion": True}, **(fingerprint or {})}, save_every_s)
    first = resume.load(scores, generators, real_frames)
    bar = tqdm(total=batches * len(settings), initial=first * len(settings),
               desc=f"eval {protocol.name}", disable=not progress)
    with StopRequest() as stop:  # SIGTERM / a first Ctrl-C: finish the batch, save, stop
        for index, (vid, sample) in enumerate(_batches(n, k, batch_size)):
            if index < first:
                continue
            unique, where = torch.unique(vid, return_inverse=True)
            items = [read_item(clips, int(v)) for v in unique]
            videos = torch.stack([video for video, _ in items])[where]
            actions = None if items[0][1] is None else torch.stack([a for _, a in items])[where]
            context, real = videos[:, :c], videos[:, c:c + p]
            if real_frames is not None:  # each real segment once, at its first sample
                real_frames.add(real[sample == 0])
            for name, extra in settings:
                if name == "copy_last":
                    fake = context[:, -1:].expand(-1, p, -1, -1, -1)
                else:
                    fake = pipe(context, p, generator=generators[name], **extra,
                                **_action_keywords(actions, c, p), **options).cpu()
                scores[name].add(fake, real, context[:, -1], vid, sample, detector)
                bar.update(1)
            if index + 1 < batches:
                stopping = stop.requested()
                resume.maybe_save(index + 1, scores, generators, real_frames, now=stopping)
                if stopping:
                    raise KeyboardInterrupt  # the state is saved: the same call continues
    bar.close()
    resume.done()
    results = {name: s.summary(real_i3d, debiased_real, real_frames, kid_fn)
               for name, s in scores.items()}
    if n >= 2 and baselines:  # each setting's MSE minus copy-last's, paired on the videos
        base = scores["copy_last"].values["mse"].mean(1)
        for name in results:
            if name != "copy_last":
                results[name]["mse_minus_copy_last"] = paired_difference(
                    scores[name].values["mse"].mean(1), base)
    return results
