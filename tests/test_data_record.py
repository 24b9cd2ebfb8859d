"""Simulator recordings (a fake environment for the format, then real ALE and dm_control,
which requirements-dev.txt installs) and `canvasmar data inspect`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from canvasmar.cli import main
from canvasmar.data.folder import folder_dataset
from canvasmar.data.record import AtariEnv, DMCEnv, record
from canvasmar.data.videoio import probe, read_frames
from canvasmar.errors import UserError
from tests.data_fixtures import SquareEnv, ramp, write_any

pytestmark = pytest.mark.usefixtures("isolated_data")


def FakeEnv() -> SquareEnv:  # named like the environment class it stands for
    """The square; the episode ends at x == 12 ('game over')."""
    return SquareEnv("fake", game_over_at=12)


def test_record_writes_videos_and_actions_in_the_folder_format(tmp_path):
    paths = record(FakeEnv(), tmp_path / "rec", episodes=3, frames=10, policy="random", seed=1,
                   progress=False)
    assert [p.name for p in paths] == ["fake_0000.mp4", "fake_0001.mp4", "fake_0002.mp4"]
    for p in paths:
        meta = json.loads(p.with_suffix(".actions.json").read_text())
        frames = read_frames(p, list(range(meta["frames"])), None)
        assert len(meta["actions"]) == meta["frames"] - 1 == probe(p).frames - 1
        # frame t+1 follows frame t under actions[t]: the square's column moves by 2*action
        cols = [int(np.argmax(f[12, :, 0] > 128)) for f in frames]
        assert np.diff(cols).tolist() == [2 * a for a in meta["actions"]]
    again = record(FakeEnv(), tmp_path / "again", episodes=3, frames=10, policy="random",
                   seed=1, progress=False)
    # same seed, same episodes: the same actions and frames. Not the same bytes: libx264
    # itself is not repeatable within one process (after torch.set_flush_denormal(True), or
    # after torch.compile has run, two encodes of one episode's frames differed in the
    # I-frame), so the frames are compared decoded, to the codec's error.
    for first, second in zip(paths, again, strict=True):
        meta = first.with_suffix(".actions.json").read_text()
        assert second.with_suffix(".actions.json").read_text() == meta
        index = list(range(json.loads(meta)["frames"]))
        a = read_frames(first, index, None).astype(int)
        b = read_frames(second, index, None).astype(int)
        assert np.abs(a - b).max() <= 8 and np.abs(a - b).mean() < 0.5
    ds = folder_dataset(tmp_path / "rec", "train", frames=4, resolution=16, val_fraction=0)
    assert ds[0].shape == (4, 3, 16, 16)


def test_record_sticky_policy_holds_actions_and_episode_end(tmp_path):
    paths = record(FakeEnv(), tmp_path, episodes=1, frames=40, policy="sticky", seed=0,
                   progress=False)
    meta = json.loads(paths[0].with_suffix(".actions.json").read_text())
    assert meta["frames"] < 40  # the game ended (x reached 12) before 40 frames
    runs = np.diff(np.flatnonzero(np.diff(meta["actions"]))).tolist()
    assert all(r >= 1 for r in runs) and meta["policy"] == "sticky"
    with pytest.raises(UserError, match="unknown policy"):
        record(FakeEnv(), tmp_path, episodes=1, frames=5, policy="smart")


def test_record_mixed_policy_alternates_sticky_and_random_episodes(tmp_path):
    paths = record(SquareEnv(), tmp_path, episodes=2, frames=40, policy="mixed", seed=0,
                   progress=False)
    metas = [json.loads(p.with_suffix(".actions.json").read_text()) for p in paths]
    assert [m["policy"] for m in metas] == ["sticky", "random"]

    def runs(actions: list) -> list[int]:  # lengths of the stretches of one repeated action
        return np.diff(np.flatnonzero(np.diff([-1, *actions, -1]))).tolist()

    # a random binary action switches often; a sticky hold is 4-15 steps (a draw may repeat
    # the held action, so a run can be longer, and the episode may cut the last one short)
    assert min(runs(metas[0]["actions"])[:-1]) >= 4
    assert min(runs(metas[1]["actions"])) < 4


def test_real_atari_recording(tmp_path, capsys):
    out = tmp_path / "pong"
    assert main(["data", "record", "atari", "--game", "pong", "--out", str(out), "--episodes",
                 "2", "--frames", "12", "--no-progress"]) == 0
    assert "wrote 2 episodes" in capsys.readouterr().out
    info = probe(out / "pong_0001.mp4")
    assert (info.frames, info.width, info.height) == (12, 160, 210)
    meta = json.loads((out / "pong_0000.actions.json").read_text())
    assert len(meta["actions"]) == 11 and all(0 <= a < 6 for a in meta["actions"])
    with pytest.raises(UserError, match="unknown Atari game"):
        AtariEnv("not-a-game")
    with pytest.raises(UserError, match="frame-skip"):
        AtariEnv("pong", frame_skip=0)


def test_real_dm_control_recording(tmp_path, capsys):
    out = tmp_path / "cartpole"
    assert main(["data", "record", "dmc", "--task", "cartpole-swingup", "--out", str(out),
                 "--episodes", "1", "--frames", "6", "--size", "32", "--no-progress"]) == 0
    frames = read_frames(out / "cartpole-swingup_0000.mp4", list(range(6)), None)
    assert frames.shape == (6, 32, 32, 3) and frames.std() > 5  # rendered, not blank
    meta = json.loads((out / "cartpole-swingup_0000.actions.json").read_text())
    assert len(meta["actions"]) == 5 and all(-1 <= a[0] <= 1 for a in meta["actions"])
    assert main(["data", "record", "dmc", "--task", "cartpole", "--out", str(out)]) == 2
    assert "DOMAIN-TASK" in capsys.readouterr().err
    with pytest.raises(UserError, match="unknown dm_control task"):
        DMCEnv("cartpole-fly")
    with pytest.raises(UserError, match="--size 4"):
        DMCEnv("cartpole-swingup", size=4)


def test_inspect_lists_videos_skips_and_writes_a_contact_sheet(tmp_path, capsys):
    root = tmp_path / "v"
    write_any(root / "a.mp4", ramp(16, 24, 32))
    write_any(root / "b.gif", ramp(10, 32, 32))
    write_any(root / "short.webm", ramp(4, 24, 32))
    (root / "bad.mov").write_bytes(b"nope")
    sheet = tmp_path / "sheet.png"
    assert main(["data", "inspect", str(root), "--sheet", str(sheet), "--frames", "8"]) == 0
    out = capsys.readouterr().out
    assert "2 usable videos, 26 frames (10-16 per video)" in out
    assert "resolutions: 32x24 (1), 32x32 (1)" in out
    assert "duration: 3.2 s over 2 timed videos" in out
    assert "bad.mov: unreadable" in out and "short.webm: too short: 4 frames" in out
    import matplotlib.pyplot as plt

    from canvasmar.labels import Sheet

    image = plt.imread(sheet)
    row = Sheet(1, 8, (64, 64), size=11, title="a.mp4", columns=["1"] * 8).shape
    assert image.shape[:2] == (2 * row[0] + 4, row[1])  # 2 titled rows of 8 thumbnails
    assert main(["data", "inspect", str(tmp_path / "none")]) == 2
