"""Protocol evaluation end to end: streamed clips, BAIR's debiased FVD with cached reference
statistics, any folder of videos, unreadable test clips."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from canvasmar.data.procedural import ProceduralVideos
from canvasmar.data.videoio import BadVideo
from canvasmar.errors import UserError
from canvasmar.evaluation.protocol_run import EvalRequest, run_eval
from canvasmar.evaluation.scoring import evaluate, read_clip
from canvasmar.metrics import debiased_fvd, i3d_features, load_i3d
from canvasmar.protocols import PROTOCOLS
from tests.data_fixtures import write_any
from tests.test_data_benchmarks import write_bair

pytestmark = pytest.mark.usefixtures("one_thread")


def _request(tmp_path: Path, **changes) -> EvalRequest:
    """What `canvasmar eval` asks for, with small counts."""
    args = dict(checkpoint="micro", out=tmp_path / "eval.json", protocol="builtin-quick",
                num_videos=2, samples=1, sweep_steps=(1,), batch_size=2, progress=False,
                stats_cache=str(tmp_path / "stats"))
    args.update(changes)
    return EvalRequest(**args)


def _few_flow_steps(pipe) -> None:
    pipe.cfg = dataclasses.replace(pipe.cfg, sample=dataclasses.replace(pipe.cfg.sample,
                                                                         flow_steps=2))


def test_streamed_dataset_scores_equal_the_stacked_tensor(micro_pipe):
    """Reading clips batch by batch (UCF/K600 never fit in memory) changes no number."""
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=2, num_videos=4,
                                   samples=2)
    data = ProceduralVideos("test", frames=3, resolution=16, length=4)
    stacked = torch.stack([data[i] for i in range(len(data))])
    kwargs = dict(seed=1, batch_size=3, progress=False, flow_steps=2)
    streamed = evaluate(micro_pipe, protocol, data, [1], **kwargs)
    assert streamed == evaluate(micro_pipe, protocol, stacked, [1], **kwargs)
    assert streamed["copy_last"]["mse"] == pytest.approx(
        (stacked[:, :1] - stacked[:, 1:]).pow(2).mean().item(), rel=1e-6)


def test_bair_protocol_adds_debiased_fvd_and_caches_reference_stats(micro_pipe, tmp_path,
                                                                     detector_path, monkeypatch):
    root = write_bair(tmp_path / "bair")  # 3 test videos of 30 frames
    request = _request(tmp_path, protocol="bair", metrics=("mse", "fvd"),
                       i3d=str(detector_path), data_root=str(root), num_videos=3)
    _few_flow_steps(micro_pipe)
    record = run_eval(micro_pipe, request)
    assert record["protocol"]["num_videos"] == 3 and record["protocol"]["debiased"]
    results = record["results"]
    assert all({"fvd", "fvd_debiased"} <= set(r) for r in results.values())

    # copy-last by hand: the real set is every 16-frame window of the 3 whole videos (3 x 15),
    # the generated set the first frame of each video repeated 16 times.
    from canvasmar.data.benchmarks import WholeVideos, protocol_dataset

    detector = load_i3d(detector_path)
    whole = list(WholeVideos(PROTOCOLS["bair"], str(root), 16, 3))
    windows = torch.stack([torch.stack([v[s:s + 16] for s in range(15)]) for v in whole])
    window_feats = i3d_features(windows.flatten(0, 1), detector).view(3, 15, -1)
    clips = protocol_dataset(dataclasses.replace(PROTOCOLS["bair"], num_videos=3), str(root), 16)
    copies = torch.stack([clips[i][:1].expand(16, -1, -1, -1) for i in range(3)])
    want = debiased_fvd(window_feats, i3d_features(copies, detector))
    assert results["copy_last"]["fvd_debiased"] == pytest.approx(want, rel=1e-6)
    assert results["copy_last"]["fvd_debiased"] != pytest.approx(results["copy_last"]["fvd"])

    cached = sorted(p.name for p in (tmp_path / "stats").iterdir())
    assert len(cached) == 2 and any("debiased-windows" in name for name in cached)
    assert record["backends"]["fvd"]["reference"] in cached

    def must_not_run(*a, **k):
        raise AssertionError("reference statistics recomputed despite the cache")

    monkeypatch.setattr("canvasmar.evaluation.protocol_run.real_i3d_stats", must_not_run)
    monkeypatch.setattr("canvasmar.metrics.window_feature_stats", must_not_run)
    with pytest.raises(UserError, match="already exists.*--force"):
        run_eval(micro_pipe, request)  # a finished evaluation is not overwritten by accident
    forced = dataclasses.replace(request, force=True)
    assert run_eval(micro_pipe, forced)["results"] == results  # from the cache, same numbers


def test_folder_protocol_scores_the_held_out_videos(micro_pipe, tmp_path, caplog):
    root = tmp_path / "videos"
    rng = np.random.default_rng(0)
    for split, count in (("train", 1), ("test", 2)):
        for i in range(count):  # 40 frames: two non-overlapping 17-frame clips per video
            frames = rng.integers(0, 255, (40, 20, 24, 3), dtype=np.uint8)
            write_any(root / split / f"v{i}.mp4", frames)
    _few_flow_steps(micro_pipe)
    record = run_eval(micro_pipe, _request(tmp_path, protocol="folder", data_root=str(root),
                                           num_videos=None))
    assert "scoring those" in caplog.text  # asked for 256, the test split holds 4 clips
    assert record["protocol"]["num_videos"] == 4 and record["protocol"]["predict"] == 16
    assert json.loads((tmp_path / "eval.json").read_text())["results"] == record["results"]
    with pytest.raises(UserError, match="--data-root"):
        run_eval(micro_pipe, _request(tmp_path, protocol="folder"))


def test_an_unreadable_test_clip_stops_with_its_file_named():
    class Broken:
        def __len__(self) -> int:
            return 1

        def load(self, index: int) -> torch.Tensor:
            raise BadVideo("videos/test/v0.mp4: invalid data found when processing input")

    with pytest.raises(UserError, match=r"test clip 0 .*v0\.mp4.*fix or remove"):
        read_clip(Broken(), 0)


class _KilledAfter:
    """The pipeline, killed at its `calls`-th call (as a preempted job would be)."""

    def __init__(self, pipe, calls: int) -> None:
        self.pipe, self.calls = pipe, calls

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, *args, **kwargs):
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt("killed")
        return self.pipe(*args, **kwargs)


def test_a_killed_evaluation_resumes_to_the_uninterrupted_numbers(micro_pipe, tmp_path):
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=2, num_videos=4,
                                   samples=2)
    data = ProceduralVideos("test", frames=3, resolution=16, length=4)
    kwargs = dict(seed=1, batch_size=2, progress=False, flow_steps=2)
    whole = evaluate(micro_pipe, protocol, data, [1], **kwargs)
    partial = tmp_path / "eval.partial.pt"
    # 4 batches, 2 sampled settings each: the 5th call is batch 3, after 2 saved batches
    with pytest.raises(KeyboardInterrupt):
        evaluate(_KilledAfter(micro_pipe, 5), protocol, data, [1], resume_path=partial,
                 save_every_s=0, **kwargs)
    assert partial.is_file()
    resumed = evaluate(micro_pipe, protocol, data, [1], resume_path=partial, save_every_s=0,
                       **kwargs)
    assert resumed == whole and not partial.exists()

    with pytest.raises(KeyboardInterrupt):
        evaluate(_KilledAfter(micro_pipe, 5), protocol, data, [1], resume_path=partial,
                 save_every_s=0, **kwargs)
    with pytest.raises(UserError, match="other settings; delete it"):
        evaluate(micro_pipe, protocol, data, [1], resume_path=partial,
                 **{**kwargs, "seed": 2})


def test_context_override_scores_from_more_given_frames(micro_pipe, tmp_path):
    """--context 2 (the issue's rollouts from 2 given frames): recorded in the protocol, and
    the predicted frames are the same count; a context of 0 is refused."""
    record = run_eval(micro_pipe, _request(tmp_path, protocol="builtin-quick", num_videos=2,
                                           samples=1, context=2))
    assert record["protocol"]["context"] == 2 and record["protocol"]["predict"] == 16
    with pytest.raises(UserError, match="--context must be at least 1"):
        run_eval(micro_pipe, _request(tmp_path, protocol="builtin-quick", context=0,
                                      force=True))
