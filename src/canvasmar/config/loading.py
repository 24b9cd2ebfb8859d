"""Reading configs: presets or YAML/JSON files, dotted `section.key=value` overrides, typed
conversion with did-you-mean errors, and the JSON form saved beside every checkpoint."""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from canvasmar.config.presets import PRESETS
from canvasmar.config.schema import RunConfig, SampleConfig
from canvasmar.errors import UserError


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, typ: Any, key: str) -> Any:
    """Convert a YAML/JSON value to the field's declared type, or raise UserError."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        items = typing.get_args(typ)
        if not isinstance(value, list | tuple) or len(value) != len(items):
            raise UserError(f"{key} expects a list of {len(items)} values like "
                            f"[0.9, 0.95], got {value!r}")
        return tuple(_coerce(v, t, key) for v, t in zip(value, items, strict=True))
    if origin in (typing.Union, types.UnionType):
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif typ is str:
        if isinstance(value, str):
            return value
    raise UserError(f"{key} expects a {getattr(typ, '__name__', typ)}, got {value!r}")


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build a (nested) config dataclass from a dict, rejecting unknown keys by name."""
    types_ = _field_types(cls)
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in types_:
            close = difflib.get_close_matches(key, types_, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise UserError(f"unknown config key '{where}'{hint}; valid keys here: "
                            f"{', '.join(prefix + k for k in types_)}")
        typ = types_[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise UserError(f"{where} is a section; set its keys like {where}.KEY=VALUE")
            kwargs[key] = from_dict(typ, value, prefix=f"{where}.")
        else:
            kwargs[key] = _coerce(value, typ, where)
    return cls(**kwargs)


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_overrides(overrides: list[str]) -> dict:
    """['train.lr=3e-4', 'model.canvas=false'] -> nested dict with YAML-typed values."""
    nested: dict = {}
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override '{item}' is not of the form section.key=value "
                            f"(e.g. train.steps=100)")
        key, raw = item.split("=", 1)
        if not key or any(not part for part in key.split(".")):
            raise UserError(f"override '{item}' has an empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str) and _SCIENTIFIC.fullmatch(value):
            value = float(value)  # YAML 1.1 reads '3e-4' as a string
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override '{item}' conflicts with an earlier override")
        node[parts[-1]] = value
    return nested


def with_sample_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """`cfg` with `sample.KEY=VALUE` overrides applied, checked by `SampleConfig.validate`.
    The one path of sampling settings at sampling time: `sample`/`eval` turn their flags
    (--steps, --cfg-canvas, ...) into these overrides; a trained model's other sections
    cannot change."""
    parsed = parse_overrides(list(overrides))
    other = sorted(set(parsed) - {"sample"})
    if other:
        raise UserError(f"only sample.KEY=VALUE settings can change at sampling time, not "
                        f"{', '.join(k + '.*' for k in other)}")
    if not parsed:
        return cfg
    if not isinstance(parsed["sample"], dict):
        raise UserError("sample is a section; set its keys like sample.KEY=VALUE")
    merged = _merge(to_dict(cfg.sample), parsed["sample"])
    sample = from_dict(SampleConfig, merged, prefix="sample.").validate()
    return dataclasses.replace(cfg, sample=sample)


def merged_config_dict(name_or_path: str, overrides: list[str], presets: dict[str, Any],
                       default_preset: str, label: str = "") -> dict:
    """A preset name or a YAML/JSON path (`preset:` + sections), then dotted overrides, as one
    nested dict. `label` names the config family in messages (e.g. "VAE ")."""
    if name_or_path in presets:
        base = to_dict(presets[name_or_path])
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"{label}config '{name_or_path}' is neither a preset "
                            f"({', '.join(presets)}) nor a file")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if loaded is None:  # an empty file would silently train the defaults
            raise UserError(f"{path} is empty: write config sections in it (e.g. "
                            f"'preset: {default_preset}' and 'train: {{steps: 500}}') or give "
                            f"a preset name")
        if not isinstance(loaded, dict):
            raise UserError(f"{path} must hold a mapping of config sections")
        if "format_version" in loaded:  # a run's saved config.json, used as a recipe
            loaded = migrate(loaded, str(path))
        preset = loaded.pop("preset", default_preset)
        if preset not in presets:
            raise UserError(f"{path}: unknown {label}preset '{preset}' "
                            f"(choose {', '.join(presets)})")
        base = _merge(to_dict(presets[preset]), loaded)
    return _merge(base, parse_overrides(list(overrides)))


def load_config(name_or_path: str, overrides: list[str] = ()) -> RunConfig:
    """A preset name or a YAML/JSON path, then dotted overrides; validated."""
    merged = merged_config_dict(name_or_path, overrides, PRESETS, "tiny")
    return from_dict(RunConfig, merged).validate()


# The version of the saved form (config.json beside the weights). Bump it, and add the step
# from the old version to MIGRATIONS, whenever a saved key changes meaning or a default
# changes: without it an old config.json would silently take the new default.
FORMAT_VERSION = 5


def _from_unversioned(data: dict) -> dict:
    """Format 0 (no `format_version`, everything before it existed) -> 1: the same keys;
    keys it lacks take today's defaults, which the checkpoint loader names in its notice."""
    return data


# Keys that format 2 added, with the value that reproduces what a format-1 model did. Written
# out rather than left to the dataclass defaults, so that a later default (a preset with the
# residual heads, say) can never change how an older model samples.
_FORMAT_2_KEYS = {"model": {"residual": False, "group": 1, "actions": 0}}


def _add_format_2_keys(data: dict) -> dict:
    """Format 1 -> 2: the residual heads (model.residual), next-group prediction (model.group)
    and action conditioning (model.actions) arrived; a format-1 model had none of them."""
    out = dict(data)
    for section, keys in _FORMAT_2_KEYS.items():
        if isinstance(out.get(section), dict):
            out[section] = {**keys, **out[section]}
    return out


def _add_format_3_keys(data: dict) -> dict:
    """Format 2 -> 3: the motion input (model.motion_input) arrived; a format-2 model had none."""
    out = dict(data)
    if isinstance(out.get("model"), dict):
        out["model"] = {"motion_input": False, **out["model"]}
    return out


def _add_format_4_keys(data: dict) -> dict:
    """Format 3 -> 4: the history noise level input (model.history_noise_input) and the
    inference noise on generated history (sample.history_noise) arrived."""
    out = dict(data)
    if isinstance(out.get("model"), dict):
        out["model"] = {"history_noise_input": False, **out["model"]}
    if isinstance(out.get("sample"), dict):
        out["sample"] = {"history_noise": 0.0, **out["sample"]}
    return out


def _add_format_5_keys(data: dict) -> dict:
    """Format 4 -> 5: the shift canvas (model.warp, models/warp.py) arrived."""
    out = dict(data)
    if isinstance(out.get("model"), dict):
        out["model"] = {"warp": 0, **out["model"]}
    return out


MIGRATIONS: dict[int, Callable[[dict], dict]] = {0: _from_unversioned, 1: _add_format_2_keys,
                                                 2: _add_format_3_keys, 3: _add_format_4_keys,
                                                 4: _add_format_5_keys}


def format_version(data: Any, source: str = "config.json") -> int:
    """The format version of a parsed config.json (0 if it has none); a newer one than this
    package reads, or a damaged one, is a UserError naming `source`."""
    if not isinstance(data, dict):
        raise UserError(f"{source} must hold a JSON object of config sections; the file is "
                        f"damaged: use another checkpoint")
    version = data.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UserError(f"{source}: format_version must be a whole number, got {version!r}; "
                        f"the file is damaged: use another checkpoint")
    if version > FORMAT_VERSION:
        raise UserError(f"{source} has format_version {version}, newer than this canvasmar "
                        f"reads (up to {FORMAT_VERSION}): upgrade canvasmar "
                        f"(pip install -U canvasmar) to load it")
    return version


def migrate(data: Any, source: str = "config.json") -> dict:
    """A parsed config.json of any readable format -> today's form (no `format_version`)."""
    version = format_version(data, source)
    data = {k: v for k, v in data.items() if k != "format_version"}
    for step in range(version, FORMAT_VERSION):
        data = MIGRATIONS[step](data)
    return data


def save_config_json(cfg: Any) -> str:
    return json.dumps({"format_version": FORMAT_VERSION, **to_dict(cfg)}, indent=2,
                      sort_keys=True)


def config_from_json(text: str) -> RunConfig:
    return from_dict(RunConfig, migrate(json.loads(text))).validate()
