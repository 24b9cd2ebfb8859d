"""Folder datasets: every format, clips and strides, resize/crop, grey/RGBA, broken and short
files, the cached index, splits, DataLoader workers and `train --data PATH`."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from canvasmar.cli import main
from canvasmar.data import build_dataset, videoio
from canvasmar.data import index as index_mod
from canvasmar.data.clips import ClipDataset, Video
from canvasmar.data.folder import folder_dataset, holdout
from canvasmar.data.frames import array_to_rgb, square_size
from canvasmar.data.index import build_index
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.data.videoio import BadVideo, natural_key, probe, read_frames
from canvasmar.errors import UserError
from tests.data_fixtures import level, ramp, write_any, write_frame_folder, write_image

FORMATS = [".mp4", ".avi", ".mov", ".webm", ".gif"]


pytestmark = pytest.mark.usefixtures("isolated_data")


@pytest.mark.parametrize("suffix", FORMATS)
def test_each_format_decodes_the_right_frames(tmp_path, suffix):
    path = write_any(tmp_path / f"v{suffix}", ramp(12, 24, 40))
    info = probe(path)
    assert (info.frames, info.width, info.height) == (12, 40, 24)
    assert info.fps == pytest.approx(8, rel=0.05)
    clip = read_frames(path, [1, 4, 7, 10], 16)  # stride 3 from frame 1
    assert clip.shape == (4, 16, 16, 3) and clip.dtype == np.uint8
    means = clip.reshape(4, -1).mean(1) / 255
    assert means == pytest.approx([level(i) for i in (1, 4, 7, 10)], abs=4 / 255)


@pytest.mark.parametrize("suffix", FORMATS)
def test_seeking_gives_the_same_frames_as_decoding_from_the_start(tmp_path, suffix,
                                                                  monkeypatch):
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 256, (90, 6, 8, 3), np.uint8), 4, 1).repeat(4, 2)
    path = write_any(tmp_path / f"long{suffix}", frames, gop=10)
    info = probe(path)
    assert info.frames == 90
    if suffix in (".mp4", ".mov", ".webm", ".avi"):
        assert info.seek is not None  # constant frame rate: frame k has pts first + k*step
    sought = []
    real = videoio._decode_seeking
    monkeypatch.setattr(videoio, "_decode_seeking",
                        lambda *a: sought.append(real(*a)) or sought[-1])
    for start in (40, 55, 77):
        indices = list(range(start, start + 12, 3))
        fast = read_frames(path, indices, None, seek=info.seek)
        slow = read_frames(path, indices, None)
        assert np.array_equal(fast, slow), (suffix, start)
    if info.seek is not None:
        assert sought and all(s is not None for s in sought)  # the seek path really ran


def test_numbered_frames_in_numeric_order_grey_and_rgba(tmp_path):
    grey = write_frame_folder(tmp_path / "grey", ramp(11, 20, 30, 1)[..., 0], "f{:d}.png")
    assert natural_key("f10.png") > natural_key("f9.png")
    clip = read_frames(grey, [0, 9, 10], 16)
    assert clip.shape == (3, 16, 16, 3)
    assert (clip[..., 0] == clip[..., 1]).all() and (clip[..., 1] == clip[..., 2]).all()
    assert clip.reshape(3, -1).mean(1) / 255 == pytest.approx([level(0), level(9), level(10)],
                                                               abs=1 / 255)
    rgba = np.zeros((2, 20, 30, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:, :, :15, 3] = 0  # left half transparent, with red hidden under it
    write_frame_folder(tmp_path / "rgba", rgba)
    out = read_frames(tmp_path / "rgba", [0, 1], None)
    assert out.shape == (2, 20, 30, 3)
    assert (out[:, :, :15] == 0).all()  # composited over black, not the hidden colour
    assert (out[:, :, 15:, 0] == 200).all() and (out[:, :, 15:, 1:] == 0).all()


def test_resize_short_side_and_centre_crop():
    assert square_size(40, 24, 16) == (27, 16) and square_size(24, 40, 16) == (16, 27)
    image = np.zeros((24, 48, 3), np.uint8)
    image[:, 12:36] = 255  # the central half of a wide frame is white
    out = array_to_rgb(image, 16)
    assert out.shape == (16, 16, 3)
    assert out.min() == 255  # the 2:1 frame's centre square is all of the white band
    assert array_to_rgb(np.full((8, 8), 7, np.uint8), None).shape == (8, 8, 3)


def _mixed_tree(root):
    write_any(root / "a.mp4", ramp(20, 24, 32))
    write_any(root / "sub" / "b.avi", ramp(16, 30, 20))
    write_any(root / "c.webm", ramp(12, 24, 32))
    write_any(root / "d.gif", ramp(10, 16, 16))
    write_any(root / "e.mov", ramp(14, 32, 48))
    write_frame_folder(root / "frames" / "clip1", ramp(9, 20, 20))
    write_any(root / "short.mp4", ramp(3, 24, 32))
    (root / "garbage.mp4").write_bytes(b"\x00not a video" * 50)
    data = (root / "a.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "notes.txt").write_text("ignored")
    return root


def test_index_reports_broken_files_and_is_cached(tmp_path, monkeypatch):
    root = _mixed_tree(tmp_path / "videos")
    entries = {e.path: e for e in build_index(root)}
    assert set(entries) == {"a.mp4", "sub/b.avi", "c.webm", "d.gif", "e.mov", "frames/clip1",
                            "short.mp4", "garbage.mp4", "truncated.mp4"}
    assert entries["garbage.mp4"].error and entries["truncated.mp4"].error
    assert entries["frames/clip1"].frames == 9 and entries["a.mp4"].frames == 20

    def no_probe(path):
        raise AssertionError(f"re-probed {path}")

    monkeypatch.setattr(index_mod, "probe", no_probe)
    assert {e.path: e for e in build_index(root)} == entries  # all from the cache
    write_any(root / "new.mp4", ramp(8))
    with pytest.raises(AssertionError, match="new.mp4"):  # only the new file is probed
        build_index(root)


def test_broken_and_short_files_are_reported_once_and_skipped(tmp_path, caplog):
    root = _mixed_tree(tmp_path / "videos")
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        train = folder_dataset(root, "train", frames=4, resolution=16, stride=2, val_fraction=0)
        folder_dataset(root, "train", frames=4, resolution=16, stride=2, val_fraction=0)
    messages = [r.getMessage() for r in caplog.records]
    for name in ("garbage.mp4", "truncated.mp4", "short.mp4"):
        assert sum(name in m for m in messages) == 1, messages
    assert any("too short: 3 frames, a clip needs 7" in m for m in messages)
    sources = {v.source.rsplit("videos/", 1)[1] for v in train.videos}
    assert sources == {"a.mp4", "sub/b.avi", "c.webm", "d.gif", "e.mov", "frames/clip1"}
    for i in range(0, len(train), len(train) // 25):
        clip = train[i]
        assert clip.shape == (4, 3, 16, 16) and 0 <= clip.min() and clip.max() <= 1
        # stride 2: consecutive clip frames are two source frames apart
        steps = clip.mean((1, 2, 3)).diff()
        assert steps.numpy() == pytest.approx(2 * 12 / 255, abs=4 / 255)


def test_a_file_that_breaks_mid_epoch_is_skipped_not_fatal(tmp_path, caplog):
    good = write_any(tmp_path / "good.mp4", ramp(12))
    videos = [Video(str(tmp_path / "vanished.mp4"), 12), Video(str(good), 12)]
    data = ClipDataset(videos, frames=4, resolution=16, clips=[(0, 0), (1, 0), (0, 4)])
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        clips = [data[i] for i in range(3)]
    assert all(c.shape == (4, 3, 16, 16) for c in clips)
    assert sum("vanished.mp4" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(BadVideo):
        data.load(0)
    all_bad = ClipDataset(videos[:1], frames=4, resolution=16, clips=[(0, 0)])
    with pytest.raises(UserError, match="no readable clip"):
        all_bad[0]


def write_cut_faststart(path):
    """A 40-frame mp4 with its index at the front, cut in half: it opens and probes (20
    frames by its packets) but fails to decode past the cut."""
    import av

    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for f in rng.integers(0, 256, (40, 32, 48, 3), np.uint8):
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def test_truncated_file_that_still_opens_fails_at_decoding_and_is_skipped(tmp_path, caplog):
    path = write_cut_faststart(tmp_path / "v" / "faststart.mp4")
    good = write_any(tmp_path / "v" / "good.mp4", ramp(16))
    entries = {e.path: e for e in build_index(tmp_path / "v")}
    assert entries["faststart.mp4"].frames == 20 and not entries["faststart.mp4"].error
    videos = [Video(str(path), 20, seek=entries["faststart.mp4"].seek), Video(str(good), 16)]
    data = ClipDataset(videos, frames=4, resolution=16, clips=[(0, 16), (1, 0), (0, 16)])
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        clips = [data[i] for i in range(len(data))]
    assert all(c.shape == (4, 3, 16, 16) for c in clips)
    assert sum("faststart.mp4" in r.getMessage() for r in caplog.records) == 1
    assert "decoding failed" in caplog.text or "truncated" in caplog.text


def test_inspect_reports_each_file_once_usable_or_skipped(tmp_path, capsys):
    """A file that probes well but fails to decode for the contact sheet is skipped, not also
    counted usable (it once was both)."""
    folder = tmp_path / "v"
    write_cut_faststart(folder / "cut.mp4")
    write_any(folder / "good.mp4", ramp(16))
    write_any(folder / "good2.avi", ramp(12))
    (folder / "junk.mp4").write_bytes(b"not a video")
    assert main(["data", "inspect", str(folder), "--sheet", str(tmp_path / "s.png"),
                 "--verbose"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{folder}: 2 usable videos, 28 frames (12-16 per video)")
    assert "skipped: 2\n" in out and "resolutions: 32x24 (2)" in out
    assert [line.split(":")[0].strip() for line in out.splitlines()
            if line.startswith("  ")] == ["cut.mp4", "junk.mp4", "good.mp4", "good2.avi"]
    assert (tmp_path / "s.png").is_file()


def test_train_clips_are_random_but_deterministic_eval_clips_fixed(tmp_path):
    root = tmp_path / "v"
    for k in range(4):
        write_any(root / f"{k}.mp4", ramp(24 + 8 * k))
    train = folder_dataset(root, "train", frames=4, resolution=16, seed=3, val_fraction=0.3)
    starts = {train.clip(i)[1] for i in range(200)}
    assert len(starts) > 5  # random starts...
    again = folder_dataset(root, "train", frames=4, resolution=16, seed=3, val_fraction=0.3)
    assert [train.clip(i) for i in range(50)] == [again.clip(i) for i in range(50)]
    assert torch.equal(train[7], again[7])  # ...that depend only on (seed, index)
    assert len(train) >= 100_000
    val = folder_dataset(root, "val", frames=4, resolution=16, val_fraction=0.3)
    expected = [(v, 4 * k) for v, video in enumerate(val.videos)
                for k in range(video.frames // 4)]  # every non-overlapping 4-frame clip...
    assert sorted(val.clips) == expected and len(val) == len(expected)
    assert {v for v, _ in val.clips[:len(val.videos)]} == set(range(len(val.videos)))  # mixed
    train_files = {v.source for v in train.videos}
    assert train_files.isdisjoint(v.source for v in val.videos)


def test_holdout_and_split_subfolders(tmp_path):
    paths = [f"ep{k}.mp4" for k in range(30)]
    held = holdout(paths, 0.1)
    assert 0 < len(held) < 10 and held == holdout(list(reversed(paths)), 0.1)
    assert held <= holdout([*paths, "another.mp4"], 0.1) | {"another.mp4"}
    assert len(holdout(["a", "b"], 0.1)) == 1 and holdout(["a"], 0.1) == set()
    root = tmp_path / "split"
    write_any(root / "train" / "t.mp4", ramp(10))
    write_any(root / "val" / "v.mp4", ramp(10))
    write_any(root / "test" / "x.mp4", ramp(10))
    for split, name in (("train", "t.mp4"), ("val", "v.mp4"), ("test", "x.mp4")):
        ds = folder_dataset(root, split, frames=4, resolution=16)
        assert [v.source.rsplit("/", 1)[1] for v in ds.videos] == [name]


def test_errors_name_the_fix(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        folder_dataset(tmp_path / "missing", "train", frames=4, resolution=16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no videos"):
        folder_dataset(tmp_path / "empty", "train", frames=4, resolution=16)
    with pytest.raises(UserError, match="val_fraction"):
        folder_dataset(tmp_path, "train", frames=4, resolution=16, val_fraction=1.0)
    write_any(tmp_path / "short" / "a.mp4", ramp(5))
    with pytest.raises(UserError, match="at least 8 frames"):
        folder_dataset(tmp_path / "short", "train", frames=8, resolution=16, val_fraction=0)


def test_dataloader_workers_and_step_sampler(tmp_path):
    root = tmp_path / "v"
    for k in range(3):
        write_any(root / f"{k}.mp4", ramp(16))
    write_image(root / "frames" / "0.png", np.zeros((8, 8), np.uint8))  # 1 frame: too short
    ds = folder_dataset(root, "train", frames=4, resolution=16, val_fraction=0)
    sampler = StepBatchSampler(len(ds), 3, seed=0, start_step=0, total_steps=4)
    serial = list(DataLoader(ds, batch_sampler=sampler))
    parallel = list(DataLoader(ds, batch_sampler=sampler, num_workers=2))
    assert len(parallel) == 4 and parallel[0].shape == (3, 4, 3, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))


def test_train_cli_on_a_folder(tmp_path, capsys):
    from tests.conftest import micro_overrides

    root = tmp_path / "v"
    for k, suffix in enumerate(FORMATS):
        write_any(root / f"{k}{suffix}", ramp(12, 20 + 4 * k, 28))
    (root / "broken.avi").write_bytes(b"RIFF" + b"\x00" * 100)
    out = tmp_path / "run"
    code = main(["train", "tiny", "--data", str(root), "--out", str(out), "--no-progress",
                 *micro_overrides(), "train.steps=2", "train.eval_every=2", "train.save_every=2",
                 "train.batch_size=2", "train.eval_clips=4", "data.val_fraction=0.3"])
    assert code == 0, capsys.readouterr().err
    assert "val_canvas_mse" in capsys.readouterr().out
    cfg = (out / "config.json").read_text()
    assert str(root) in cfg
    assert main(["train", "tiny", "--data", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "r2")]) == 2
    assert "neither builtin" in capsys.readouterr().err


def test_builtin_is_still_the_default():
    from canvasmar.config import load_config

    cfg = load_config("tiny", ["data.resolution=16", "data.frames=4"])
    assert cfg.data.source == "builtin"
    assert build_dataset(cfg.data, "val")[0].shape == (4, 3, 16, 16)
