"""Run scripts/reproduce.py's stages several at a time ("lanes"), each in its own process.

On our 2-core CPUs the tiny models use two threads poorly: two stages side by side on one
thread each finished the builtin half in far less time than one stage after another on two
(session 25 ran it that way by hand). A stage starts when the stages it needs are done
(`Stage.needs`: a sweep needs its model trained, the guidance stage the motion sweep); each
runs as `python scripts/reproduce.py ... --stage NAME` with OMP_NUM_THREADS set to its share of
the cores, its output in ROOT/logs/, and its wall time recorded by this process alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

# A stage on one thread beside another takes this many times its estimate on two threads
# alone (the estimates are for two threads). Measured in session 25's builtin half: 1.2x for
# the trainings; evaluations scale worse, so the estimate takes a round 1.5. Machines differ:
# on session 27's the Pong trainings took ~2.3x (5.0 s a step in a lane, against 2.4 s on two
# threads alone on a machine of the same probe speed, reproduce_estimate.py), where two lanes
# gain nothing over one; the estimate keeps 1.5 and says it is good to ~1.5x.
LANE_SLOWDOWN = 1.5


class Running(Protocol):
    def poll(self) -> int | None: ...


def ready(stage, done: set[str], started: set[str], running: int) -> bool:
    """Its needs are done, and it would not run beside a stage that must run alone."""
    return (stage.name not in started and all(n in done for n in stage.needs)
            and not (stage.alone and running))


def schedule(todo: list, lanes: int, launch: Callable[[object], Running],
             finished: Callable[[object, int, float], None], done: set[str],
             poll_s: float = 5.0) -> int:
    """Start each stage of `todo` (in plan order) once its needs are in `done`, at most
    `lanes` at once; call `finished(stage, code, seconds)` as each ends. After a failure no new
    stage starts; the running ones finish. Returns the first failing exit code, or 0."""
    running: dict[str, tuple[object, Running, float]] = {}
    started: set[str] = set()
    failed = 0
    while True:
        for name, (stage, proc, start) in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            del running[name]
            finished(stage, code, time.monotonic() - start)
            if code == 0:
                done.add(name)
            failed = failed or code
        alone = any(stage.alone for stage, _, _ in running.values())
        if not failed and not alone:
            for stage in todo:
                if len(running) < lanes and ready(stage, done, started, len(running)):
                    started.add(stage.name)
                    running[stage.name] = (stage, launch(stage), time.monotonic())
                    if stage.alone:
                        break
        if not running:
            stuck = [s.name for s in todo if s.name not in done]
            if stuck and not failed:
                raise SystemExit(f"error: stages {stuck} need stages that are not in this "
                                 "run; run them too (drop --stage) or run them first")
            return failed
        time.sleep(poll_s)


def resumed_first(todo: list) -> list:
    """`todo` with the stages that were stopped part-way first (plan order otherwise): an
    evaluation's `.partial.pt`, a choice's `.partial.json` or a training's `latest` beside
    its outputs. Resuming after a stop, the half-done work finishes before new work starts
    (session 28 restarted two sweeps and began the random one before the half-done one)."""
    def part_done(stage) -> bool:
        for out in stage.outputs:
            out = Path(out)
            if any(out.parent.glob(f"{out.stem}.partial.*")):
                return True
            if out.parent.name == "checkpoints" and (out.parent.parent / "latest").exists():
                return True
        return False

    return sorted(todo, key=lambda stage: not part_done(stage))


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def launcher(script: Path, argv: list[str], root: Path, threads: int
             ) -> Callable[[object], Running]:
    """Start `python script ARGV --stage NAME --lanes 1` with `threads` torch threads, its
    output to ROOT/logs/<stage>.log (printed where to find it)."""
    logs = root / "logs"

    def launch(stage) -> Running:
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{slug(stage.name)}.log"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        print(f"== {stage.name}: started {time.strftime('%H:%M:%S')} on {threads} thread(s), "
              f"log {log}", flush=True)
        with open(log, "a") as out:
            return subprocess.Popen([sys.executable, str(script), *argv, "--stage", stage.name,
                                     "--lanes", "1"], stdout=out, stderr=subprocess.STDOUT,
                                    env=env)

    return launch


def makespan(todo: list, lanes: int, done: set[str]) -> float:
    """Estimated seconds of the whole run at `lanes`: the schedule above, simulated with each
    stage's estimate, LANE_SLOWDOWN times longer when it shares the machine."""
    if lanes <= 1:
        return sum(s.estimate_s for s in todo)
    now, finished, started = 0.0, set(done), set()
    running: list[tuple[float, str, bool]] = []  # (ends at, name, alone)
    while True:
        for stage in todo:
            if any(alone for _, _, alone in running) or len(running) >= lanes:
                break
            if ready(stage, finished, started, len(running)):
                started.add(stage.name)
                slowdown = 1.0 if stage.alone else LANE_SLOWDOWN
                running.append((now + stage.estimate_s * slowdown, stage.name, stage.alone))
        if not running:
            return now
        running.sort()
        now, name, _ = running.pop(0)
        finished.add(name)
