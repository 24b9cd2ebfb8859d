"""The `canvasmar` command line: the only code that reads argv or prints for humans.

One module per command (train, sample, eval, bench, diagnose, data, vae, info), each building
its own parser and turning the parsed values into explicit arguments of library functions; shared
pieces in `common.py`. Every config-taking subcommand takes a CONFIG (preset name or YAML
path) plus `section.key=value` overrides; `sample` and `eval` take `sample.KEY=VALUE` or the
equivalent flags generated from `SampleConfig`. Mistakes the user can fix print one line,
`error: ...`, and exit with status 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from canvasmar.cli import bench, data, diagnose, info, sample, train, vae
from canvasmar.cli import eval as eval_
from canvasmar.cli.common import OneLineParser, run_command

COMMANDS = (train, sample, bench, eval_, diagnose, data, info, vae)  # in `canvasmar --help` order


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="canvasmar", description="CanvasMAR video prediction")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)  # lets --debug follow the subcommand too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of errors")
    for command in COMMANDS:
        command.add_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Overrides may come before or after options (`train tiny --out D train.steps=5`):
    # argparse leaves the later ones unparsed, so collect them here.
    args, extra = parser.parse_known_args(argv)
    unknown = [a for a in extra if a.startswith("-") or "=" not in a]
    if unknown or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    return run_command(args.func, args, args.debug)


__all__ = ["build_parser", "main"]
