"""Evaluation metrics on tensors: FVD (+ BAIR's debiased FVD), per-frame FID/KID, PSNR/SSIM.

Nothing here imports the model code: every function takes videos (B, T, C, H, W) or images
(N, C, H, W) in [0, 1], or precomputed features. Statistics are kept in float64.
Network weights (I3D for FVD, Inception for FID/KID) are loaded from files the user provides;
see `canvasmar.metrics.fvd` and `canvasmar.metrics.frames` for where to get them.
"""

from canvasmar.metrics.debiased import (
    debiased_fvd,
    debiased_real_features,
    sample_window_starts,
    window_feature_stats,
)
from canvasmar.metrics.frames import (
    as_frames,
    extract_features,
    fid_inception_path,
    frame_feature_stats,
    frame_fid,
    kid,
    kid_subsets,
    load_fid_inception,
    tf_bilinear_resize,
)
from canvasmar.metrics.frechet import (
    FeatureStats,
    frechet_distance,
    frechet_distance_stats,
    trace_sqrt_product,
)
from canvasmar.metrics.fvd import (
    I3D_FEATURE_DIM,
    MIN_FRAMES,
    FVDAccumulator,
    StatsKey,
    cached_reference_stats,
    file_sha256,
    fvd,
    i3d_features,
    load_i3d,
    load_reference_stats,
    preprocess_for_i3d,
    reference_stats_path,
    save_reference_stats,
)
from canvasmar.metrics.image import best_of_k, psnr, psnr_frames, ssim, ssim_frames

__all__ = [
    "I3D_FEATURE_DIM",
    "MIN_FRAMES",
    "FVDAccumulator",
    "FeatureStats",
    "StatsKey",
    "as_frames",
    "best_of_k",
    "cached_reference_stats",
    "debiased_fvd",
    "debiased_real_features",
    "extract_features",
    "fid_inception_path",
    "file_sha256",
    "frame_feature_stats",
    "frame_fid",
    "frechet_distance",
    "frechet_distance_stats",
    "fvd",
    "i3d_features",
    "kid",
    "kid_subsets",
    "load_fid_inception",
    "load_i3d",
    "load_reference_stats",
    "preprocess_for_i3d",
    "psnr",
    "psnr_frames",
    "reference_stats_path",
    "sample_window_starts",
    "window_feature_stats",
    "save_reference_stats",
    "ssim",
    "ssim_frames",
    "tf_bilinear_resize",
    "trace_sqrt_product",
]
