"""Every setting of a config as a flat list: dotted key, value, default and meaning (the
one line each field carries, `schema.setting`); what `canvasmar config show` prints."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any


@dataclasses.dataclass(frozen=True)
class Setting:
    key: str  # dotted, as in overrides: "train.lr"
    value: Any
    default: Any  # the value in the config kind's defaults (RunConfig(), VAERunConfig())
    meaning: str  # "" when a field has none (tests/test_cli_basics.py forbids that)


def describe(cfg: Any) -> list[Setting]:
    """The settings of config `cfg` (a RunConfig, VAERunConfig, or one of their sections) in
    declaration order; defaults are those of `type(cfg)()`, so a preset's own values show as
    changes."""
    return list(_walk(cfg, type(cfg)(), ""))


def _walk(cfg: Any, defaults: Any, prefix: str) -> Iterator[Setting]:
    for f in dataclasses.fields(cfg):
        value, default = getattr(cfg, f.name), getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value, default, f"{prefix}{f.name}.")
        else:
            yield Setting(prefix + f.name, value, default, f.metadata.get("help", ""))
