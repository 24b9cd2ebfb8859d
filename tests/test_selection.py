"""Choosing sampling settings by a distribution metric (evaluation/selection.py)."""

from __future__ import annotations

import dataclasses

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


@pytest.mark.parametrize("item", ["nonsense=1", "head_temperature=", "steps=a",
                                  "head_temperature=-1"])
def test_bad_grids_are_refused(micro_pipe, item):
    with pytest.raises(UserError):
        parse_grid([item], micro_pipe)
