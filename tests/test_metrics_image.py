"""PSNR, SSIM and best-of-K (canvasmar.metrics.image)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from canvasmar.metrics import best_of_k, psnr, psnr_frames, ssim, ssim_frames


def _pair(shape: tuple[int, ...], noise: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g)
    pred = (target + noise * torch.randn(shape, generator=g)).clamp(0, 1)
    return pred, target


def _ssim_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Independent SSIM of one (H, W) channel: explicit 11x11 Gaussian-weighted windows."""
    r = np.arange(-5, 6)
    g = np.exp(-(r**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    wx, wy = sliding_window_view(x, (11, 11)), sliding_window_view(y, (11, 11))
    mx, my = (wx * w).sum((-2, -1)), (wy * w).sum((-2, -1))
    vx = (wx**2 * w).sum((-2, -1)) - mx**2
    vy = (wy**2 * w).sum((-2, -1)) - my**2
    cxy = (wx * wy * w).sum((-2, -1)) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def test_psnr_of_a_known_error():
    target = torch.rand(2, 3, 3, 8, 8) * 0.5
    assert torch.allclose(psnr(target + 0.1, target), torch.full((2,), 20.0, dtype=torch.float64))
    assert psnr(target, target).tolist() == [100.0, 100.0]  # capped, not inf
    assert psnr_frames(target[:, 0], target[:, 0] + 0.1).shape == (2, 1)  # images: T = 1


def test_psnr_is_the_mean_of_per_frame_values():
    pred, target = _pair((3, 4, 3, 8, 8), noise=0.1)
    frames = psnr_frames(pred, target)
    assert frames.shape == (3, 4)
    torch.testing.assert_close(psnr(pred, target), frames.mean(1))


def test_ssim_matches_an_independent_windowed_computation():
    pred, target = _pair((2, 2, 3, 16, 20), noise=0.2, seed=1)
    got = ssim_frames(pred, target)
    p, t = pred.double().numpy(), target.double().numpy()
    for b in range(2):
        for f in range(2):
            want = np.mean([_ssim_reference(p[b, f, c], t[b, f, c]) for c in range(3)])
            assert got[b, f].item() == pytest.approx(want, abs=1e-12)


def test_ssim_matches_skimage_style_gaussian_filter_pipeline():
    from scipy import ndimage
    pred, target = _pair((1, 1, 24, 24), noise=0.1, seed=2)
    x, y = pred[0, 0].double().numpy(), target[0, 0].double().numpy()

    def filt(a):  # skimage: gaussian(sigma=1.5, truncate=3.5, mode='reflect'), then crop 5
        return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")

    ux, uy = filt(x), filt(y)
    vx, vy, vxy = filt(x * x) - ux**2, filt(y * y) - uy**2, filt(x * y) - ux * uy
    c1, c2 = 0.01**2, 0.03**2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    assert ssim(pred, target).item() == pytest.approx(s[5:-5, 5:-5].mean(), abs=1e-12)


def test_ssim_properties():
    pred, target = _pair((2, 3, 3, 16, 16), noise=0.05, seed=4)
    noisier, _ = _pair((2, 3, 3, 16, 16), noise=0.3, seed=4)
    assert torch.allclose(ssim(target, target), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(ssim(pred, target), ssim(target, pred))
    assert (ssim(noisier, target) < ssim(pred, target)).all()
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.rand(1, 3, 10, 10), torch.rand(1, 3, 10, 10))
    with pytest.raises(ValueError, match="mismatch"):
        ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17))


def test_best_of_k():
    values = torch.tensor([[1.0, 3.0, 2.0], [0.5, 0.25, 0.75]])
    assert best_of_k(values).tolist() == [3.0, 0.75]
    assert best_of_k(values, higher_is_better=False).tolist() == [1.0, 0.25]
    with pytest.raises(ValueError):
        best_of_k(values[0])
