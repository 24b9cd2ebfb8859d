"""The `canvasmar` command line: the only code that reads argv or prints for humans.

One module per command (train, sample, serve, eval, compare, bench, choose, diagnose, data, vae,
info, config), each building its own parser and turning the parsed values into explicit arguments of
library functions; shared pieces in `common.py`. Every config-taking subcommand takes a CONFIG
(preset name or YAML path) plus `section.key=value` overrides; `sample`, `serve` and `eval` take
`sample.KEY=VALUE` or the equivalent flags generated from `SampleConfig`. Mistakes the user can
fix print one line, `error: ...`, and exit with status 2; `--debug` shows the traceback
instead. Results go to stdout, progress bars and notes on what a command is doing to stderr;
`-q` keeps only results, warnings and errors.
"""

from __future__ import annotations

import argparse
import sys

from canvasmar.cli import (
    bench,
    choose,
    compare,
    config,
    data,
    diagnose,
    info,
    sample,
    serve,
    train,
    vae,
)
from canvasmar.cli import eval as eval_
from canvasmar.cli.common import OneLineParser, run_command

# in `canvasmar --help` order
COMMANDS = (train, sample, serve, bench, eval_, compare, choose, diagnose, data, info, config,
            vae)
QUIET_HELP = "quiet: no progress bars and no notes, only results, warnings and errors"


class _Version(argparse.Action):
    """--version: `canvasmar X (torch Y)`, computed only when asked (torch is not imported)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from canvasmar.versions import version_line

        print(version_line())  # stdout, as argparse's own version action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="canvasmar", description="CanvasMAR video prediction")
    parser.add_argument("--version", action=_Version, help="print the canvasmar and torch "
                                                           "versions and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    # lets --debug and -q follow the subcommand too
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of errors")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help=QUIET_HELP)
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
    if args.quiet and hasattr(args, "no_progress"):
        args.no_progress = True
    return run_command(args.func, args, args.debug)


__all__ = ["build_parser", "main"]
