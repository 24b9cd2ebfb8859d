"""Choosing sampling settings by a distribution metric (evaluation/selection.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from canvasmar.errors import UserError
from canvasmar.evaluation.selection import parse_grid, sweep, sweep_markdown
from canvasmar.metrics import kid
from canvasmar.protocols import PROTOCOLS
from tests.test_evaluate import _stand_in_inception


def test_sweep_scores_each_point_once_and_chooses_the_lowest_fid(micro_pipe, one_thread):
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=2, num_videos=6,
                                   samples=2)
    clips = torch.rand(6, 3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    grid = parse_grid(["head_temperature=0,1", "steps=1,2"], micro_pipe)
    assert grid == {"head_temperature": [0.0, 1.0], "steps": [1, 2]}
    seen = []

    def counting(images: torch.Tensor) -> torch.Tensor:
        seen.append(images.clone())
        return _stand_in_inception(images)

    result = sweep(micro_pipe, protocol, clips, grid, frame_extractor=counting,
                   kid_fn=kid, flow_steps=2)
    # the 6 videos x 2 real frames go through the extractor once in all, not at every point
    rows = torch.cat(seen)
    for real in clips[:, 1:3].flatten(0, 1):
        assert (rows == real).flatten(1).all(1).sum() == 1
    points = result["points"]
    assert [(p["head_temperature"], p["steps"]) for p in points] == [(0, 1), (0, 2), (1, 1),
                                                                       (1, 2)]
    assert result["chosen"]["fid"] == min(p["fid"] for p in points)
    assert set(result["baselines"]) == {"copy_last", "canvas_only"}
    assert all(len(p["per_frame_fid"]) == 2 for p in points)
    # temperature 0 and 1 sample differently: the sweep really passed the setting through
    assert points[0]["fid"] != points[2]["fid"]
    table = sweep_markdown(result)
    assert table.count("(chosen)") == 1 and "copy_last" in table


def test_a_killed_sweep_goes_on_from_its_next_point(micro_pipe, one_thread, tmp_path):
    """`canvasmar choose` on a CPU runs for hours: the points scored so far are kept, and a
    second run scores only the rest, ending where an uninterrupted sweep ends."""
    protocol = dataclasses.replace(PROTOCOLS["builtin-quick"], predict=2, num_videos=4,
                                   samples=1)
    clips = torch.rand(4, 3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    grid = parse_grid(["head_temperature=0,0.5,1"], micro_pipe)
    whole = sweep(micro_pipe, protocol, clips, grid, frame_extractor=_stand_in_inception,
                  flow_steps=2)
    partial, calls = tmp_path / "choice.partial.json", []

    def dies_on_the_third_point(images: torch.Tensor) -> torch.Tensor:
        calls.append(len(images))
        if len(json.loads(partial.read_text())["points"]) == 2 if partial.exists() else False:
            raise KeyboardInterrupt
        return _stand_in_inception(images)

    with pytest.raises(KeyboardInterrupt):
        sweep(micro_pipe, protocol, clips, grid, frame_extractor=dies_on_the_third_point,
              flow_steps=2, resume=partial, fingerprint={"checkpoint": "a"})
    assert len(json.loads(partial.read_text())["points"]) == 2
    with pytest.raises(UserError, match="partial sweep with other settings"):
        sweep(micro_pipe, protocol, clips, grid, frame_extractor=_stand_in_inception,
              flow_steps=2, resume=partial, fingerprint={"checkpoint": "b"})
    scored = []

    def counting(images: torch.Tensor) -> torch.Tensor:
        scored.append(images)
        return _stand_in_inception(images)

    again = sweep(micro_pipe, protocol, clips, grid, frame_extractor=counting, flow_steps=2,
                  resume=partial, fingerprint={"checkpoint": "a"})
    assert not partial.exists()
    assert again["points"] == json.loads(json.dumps(whole["points"]))
    assert again["baselines"] == json.loads(json.dumps(whole["baselines"]))
    # only the last point's generated frames and the real ones went through the extractor
    assert sum(len(x) for x in scored) == 2 * 4 * 2


@pytest.mark.parametrize("item", ["nonsense=1", "head_temperature=", "steps=a",
                                  "head_temperature=-1"])
def test_bad_grids_are_refused(micro_pipe, item):
    with pytest.raises(UserError):
        parse_grid([item], micro_pipe)
