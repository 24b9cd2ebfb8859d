"""FVD plumbing with a stand-in TorchScript I3D (canvasmar.metrics.fvd and .debiased)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from canvasmar.errors import UserError
from canvasmar.metrics import (
    FeatureStats,
    FVDAccumulator,
    StatsKey,
    cached_reference_stats,
    debiased_fvd,
    debiased_real_features,
    file_sha256,
    frechet_distance_stats,
    fvd,
    i3d_features,
    load_i3d,
    load_reference_stats,
    preprocess_for_i3d,
    sample_window_starts,
    save_reference_stats,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _videos(n: int, t: int = 9, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.1 + 0.4 * torch.rand(n, t, 3, h, w, generator=g)  # values in [0.1, 0.5]


def test_detector_sees_bcthw_in_minus_one_one(detector_path):
    detector = load_i3d(detector_path)
    t = 10
    videos = torch.zeros(2, t, 3, 20, 30)  # non-square: short side 20 -> 224, crop 224
    videos[0] = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)  # video 0 codes the channel
    videos[1] = torch.linspace(0, 1, t).view(t, 1, 1, 1)  # video 1 codes the frame index
    feats = i3d_features(videos, detector, batch_size=2)
    assert feats.shape == (2, 400) and feats.dtype == torch.float64
    x = detector.last_input
    assert x.shape == (2, 3, t, 224, 224)
    for c, value in enumerate([-1.0, 0.0, 1.0]):
        torch.testing.assert_close(x[0, c], torch.full_like(x[0, c], value))
    expected_time = torch.linspace(-1, 1, t).view(1, t, 1, 1).expand_as(x[1])
    torch.testing.assert_close(x[1], expected_time)


def test_preprocess_resizes_short_side_and_centre_crops():
    ramp = torch.linspace(0, 1, 30).view(1, 1, 1, 1, 30).expand(1, 9, 3, 20, 30)
    x = preprocess_for_i3d(ramp)
    assert x.shape == (1, 3, 9, 224, 224)
    # a horizontal ramp, cropped at the centre, stays antisymmetric about 0 after [-1, 1]
    torch.testing.assert_close(x[..., 0], -x[..., -1], atol=2e-2, rtol=0)
    assert x[..., 0].mean() > -1 + 0.1  # the crop cut off the left third, so no -1 at the edge


def test_fvd_of_a_set_against_itself_is_zero_and_grows_with_shift(detector_path):
    acc = FVDAccumulator(load_i3d(detector_path), batch_size=4)
    real = _videos(8)
    acc.add_real(real[:5])
    acc.add_real(real[5:])  # streamed in two calls
    acc.add_fake(real)
    scale = float(torch.trace(acc.real.cov))
    assert abs(acc.compute()) <= 1e-6 * scale
    scores = []
    for shift in (0.1, 0.3):
        acc.fake = FeatureStats()
        acc.add_fake(real + shift)
        scores.append(acc.compute())
    assert 0 < scores[0] < scores[1]
    assert fvd(acc.real, acc.fake) == scores[1]


def test_fewer_than_nine_frames_raise(detector_path):
    with pytest.raises(ValueError, match="at least 9 frames"):
        i3d_features(_videos(2, t=8), load_i3d(detector_path))


def test_missing_or_garbage_weights_give_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="not found.*i3d_torchscript.pt.*dropbox"):
        load_i3d(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a TorchScript archive")
    with pytest.raises(UserError, match="not a TorchScript module.*i3d_torchscript.pt"):
        load_i3d(junk)


def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(bytes(range(256)) * 10)
    assert file_sha256(path, chunk_size=100) == hashlib.sha256(path.read_bytes()).hexdigest()


KEY = StatsKey(dataset="bair", protocol="first16", resolution=64, clip_length=16, count=12,
               detector_sha256="ab" * 32)


def test_cache_key_changes_with_every_field():
    changed = {"dataset": "k600", "protocol": "debiased", "resolution": 128, "clip_length": 17,
               "count": 13, "detector_sha256": "cd" * 32, "stride": 2}
    assert set(changed) == {f.name for f in dataclasses.fields(StatsKey)}
    names = {KEY.filename()}
    for field, value in changed.items():
        other = dataclasses.replace(KEY, **{field: value})
        assert other.digest() != KEY.digest()
        names.add(other.filename())
    assert len(names) == len(changed) + 1


def test_reference_stats_round_trip_through_cache(tmp_path, detector_path):
    detector, calls = load_i3d(detector_path), []

    def compute() -> FeatureStats:
        calls.append(1)
        return FeatureStats().update(i3d_features(_videos(12), detector))

    assert load_reference_stats(tmp_path, KEY) is None
    first = cached_reference_stats(tmp_path, KEY, compute)
    second = cached_reference_stats(tmp_path, KEY, compute)
    assert len(calls) == 1 and second.count == 12
    torch.testing.assert_close(second.cov, first.cov, rtol=0, atol=0)
    assert frechet_distance_stats(first, second) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="key says"):
        save_reference_stats(first, tmp_path, dataclasses.replace(KEY, count=99))


def _window_features(v: int = 6, w: int = 5, d: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(v, w, d, generator=g, dtype=torch.float64)


def test_window_starts_are_uniform_draws_repeatable_with_a_generator():
    a = sample_window_starts(256, 15, 20, torch.Generator().manual_seed(3))
    b = sample_window_starts(256, 15, 20, torch.Generator().manual_seed(3))
    assert a.shape == (20, 256) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() < 15 and len(a.unique()) == 15


def test_debiased_real_set_gathers_the_sampled_windows():
    feats = _window_features()
    starts = torch.tensor([[0, 1, 2, 3, 4, 0], [4, 4, 4, 4, 4, 4]])
    real = debiased_real_features(feats, starts)
    assert real.shape == (12, 4)
    torch.testing.assert_close(real[7], feats[1, 4])  # round 1, video 1 -> window 4
    torch.testing.assert_close(real[2], feats[2, 2])
    assert debiased_real_features(feats).shape == (30, 4)  # MAGVIT: every window
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        debiased_real_features(feats, torch.full((1, 6), 5))


def test_debiased_fvd_with_every_window_once_equals_magvit_definition():
    feats = _window_features()
    fake = _window_features(v=10, w=3).reshape(30, 4) + 0.5
    every_window_once = torch.arange(5).view(5, 1).expand(5, 6)  # 5 rounds cover all windows
    magvit = debiased_fvd(feats, fake)
    assert debiased_fvd(feats, fake, every_window_once) == pytest.approx(magvit, rel=1e-10)
    assert magvit > 0
    assert debiased_fvd(feats, feats.reshape(30, 4)) == pytest.approx(0, abs=1e-9)
