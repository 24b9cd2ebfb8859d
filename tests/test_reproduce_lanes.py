"""scripts/reproduce_lanes.py: stages run several at a time, each after the stages it needs,
a timing stage alone, a failure stopping new starts, and the estimate of such a run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def lanes(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import reproduce_lanes

    return reproduce_lanes


@dataclass
class FakeStage:
    name: str
    needs: tuple[str, ...] = ()
    alone: bool = False
    estimate_s: float = 100.0
    outputs: tuple[Path, ...] = ()


class FakeRun:
    """A stage that ends after `polls` polls with `code`, logging who ran beside it."""

    def __init__(self, stage, log, polls, code, running):
        self.stage, self.log, self.left, self.code, self.running = stage, log, polls, code, running
        running.add(stage.name)
        log.append(("start", stage.name, frozenset(running)))

    def poll(self):
        self.left -= 1
        if self.left > 0:
            return None
        self.running.discard(self.stage.name)
        return self.code


def run(lanes, stages, lane_count, codes=None, done=None):
    log, running, ended = [], set(), []
    codes = codes or {}

    def launch(stage):
        assert set(stage.needs) <= {name for name, c in ended if c == 0} | (done or set())
        return FakeRun(stage, log, 2 if stage.name != "slow" else 6, codes.get(stage.name, 0),
                       running)

    code = lanes.schedule(stages, lane_count, launch,
                          lambda s, c, sec: ended.append((s.name, c)), done or set(), poll_s=0)
    return code, log, ended


def test_stages_start_after_their_needs_at_most_lanes_at_once(lanes):
    stages = [FakeStage("record"), FakeStage("slow", ("record",)),
              FakeStage("train", ("record",)), FakeStage("sweep", ("train",)),
              FakeStage("latency", ("train",), alone=True), FakeStage("other")]
    code, log, ended = run(lanes, stages, 2)
    assert code == 0 and sorted(n for n, _ in ended) == sorted(s.name for s in stages)
    starts = [name for kind, name, _ in log if kind == "start"]
    assert starts[:2] == ["record", "other"]  # plan order among the ready ones
    assert max(len(beside) for _, _, beside in log) == 2
    latency = next(beside for _, name, beside in log if name == "latency")
    assert latency == {"latency"}  # nothing beside the timing
    assert all("latency" not in beside for _, name, beside in log if name != "latency")


def test_a_failure_starts_nothing_new_and_is_returned(lanes):
    stages = [FakeStage("a"), FakeStage("b"), FakeStage("c", ("a",))]
    code, log, ended = run(lanes, stages, 2, codes={"a": 3})
    assert code == 3 and ("a", 3) in ended and ("b", 0) in ended
    assert "c" not in [name for _, name, _ in log]


def test_a_stage_whose_needs_are_not_in_the_run_is_an_error(lanes):
    with pytest.raises(SystemExit, match="need stages that are not in this run"):
        run(lanes, [FakeStage("sweep", ("train",))], 2)
    code, _, ended = run(lanes, [FakeStage("sweep", ("train",))], 2, done={"train"})
    assert code == 0 and ended == [("sweep", 0)]


def test_stages_stopped_part_way_start_first(lanes, tmp_path):
    """After a stop, the half-done evaluation, choice and training go before fresh stages
    (plan order otherwise)."""
    sweep, choice = tmp_path / "sweep-random.json", tmp_path / "choice.json"
    run_dir = tmp_path / "nocanvas"
    stages = [FakeStage("fresh", outputs=(tmp_path / "sweep-motion.json",)),
              FakeStage("eval", outputs=(sweep,)), FakeStage("choose", outputs=(choice,)),
              FakeStage("train", outputs=(run_dir / "checkpoints" / "step_00001200",)),
              FakeStage("also fresh", outputs=(tmp_path / "other.json",))]
    assert [s.name for s in lanes.resumed_first(stages)] == [s.name for s in stages]
    (tmp_path / "sweep-random.partial.pt").write_bytes(b"")
    (tmp_path / "choice.partial.json").write_text("{}")
    run_dir.mkdir()
    (run_dir / "latest").write_text("step_00000600\n")
    assert [s.name for s in lanes.resumed_first(stages)] == ["eval", "choose", "train", "fresh",
                                                              "also fresh"]


def test_the_estimate_overlaps_independent_stages(lanes):
    two = [FakeStage("a"), FakeStage("b")]
    assert lanes.makespan(two, 1, set()) == 200
    assert lanes.makespan(two, 2, set()) == 100 * lanes.LANE_SLOWDOWN
    chain = [FakeStage("a"), FakeStage("b", ("a",)), FakeStage("t", ("a",), alone=True)]
    assert lanes.makespan(chain, 2, set()) == 100 * lanes.LANE_SLOWDOWN * 2 + 100


def test_the_estimate_is_scaled_to_this_machine(tmp_path, monkeypatch, capsys):
    """The costs are a reference machine's; a CPU half as fast (by the matmul probe) gets an
    estimate twice as long, and a GPU run is not probed at all."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import reproduce
    import reproduce_estimate

    args = ["--scale", "cpu", "--only", "pong", "--root", str(tmp_path / "root"),
            "--pong-data", str(tmp_path / "pong"), "--lanes", "1", "--plan"]

    def minutes(gflops: float) -> list[int]:
        monkeypatch.setattr(reproduce_estimate, "speed_probe", lambda: gflops)
        assert reproduce.main(args) == 0
        out = capsys.readouterr().out
        assert f"{gflops:.0f} GFLOP/s per thread" in out
        return [int(line.split("~")[1].split()[0]) for line in out.splitlines() if "~" in line]

    reference = minutes(reproduce_estimate.REFERENCE_GFLOPS)
    slower = minutes(reproduce_estimate.REFERENCE_GFLOPS / 2)
    assert len(reference) == 7
    assert all(abs(b - 2 * a) <= 1 for a, b in zip(reference, slower, strict=True))
    monkeypatch.setattr(reproduce_estimate, "speed_probe", lambda: 1 / 0)
    assert reproduce_estimate.machine_factor("cuda")[0] == 1.0  # a GPU is not probed


def test_the_speed_probe_measures_one_thread(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import reproduce_estimate
    import torch

    threads = torch.get_num_threads()
    assert 1 < reproduce_estimate.speed_probe() < 10_000  # GFLOP/s
    assert torch.get_num_threads() == threads


@pytest.mark.slow
def test_reproduce_runs_a_stage_in_its_own_process(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ale_py", reason="the atari extra (make setup installs it)")
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import reproduce

    args = ["--scale", "smoke", "--only", "pong", "--root", str(tmp_path / "root"),
            "--pong-data", str(tmp_path / "pong"), "--page", str(tmp_path / "results.md"),
            "--lanes", "2", "--stage", "pong: record episodes"]
    assert reproduce.main(args) == 0
    out = capsys.readouterr().out
    assert "2 lane(s)" in out and "pong: record episodes: done in" in out
    assert all((tmp_path / "pong" / split).is_dir() for split in ("train", "val", "test"))
    assert "wrote 2 episodes" in (tmp_path / "root" / "logs" / "pong-record-episodes.log"
                                  ).read_text()
    times = json.loads((tmp_path / "root" / "times.json").read_text())
    assert list(times) == ["pong: record episodes"]
    assert "stages at once" in (tmp_path / "root" / "machine.json").read_text()
    with pytest.raises(SystemExit, match="no stage named"):
        reproduce.main([*args[:-1], "pong: nothing"])


def test_calibrate_measures_every_cost_it_reports(monkeypatch):
    """`reproduce_estimate.py --calibrate` (how the cpu scale's costs were measured), on micro
    models with a stand-in Inception: every cost is measured and positive."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import reproduce
    import reproduce_estimate
    import torch

    import canvasmar.metrics.frames

    def stand_in_inception(device="cpu", path=None):
        return lambda images: images.float().mean((2, 3))

    monkeypatch.setattr(reproduce.CPU, "model", {"builtin": [*reproduce.MICRO,
                                                              "data.frames=4"]})
    monkeypatch.setattr(canvasmar.metrics.frames, "load_fid_inception", stand_in_inception)
    threads = torch.get_num_threads()
    costs = reproduce_estimate.calibrate(["builtin"], batch=2, frames=1)
    assert torch.get_num_threads() == threads
    assert set(costs["builtin"]) == {"s_per_train_step", "ms_per_frame", "ms_per_frame_step"}
    assert costs["builtin"]["s_per_train_step"] > 0 and costs["builtin"]["ms_per_frame"] > 0
    assert costs["ms_per_fid_frame"] > 0 and costs["probe_gflops_per_thread"] > 0



def test_the_results_page_refuses_a_root_that_is_not_there(monkeypatch, tmp_path, capsys):
    """`results_page.py --help` once wrote the page from a root named '--help'."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import results_page

    page = tmp_path / "results.md"
    assert results_page.main([str(tmp_path / "nowhere"), str(page)]) == 2
    assert "is not a folder" in capsys.readouterr().err and not page.exists()
    with pytest.raises(SystemExit):
        results_page.main(["--help"])
    assert not page.exists()
