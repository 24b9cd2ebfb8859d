"""A training process killed with SIGKILL again and again at chosen moments, each time
restarted with the same command plus --resume, then left to finish (tests/test_preemption.py).

The moments are events in the run folder, watched every millisecond, so that they mean the
same on a fast and on a busy machine:
    import   a random delay after the start, while Python imports (before the run lock);
    locked   just after the process wrote its PID into OUT/.lock (folder checks, model build,
             resume loading; before the first checkpoint if there is none yet);
    write    as soon as a `.tmp_step_*` folder of this process appears: during a checkpoint
             write (it is renamed into place some 20 ms later);
    row      0-30 ms after this process logged a step in metrics.jsonl (with save_every=1 the
             checkpoint of that step is written then);
    step     30-250 ms after a logged step (inside the next training step, or its checkpoint).
A trailing number n (`write2`, `row2`) waits for the process's n-th checkpoint write or logged
step, so that kills also land later in the run (after checkpoints were pruned, keep_last).
Whether a kill landed inside a checkpoint write is not guessed from the timing: it did if a
`.tmp_step_*` folder that this process created is still there once it is dead.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# wall-clock entries of a metrics row (they differ between runs; everything else must not)
TIMING = ("sec_per_step", "clips_per_sec", "gpu_peak_gib", "tflops_per_s", "mfu")
# entries of the first row each process logs (a resumed series has more such rows)
PER_PROCESS = ("versions",)
POLL = 0.001  # seconds between looks at the run folder


def default_env() -> dict[str, str]:
    """The caller's environment without thread settings: torch picks its own thread count,
    as in a user's shell."""
    return {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def train_command(out: Path, overrides: list[str], resume: bool = False) -> list[str]:
    return [sys.executable, "-m", "canvasmar.cli", "train", "tiny", "--out", str(out),
            "--no-progress", *overrides, *(["--resume"] if resume else [])]


def run_to_end(out: Path, overrides: list[str], resume: bool = False,
               timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(train_command(out, overrides, resume), env=default_env(),
                          capture_output=True, text=True, timeout=timeout)


def metric_rows(out: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock and per-process entries."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING + PER_PROCESS} for row in rows]


def _latest(out: Path) -> str:
    try:
        return (out / "latest").read_text().strip()
    except FileNotFoundError:
        return ""


def _tmp_folders(out: Path) -> set[tuple[str, int, int]]:
    """(name, inode, ctime) of each checkpoints/.tmp_step_* folder."""
    found = set()
    try:
        entries = list(os.scandir(out / "checkpoints"))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(".tmp_step_"):
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # renamed into place meanwhile
                continue
            found.add((entry.name, st.st_ino, st.st_ctime_ns))
    return found


class Watch:
    """Tells what one process wrote in `out` from what was there when it started."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp_before = _tmp_folders(out)
        self._tmp_seen: set[str] = set()
        latest = _latest(out)
        self.start_step = int(latest.removeprefix("step_")) if latest else 0
        self.metrics_before = self._metrics_state()
        self._seen = self.metrics_before

    def _metrics_state(self) -> tuple[int, int, int] | None:
        try:
            st = (self.out / "metrics.jsonl").stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def new_tmp(self, nth: int = 1) -> bool:
        """This process has begun its `nth` checkpoint write."""
        self._tmp_seen |= {name for name, *_ in _tmp_folders(self.out) - self.tmp_before}
        return len(self._tmp_seen) >= nth

    def locked(self, pid: int) -> bool:
        try:
            return (self.out / ".lock").read_text().split(" ")[0] == str(pid)
        except (FileNotFoundError, IndexError):
            return False

    def new_row(self, nth: int = 1) -> bool:
        """A step row logged by this process. Before logging, a resumed run rewrites
        metrics.jsonl without the rows after its checkpoint and a fresh one starts a new file,
        so once the file differs from what was there at the start, a row past the starting
        checkpoint is this process's, never one left by an earlier, killed process."""
        state = self._metrics_state()
        if state is None or state == self._seen:
            return False
        self._seen = state
        try:
            lines = (self.out / "metrics.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return False
        return any(json.loads(x)["step"] >= self.start_step + nth
                   for x in lines if x.endswith("}"))


@dataclass
class Process:
    """One `train --resume` of the series."""

    kind: str  # the moment it was to be killed at ("final": left to finish)
    pid: int
    code: int  # -SIGKILL if killed
    seconds: float
    stderr: str
    latest_after: str  # `latest` once it ended ("" if no checkpoint yet)
    during_write: bool  # it left a .tmp_step_* folder of its own behind
    lock_left: bool  # OUT/.lock still named it (it had taken the lock when it was killed)

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


@dataclass
class Series:
    processes: list[Process] = field(default_factory=list)  # the last one: the final run

    @property
    def kills(self) -> list[Process]:
        return [p for p in self.processes if p.killed]

    @property
    def during_writes(self) -> int:
        return sum(p.during_write for p in self.kills)

    @property
    def before_first_checkpoint(self) -> int:
        return sum(not p.latest_after for p in self.kills)

    def takeovers(self) -> list[tuple[int, str]]:
        """(PID of a killed process that held the lock, stderr of the process that must have
        taken the lock over from it): the next one that got past its folder checks (killed
        after a logged step or a checkpoint write, or not killed). Processes killed in
        between either never took the lock (`import`) or took it over themselves."""
        expected, stale = [], None
        for p in self.processes:
            if p.kind[0] in "wrsf" or not p.killed:  # write, row, step, final
                if stale is not None:
                    expected.append((stale, p.stderr))
                stale = None
            if p.lock_left:
                stale = p.pid
        return expected

    def summary(self) -> str:
        kills = " ".join(f"{p.kind}{'*' if p.during_write else ''}@{p.latest_after or '-'}"
                         .replace("step_000000", "") for p in self.kills)
        return (f"{len(self.kills)} kills ({self.during_writes} inside a checkpoint write *, "
                f"@ the latest checkpoint after it): {kills}; seconds per process: "
                + " ".join(f"{p.seconds:.1f}" for p in self.processes))


def _trigger(kind: str, rng: random.Random, proc: subprocess.Popen, watch: Watch,
             timeout: float) -> bool:
    """Wait for the moment of `kind` (a trailing number n: the process's n-th checkpoint write
    or logged step, e.g. `write2`); False if the process ended first."""
    name, nth = kind.rstrip("0123456789"), int(kind[len(kind.rstrip("0123456789")):] or 1)
    start = time.monotonic()
    delay = {"import": rng.uniform(0.05, 0.8), "locked": rng.uniform(0.0, 0.1),
             "write": 0.0, "row": rng.uniform(0.0, 0.03), "step": rng.uniform(0.03, 0.25)}[name]
    event = {"import": lambda: True, "locked": lambda: watch.locked(proc.pid),
             "write": lambda: watch.new_tmp(nth), "row": lambda: watch.new_row(nth),
             "step": lambda: watch.new_row(nth)}[name]
    if name == "import":
        delay, seen = 0.0, time.monotonic() + delay  # the delay counts from the start
    else:
        seen = None
    while proc.poll() is None:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"no '{kind}' moment within {timeout} s")
        if seen is None and event():
            seen = time.monotonic()
        if seen is not None and time.monotonic() >= seen + delay:
            return proc.poll() is None
        time.sleep(POLL)
    return False


def kill_series(out: Path, overrides: list[str], final_step: int, seed: int,
                kinds: list[str], min_kills: int = 10, min_writes: int = 2,
                max_kills: int = 20, timeout: float = 300) -> Series:
    """Start `train --resume` into `out` and kill it at the moments `kinds` (in order); then,
    while fewer than `min_kills` kills or `min_writes` kills inside a checkpoint write landed
    (at most `max_kills` kills), go on with `write` kills; finally let a run finish."""
    rng = random.Random(seed)
    series = Series()
    plan = list(kinds)
    while True:
        if plan:
            kind = plan.pop(0)
        elif (len(series.kills) < min_kills or series.during_writes < min_writes) \
                and len(series.kills) < max_kills:
            kind = "write"
        else:
            kind = "final"
        if _latest(out) == f"step_{final_step:08d}" and kind[0] in "wrs":
            kind = rng.choice(["import", "locked"])  # finished: only the restart is left to hit
        watch, began = Watch(out), time.monotonic()
        log = out.parent / f"{out.name}.stderr"
        with open(log, "w") as err:
            proc = subprocess.Popen(train_command(out, overrides, resume=True),
                                    env=default_env(), stdout=subprocess.DEVNULL, stderr=err)
            try:
                if kind != "final" and _trigger(kind, rng, proc, watch, timeout):
                    proc.send_signal(signal.SIGKILL)
                code = proc.wait(timeout=timeout)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        lock = (out / ".lock").read_text() if (out / ".lock").is_file() else ""
        series.processes.append(Process(
            kind, proc.pid, code, time.monotonic() - began, log.read_text(), _latest(out),
            bool(_tmp_folders(out) - watch.tmp_before), lock.split(" ")[0] == str(proc.pid)))
        if kind == "final":
            return series
