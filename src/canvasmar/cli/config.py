"""`canvasmar config show CONFIG [overrides]`: every setting of a config with its value, its
default and one line on what it means (canvasmar.config.describe)."""

from __future__ import annotations

import argparse
from pathlib import Path

from canvasmar.cli.common import yaml_text


def _is_vae(name: str) -> bool:
    """A VAE preset, or a YAML file built on one (`preset: vae-...`)."""
    import yaml

    from canvasmar.config import VAE_PRESETS

    if name in VAE_PRESETS:
        return True
    path = Path(name)
    if not path.is_file():
        return False
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False  # the CanvasMAR loader names the problem
    return isinstance(data, dict) and data.get("preset") in VAE_PRESETS


def format_settings(settings: list) -> str:
    """Aligned columns KEY VALUE DEFAULT MEANING; a `*` marks a value unlike its default."""
    rows = [("key", "value", "default", "meaning")]
    rows += [(s.key, yaml_text(s.value), yaml_text(s.default), s.meaning) for s in settings]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    marks = [" "] + ["*" if s.value != s.default else " " for s in settings]
    lines = []
    for row, mark in zip(rows, marks, strict=True):
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        lines.append(f"{mark} {cells}  {row[3]}".rstrip())
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> None:
    from canvasmar.config import load_config, load_vae_config
    from canvasmar.config.describe import describe

    vae = args.vae or _is_vae(args.config)
    cfg = (load_vae_config if vae else load_config)(args.config, args.overrides)
    settings = describe(cfg)
    changed = sum(s.value != s.default for s in settings)
    kind = "VAE (canvasmar vae train)" if vae else "CanvasMAR (canvasmar train)"
    print(f"{args.config}: {kind} config '{cfg.name}', {len(settings)} settings, {changed} "
          f"unlike the defaults (*); change one with section.key=value")
    print(format_settings(settings))


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `config show` on the main parser's subparsers."""
    config = sub.add_parser("config", parents=[common], help="show a config's settings",
                            description="Inspect configs (presets and YAML files).")
    csub = config.add_subparsers(dest="config_command", required=True)
    p = csub.add_parser("show", parents=[common], help="every setting: value, default, meaning",
                        description="Print every key of a config with its value (after the "
                                    "overrides), its default and what it means. CONFIG: a "
                                    "preset (tiny, bair, ucf, k600, vae-tiny, vae-bair) or a "
                                    "YAML file.")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.add_argument("--vae", action="store_true",
                   help="read CONFIG as a VAE config (implied by a vae-* preset, or by "
                        "`preset: vae-...` in the file)")
    p.set_defaults(func=_show)
