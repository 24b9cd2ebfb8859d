"""Benchmark loaders on tiny trees in the official formats (written here, no TensorFlow):
BAIR TFRecords and extracted frames, UCF-101 split lists, Kinetics-600 CSVs; the protocols'
clip indices (App. A)."""

from __future__ import annotations

import logging
import struct

import numpy as np
import pytest

from canvasmar.config import load_config
from canvasmar.data import build_dataset
from canvasmar.data.bair import bair_videos
from canvasmar.data.benchmarks import protocol_clips, protocol_dataset
from canvasmar.data.kinetics import clip_name, k600_videos
from canvasmar.data.tfrecord import (
    TFRecordError,
    crc32c,
    decode_example,
    encode_example,
    read_record,
    record_offsets,
    write_records,
)
from canvasmar.data.ucf101 import ucf101_videos
from canvasmar.errors import UserError
from canvasmar.protocols import PROTOCOLS
from tests.data_fixtures import level, ramp, write_any, write_frame_folder

pytestmark = pytest.mark.usefixtures("isolated_data")


# ----------------------------------------------------------------------------- TFRecord
def test_crc32c_and_example_round_trip(tmp_path):
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    example = encode_example({"0/image_aux1/encoded": [b"\x01\x02"], "b": [b"", b"xyz"],
                              "0/action": np.array([0.5, -1.0, 2.0, 0.0])})
    decoded = decode_example(example)
    assert decoded == {"0/image_aux1/encoded": [b"\x01\x02"], "b": [b"", b"xyz"],
                       "0/action": [0.5, -1.0, 2.0, 0.0]}
    assert decode_example(example, keys={"b"}) == {"b": [b"", b"xyz"]}
    path = write_records(tmp_path / "x.tfrecords", [example, b"second"])
    offsets = record_offsets(path)
    assert offsets == [0, 12 + len(example) + 4]
    assert read_record(path, offsets[1], verify=True) == b"second"
    raw = bytearray(path.read_bytes())
    raw[-6] ^= 0xFF  # flip a data byte of the last record
    path.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError, match="data checksum"):
        read_record(path, offsets[1], verify=True)
    path.write_bytes(bytes(raw[:-3]))
    with pytest.raises(TFRecordError, match="truncated"):
        record_offsets(path)
    (tmp_path / "bad.tfrecords").write_bytes(struct.pack("<Q", 5) + b"\x00" * 4 + b"hello")
    with pytest.raises(TFRecordError, match="length checksum"):
        record_offsets(tmp_path / "bad.tfrecords")


def bair_record(seed: int, frames: int = 30) -> bytes:
    """One trajectory as the BAIR release stores it: raw 64x64x3 bytes per frame and camera."""
    rng = np.random.default_rng(seed)
    features = {}
    for i in range(frames):
        aux = np.full((64, 64, 3), round(level(i % 20) * 255), np.uint8)
        aux[0, 0] = seed  # marks the trajectory
        features[f"{i}/image_aux1/encoded"] = [aux.tobytes()]
        features[f"{i}/image_main/encoded"] = [rng.integers(0, 255, 64 * 64 * 3,
                                                            np.uint8).tobytes()]
        features[f"{i}/action"] = rng.normal(size=4)
        features[f"{i}/endeffector_pos"] = rng.normal(size=3)
    return encode_example(features)


def write_bair(root, train=(2, 1), test=(3,)):
    folder = root / "softmotion30_44k"
    seed = 0
    for split, files in (("train", train), ("test", test)):
        (folder / split).mkdir(parents=True)
        for f, count in enumerate(files):
            write_records(folder / split / f"traj_{f * 256}_to_{f * 256 + 255}.tfrecords",
                          [bair_record(seed + k) for k in range(count)])
            seed += count
    return root


def test_bair_tfrecord_splits_and_frames(tmp_path):
    root = write_bair(tmp_path / "bair")
    train, test = bair_videos(root, "train"), bair_videos(root, "test")
    assert len(train) == 3 and len(test) == 3 and all(v.frames == 30 for v in train + test)
    assert bair_videos(root / "softmotion30_44k", "val")[0].key == test[0].key  # val = test
    frames = test[1].read([0, 5, 16], 64)
    assert frames.shape == (3, 64, 64, 3)
    assert frames[0, 0, 0, 0] == 4  # trajectory 4 (train used seeds 0-2): in order
    assert frames[1:, 1:, 1:].reshape(2, -1).mean(1) == pytest.approx(
        [round(level(5) * 255), round(level(16) * 255)])
    assert test[0].read([2], 32).shape == (1, 32, 32, 3)  # resized on request


def test_bair_damaged_file_is_reported_and_skipped(tmp_path, caplog):
    root = write_bair(tmp_path / "bair", train=(2, 2))
    bad = sorted((root / "softmotion30_44k" / "train").glob("*"))[1]
    bad.write_bytes(bad.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        videos = bair_videos(root, "train")
    assert len(videos) == 2 and sum(bad.name in r.getMessage() for r in caplog.records) == 1


def test_bair_extracted_frames_layout_and_training_config(tmp_path):
    root = tmp_path / "bair_frames"
    for split, count in (("train", 3), ("test", 2)):
        for k in range(count):
            write_frame_folder(root / split / f"traj_{k}", ramp(20, 64, 64))
    assert [v.frames for v in bair_videos(root, "test")] == [20, 20]
    cfg = load_config("tiny", ["data.source=bair", f"data.root={root}", "data.frames=4",
                               "data.resolution=16", "data.stride=2"])
    train, val = build_dataset(cfg.data, "train"), build_dataset(cfg.data, "val")
    assert train[5].shape == (4, 3, 16, 16)
    assert len(val) == 4  # 2 test videos x 2 fixed non-overlapping clips
    with pytest.raises(UserError, match="needs data.root"):
        build_dataset(load_config("tiny", ["data.source=bair"]).data, "train")
    with pytest.raises(UserError, match="no train/ or test/"):
        bair_videos(tmp_path, "train")


def test_bair_protocol_clips():
    bair = PROTOCOLS["bair"]
    clips = protocol_clips(bair, [30] * 300)
    assert clips == [(v, 0) for v in range(256)]  # the 256 test videos, first frame given
    debiased = protocol_clips(bair, [30] * 256, seed=1, debiased=True)
    starts = [s for _, s in debiased]
    assert [v for v, _ in debiased] == list(range(256))
    assert min(starts) >= 0 and max(starts) <= 30 - 17 and len(set(starts)) > 5
    assert debiased == protocol_clips(bair, [30] * 256, seed=1, debiased=True)
    assert debiased != protocol_clips(bair, [30] * 256, seed=2, debiased=True)


def test_bair_protocol_dataset(tmp_path, caplog):
    root = write_bair(tmp_path / "bair")
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        data = protocol_dataset(PROTOCOLS["bair"], str(root), 64)
    assert "the protocol uses 256" in caplog.text
    assert len(data) == 3 and data.clips == [(0, 0), (1, 0), (2, 0)]
    clip = data[1]
    assert clip.shape == (17, 3, 64, 64)
    assert clip[:, :, 1:, 1:].mean((1, 2, 3)).numpy() == pytest.approx(
        [round(level(i % 20) * 255) / 255 for i in range(17)], abs=1e-6)


# ----------------------------------------------------------------------------- UCF-101
def write_ucf(root, broken=False):
    classes = ["ApplyEyeMakeup", "Basketball", "YoYo"]
    (root / "ucfTrainTestlist").mkdir(parents=True)
    (root / "ucfTrainTestlist" / "classInd.txt").write_text(
        "".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train, test = [], []
    for i, c in enumerate(classes):
        for g in (1, 8):
            rel = f"{c}/v_{c}_g{g:02d}_c01.avi"
            write_any(root / "UCF-101" / rel, ramp(20 + 2 * g, 24, 32))
            (test if g < 8 else train).append((rel, i + 1))
    (root / "ucfTrainTestlist" / "trainlist01.txt").write_text(
        "".join(f"{r} {label}\r\n" for r, label in train))
    (root / "ucfTrainTestlist" / "testlist01.txt").write_text(
        "".join(f"{r}\r\n" for r, _ in test) + "YoYo/v_YoYo_g02_c01.avi\r\n")  # not on disk
    return root


def test_ucf101_official_split_lists(tmp_path, caplog):
    root = write_ucf(tmp_path / "ucf")
    train, train_labels = ucf101_videos(root, "train")
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        test, test_labels = ucf101_videos(root, "test")
    assert [v.source.split("UCF-101/")[1] for v in train] == [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "Basketball/v_Basketball_g08_c01.avi",
        "YoYo/v_YoYo_g08_c01.avi"]
    assert train_labels == [0, 1, 2] and test_labels == [0, 1, 2]
    assert all("_g01_" in v.source for v in test)  # groups never cross the split
    assert "v_YoYo_g02_c01.avi: listed in the split but missing" in caplog.text
    with pytest.raises(UserError, match="trainlist02.txt"):
        ucf101_videos(root, "train", fold=2)
    with pytest.raises(UserError, match="split lists 1, 2 and 3"):
        ucf101_videos(root, "train", fold=4)


def test_ucf101_protocol_clips(tmp_path):
    ucf = PROTOCOLS["ucf"]
    lengths = [40, 17, 100]
    clips = protocol_clips(ucf, lengths, seed=0)
    assert len(clips) == 5000  # 5K clips from a smaller test list: drawn with replacement
    assert {v for v, _ in clips} == {0, 1, 2}
    assert all(0 <= s <= lengths[v] - 17 for v, s in clips)
    assert all(s == 0 for v, s in clips if v == 1)
    assert clips == protocol_clips(ucf, lengths, seed=0) != protocol_clips(ucf, lengths, seed=1)
    root = write_ucf(tmp_path / "ucf")
    data = protocol_dataset(ucf, str(root), 16, num_videos=6)
    assert len(data) == 6 and data[0].shape == (17, 3, 16, 16)
    v, s = data.clips[0]
    assert data[0].mean((1, 2, 3)).numpy() == pytest.approx(
        [level(s + i) for i in range(17)], abs=4 / 255)


# ----------------------------------------------------------------------------- Kinetics-600
def write_k600(root):
    rows = [("abseiling", "a1b2c3d4e5f", 10, 20), ("juggling", "Zz_-9yY8xX7", 0, 10),
            ("juggling", "missing0000", 5, 15)]
    (root / "annotations").mkdir(parents=True)
    header = "label,youtube_id,time_start,time_end,split\n"
    (root / "annotations" / "test.csv").write_text(header + "".join(
        f"{label},{yt},{s},{e},test\n" for label, yt, s, e in rows))
    (root / "annotations" / "train.csv").write_text(header + f"yoga,{'t' * 11},3,13,train\n")
    for label, yt, s, e in rows[:2]:
        write_any(root / "test" / label / f"{clip_name(yt, s, e)}.mp4", ramp(24, 24, 40))
    write_any(root / "train" / "yoga" / f"{clip_name('t' * 11, 3, 13)}.mp4", ramp(30, 24, 40))
    return root


def test_k600_csv_and_video_folder(tmp_path, caplog):
    assert clip_name("abc", "10", "20.0") == "abc_000010_000020"
    root = write_k600(tmp_path / "k600")
    with caplog.at_level(logging.WARNING, logger="canvasmar.data"):
        test, labels = k600_videos(root, "test")
    assert labels == ["abseiling", "juggling"] and [v.frames for v in test] == [24, 24]
    assert "1 of 3 listed clips were not found" in caplog.text
    assert len(k600_videos(root, "train")[0]) == 1
    with pytest.raises(UserError, match="validate.csv"):
        k600_videos(root, "val")


def test_k600_protocol_clips(tmp_path):
    k600 = PROTOCOLS["k600"]
    assert (k600.context, k600.predict, k600.resolution) == (5, 16, 64)
    lengths = list(range(21, 121))
    clips = protocol_clips(k600, lengths, seed=0, num_videos=50)
    assert len({v for v, _ in clips}) == 50  # K <= available: distinct videos
    assert all(0 <= s <= lengths[v] - 21 for v, s in clips)
    root = write_k600(tmp_path / "k600")
    data = protocol_dataset(k600, str(root), 64, num_videos=2)
    assert sorted(v for v, _ in data.clips) == [0, 1]
    assert data[0].shape == (21, 3, 64, 64)


def test_eval_reads_the_protocol_clips_from_data_root(tmp_path):
    from types import SimpleNamespace

    from canvasmar.evaluation.protocol_run import protocol_test_clips

    pipe = SimpleNamespace(frame_shape=(3, 32, 32))
    root = write_bair(tmp_path / "bair")
    pipe.cfg = load_config("tiny")
    videos = protocol_test_clips(pipe, PROTOCOLS["bair"], str(root))
    assert len(videos) == 3 and videos[0].shape == (17, 3, 32, 32)
    with pytest.raises(UserError, match="--data-root"):
        protocol_test_clips(pipe, PROTOCOLS["ucf"])
