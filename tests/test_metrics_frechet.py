"""Frechet distance and streaming feature statistics (canvasmar.metrics.frechet)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from canvasmar.metrics import FeatureStats, frechet_distance, frechet_distance_stats

pytestmark = pytest.mark.usefixtures("one_thread")


def _features(n: int, d: int, seed: int, offset: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ mix + offset


def _random_psd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_distance_of_a_set_to_itself_is_zero():
    stats = FeatureStats().update(_features(300, 24, seed=0, offset=3.0))
    fd = frechet_distance_stats(stats, stats)
    assert abs(fd) <= 1e-6 * float(torch.trace(stats.cov))


def test_diagonal_covariances_match_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.standard_normal(10), rng.standard_normal(10)
    a, b = rng.uniform(0.1, 4, 10), rng.uniform(0.1, 4, 10)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_isotropic_gaussians_match_closed_form():
    d, s1, s2 = 7, 0.5, 2.0
    mu1, mu2 = np.zeros(d), np.full(d, 0.3)
    expected = d * 0.3**2 + d * (s1 - s2) ** 2
    got = frechet_distance(mu1, s1**2 * np.eye(d), mu2, s2**2 * np.eye(d))
    assert got == pytest.approx(expected, rel=1e-10)


def test_matches_scipy_sqrtm_on_random_psd_matrices():
    from scipy import linalg
    rng = np.random.default_rng(2)
    for d in (3, 12, 40):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = _random_psd(d, rng), _random_psd(d, rng)
        covmean = linalg.sqrtm(s1 @ s2).real  # the StyleGAN-V / pytorch-fid formula
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
        got = frechet_distance(mu1, s1, mu2, s2)
        assert got == pytest.approx(expected, rel=1e-8)
        assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-8)


def test_rank_deficient_covariances_stay_finite_and_symmetric():
    a = FeatureStats().update(_features(10, 32, seed=3))  # 10 samples, 32 dims: rank 9
    b = FeatureStats().update(_features(10, 32, seed=4, offset=0.5))
    ab, ba = frechet_distance_stats(a, b), frechet_distance_stats(b, a)
    assert np.isfinite(ab) and ab > 0
    assert ab == pytest.approx(ba, rel=1e-8)


def test_streaming_over_uneven_chunks_equals_one_shot():
    x = _features(103, 9, seed=5, offset=1e4)  # a large offset punishes naive sum-of-squares
    stats = FeatureStats()
    for lo, hi in [(0, 1), (1, 1), (1, 40), (40, 41), (41, 103)]:
        stats.update(x[lo:hi])
    assert stats.count == 103
    np.testing.assert_allclose(stats.mean.numpy(), x.mean(0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(stats.cov.numpy(), np.cov(x.numpy(), rowvar=False),
                               rtol=1e-9, atol=1e-9)


def test_merge_equals_one_shot():
    x = _features(60, 5, seed=6)
    merged = FeatureStats().update(x[:25]).merge(FeatureStats().update(x[25:]))
    whole = FeatureStats().update(x)
    torch.testing.assert_close(merged.mean, whole.mean)
    torch.testing.assert_close(merged.cov, whole.cov)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_state_round_trips_through_disk(tmp_path, suffix):
    stats = FeatureStats().update(_features(50, 6, seed=7))
    again = FeatureStats.from_state_dict(stats.state_dict())
    torch.testing.assert_close(again.cov, stats.cov, rtol=0, atol=0)
    path = stats.save(tmp_path / f"ref{suffix}", metadata={"dataset": "bair", "count": 50})
    loaded, meta = FeatureStats.load(path)
    assert path.suffix == suffix and meta == {"dataset": "bair", "count": 50}
    assert loaded.count == 50 and loaded.mean.dtype == torch.float64
    torch.testing.assert_close(loaded.mean, stats.mean, rtol=0, atol=0)
    torch.testing.assert_close(loaded.cov, stats.cov, rtol=0, atol=0)


def test_bad_inputs_raise_clear_errors(tmp_path):
    stats = FeatureStats().update(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="at least 2"):
        _ = stats.cov
    with pytest.raises(ValueError, match="dim"):
        stats.update(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        stats.update(torch.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        stats.update(torch.full((2, 4), float("nan")))
    with pytest.raises(ValueError, match="format"):
        stats.save(tmp_path / "ref.pkl")
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_few_vectors_are_kept_not_a_dims_squared_sum_and_fold_exactly():
    # an eval's FID per frame position sees tens of 2048-d vectors: a D x D float64 sum per
    # position made a 32-clip eval hold 3.6 GB (session 20); N x D is what it needs
    x = _features(30, 12, seed=8, offset=1e4)
    stats = FeatureStats().update(x[:5]).update(x[5:12])  # 12 vectors, 12 dims: still kept
    state = stats.state_dict()
    assert set(state) == {"count", "rows"} and state["rows"].shape == (12, 12)
    np.testing.assert_allclose(stats.cov.numpy(), np.cov(x[:12].numpy(), rowvar=False),
                               rtol=1e-9, atol=1e-9)
    stats.update(x[12:13])  # the 13th folds them into mean and centred sum
    assert set(stats.state_dict()) == {"count", "mean", "m2"}
    stats.update(x[13:])
    np.testing.assert_allclose(stats.mean.numpy(), x.mean(0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(stats.cov.numpy(), np.cov(x.numpy(), rowvar=False),
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_kept_vectors_round_trip_and_merge_both_ways(tmp_path, suffix):
    x = _features(40, 16, seed=9)
    few, many = FeatureStats().update(x[:6]), FeatureStats().update(x[6:])
    loaded, _ = FeatureStats.load(few.save(tmp_path / f"few{suffix}"))
    assert loaded.count == 6 and set(loaded.state_dict()) == {"count", "rows"}
    torch.testing.assert_close(loaded.cov, few.cov, rtol=0, atol=0)
    whole = FeatureStats().update(x)
    for merged in (FeatureStats.from_state_dict(few.state_dict()).merge(many),
                   FeatureStats.from_state_dict(many.state_dict()).merge(few)):
        assert merged.count == 40
        torch.testing.assert_close(merged.mean, whole.mean)
        torch.testing.assert_close(merged.cov, whole.cov)
    empty = FeatureStats(16)
    assert FeatureStats.from_state_dict(empty.state_dict()).count == 0


def test_distance_from_kept_vectors_equals_the_covariance_formula():
    # fewer vectors than dims (FID per frame position): computed from the vectors themselves
    a, b = _features(20, 48, seed=10), _features(35, 48, seed=11, offset=0.3)
    kept = frechet_distance_stats(FeatureStats().update(a), FeatureStats().update(b))
    full = frechet_distance(a.mean(0), np.cov(a.numpy(), rowvar=False),
                            b.mean(0), np.cov(b.numpy(), rowvar=False))
    assert kept == pytest.approx(full, rel=1e-8)
    # one side folded (more vectors than dims): the covariance path, the same number
    many = _features(60, 48, seed=12)
    folded = frechet_distance_stats(FeatureStats().update(a), FeatureStats().update(many))
    assert folded == pytest.approx(frechet_distance(
        a.mean(0), np.cov(a.numpy(), rowvar=False),
        many.mean(0), np.cov(many.numpy(), rowvar=False)), rel=1e-8)
