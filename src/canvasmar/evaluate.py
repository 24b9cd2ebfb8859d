"""Scoring generated videos under a protocol (paper App. A), with baselines in the same run.

For each setting (the model at each number of MAR steps, and two baselines: copying the last
context frame, and rolling out the one-pass canvas alone) every context is sampled K times and
scored on the predicted segment: MSE, PSNR and SSIM (mean over all samples, and best of the K
samples of each context), FVD with a user-supplied I3D, per-frame FID/KID with a user-supplied
Inception. Each setting starts from the same seed, so repeated runs give identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm import tqdm

from canvasmar.metrics import (
    FeatureStats,
    best_of_k,
    frechet_distance_stats,
    fvd,
    i3d_features,
    psnr,
    ssim,
)
from canvasmar.metrics.frames import extract_features
from canvasmar.metrics.paired import paired_difference
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import Protocol

PIXEL_METRICS = ("mse", "psnr", "ssim")


def _score_pixels(fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B, T, C, H, W) pairs -> per-clip MSE, PSNR, SSIM (means over frames)."""
    return {"mse": (fake - real).pow(2).flatten(1).mean(1).double(),
            "psnr": psnr(fake, real).double(), "ssim": ssim(fake, real).double()}


class _Scores:
    """Accumulates per-(video, sample) pixel scores and feature statistics for one setting."""

    def __init__(self, videos: int, samples: int) -> None:
        self.values = {m: torch.zeros(videos, samples, dtype=torch.float64)
                       for m in PIXEL_METRICS}
        self.i3d = FeatureStats()
        self.frame_features: list[torch.Tensor] = []

    def summary(self, real_i3d: FeatureStats | None, real_frames: torch.Tensor | None,
                kid_fn: Callable | None) -> dict[str, float]:
        out = {}
        for m, v in self.values.items():
            out[m] = v.mean().item()
            out[f"{m}_best_of_k"] = best_of_k(v, higher_is_better=m != "mse").mean().item()
        if real_i3d is not None:
            out["fvd"] = fvd(real_i3d, self.i3d)
        if real_frames is not None:
            fake = torch.cat(self.frame_features)
            out["fid"] = frechet_distance_stats(FeatureStats().update(real_frames),
                                                FeatureStats().update(fake))
            if kid_fn is not None:
                out["kid"] = kid_fn(real_frames, fake)
        return out


@torch.no_grad()
def evaluate(pipe: Pipeline, protocol: Protocol, videos: torch.Tensor, steps: list[int], *,
             seed: int = 0, batch_size: int = 16, detector: Callable | None = None,
             frame_extractor: Callable | None = None, kid_fn: Callable | None = None,
             progress: bool = True, **options) -> dict:
    """videos (N, context + predict, C, H, W) in [0, 1] -> {setting: {metric: value}}.

    `detector`: an I3D TorchScript module (FVD); `frame_extractor`: images -> features
    (FID, and KID when `kid_fn` is given). Extra keywords go to the pipeline (guidance,
    order, head temperature).
    """
    n, k, c, p = len(videos), protocol.samples, protocol.context, protocol.predict
    context, real = videos[:, :c], videos[:, c:c + p]
    real_i3d = FeatureStats().update(i3d_features(real, detector)) if detector else None
    real_frames = (extract_features(real.flatten(0, 1), frame_extractor)
                   if frame_extractor else None)
    settings: list[tuple[str, dict]] = [("copy_last", {})]
    if pipe.model.has_canvas:
        settings.append(("canvas_only", {"canvas_only": True}))
    settings += [(f"model_steps_{s}", {"steps": s}) for s in steps]
    per_setting = math.ceil(n * k / batch_size)
    bar = tqdm(total=per_setting * len(settings), desc=f"eval {protocol.name}",
               disable=not progress)
    results, per_video_mse = {}, {}
    for name, extra in settings:
        scores = _Scores(n, k)
        generator = torch.Generator().manual_seed(seed)
        flat = torch.arange(n * k)  # clip i*k + j = sample j of video i
        for start in range(0, n * k, batch_size):
            idx = flat[start:start + batch_size]
            vid, sample = idx // k, idx % k
            if name == "copy_last":
                fake = context[vid, -1:].expand(-1, p, -1, -1, -1)
            else:
                fake = pipe(context[vid], p, generator=generator, **extra, **options).cpu()
            for m, v in _score_pixels(fake, real[vid]).items():
                scores.values[m][vid, sample] = v
            if detector is not None:
                scores.i3d.update(i3d_features(fake, detector))
            if frame_extractor is not None:
                scores.frame_features.append(extract_features(fake.flatten(0, 1),
                                                              frame_extractor))
            bar.update(1)
        results[name] = scores.summary(real_i3d, real_frames, kid_fn)
        per_video_mse[name] = scores.values["mse"].mean(1)
    bar.close()
    if n >= 2:  # each setting's MSE minus copy-last's, paired on the same videos
        for name in results:
            if name != "copy_last":
                results[name]["mse_minus_copy_last"] = paired_difference(
                    per_video_mse[name], per_video_mse["copy_last"])
    return results
