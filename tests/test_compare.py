"""`canvasmar compare`: two evaluations of the same clips, paired per video."""

from __future__ import annotations

import json

import pytest

from canvasmar.cli import main
from canvasmar.errors import UserError
from canvasmar.evaluation.compare import compare
from canvasmar.evaluation.protocol_run import run_eval
from tests.test_eval_protocols import _few_flow_steps, _request

pytestmark = pytest.mark.usefixtures("one_thread")


def test_two_evaluations_of_the_same_clips_compare_per_video(micro_pipe, tmp_path, capsys):
    _few_flow_steps(micro_pipe)
    a = run_eval(micro_pipe, _request(tmp_path, out=tmp_path / "a.json", num_videos=3,
                                      samples=2, metrics=("mse", "psnr")))
    per_video = a["results"]["model_steps_1"]["per_video"]
    assert len(per_video["psnr"]) == 3 and len(per_video["psnr_best_of_k"]) == 3
    assert max(per_video["psnr_best_of_k"]) >= max(per_video["psnr"])
    result = compare(tmp_path / "a.json", tmp_path / "a.json", setting_b="copy_last")
    model, copy = a["results"]["model_steps_1"], a["results"]["copy_last"]
    d = result["paired"]["mse"]
    assert d["a"] == pytest.approx(model["mse"]) and d["b"] == pytest.approx(copy["mse"])
    assert d["a_minus_b"]["mean"] == pytest.approx(model["mse_minus_copy_last"]["mean"])
    # per predicted-frame position: (N, T) per-video scores, paired position by position
    frames = len(model["per_frame"]["psnr"])
    assert len(per_video["psnr_best_of_k_per_frame"]) == 3
    assert len(per_video["psnr_best_of_k_per_frame"][0]) == frames
    per_frame = result["paired_per_frame"]["psnr_best_of_k"]
    assert len(per_frame) == frames
    for t, row in enumerate(per_frame):
        assert row["a"] == pytest.approx(model["per_frame"]["psnr_best_of_k"][t])
        assert row["b"] == pytest.approx(copy["per_frame"]["psnr_best_of_k"][t])
        assert row["a_minus_b"]["mean"] == pytest.approx(row["a"] - row["b"])
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "a.json"),
                 "--setting-b", "canvas_only", "--out", str(tmp_path / "c.json")]) == 0
    printed = capsys.readouterr().out
    assert "psnr_best_of_k" in printed and "per predicted frame" in printed
    assert f"frame {frames} " in printed
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["b"]["setting"] == "canvas_only"


def test_comparisons_of_different_clips_are_refused(micro_pipe, tmp_path, capsys):
    _few_flow_steps(micro_pipe)
    run_eval(micro_pipe, _request(tmp_path, out=tmp_path / "a.json", metrics=("mse",)))
    run_eval(micro_pipe, _request(tmp_path, out=tmp_path / "b.json", metrics=("mse",),
                                  seed=1))
    with pytest.raises(UserError, match="did not score the same clips .seed differ"):
        compare(tmp_path / "a.json", tmp_path / "b.json")
    with pytest.raises(UserError, match="has no setting 'nope'"):
        compare(tmp_path / "a.json", tmp_path / "a.json", "nope")
    (tmp_path / "bad.json").write_text("{")
    assert main(["compare", str(tmp_path / "bad.json"), str(tmp_path / "a.json")]) == 2
    assert "not a readable evaluation JSON" in capsys.readouterr().err
