"""Tests for the procedural video dataset: format, determinism, splits, motion, errors, speed."""

import pickle
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from canvasmar.data.procedural import (
    SPLIT_SEED_BASE,
    ProceduralVideos,
    _sample_scene,
    clip_scene,
    move,
    render_clip,
    render_scene,
)
from canvasmar.errors import UserError


@pytest.mark.parametrize(("frames", "resolution"), [(2, 16), (8, 32), (16, 64), (5, 20)])
def test_clip_shape_dtype_range(frames, resolution):
    clip = render_clip(3, frames, resolution)
    assert clip.shape == (frames, resolution, resolution, 3)
    assert clip.dtype == np.float32
    assert np.isfinite(clip).all() and clip.min() >= 0.0 and clip.max() <= 1.0


def test_deterministic_per_seed():
    assert np.array_equal(render_clip(7, 8, 32), render_clip(7, 8, 32))
    clips = [render_clip(s, 8, 32) for s in range(10)]
    for i in range(10):
        for j in range(i + 1, 10):
            assert not np.allclose(clips[i], clips[j]), (i, j)


def test_prefix_and_resolution_consistency():
    # A shorter clip is a prefix of a longer one, so the clip length can change freely.
    assert np.array_equal(render_clip(11, 4, 32), render_clip(11, 16, 32)[:4])
    # The scene lives in resolution-free units: 64x64 pooled 2x2 is close to 32x32.
    big = render_clip(11, 8, 64).reshape(8, 32, 2, 32, 2, 3).mean((2, 4))
    assert np.abs(big - render_clip(11, 8, 32)).mean() < 0.01


def test_splits_are_disjoint():
    first = {s: ProceduralVideos(s)[0] for s in SPLIT_SEED_BASE}
    assert not torch.equal(first["train"], first["val"])
    assert not torch.equal(first["train"], first["test"])
    assert not torch.equal(first["val"], first["test"])
    seeds = [ProceduralVideos(s, seed=k, length=1000).clip_seed(i)
             for s in SPLIT_SEED_BASE for k in range(10) for i in range(1000)]
    assert len(set(seeds)) == len(seeds)  # no clip is shared by two (split, seed, index)
    # The formula documented in the module, checked so code and docs cannot drift apart.
    assert ProceduralVideos("val", seed=2).clip_seed(5) == 1 + 3 * (2 * 2**32 + 5)


def test_static_background_and_motion():
    for seed in range(10):
        clip = render_clip(seed, 8, 32)
        unchanged = (np.ptp(clip, axis=0) == 0).all(-1)  # bit-identical in every frame
        assert unchanged.mean() > 0.2, seed  # the background does not flicker
        assert not unchanged.all(), seed  # but something moves


def test_motion_is_large_enough_that_copying_last_frame_fails():
    clips = np.stack([render_clip(s, 8, 32) for s in range(32)])
    step = np.abs(np.diff(clips, axis=1))
    assert step.mean() > 0.008  # measured about 0.019
    copy_last_mse = (step**2).mean(axis=(1, 2, 3, 4))
    assert (copy_last_mse > 1e-4).mean() > 0.9  # copying the last frame is poor in most clips


def test_trajectories_still_moving_bounces_and_random_changes():
    changes = bounces = moving_steps = 0
    for seed in range(60):
        scene = _sample_scene(np.random.Generator(np.random.PCG64(seed)), 16)
        pos, vel, r = scene["positions"], scene["velocities"], scene["radius"]
        assert ((pos >= r[:, None] - 1e-9) & (pos <= 1 - r[:, None] + 1e-9)).all()  # inside
        speed = np.linalg.norm(vel, axis=-1)
        moving = speed[0] > 0
        assert moving.any() and not moving.all()  # some move, some stay still
        assert (np.ptp(pos[:, ~moving], axis=0) == 0).all()
        s = speed[:, moving]
        assert ((s >= 1 / 32 - 1e-9) & (s <= 4 / 32 + 1e-9)).all()  # 1-4 px/frame at 32x32
        v0, v1 = vel[:-1, moving], vel[1:, moving]
        same_magnitudes = np.isclose(np.abs(v0), np.abs(v1)).all(-1)
        changes += (~same_magnitudes).sum()  # a bounce only flips a component's sign
        bounces += (same_magnitudes & ~np.isclose(v0, v1).all(-1)).sum()
        moving_steps += v0.shape[0] * v0.shape[1]
    assert 0.03 < changes / moving_steps < 0.2  # about 0.1, the per-frame change probability
    assert bounces > 0


def test_a_scene_renders_at_other_positions_and_moves_as_the_clip_did():
    """render_scene / move (the helpers of docs/results/bayes-canvas/probe.py): the clip's own
    positions give render_clip, each step of the clip is `move` of the step before, and other
    positions put the objects elsewhere over the same background."""
    bg, scene = clip_scene(5, 6, 32)
    clip = render_clip(5, 6, 32)
    assert np.array_equal(render_scene(bg, scene, scene["positions"]), clip)
    lo, hi = scene["radius"][:, None], 1 - scene["radius"][:, None]
    steps = 0
    for t in range(5):
        vel = scene["velocities"][t]
        if np.array_equal(vel, scene["velocities"][t + 1]):  # no change and no bounce
            speed = np.hypot(vel[:, 0], vel[:, 1])
            pos, _ = move(scene["positions"][t], vel / np.maximum(speed, 1e-12)[:, None],
                          speed, lo, hi)
            np.testing.assert_allclose(pos, scene["positions"][t + 1], atol=1e-12)
            steps += 1
    assert steps
    elsewhere = render_scene(bg, scene, 1 - scene["positions"][:1])[0]
    assert not np.array_equal(elsewhere, clip[0])
    empty = {**scene, "depth": np.array([], dtype=int)}
    assert np.array_equal(render_scene(bg, empty, scene["positions"][:1])[0], bg)


def test_dataset_items_match_render_clip():
    ds = ProceduralVideos("test", frames=6, resolution=32, length=10, seed=4)
    assert len(ds) == 10
    item = ds[3]
    assert item.shape == (6, 3, 32, 32) and item.dtype == torch.float32
    expected = render_clip(ds.clip_seed(3), 6, 32).transpose(0, 3, 1, 2)
    assert np.array_equal(item.numpy(), expected)
    assert torch.equal(ds[-7], item) and torch.equal(ds[np.int64(3)], item)
    assert len(ProceduralVideos("train")) == 100_000 and len(ProceduralVideos("val")) == 256


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"split": "validation"}, r"unknown split 'validation'; use one of: train, val, test"),
    ({"frames": 1}, r"frames must be an integer >= 2"),
    ({"resolution": 8}, r"resolution must be an integer >= 16"),
    ({"resolution": 30}, r"resolution must be a multiple of 4, got 30"),
    ({"length": 0}, r"length must be an integer >= 1"),
    ({"seed": -1}, r"seed must be an integer >= 0"),
    ({"frames": 2.5}, r"frames must be an integer"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        ProceduralVideos(**kwargs)
    assert isinstance(info.value, UserError)  # so the CLI prints it on one line
    assert "\n" not in str(info.value)


def test_bad_render_arguments_and_index():
    with pytest.raises(ValueError, match="multiple of 4"):
        render_clip(0, 8, 34)
    with pytest.raises(ValueError, match=">= 2"):
        render_clip(0, 1, 32)
    ds = ProceduralVideos("val", length=5)
    for bad in (5, -6):
        with pytest.raises(IndexError, match=r"out of range .* use 0 <= index < 5"):
            ds[bad]


def test_dataloader_workers_match_direct_indexing():
    ds = ProceduralVideos("train", frames=4, resolution=16, length=8, seed=1)
    assert torch.equal(pickle.loads(pickle.dumps(ds))[5], ds[5])
    loader = DataLoader(ds, batch_size=4, num_workers=2)
    batches = torch.cat(list(loader))
    assert torch.equal(batches, torch.stack([ds[i] for i in range(len(ds))]))


def test_rendering_is_fast():
    start = time.perf_counter()
    for seed in range(64):
        render_clip(seed, 8, 32)
    assert time.perf_counter() - start < 2.0  # measured about 0.07 s
