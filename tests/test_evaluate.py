"""Evaluation: baselines are scored exactly, metrics wire through, results are repeatable."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from canvasmar.evaluation.scoring import evaluate
from canvasmar.protocols import PROTOCOLS


@pytest.fixture
def pipe(micro_pipe):
    return micro_pipe


def _stand_in_i3d(x, rescale=False, resize=False, return_features=False):
    """Same calling convention as StyleGAN-V's I3D: (B, 3, T, 224, 224) in [-1, 1] -> (B, D)."""
    assert x.shape[1:] == (3, 9, 224, 224) and not rescale and not resize and return_features
    return torch.cat([x.mean((2, 3, 4)), x.std((2, 3, 4)), x[:, :, :, ::56, ::56].flatten(1)], 1)


def test_evaluate_scores_baselines_and_is_repeatable(pipe):
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=9, num_videos=4,
                                   samples=2)
    g = torch.Generator().manual_seed(0)
    videos = torch.rand(4, 10, 3, 16, 16, generator=g)
    kwargs = dict(seed=3, batch_size=3, detector=_stand_in_i3d, progress=False, flow_steps=2)
    first = evaluate(pipe, protocol, videos, [1, 2], **kwargs)
    assert set(first) == {"copy_last", "canvas_only", "model_steps_1", "model_steps_2"}
    copy_mse = (videos[:, :1] - videos[:, 1:]).pow(2).mean().item()
    assert first["copy_last"]["mse"] == pytest.approx(copy_mse, rel=1e-6)
    assert first["copy_last"]["mse_best_of_k"] == pytest.approx(copy_mse, rel=1e-6)
    for scores in first.values():
        assert scores["fvd"] >= 0 and 0 < scores["psnr"] and -1 <= scores["ssim"] <= 1
        assert scores["mse_best_of_k"] <= scores["mse"] + 1e-12
        assert scores["psnr_best_of_k"] >= scores["psnr"] - 1e-12
    # per predicted frame: copy-last's exact per-frame MSE, and every curve averages to the
    # setting's overall mean
    per_frame = (videos[:, :1] - videos[:, 1:]).double().pow(2).mean((0, 2, 3, 4))
    assert first["copy_last"]["per_frame"]["mse"] == pytest.approx(per_frame.tolist(), rel=1e-9)
    for scores in first.values():
        curves = scores["per_frame"]
        assert all(len(c) == 9 for c in curves.values())
        for m in ("mse", "psnr", "ssim"):
            assert sum(curves[m]) / 9 == pytest.approx(scores[m], rel=1e-5)
    assert evaluate(pipe, protocol, videos, [1, 2], **kwargs) == first
    paired = first["model_steps_1"]["mse_minus_copy_last"]
    assert paired["mean"] == pytest.approx(first["model_steps_1"]["mse"] - copy_mse, abs=1e-9)
    assert paired["ci95_low"] <= paired["mean"] <= paired["ci95_high"] and paired["videos"] == 4


def test_paired_difference_interval():
    from canvasmar.metrics.paired import paired_difference

    g = torch.Generator().manual_seed(0)
    base = torch.rand(200, generator=g)
    better = base - 0.05 + 0.01 * torch.randn(200, generator=g)
    out = paired_difference(better, base)
    assert out["ci95_high"] < 0 and out["fraction_lower"] > 0.99
    assert out["ci95_low"] < -0.05 < out["ci95_high"] + 0.01
    same = paired_difference(base + 0.01 * torch.randn(200, generator=g), base)
    assert same["ci95_low"] < 0 < same["ci95_high"]
    with pytest.raises(ValueError):
        paired_difference(base[:1], base[:1])


def test_fvd_of_a_perfect_copy_is_zero(pipe):
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=9, num_videos=6,
                                   samples=1)
    still = torch.rand(6, 1, 3, 16, 16).expand(-1, 10, -1, -1, -1).contiguous()
    out = evaluate(pipe, protocol, still, [1], detector=_stand_in_i3d, progress=False,
                   flow_steps=2)
    assert out["copy_last"]["mse"] == 0 and abs(out["copy_last"]["fvd"]) < 1e-6
    assert out["model_steps_1"]["fvd"] > 1e-3


def test_protocols_follow_appendix_a():
    bair, k600, ucf = PROTOCOLS["bair"], PROTOCOLS["k600"], PROTOCOLS["ucf"]
    assert (bair.context, bair.predict, bair.num_videos, bair.debiased) == (1, 16, 256, True)
    assert (k600.context, k600.predict, k600.resolution) == (5, 16, 64)
    assert (ucf.context, ucf.num_videos, ucf.samples) == (1, 5000, 1)


def _stand_in_inception(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, 12): channel means, stds and a coarse 2x2 grid of grey."""
    grey = frames.mean(1, keepdim=True)
    grid = torch.nn.functional.adaptive_avg_pool2d(grey, 2).flatten(1)
    return torch.cat([frames.mean((2, 3)), frames.std((2, 3)), grid, grid ** 2], 1)


def test_fid_kid_and_best_of_k_per_predicted_frame(pipe):
    """Per predicted-frame position: FID/KID between that frame of the real and the generated
    segments, best-of-K pixel scores; a perfect copy scores 0 at every position."""
    from canvasmar.metrics import kid

    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=3, num_videos=8,
                                   samples=2)
    g = torch.Generator().manual_seed(1)
    still = torch.rand(8, 1, 3, 16, 16, generator=g).expand(-1, 4, -1, -1, -1).contiguous()
    out = evaluate(pipe, protocol, still, [1], frame_extractor=_stand_in_inception, kid_fn=kid,
                   progress=False, flow_steps=2)
    copy, model = out["copy_last"]["per_frame"], out["model_steps_1"]["per_frame"]
    assert len(copy["fid"]) == len(copy["kid"]) == 3
    # FID of equal sets is 0 (up to sqrtm's error); KID is unbiased, so for equal sets it is
    # 0 only in expectation (random subsets of 8 and 16 frames): far below the model's
    assert max(abs(x) for x in copy["fid"]) < 1e-4 and min(model["fid"]) > 1e-2
    assert max(abs(x) for x in copy["kid"]) < 0.1 * min(model["kid"])
    for m in ("mse", "psnr", "ssim"):
        better = (lambda a, b: a <= b + 1e-12) if m == "mse" else (lambda a, b: a >= b - 1e-12)
        assert all(better(b, a) for a, b in zip(model[m], model[f"{m}_best_of_k"],
                                                strict=True))
    # the best of K at each frame is at least as good as the best whole clip at that frame
    assert sum(model["mse_best_of_k"]) / 3 <= out["model_steps_1"]["mse_best_of_k"] + 1e-12


class _Extrapolate:
    """A stand-in pipeline (no canvas) that continues each context's last change linearly:
    exact on the linear ramps below."""

    model = type("Model", (), {"has_canvas": False})()

    def __call__(self, context, frames, generator=None, **options):
        step = context[:, -1] - context[:, -2]
        return torch.stack([context[:, -1] + (t + 1) * step for t in range(frames)], 1)


def test_motion_is_one_for_the_real_motion_and_zero_for_copy_last(pipe):
    """`motion`: generated frame-to-frame change over the real one, per predicted frame."""
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], context=2, predict=6,
                                   num_videos=3, samples=1)
    g = torch.Generator().manual_seed(0)
    start = 0.3 + 0.1 * torch.rand(3, 1, 3, 16, 16, generator=g)
    step = 0.02 * torch.rand(3, 1, 3, 16, 16, generator=g)
    ramps = start + torch.arange(8).view(1, 8, 1, 1, 1) * step  # frame t = start + t * step
    out = evaluate(_Extrapolate(), protocol, ramps, [1], progress=False)
    assert out["model_steps_1"]["motion"] == pytest.approx(1.0, rel=1e-6)
    assert out["model_steps_1"]["per_frame"]["motion"] == pytest.approx([1.0] * 6, rel=1e-6)
    assert out["copy_last"]["motion"] == 0 and out["copy_last"]["per_frame"]["motion"] == [0] * 6
    random = evaluate(pipe, protocol, torch.rand(3, 8, 3, 16, 16, generator=g), [1],
                      progress=False, flow_steps=2)
    assert random["model_steps_1"]["motion"] > 0
