"""Frechet Video Distance with the standard Kinetics-400 I3D, loaded from a file the user gives.

FVD (Unterthiner et al., 2018) is the Frechet distance between Gaussians fitted to I3D features
of real and generated clips. Every recent video paper, CanvasMAR included (paper App. A, after
MAGVIT and StyleGAN-V), uses the TorchScript port of the TF-Hub I3D that StyleGAN-V
(Skorokhodov et al., 2022, `src/metrics/frechet_video_distance.py`) distributes as
`i3d_torchscript.pt`; its 400-d logits ("features before the softmax") are the features.

Getting the weights (they cannot be downloaded on the project's own machines):

1. On a machine with internet access, download StyleGAN-V's file (the same URL is used by the
   common FVD repos, e.g. JunyaoHu/common_metrics_on_video_quality and universome/fvd-comparison):
       wget -O i3d_torchscript.pt 'https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1'
2. Copy it anywhere and pass its path to `load_i3d(path)`.
3. Record `file_sha256(path)` with every FVD number (it is part of the reference-stats cache key).

Input convention (common_metrics_on_video_quality's `preprocess_single` + StyleGAN-V's detector
kwargs): frames in [0, 1] -> short side resized to 224 (bilinear, align_corners=False, long side
rounded up), centre crop 224x224, mapped to [-1, 1], laid out (B, C, T, H, W), and called as
`detector(x, rescale=False, resize=False, return_features=True)`. StyleGAN-V itself passes uint8
frames with rescale=True, resize=True and lets the network do this; the two routes are the
documented equivalent options. I3D's temporal pooling needs at least 9 frames.

FVD depends on the sample count, clip length, stride and resolution: record them all, which is
what `StatsKey` does for cached reference statistics.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from canvasmar.errors import UserError
from canvasmar.metrics._torchscript import load_torchscript
from canvasmar.metrics.frechet import FeatureStats, frechet_distance_stats

I3D_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
I3D_FEATURE_DIM = 400
I3D_RESOLUTION = 224
MIN_FRAMES = 9

_HOW_TO_GET = (
    "FVD needs StyleGAN-V's Kinetics-400 I3D TorchScript file `i3d_torchscript.pt`. Download it "
    f"on a machine with internet access (wget -O i3d_torchscript.pt '{I3D_URL}'; the StyleGAN-V "
    "and common FVD repositories distribute this same file) and pass its path."
)


def load_i3d(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load the TorchScript I3D detector in eval mode; a UserError says how to get it."""
    return load_torchscript(path, device, _HOW_TO_GET)


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (identifies the detector weights used)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def preprocess_for_i3d(videos: torch.Tensor, resolution: int = I3D_RESOLUTION) -> torch.Tensor:
    """(B, T, C, H, W) in [0, 1] -> (B, 3, T, res, res) in [-1, 1], the I3D input.

    Values are clamped to [0, 1] first (what saving to uint8 does in the reference pipelines);
    single-channel videos are repeated to RGB.
    """
    if videos.ndim != 5:
        raise ValueError(f"videos must be (B, T, C, H, W), got shape {tuple(videos.shape)}")
    b, t, c, h, w = videos.shape
    if t < MIN_FRAMES:
        raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip, got {t}")
    if c not in (1, 3):
        raise ValueError(f"videos must have 1 or 3 channels, got {c}")
    x = videos.float().clamp(0, 1).reshape(b * t, c, h, w).expand(-1, 3, -1, -1)
    scale = resolution / min(h, w)
    size = (resolution, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), resolution)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    top, left = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    x = x[:, :, top:top + resolution, left:left + resolution]
    x = (x - 0.5) * 2
    return x.reshape(b, t, 3, resolution, resolution).permute(0, 2, 1, 3, 4).contiguous()


@torch.no_grad()
def i3d_features(videos: torch.Tensor, detector: Callable[..., torch.Tensor],
                 batch_size: int = 16, device: str | torch.device | None = None) -> torch.Tensor:
    """I3D logits (B, 400) in float64 for videos (B, T, C, H, W) in [0, 1], batch by batch.

    `device` defaults to the detector's (its first parameter or buffer), else the CPU.
    """
    device = torch.device(device) if device is not None else _module_device(detector)
    out = []
    for start in range(0, videos.shape[0], batch_size):
        x = preprocess_for_i3d(videos[start:start + batch_size].to(device))
        feats = detector(x, rescale=False, resize=False, return_features=True)
        if feats.ndim != 2 or feats.shape[0] != x.shape[0]:
            raise ValueError(f"detector returned shape {tuple(feats.shape)}, expected (N, D)")
        out.append(feats.detach().to("cpu", torch.float64))
    if not out:
        return torch.empty(0, I3D_FEATURE_DIM, dtype=torch.float64)
    return torch.cat(out)


def _module_device(module: object) -> torch.device:
    for name in ("parameters", "buffers"):
        for tensor in getattr(module, name, lambda: iter(()))():
            return tensor.device
    return torch.device("cpu")


class FVDAccumulator:
    """Streams real and generated clips through I3D into two `FeatureStats`.

    Reference (real) statistics can be passed in, e.g. from `load_reference_stats`.
    """

    def __init__(self, detector: Callable[..., torch.Tensor], batch_size: int = 16,
                 real: FeatureStats | None = None) -> None:
        self.detector = detector
        self.batch_size = batch_size
        self.real = real if real is not None else FeatureStats()
        self.fake = FeatureStats()

    def add_real(self, videos: torch.Tensor) -> None:
        self.real.update(i3d_features(videos, self.detector, self.batch_size))

    def add_fake(self, videos: torch.Tensor) -> None:
        self.fake.update(i3d_features(videos, self.detector, self.batch_size))

    def compute(self) -> float:
        return fvd(self.real, self.fake)


def fvd(real_stats: FeatureStats, fake_stats: FeatureStats) -> float:
    """FVD = Frechet distance between the real and generated I3D-feature Gaussians."""
    return frechet_distance_stats(real_stats, fake_stats)


@dataclass(frozen=True)
class StatsKey:
    """Everything that changes reference FVD statistics; all of it goes into the cache key."""

    dataset: str
    protocol: str
    resolution: int
    clip_length: int
    count: int
    detector_sha256: str
    stride: int = 1

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def filename(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{self.dataset}_{self.protocol}").strip("-")
        return (f"{slug}_{self.resolution}px_{self.clip_length}f_s{self.stride}_{self.count}n_"
                f"{self.digest()[:16]}.safetensors")


def reference_stats_path(cache_dir: str | Path, key: StatsKey) -> Path:
    return Path(cache_dir).expanduser() / key.filename()


def save_reference_stats(stats: FeatureStats, cache_dir: str | Path, key: StatsKey) -> Path:
    """Store reference statistics under `cache_dir`, with the key fields as metadata."""
    if stats.count != key.count:
        raise ValueError(f"stats hold {stats.count} clips but the key says {key.count}")
    return stats.save(reference_stats_path(cache_dir, key), metadata=asdict(key))


def load_reference_stats(cache_dir: str | Path, key: StatsKey) -> FeatureStats | None:
    """Cached statistics for exactly this key, or None when absent."""
    path = reference_stats_path(cache_dir, key)
    if not path.is_file():
        return None
    stats, meta = FeatureStats.load(path)
    if meta != asdict(key):
        raise UserError(f"cached stats {path} were written for {meta}, not {asdict(key)}; "
                        "delete the file to rebuild it")
    return stats


def cached_reference_stats(cache_dir: str | Path, key: StatsKey,
                           compute: Callable[[], FeatureStats]) -> FeatureStats:
    """Load the reference statistics for `key`, or compute and store them."""
    stats = load_reference_stats(cache_dir, key)
    if stats is None:
        stats = compute()
        save_reference_stats(stats, cache_dir, key)
    return stats
