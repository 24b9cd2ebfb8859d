"""The training skeleton shared by `canvasmar train` and `canvasmar vae train`.

In the manner of torchtitan's Trainer: the loop owns what every run does the same way, and a
task (train/loop.py for CanvasMAR, train/vae.py for the VAE) owns what differs. Per step:

    lr schedule -> task.train_step (forward, backward, grad norm: a metrics row, finite?)
    -> NonfiniteGuard (task.apply_update only if finite) -> zero grads -> RunLog row + bar
    -> validate every train.eval_every and at the end
    -> checkpoint every train.save_every, at the end, and when stopping
    -> StopRequest (SIGTERM / SIGINT / train.time_limit_min): checkpoint, "continue with --resume"

Once the bar reaches train.steps it closes, and each of the final validation, the final
checkpoint and the task's `finish` is announced on stderr first: they can take minutes
(previews, latent statistics) that would otherwise pass in silence. `quiet` drops those notes
and the per-validation lines; stops, skipped steps and errors are always said.

The run folder (check, init, resume point, checkpoint writing) is train/run_folder.py.

Determinism: all randomness of step s comes from `step_generator(seed, s)` and the batch of
step s is a pure function of (seed, s) (data/sampling.py), so a resumed run continues the
exact loss curve of an uninterrupted one, with nothing but the checkpoint to restore.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from canvasmar.config import TrainConfig
from canvasmar.peak import matmul_peak, precision_dtype
from canvasmar.train import dist
from canvasmar.train.observe import RunLog
from canvasmar.train.optim import learning_rate, set_learning_rate
from canvasmar.train.run_folder import ResumePoint, RunFolder
from canvasmar.train.stopping import NonfiniteGuard, StopRequest


def step_generator(seed: int, step: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of all of step `step`'s randomness (a pure function of seed and step)."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + step + 17)


@dataclass
class Progress:
    """Where a run stands: optimizer steps done and seconds spent in them (across resumes)."""

    step: int = 0
    train_seconds: float = 0.0


@dataclass
class StepOutcome:
    """What a task's train_step measured: the metrics row entries, whether every loss and the
    gradient norm are finite (else the update is skipped), and whether to stop after the step
    (already agreed by all processes)."""

    row: dict[str, Any]
    finite: bool
    stop: bool


@dataclass
class CheckpointParts:
    """A task's share of a checkpoint (full, unsharded tensors; only the main process's are
    written). `state` joins {"step", "train_seconds"} in train_state.pt."""

    weights: dict[str, torch.Tensor]
    state: dict = field(default_factory=dict)
    ema: dict[str, torch.Tensor] | None = None


@dataclass
class RunOutcome:
    progress: Progress
    val: dict[str, float]  # the last step's validation; {} if the last step was not evaluated
    last_val: dict[str, float]  # this run's latest validation, whichever step it was
    completed: bool  # reached train.steps (False: stopped by a signal or the time limit)
    checkpoint: Path | None  # the last checkpoint written (main process)


class TrainTask(Protocol):
    """One kind of training, as the Trainer drives it. A task may also set `flops_per_clip`
    (training FLOPs of one clip, forward + backward) to have MFU logged."""

    name: str  # progress-bar label
    # Optional, for the notes after the last step: `validating: str`, what `validate` does
    # ("validation"); `finishing: str`, what `finish` does ("writing the final outputs").
    cfg: Any  # the run config, saved in each checkpoint
    optimizers: list[torch.optim.Optimizer]  # the lr schedule and zero_grad apply to all

    def train_step(self, step: int, stop_requested: Callable[[], bool]) -> StepOutcome:
        """Forward and backward of step `step` (0-based); poll stop_requested once."""

    def apply_update(self, step: int) -> None:
        """The optimizer step(s) (and EMA) of a finite step."""

    def validate(self, progress: Progress, log: RunLog) -> dict[str, float]:
        """Held-out metrics (may write previews / images); {} on non-main processes."""

    def describe(self, progress: Progress, val: dict[str, float]) -> str:
        """One line for the progress bar about a validation."""

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        """What the progress bar shows of a step's row."""

    def checkpoint(self, progress: Progress) -> CheckpointParts:
        """Weights and state to save (a collective in distributed runs: every process calls)."""

    def finish(self, outcome: RunOutcome) -> Any:
        """After the loop (log and bar closed): final artefacts; the return value of train."""


class StepClock:
    """Time of each training step; what happens between steps (validation, saving) is not
    counted, so sec_per_step and clips_per_sec measure training alone.

    With `flops_per_clip` (models/flops.py: analytic, forward + backward) and `peak_flops`
    (peak.py: the matmul peak of all the run's devices together), each row also carries
    tflops_per_s and mfu: arithmetic on the wall time, no device sync of its own."""

    def __init__(self, clips_per_step: int, device: torch.device,
                 flops_per_clip: float | None = None, peak_flops: float | None = None,
                 peak: Callable[[], float] | None = None) -> None:
        self.clips, self.device = clips_per_step, device
        self.flops_per_step = flops_per_clip * clips_per_step if flops_per_clip else None
        self.peak_flops, self.peak = peak_flops, peak
        self.restart()

    def refresh_peak(self) -> None:
        """Time the matmul peak again and keep the best (between steps, e.g. after a
        validation): one timing can read low while the machine is busy elsewhere, which would
        show an MFU above 100% (seen on our shared CPUs)."""
        if self.peak is not None:
            self.peak_flops = self.peak()

    def restart(self) -> None:
        self.last = time.perf_counter()

    def lap(self) -> dict[str, float]:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        rate = 1 / max(seconds, 1e-9)
        row = {"sec_per_step": seconds, "clips_per_sec": self.clips * rate}
        if self.flops_per_step:
            row["tflops_per_s"] = self.flops_per_step * rate / 1e12
            if self.peak_flops:
                row["mfu"] = self.flops_per_step * rate / self.peak_flops
        if self.device.type == "cuda":
            row["gpu_peak_gib"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        return row


def step_clock(task: TrainTask, tc: TrainConfig, ctx: dist.DistContext) -> StepClock:
    """The run's StepClock; MFU for a task that sets `flops_per_clip` (CanvasMAR does, the
    VAE does not), against the matmul peak in the run's precision times the processes."""
    flops = getattr(task, "flops_per_clip", None)
    if not flops:
        return StepClock(tc.batch_size, ctx.device)

    def peak(remeasure: bool = True) -> float:
        return ctx.world * matmul_peak(ctx.device, precision_dtype(tc.precision), remeasure)

    return StepClock(tc.batch_size, ctx.device, flops, peak(remeasure=False), peak)


class Trainer:
    """The loop: one `task` trained from `start` (a resume point, or None) to train.steps."""

    def __init__(self, task: TrainTask, folder: RunFolder, tc: TrainConfig,
                 ctx: dist.DistContext, start: ResumePoint | None, progress_bar: bool,
                 quiet: bool = False) -> None:
        self.task, self.folder, self.tc, self.ctx = task, folder, tc, ctx
        self.quiet = quiet
        self.progress = Progress(start.step, start.train_seconds) if start else Progress()
        self.guard = NonfiniteGuard(tc.max_nonfinite)
        self.stop = StopRequest(tc.time_limit_min)
        self.log = RunLog(folder.out, ctx.is_main, tc.tensorboard)
        self.bar = tqdm(total=tc.steps, initial=self.progress.step, desc=task.name,
                        disable=quiet or not (progress_bar and ctx.is_main),
                        dynamic_ncols=True)
        self.clock = step_clock(task, tc, ctx)
        self.last_checkpoint: Path | None = start.path if start else None

    def run(self) -> Any:
        val: dict[str, float] = {}
        last_val: dict[str, float] = {}
        if self.progress.step >= self.tc.steps:  # resumed after the end (killed while finishing)
            return self.finish_again()
        try:
            with self.stop:
                self.clock.restart()
                while self.progress.step < self.tc.steps:
                    stopping = self.train_one_step()
                    val = self.maybe_validate()
                    last_val = val or last_val
                    self.maybe_save(stopping)
                    self.clock.restart()
                    if stopping:
                        self.bar.write(f"stopped at step {self.progress.step} "
                                       f"({self.stop.reason or 'another process'}); "
                                       f"checkpoint written: continue with --resume")
                        break
        finally:
            self.bar.close()
            self.log.close()
        done = self.progress.step >= self.tc.steps
        if done:
            self.note(f"{getattr(self.task, 'finishing', 'writing the final outputs')}...")
        return self.task.finish(RunOutcome(self.progress, val, last_val, done,
                                           self.last_checkpoint))

    def note(self, message: str) -> None:
        """Say what the run is doing (stderr, main process), unless quiet."""
        if self.ctx.is_main and not self.quiet:
            tqdm.write(message, file=sys.stderr)

    def final(self, what: str) -> None:
        """At train.steps: close the bar (it has reached 100%) and announce `what`."""
        if self.progress.step == self.tc.steps:
            self.bar.close()
            self.note(f"{what}...")

    def finish_again(self) -> Any:
        """A run resumed at or past train.steps: nothing to train, but the final artefacts
        (previews, latent statistics) may be missing if the run was killed while writing them,
        so validate the final weights again (not logged twice) and finish."""
        self.bar.close()
        self.log.close()
        self.note(f"note: the run already reached step {self.progress.step} (train.steps="
                  f"{self.tc.steps}); writing its final outputs again. Raise train.steps to "
                  f"train further")
        val = self.task.validate(self.progress, RunLog(self.folder.out, False, False))
        return self.task.finish(RunOutcome(self.progress, val, val, True, self.last_checkpoint))

    def train_one_step(self) -> bool:
        """One optimizer step (or a skipped one), logged; True if the run is to stop."""
        step = self.progress.step
        lr = learning_rate(step, self.tc)
        for optimizer in self.task.optimizers:
            set_learning_rate(optimizer, lr)
        outcome = self.task.train_step(step, self.stop.requested)
        row = {"step": step + 1, "lr": lr, **outcome.row}
        if self.guard.check(outcome.finite):
            self.task.apply_update(step)
        else:
            row["skipped"] = "non-finite loss or gradient"
            self.bar.write(f"step {step + 1}: non-finite loss or gradient, update skipped "
                           f"({self.guard.in_a_row} in a row)")
        for optimizer in self.task.optimizers:
            optimizer.zero_grad(set_to_none=True)
        row |= self.clock.lap()
        self.progress.step += 1
        self.progress.train_seconds += row["sec_per_step"]
        self.log.row(row)
        self.guard.raise_if_exhausted(step + 1)
        self.bar.set_postfix(self.task.postfix(row))
        self.bar.update(1)
        return outcome.stop

    def maybe_validate(self) -> dict[str, float]:
        """Validation every train.eval_every steps and after the last; {} otherwise."""
        done = self.progress.step
        if done % self.tc.eval_every and done != self.tc.steps:
            return {}
        self.final(f"final {getattr(self.task, 'validating', 'validation')}")
        val = self.task.validate(self.progress, self.log)
        self.clock.refresh_peak()
        self.log.row({"step": done, **val}, group="val")
        if val and not self.quiet:
            self.bar.write(self.task.describe(self.progress, val))
        return val

    def maybe_save(self, stopping: bool) -> None:
        """A checkpoint every train.save_every steps, after the last, and when stopping."""
        done = self.progress.step
        if done % self.tc.save_every and done != self.tc.steps and not stopping:
            return
        self.final(f"saving the final checkpoint (step {done})")
        parts = self.task.checkpoint(self.progress)
        if self.ctx.is_main:
            state = {"step": done, "train_seconds": self.progress.train_seconds, **parts.state}
            self.last_checkpoint = self.folder.save(done, parts.weights, self.task.cfg, state,
                                                    self.tc.keep_last, parts.ema)
        dist.barrier(self.ctx)


def run_training(build_task: Callable[[ResumePoint | None], TrainTask], folder: RunFolder,
                 cfg: Any, resume: bool, force: bool, progress_bar: bool,
                 ctx: dist.DistContext | None = None, quiet: bool = False) -> Any:
    """Check / lock / start / resume the run folder, seed, build the task, train it.

    `cfg.train` is the TrainConfig; every process calls this (the folder is written and locked
    by the main one). `quiet`: no bar and no notes (Trainer). Returns the task's `finish`
    value."""
    ctx = ctx or dist.DistContext()
    folder.check(cfg, resume, force, notices=False)  # fail before creating anything
    with folder.locked(ctx.is_main), deterministic_kernels(ctx.device):
        start = folder.prepare(cfg, resume, force, ctx, notices=not quiet)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        torch.manual_seed(cfg.train.seed)  # the same initial weights in every process
        task = build_task(start)
        if start is None:
            folder.start_fresh(cfg, ctx)
        return Trainer(task, folder, cfg.train, ctx, start, progress_bar, quiet).run()


@contextmanager
def deterministic_kernels(device: torch.device) -> Iterator[None]:
    """On the CPU, torch's deterministic kernels for the run: with more than one thread,
    index_put_ with accumulate=True (the backward of the expert LayerNorm's per-token gather,
    nn/blocks.py) otherwise adds in parallel with atomics, so two runs with the same seed
    differed in the last bits (measured on 2 threads, micro config, 4 steps: 5 of 114 weight
    tensors, the spatial MAR's expert-norm biases; 0 with this on). GPUs keep torch's defaults
    (deterministic CUDA kernels cost speed and need CUBLAS settings)."""
    if device.type != "cpu":
        yield
        return
    import torch.utils.deterministic

    before = (torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.utils.deterministic.fill_uninitialized_memory)
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # no NaN-filling cost
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.utils.deterministic.fill_uninitialized_memory = before[2]
