"""When a run stops early: a signal (preemption), a time limit, or non-finite losses.

SIGTERM (what SLURM and Kubernetes send before killing) and a first Ctrl-C only raise a
flag; the loop finishes the step, writes a checkpoint and exits, so `--resume` continues
from there. A second Ctrl-C interrupts at once. SIGKILL cannot be caught: then the last
periodic checkpoint (written atomically) is where `--resume` starts.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from canvasmar.errors import UserError


class StopRequest:
    def __init__(self, time_limit_min: float = 0.0) -> None:
        self.reason: str | None = None
        self.deadline = time.monotonic() + 60 * time_limit_min if time_limit_min > 0 else None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only (e.g. under a web server)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.reason is not None:
            raise KeyboardInterrupt  # second Ctrl-C: stop now
        self.reason = signal.Signals(signum).name

    def requested(self) -> bool:
        """A signal arrived or the time limit passed (checked once per step)."""
        if self.reason is None and self.deadline is not None and time.monotonic() > self.deadline:
            self.reason = "train.time_limit_min"
        return self.reason is not None


class NonfiniteGuard:
    """Counts steps whose loss or gradient norm is NaN/Inf; too many in a row is an error."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_a_row, self.total = limit, 0, 0

    def check(self, finite: bool) -> bool:
        """True if the step may be applied; counts the bad ones."""
        if finite:
            self.in_a_row = 0
            return True
        self.in_a_row += 1
        self.total += 1
        return False

    def raise_if_exhausted(self, step: int) -> None:
        if self.limit > 0 and self.in_a_row >= self.limit:
            raise UserError(f"{self.in_a_row} training steps in a row up to step {step} had a "
                            f"non-finite loss or gradient; lower train.lr, check the data, or "
                            f"resume from an earlier checkpoint")
