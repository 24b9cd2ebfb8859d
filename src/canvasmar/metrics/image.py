"""PSNR and SSIM per video, and best-of-K over the samples drawn for each context.

BAIR papers report PSNR/SSIM as the best value over K samples per test video (MCVD, Voleti et
al. 2022; MAGVIT App. B.3 "we follow [MCVD] in using the best value from 100 trials"), since a
stochastic predictor is not meant to reproduce the one real future. Per-frame values are
averaged over the frames of a clip to give one value per video.

SSIM follows Wang et al. (2004) with the settings of scikit-image's
`structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1, channel_axis=...)`: an 11x11 Gaussian window (sigma 1.5, truncated at 3.5 sigma),
K1 = 0.01, K2 = 0.03, population (biased) local variances, the SSIM map cropped by the window
radius (so only full windows count) and averaged, per channel, then over channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)  # skimage: truncate=3.5 -> 11x11 window
SSIM_K1, SSIM_K2 = 0.01, 0.03
MIN_MSE = 1e-10  # caps PSNR at 100 dB for identical frames instead of returning inf


def _as_videos(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 4:
        return x.unsqueeze(1)
    if x.ndim != 5:
        raise ValueError(f"expected (B, T, C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    return x


def _pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: {tuple(pred.shape)} vs {tuple(target.shape)}")
    return _as_videos(pred).double(), _as_videos(target).double()


def psnr_frames(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB of every frame, (B, T) (T = 1 for images), in float64."""
    p, t = _pair(pred, target)
    mse = (p - t).square().mean(dim=(2, 3, 4)).clamp_min(MIN_MSE)
    return 10 * torch.log10(data_range**2 / mse)


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-video PSNR (B,): mean over frames of the per-frame PSNR."""
    return psnr_frames(pred, target, data_range).mean(1)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    r = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=dtype, device=device)
    g = torch.exp(-(r**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim_frames(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """SSIM of every frame, (B, T), averaged over the valid pixels and the channels."""
    p, t = _pair(pred, target)
    b, n, c, h, w = p.shape
    size = 2 * SSIM_RADIUS + 1
    if h < size or w < size:
        raise ValueError(f"SSIM needs frames of at least {size}x{size}, got {h}x{w}")
    g = _gaussian_window(p.dtype, p.device)
    kh, kw = g.view(1, 1, size, 1), g.view(1, 1, 1, size)

    def blur(x: torch.Tensor) -> torch.Tensor:  # separable 'valid' filter = skimage's crop
        return F.conv2d(F.conv2d(x, kh), kw)

    x = p.reshape(b * n * c, 1, h, w)
    y = t.reshape(b * n * c, 1, h, w)
    stats = blur(torch.cat([x, y, x * x, y * y, x * y], dim=1).view(-1, 1, h, w))
    ux, uy, uxx, uyy, uxy = stats.view(b * n * c, 5, *stats.shape[-2:]).unbind(1)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(-2, -1)).view(b, n, c).mean(2)


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-video SSIM (B,): mean over frames of the per-frame SSIM."""
    return ssim_frames(pred, target, data_range).mean(1)


def best_of_k(values: torch.Tensor, higher_is_better: bool = True) -> torch.Tensor:
    """Best of the K samples of each context: values (N, K) -> (N,); max for PSNR/SSIM."""
    if values.ndim != 2:
        raise ValueError(f"values must be (N, K), got {tuple(values.shape)}")
    return values.amax(1) if higher_is_better else values.amin(1)
