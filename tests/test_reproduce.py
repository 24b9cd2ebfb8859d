"""scripts/reproduce.py (issue 17: Fig. 3 and Fig. 6 at our scale, one resumable command) at
its smoke scale: every stage on micro models, the results page with a verdict per claim, a
second run that finds everything done, and a killed training that resumes. The FID Inception
is replaced by a 16-d random projection so that the test takes a minute (each real Frechet
distance is two 2048 x 2048 eigendecompositions); tests/test_metrics*.py check the real one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import canvasmar.metrics

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("ale_py", reason="the atari extra (make setup installs it)")


def _small_extractor(device="cpu", path=None):
    weights = torch.randn(3 * 8 * 8, 16, generator=torch.Generator().manual_seed(0))

    def extract(images: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(images.float(), size=(8, 8), mode="area")
        return x.flatten(1) @ weights

    return extract


@pytest.mark.slow
def test_reproduce_runs_every_stage_resumes_and_writes_the_page(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    monkeypatch.setattr(canvasmar.metrics, "load_fid_inception", _small_extractor)
    import reproduce

    page = tmp_path / "docs" / "results.md"
    args = ["--scale", "smoke", "--root", str(tmp_path / "root"), "--pong-data",
            str(tmp_path / "pong"), "--page", str(page), "--lanes", "1"]
    assert reproduce.main([*args, "--plan"]) == 0
    assert "16 stages, 0 done; estimate" in capsys.readouterr().out
    assert not (tmp_path / "root").exists()  # --plan runs nothing
    assert reproduce.main(args) == 0
    text = page.read_text()
    for claim in ("The canvas helps at every step count | builtin",
                  "The canvas helps at every step count | pong",
                  "The motion-aware order helps at few steps | pong",
                  "The canvas guidance branch helps", "The temporal guidance branch helps",
                  "Next-2 is close to next-1", "Next-2 is at least 1.8x faster"):
        assert claim in text, claim
    assert "## How long each part took" in text and '"cpus"' in text
    assert (tmp_path / "docs" / "img" / "results-builtin-sweep.png").stat().st_size > 0
    assert (tmp_path / "docs" / "img" / "results-latency.png").stat().st_size > 0
    raw = tmp_path / "docs" / "results" / "reproduce"
    sweep = json.loads((raw / "pong" / "sweep-motion.json").read_text())
    assert {"model_steps_1", "model_steps_4", "copy_last"} <= set(sweep["results"])
    assert not (raw / "builtin" / "guidance-none.json").exists()  # the sweep's 4 steps
    assert "| none | " in text
    assert "fid" in sweep["results"]["model_steps_1"]
    latency = json.loads((raw / "builtin" / "latency.json").read_text())
    assert {r["model"] for r in latency["rows"]} == {"next-1", "next-2"}
    times = json.loads((tmp_path / "root" / "times.json").read_text())
    assert len(times) == 16

    # a later run on a fresh checkout (the builtin half's root gone, its copies beside the
    # page kept): the page still has the builtin claims, tables and times
    from results_page import write_page

    shutil.move(tmp_path / "root", tmp_path / "earlier")
    (tmp_path / "root" / "pong").mkdir(parents=True)
    shutil.copytree(tmp_path / "earlier" / "pong", tmp_path / "root" / "pong", dirs_exist_ok=True)
    (tmp_path / "root" / "machine.json").write_text('{"platform": "later"}')
    write_page(tmp_path / "root", page, scale="smoke")
    again = page.read_text()
    # each half with the machine that ran it
    assert 'Machine (pong): `{"platform": "later"}`' in again
    assert "Machine (builtin): " in again and '"cpus"' in again.split("Machine (builtin)")[1]
    assert "The canvas helps at every step count | builtin" in again
    assert "Next-2 is at least 1.8x faster" in again and "builtin: train canvasmar" in again
    shutil.rmtree(tmp_path / "root")
    shutil.move(tmp_path / "earlier", tmp_path / "root")

    # everything done: a second run only writes the page again
    capsys.readouterr()
    assert reproduce.main(args) == 0
    out = capsys.readouterr().out
    assert "16 stages, 16 done" in out and "==" not in out

    # a training killed after its step-3 checkpoint goes on from it
    run = tmp_path / "root" / "builtin" / "nocanvas"
    (run / "latest").write_text("step_00000003\n")
    shutil.rmtree(run / "checkpoints" / "step_00000004")
    assert reproduce.main(args) == 0
    out = capsys.readouterr().out
    assert "16 stages, 15 done" in out and "--resume" in out
    assert (run / "checkpoints" / "step_00000004").is_dir()


def test_a_branch_val_left_unguided_is_the_unguided_run_copied(tmp_path, monkeypatch):
    """When val chooses scale 1 for a branch (w_s = w_t = 1), scoring it again would repeat the
    motion sweep's 4-step run (same seed, clips, batches): its record is copied instead, and no
    evaluation runs. A branch with guidance still evaluates, with its scales."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import reproduce_steps

    import canvasmar.cli

    calls = []
    monkeypatch.setattr(canvasmar.cli, "main", lambda argv: calls.append(argv) or 0)
    choice, sweep = tmp_path / "choice.json", tmp_path / "sweep-motion.json"
    choice.write_text(json.dumps({"chosen": {"cfg_canvas": 1.5, "cfg_temporal": 1.0}}))
    sweep.write_text('{"results": {}}\n')
    for branch in ("temporal", "canvas"):
        argv = json.dumps(["eval", "--out", str(tmp_path / f"guidance-{branch}.json")])
        assert reproduce_steps.guidance(str(choice), branch, argv, str(sweep)) == 0
    assert (tmp_path / "guidance-temporal.json").read_text() == sweep.read_text()
    assert not (tmp_path / "guidance-canvas.json").exists()
    assert calls == [["eval", "--out", str(tmp_path / "guidance-canvas.json"),
                      "--cfg-canvas", "1.5", "--cfg-temporal", "1.0"]]
