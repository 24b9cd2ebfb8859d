"""The "debiased" FVD on BAIR (MAGVIT, Yu et al. 2023, App. B.3; CanvasMAR paper App. A).

Why: the standard BAIR protocol compares 256 x K generated clips against only 256 real clips
(the first 16-frame clip of each of the 256 30-frame test videos). With so few real clips the
real Gaussian is poorly estimated and the FVD is dominated by that bias: MAGVIT reports that 256
*training* clips score FVD 64 against 13 with all 43K training clips.

What MAGVIT computes (App. B.3, "Debiased FVD on BAIR"): the real distribution becomes every
16-frame window, stride 1, of every test video, i.e. 256 x 15 = 3840 clips; the generated set is
unchanged. What CanvasMAR computes (App. A, "Sampling Protocols"): for each test video a
conditioning frame is drawn at random and the real distribution is redefined to the clip that
starts there; this is repeated (100 times in the text, giving the 256 x K generated clips), so
the real set is the windows at the sampled starts and each generated clip is conditioned on the
first frame of its own real window. As the repetitions grow, the second converges to the first.

Both are implemented over precomputed I3D features, so any detector works:
- `window_features` (V, W, D): features of every window of every test video, window w starting
  at frame w (W = 30 - 16 + 1 = 15 for BAIR when the 16-frame clip includes the context frame,
  which is how MAGVIT's 3840 = 256 x 15 count arises);
- `starts=None` -> MAGVIT's definition (all V x W windows, equal weight);
- `starts` (R, V) from `sample_window_starts` -> CanvasMAR's per-repetition real set (R x V
  clips, windows repeated as drawn). Generate fake clip (r, v) from window starts[r, v].

Uncertain, stated plainly: the CanvasMAR text does not say whether the number of repetitions
equals K or is fixed at 100 independently of K, nor whether the context frame belongs to the
16-frame clip; the functions take both as inputs. Neither paper releases evaluation code. This
is *not* the Chong & Forsyth FID_inf extrapolation, nor the "content-debiased FVD" of Ge et al.
(2024), which swaps the I3D features for VideoMAE ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from canvasmar.metrics.frechet import FeatureStats, frechet_distance_stats
from canvasmar.metrics.fvd import i3d_features


def sample_window_starts(num_videos: int, num_windows: int, repeats: int,
                         generator: torch.Generator) -> torch.Tensor:
    """Uniform window starts (repeats, num_videos) in [0, num_windows): one per video per round."""
    if min(num_videos, num_windows, repeats) < 1:
        raise ValueError("num_videos, num_windows and repeats must all be >= 1")
    return torch.randint(num_windows, (repeats, num_videos), generator=generator)


def debiased_real_features(window_features: torch.Tensor,
                           starts: torch.Tensor | None = None) -> torch.Tensor:
    """The real feature set of the debiased protocol, (N, D).

    starts=None: all V x W windows (MAGVIT). starts (R, V): window starts[r, v] of video v for
    every round r, flattened round-major (CanvasMAR), N = R x V.
    """
    if window_features.ndim != 3:
        raise ValueError(f"window_features must be (V, W, D), got {tuple(window_features.shape)}")
    v, w, d = window_features.shape
    if starts is None:
        return window_features.reshape(v * w, d)
    starts = torch.as_tensor(starts, dtype=torch.long)
    if starts.ndim != 2 or starts.shape[1] != v:
        raise ValueError(f"starts must be (R, {v}), got {tuple(starts.shape)}")
    if starts.numel() and (starts.min() < 0 or starts.max() >= w):
        raise ValueError(f"starts must lie in [0, {w})")
    videos = torch.arange(v).expand_as(starts)
    return window_features[videos, starts].reshape(-1, d)


def debiased_fvd(window_features: torch.Tensor, fake_features: torch.Tensor,
                 starts: torch.Tensor | None = None) -> float:
    """Debiased FVD: Frechet distance of the fake features to `debiased_real_features`."""
    real = FeatureStats().update(debiased_real_features(window_features, starts))
    return frechet_distance_stats(real, FeatureStats().update(fake_features))


def window_feature_stats(videos: Iterable[torch.Tensor], length: int, detector: Callable,
                         batch_size: int = 16) -> FeatureStats:
    """Running I3D statistics of every `length`-frame window (stride 1) of each video
    (T, C, H, W) in [0, 1]: MAGVIT's debiased real set (`starts=None`) without holding its
    V x W features. Passed as `evaluate(debiased_real=...)`, it gives `fvd_debiased`."""
    stats = FeatureStats()
    for video in videos:
        if video.ndim != 4 or video.shape[0] < length:
            raise ValueError(f"each video must be (T >= {length}, C, H, W), got "
                             f"{tuple(video.shape)}")
        windows = video.unfold(0, length, 1).permute(0, 4, 1, 2, 3)  # (W, length, C, H, W)
        stats.update(i3d_features(windows, detector, batch_size))
    return stats
