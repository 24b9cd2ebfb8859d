"""Streaming Gaussian feature statistics and the Frechet distance between two of them.

FID (Heusel et al., 2017, "GANs trained by a two time-scale update rule...") and FVD
(Unterthiner et al., 2018) both fit a Gaussian to network features of real and generated
samples and report the Frechet (2-Wasserstein) distance between the two Gaussians:

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

Statistics are accumulated in float64 (as StyleGAN-V / StyleGAN2-ADA `FeatureStats` do) because
the trace term subtracts large, nearly equal numbers. Batches are merged with the pairwise
update of Chan, Golub & LeVeque (1979), so the streamed mean and covariance equal the one-shot
ones and do not suffer the cancellation of a raw sum of squares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from canvasmar.atomic import atomic_path

ArrayLike = torch.Tensor | np.ndarray


def _as_f64(x: ArrayLike) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(device="cpu", dtype=torch.float64)


class FeatureStats:
    """Running count, mean and covariance of feature vectors (N, D), in float64 on the CPU.

    While no more vectors than dimensions have arrived, the vectors themselves are kept: N x D
    is then smaller than the D x D centred sum (an evaluation's FID per predicted-frame
    position over 64 frames of 2048-d Inception features holds 1 MB per position, not 34 MB,
    in memory and in its resumable partial file). Past D they are folded into the running mean
    and centred sum, which no longer grow."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim
        self.count = 0
        self._rows: list[torch.Tensor] = []  # the vectors themselves, until count > dim
        self._mean: torch.Tensor | None = None  # set once folded
        self._m2: torch.Tensor | None = None  # sum of centred outer products (D, D), once folded

    def update(self, features: ArrayLike) -> FeatureStats:
        """Add a batch of features (N, D); returns self so calls can be chained."""
        x = _as_f64(features)
        if x.ndim != 2:
            raise ValueError(f"features must be (N, D), got shape {tuple(x.shape)}")
        if self.dim is None:
            self.dim = x.shape[1]
        if x.shape[1] != self.dim:
            raise ValueError(f"feature dim {x.shape[1]} != accumulated dim {self.dim}")
        if not torch.isfinite(x).all():
            raise ValueError("features contain NaN or Inf")
        n = x.shape[0]
        if n == 0:
            return self
        if self._m2 is None and self.count + n <= self.dim:
            self._rows.append(x.clone())
            self.count += n
            return self
        self._fold()
        self._merge_moments(n, *_moments(x))
        return self

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Fold another accumulator in (e.g. one per worker); returns self."""
        if other.count == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge dim {other.dim} into dim {self.dim}")
        if other.vectors is not None:
            return self.update(other.vectors)
        if self.dim is None:
            self.dim = other.dim
        self._fold()
        self._merge_moments(other.count, other._mean, other._m2)
        return self

    def _fold(self) -> None:
        """From kept vectors to running moments (Chan et al.'s merge from then on)."""
        if self._m2 is not None:
            return
        kept, n = self.vectors, self.count
        self._mean = torch.zeros(self.dim, dtype=torch.float64)
        self._m2 = torch.zeros(self.dim, self.dim, dtype=torch.float64)
        self._rows, self.count = [], 0
        if n:
            self._merge_moments(n, *_moments(kept))

    def _merge_moments(self, n_b: int, mean_b: torch.Tensor, m2_b: torch.Tensor) -> None:
        n_a, n = self.count, self.count + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + torch.outer(delta, delta) * (n_a * n_b / n)
        self.count = n

    @property
    def vectors(self) -> torch.Tensor | None:
        """The kept vectors (N, D) while count <= D (joined once), None once folded."""
        if self._m2 is not None:
            return None
        if len(self._rows) != 1:
            self._rows = [torch.cat(self._rows) if self._rows
                          else torch.zeros(0, self.dim or 0, dtype=torch.float64)]
        return self._rows[0]

    @property
    def mean(self) -> torch.Tensor:
        """Mean feature (D,), float64."""
        if self.count == 0:
            raise ValueError("no features accumulated yet")
        kept = self.vectors
        return kept.mean(0) if kept is not None else self._mean.clone()

    @property
    def cov(self) -> torch.Tensor:
        """Unbiased covariance (D, D) with the N-1 denominator, as numpy.cov; float64."""
        if self.count < 2:
            raise ValueError(f"covariance needs at least 2 samples, have {self.count}")
        kept = self.vectors
        m2 = _moments(kept)[1] if kept is not None else self._m2
        return m2 / (self.count - 1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors that fully describe the accumulator: count and the kept vectors `rows`
        (N, D) while count <= D, else count, mean and the centred sum `m2`."""
        if self.dim is None:
            raise ValueError("an empty accumulator with unknown dim has no state")
        count = torch.tensor(self.count, dtype=torch.int64)
        if self.vectors is not None:
            return {"count": count, "rows": self.vectors.clone()}
        return {"count": count, "mean": self._mean.clone(), "m2": self._m2.clone()}

    @classmethod
    def from_state_dict(cls, state: dict[str, ArrayLike]) -> FeatureStats:
        if "rows" in state:
            rows = _as_f64(state["rows"])
            return cls(rows.shape[1]).update(rows)
        stats = cls(_as_f64(state["mean"]).shape[0])
        stats.count = int(torch.as_tensor(state["count"]).item())
        stats._mean, stats._m2 = _as_f64(state["mean"]), _as_f64(state["m2"])
        return stats

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write to `.safetensors` or `.npz` (chosen by suffix); metadata is stored as JSON."""
        path = Path(path)
        if path.suffix not in (".safetensors", ".npz"):
            raise ValueError(f"unknown stats format {path.suffix!r}: use .safetensors or .npz")
        meta = json.dumps(metadata or {}, sort_keys=True)
        state = self.state_dict()
        with atomic_path(path) as tmp:  # a killed run never leaves a half-written cache file
            if path.suffix == ".safetensors":
                from safetensors.torch import save_file

                save_file(state, str(tmp), metadata={"canvasmar_meta": meta})
            else:
                with tmp.open("wb") as f:  # a file object keeps numpy from appending ".npz"
                    np.savez(f, meta=np.array(meta), **{k: v.numpy() for k, v in state.items()})
        return path

    @classmethod
    def load(cls, path: str | Path) -> tuple[FeatureStats, dict[str, Any]]:
        """Read a file written by `save`; returns (stats, metadata)."""
        path = Path(path)
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                state = {k: f.get_tensor(k) for k in f.keys()}
                meta = (f.metadata() or {}).get("canvasmar_meta", "{}")
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                state = {k: z[k] for k in z.files if k != "meta"}
                meta = str(z["meta"])
        else:
            raise ValueError(f"unknown stats format {path.suffix!r}: use .safetensors or .npz")
        return cls.from_state_dict(state), json.loads(meta)


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and centred sum of outer products (D, D) of vectors x (N, D)."""
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred


def _denoise(w: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a PSD matrix with those below the rounding floor (D eps max|w|) set to 0.

    Rank-deficient covariances (fewer samples than dims) have many eigenvalues that are zero up
    to rounding; their square roots (~sqrt(eps)) would otherwise add up to a visible error.
    """
    tol = w.abs().max() * w.numel() * torch.finfo(w.dtype).eps
    return torch.where(w > tol, w, torch.zeros_like(w))


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric PSD matrix."""
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * _denoise(w).sqrt()) @ v.T


def trace_sqrt_product(s1: ArrayLike, s2: ArrayLike) -> float:
    """Tr sqrtm(S1 S2) for symmetric PSD S1, S2, without scipy.

    S1 S2 = S1^(1/2) (S1^(1/2) S2) has the eigenvalues of A = (S1^(1/2) S2) S1^(1/2) (AB and BA
    share their spectrum), which is symmetric PSD, so the principal square root of S1 S2 has
    trace sum(sqrt(eig(A))). This is
    real by construction and stays defined when S1 is singular (fewer samples than feature
    dims), where scipy.linalg.sqrtm on S1 S2 can return large imaginary parts.
    """
    r1 = _psd_sqrt(_as_f64(s1))
    a = r1 @ _as_f64(s2) @ r1
    eig = torch.linalg.eigvalsh((a + a.T) / 2)
    return float(_denoise(eig).sqrt().sum())


def frechet_distance(mu1: ArrayLike, s1: ArrayLike, mu2: ArrayLike, s2: ArrayLike) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2)) in float64 (the FID/FVD formula)."""
    mu1, mu2, s1, s2 = (_as_f64(t) for t in (mu1, mu2, s1, s2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (*mu1.shape, *mu1.shape):
        raise ValueError(f"shape mismatch: mu {tuple(mu1.shape)}/{tuple(mu2.shape)}, "
                         f"cov {tuple(s1.shape)}/{tuple(s2.shape)}")
    diff = float((mu1 - mu2).square().sum())
    return diff + float(torch.trace(s1) + torch.trace(s2)) - 2.0 * trace_sqrt_product(s1, s2)


def frechet_distance_stats(a: FeatureStats, b: FeatureStats) -> float:
    """Frechet distance between the Gaussians of two accumulators. When both still hold
    their vectors (fewer than dims, e.g. FID per frame position), the same number from them
    without any D x D matrix (`_frechet_from_rows`)."""
    if (a.count >= 2 and b.count >= 2 and a.dim == b.dim and a.vectors is not None
            and b.vectors is not None):
        return _frechet_from_rows(a.vectors, b.vectors)
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def _frechet_from_rows(x1: torch.Tensor, x2: torch.Tensor) -> float:
    """The Frechet distance of vectors x1 (N1, D) and x2 (N2, D). With A_i the centred rows
    over sqrt(N_i - 1), S_i = A_i^T A_i, so Tr S_i = |A_i|^2 and the non-zero eigenvalues of
    S1 S2 are those of (A1 A2^T)(A1 A2^T)^T: Tr sqrtm(S1 S2) is the sum of the singular
    values of the N1 x N2 matrix A1 A2^T (for N << D, ~1000x less work than two D x D
    eigendecompositions)."""
    a1 = (x1 - x1.mean(0)) / (len(x1) - 1) ** 0.5
    a2 = (x2 - x2.mean(0)) / (len(x2) - 1) ** 0.5
    diff = float((x1.mean(0) - x2.mean(0)).square().sum())
    cross = float(torch.linalg.svdvals(a1 @ a2.T).sum())
    return diff + float(a1.square().sum() + a2.square().sum()) - 2.0 * cross
