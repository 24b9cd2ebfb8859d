"""Checkpoints: safetensors weights + the full config as JSON + training state, atomically.

Layout of a run directory:
    DIR/config.json                     the run's config (also inside every checkpoint), with
                                        its format_version (config/loading.py)
    DIR/metrics.jsonl                   one JSON line per logged step / evaluation
    DIR/checkpoints/step_00000500/      model.safetensors, ema.safetensors (EMA weights, if
                                        train.ema_decay > 0), config.json, train_state.pt
    DIR/latest                          name of the newest complete checkpoint

A checkpoint is written into a hidden temporary folder and renamed into place, and `latest`
is replaced atomically afterwards, so a run killed at any moment leaves the previous
checkpoint intact and `--resume` never sees a half-written one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from canvasmar.atomic import write_text_atomic
from canvasmar.config import (
    FORMAT_VERSION,
    RunConfig,
    config_from_json,
    format_version,
    save_config_json,
    to_dict,
)
from canvasmar.errors import UserError

WEIGHTS, EMA_WEIGHTS = "model.safetensors", "ema.safetensors"
CONFIG, STATE, LATEST = "config.json", "train_state.pt", "latest"
log = logging.getLogger("canvasmar.checkpoint")
_noticed: set[str] = set()  # config files whose old format was already reported


def save_checkpoint(run_dir: Path, step: int, model: nn.Module | dict[str, torch.Tensor],
                    cfg: RunConfig, state: dict, keep_last: int = 3,
                    ema: dict[str, torch.Tensor] | None = None) -> Path:
    """Write DIR/checkpoints/step_N atomically, point DIR/latest at it, prune old ones.

    `model`: the network or its full state dict; `ema`: the EMA weights' state dict.
    """
    ckpt_root = run_dir / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step_{step:08d}"
    tmp = ckpt_root / f".tmp_step_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = model.state_dict() if isinstance(model, nn.Module) else model
    for name, tensors in ((WEIGHTS, weights), (EMA_WEIGHTS, ema)):
        if tensors is not None:
            tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
            save_file(tensors, str(tmp / name), metadata={"step": str(step)})
    (tmp / CONFIG).write_text(save_config_json(cfg))
    torch.save(state, tmp / STATE)
    if final.exists():  # a re-save of the same step (e.g. after a resume) replaces it whole
        shutil.rmtree(final)
    os.rename(tmp, final)
    write_text_atomic(run_dir / LATEST, final.name)
    for old in sorted(ckpt_root.glob("step_*"))[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder (its `latest`), -> the checkpoint folder."""
    path = Path(path)
    if (path / WEIGHTS).is_file():
        return path
    if (path / LATEST).is_file():
        ckpt = path / "checkpoints" / (path / LATEST).read_text().strip()
        if (ckpt / WEIGHTS).is_file():
            return ckpt
        raise UserError(f"{path}/latest points at {ckpt}, which is missing; "
                        f"pass one of the folders in {path}/checkpoints instead")
    if not path.exists():
        raise UserError(f"checkpoint '{path}' does not exist; give a run folder written by "
                        f"'canvasmar train' or one of its checkpoints/step_* folders")
    raise UserError(f"'{path}' holds no checkpoint ({WEIGHTS} or a 'latest' file); give a run "
                    f"folder written by 'canvasmar train' or one of its checkpoints/step_*")


def load_checkpoint_config(ckpt: Path, parse: Callable[[str], Any] = config_from_json
                           ) -> RunConfig:
    """The config saved in a checkpoint or run folder; `parse` reads other config kinds (VAE).
    An older format is migrated (with a notice once per file), a newer one refused."""
    path = ckpt / CONFIG
    try:
        text = path.read_text()
        version = format_version(json.loads(text), str(path))
        cfg = parse(text)
    except FileNotFoundError:
        raise UserError(f"{ckpt} has no {CONFIG}; the checkpoint is incomplete") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is corrupt ({exc.msg}); use another checkpoint") from None
    if version < FORMAT_VERSION:
        _notice_old_format(path, version, json.loads(text), cfg)
    return cfg


def _missing_keys(saved: dict, full: dict, prefix: str = "") -> list[str]:
    """Dotted keys of `full` that `saved` lacks (they took today's defaults when parsed)."""
    out = []
    for key, value in full.items():
        if key not in saved:
            out.append(prefix + key)
        elif isinstance(value, dict) and isinstance(saved[key], dict):
            out += _missing_keys(saved[key], value, f"{prefix}{key}.")
    return out


def _notice_old_format(path: Path, version: int, saved: dict, cfg: Any) -> None:
    # Once per file and process: evaluation and tests load the same checkpoint many times.
    key = str(path.resolve())
    if key in _noticed:
        return
    _noticed.add(key)
    # The keys that change sampling first (sample, model, tokenizer); five named at most.
    first = ("sample.", "model.", "tokenizer.")
    missing = sorted(_missing_keys(saved, to_dict(cfg)), key=lambda k: not k.startswith(first))
    named = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    was = (f"format_version {version}" if version else
           "no format_version (written before formats were versioned)")
    defaults = f"; {named} took today's defaults" if missing else ""
    log.warning("note: %s has %s; read as format %d%s. Re-save it (pipe.save_pretrained) to "
                "record the current format", path, was, FORMAT_VERSION, defaults)


def read_weights(ckpt: Path, name: str = WEIGHTS) -> dict[str, torch.Tensor]:
    """A safetensors file of the checkpoint; a damaged file is a UserError."""
    try:
        return load_file(str(ckpt / name))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{ckpt / name} cannot be read ({exc}); the file is corrupt or "
                        f"truncated: use an earlier checkpoint") from None


def has_ema(ckpt: Path) -> bool:
    return (ckpt / EMA_WEIGHTS).is_file()


def load_weights(model: nn.Module, ckpt: Path, ema: bool = False) -> str:
    """Load weights strictly (the EMA ones if `ema` and present); returns the file used.
    Weights that do not fit the model (other names or shapes: a config.json edited or from
    another run) are one UserError naming the first difference, not torch's long list."""
    name = EMA_WEIGHTS if ema and has_ema(ckpt) else WEIGHTS
    weights, expected = read_weights(ckpt, name), model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [k for k in sorted(set(weights) & set(expected))
             if weights[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        first = (f"'{wrong[0]}' is {tuple(weights[wrong[0]].shape)} in the file, "
                 f"{tuple(expected[wrong[0]].shape)} in the model" if wrong else
                 f"'{(missing or unexpected)[0]}' is {'missing' if missing else 'unexpected'}")
        raise UserError(f"{ckpt / name} does not match its config.json ({len(missing)} missing, "
                        f"{len(unexpected)} unexpected, {len(wrong)} differently shaped "
                        f"tensors; {first}): use the config.json written with these weights")
    model.load_state_dict(weights)
    return name


def load_matching_weights(model: nn.Module, ckpt: Path, ema: bool = True
                          ) -> tuple[str, list[str], list[str]]:
    """Start `model` from another model's weights (train.init_from, e.g. a next-K model from a
    next-1 one, App. B): every tensor the file holds under the model's name and shape is
    loaded (the EMA ones if `ema` and present), the model's other tensors keep their
    initialisation. Returns (the file used, the loaded names, the new names). A tensor of
    another shape, or one the model has no place for, is one UserError naming it."""
    name = EMA_WEIGHTS if ema and has_ema(ckpt) else WEIGHTS
    weights, expected = read_weights(ckpt, name), model.state_dict()
    wrong = [k for k in weights if k in expected and weights[k].shape != expected[k].shape]
    unexpected = [k for k in weights if k not in expected]
    if wrong:
        raise UserError(f"{ckpt / name} does not fit this model: '{wrong[0]}' is "
                        f"{tuple(weights[wrong[0]].shape)} there, "
                        f"{tuple(expected[wrong[0]].shape)} here ({len(wrong)} tensors differ): "
                        f"train.init_from needs the same model.* settings (dim, layers, "
                        f"patches) and tokenizer; model.group may differ")
    if unexpected:
        raise UserError(f"{ckpt / name} holds {len(unexpected)} tensors this model has no place "
                        f"for (first '{unexpected[0]}'): train.init_from starts a model from "
                        f"one with the same or fewer parts (e.g. model.group=2 from 1)")
    loaded = [k for k in expected if k in weights]
    model.load_state_dict({k: weights[k] for k in loaded}, strict=False)
    return name, loaded, [k for k in expected if k not in weights]


def load_train_state(ckpt: Path) -> dict:
    try:
        return torch.load(ckpt / STATE, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{ckpt} has no {STATE}: it cannot be resumed") from None
    except Exception as exc:  # torch raises several types for damaged pickles
        raise UserError(f"{ckpt / STATE} is corrupt ({type(exc).__name__}); resume from an "
                        f"earlier checkpoint") from None
