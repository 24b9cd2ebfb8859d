"""Config fields and range checks: `setting` declares a field with its help line; each check
raises one UserError naming the key, its value and the allowed range, so a NaN, a negative
rate or a probability above 1 never reaches a run."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import field
from typing import Any

from canvasmar.errors import UserError


def setting(default, text: str, **more) -> Any:
    """A config field: its default and one line saying what it means, shown by `canvasmar
    config show` (tests/test_cli_basics.py holds every key to having one); the `sample`/`eval`
    flags are generated from SampleConfig's (canvasmar/cli/common.py)."""
    return field(default=default, metadata={"help": text, **more})


def finite(key: str, value: float) -> None:
    if not math.isfinite(value):
        raise UserError(f"{key}={value} must be a finite number")


def at_least(key: str, value: float, low: float, why: str = "") -> None:
    finite(key, value)
    if value < low:
        raise UserError(f"{key}={value} must be at least {low}{why}")


def positive(key: str, value: float) -> None:
    finite(key, value)
    if value <= 0:
        raise UserError(f"{key}={value} must be greater than 0")


def in_range(key: str, value: float, low: float, high: float, *, high_open: bool = False
             ) -> None:
    """low <= value <= high (value < high when `high_open`)."""
    finite(key, value)
    if value < low or value > high or (high_open and value == high):
        raise UserError(f"{key}={value} must be in [{low}, {high}{')' if high_open else ']'}")


def one_of(key: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise UserError(f"{key}={value!r}: use one of {', '.join(map(str, choices))}")


def all_at_least(section: str, obj: Any, names: Iterable[str], low: int) -> None:
    for name in names:
        at_least(f"{section}.{name}", getattr(obj, name), low)


def check_group_frames(group: int, latent: int, frames: int) -> None:
    """A training clip of `latent` latent frames (from data.frames=`frames`) splits into
    groups of model.group frames (App. B: every group of a clip is a target), or UserError."""
    if latent % group:
        hint = (f"use data.frames={-(-frames // group) * group}" if latent == frames else
                "choose data.frames so that the latent frame count is a multiple")
        raise UserError(f"data.frames={frames} gives {latent} latent frames per clip, not a "
                        f"multiple of model.group={group}: {hint} (each clip trains on "
                        f"{group}-frame groups)")


def check_across_sections(run: Any) -> None:
    """The settings of a RunConfig that must agree across its sections: the frame size
    against the patches, and what a loss setting needs of the model."""
    res, tp, mp = run.data.resolution, run.tokenizer.patch, run.model.temporal_patch
    if res % tp:
        raise UserError(f"data.resolution={res} is not divisible by tokenizer.patch={tp}: "
                        f"choose a resolution that is a multiple of {tp}")
    if (res // tp) % mp:
        raise UserError(f"the latent grid {res // tp}x{res // tp} is not divisible by "
                        f"model.temporal_patch={mp}: use a resolution that is a multiple "
                        f"of {tp * mp}")
    if run.model.history_noise_input and not run.loss.history_noise_max:
        raise UserError("model.history_noise_input=true needs loss.history_noise_max > 0 "
                        "(e.g. 0.3): without noise in training its level embedding learns "
                        "nothing")
    if not run.loss.mar_weight and not run.model.canvas:
        raise UserError("loss.mar_weight=0 leaves nothing to train in a model without a "
                        "canvas (model.canvas=false): set loss.mar_weight above 0")
    if run.loss.own_history and run.model.group > 1:
        raise UserError(f"loss.own_history draws one frame at a time; a model.group="
                        f"{run.model.group} model draws groups: use loss.own_history=0 or "
                        f"model.group=1")
