"""What several commands share: run-folder arguments, the sampling flags (generated from
`SampleConfig`), comma-separated lists, and main's error handling."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import typing
from collections.abc import Callable

from canvasmar.config import SampleConfig
from canvasmar.errors import UserError


def add_run_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    """CONFIG, overrides and the run-folder options shared by every training command."""
    p.add_argument("config")
    p.add_argument("overrides", nargs="*", help="section.key=value")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true", help="start over in an existing --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_sampling_flags(p: argparse.ArgumentParser) -> None:
    """One flag per `SampleConfig` field (--steps, --flow-steps, ..., --keep-bos/--no-keep-bos),
    typed and described by the field; an unset flag keeps the checkpoint's value."""
    group = p.add_argument_group(
        "sampling settings", "default: the checkpoint's config.json; each flag is the same as "
                             "sample.KEY=VALUE (a flag wins over the same key given both ways)")
    types = typing.get_type_hints(SampleConfig)
    for field in dataclasses.fields(SampleConfig):
        kind, text = types[field.name], field.metadata["help"]
        dest = f"sample_{field.name}"
        if kind is bool:
            group.add_argument(_flag(field.name), dest=dest, default=None, help=text,
                               action=argparse.BooleanOptionalAction)
        else:
            choices = field.metadata.get("choices")
            group.add_argument(_flag(field.name), dest=dest, default=None, type=kind,
                               choices=choices, help=text,
                               metavar=None if choices else kind.__name__.upper())


def yaml_text(value: typing.Any) -> str:
    """A value as the text of a `section.KEY=VALUE` override (read back as YAML): a flag's
    value, or a setting that `config show` prints."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, tuple | list):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if value == "":
        return '""'
    return repr(value) if isinstance(value, float) else str(value)


def sampling_overrides(args: argparse.Namespace) -> list[str]:
    """The given sampling flags as `sample.KEY=VALUE` overrides, after the positional ones, so
    flags and overrides take one path: config.with_sample_overrides -> SampleConfig.validate."""
    flags = []
    for field in dataclasses.fields(SampleConfig):
        value = getattr(args, f"sample_{field.name}", None)
        if value is not None:
            flags.append(f"sample.{field.name}={yaml_text(value)}")
    return [*args.overrides, *flags]


def sampling_parent() -> argparse.ArgumentParser:
    """Options shared by `sample` and `eval`: the sampling flags, seed, device, weights."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto",
                   help="auto (a GPU if torch sees one, else the CPU), cpu, cuda or cuda:N")
    p.add_argument("--force", action="store_true",
                   help="replace existing outputs at --out (never an input)")
    p.add_argument("--no-ema", action="store_true",
                   help="use the raw weights, not the EMA ones (the default if saved)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_compile_flag(p)
    p.add_argument("overrides", nargs="*",
                   help="sample.KEY=VALUE sampling settings, e.g. sample.frame_noise=0.5 "
                        "sample.temperature=4 (any key of the config's sample section)")
    add_sampling_flags(p)
    return p


def add_compile_flag(p: argparse.ArgumentParser) -> None:
    from canvasmar.config.schema import SAMPLE_COMPILE_MODES  # torch is not imported yet

    p.add_argument("--compile", default="off", choices=SAMPLE_COMPILE_MODES,
                   help="torch.compile each MAR step's network work: default, "
                        "reduce-overhead (CUDA graphs, batch-1 latency on a GPU), "
                        "max-autotune, or off (default; docs/speed.md)")


def sampling_pipeline(args: argparse.Namespace):
    """The checkpoint's pipeline with the command line's sampling settings applied."""
    import canvasmar
    from canvasmar.config import with_sample_overrides
    from canvasmar.devices import resolve_device

    device = resolve_device(args.device)
    pipe = canvasmar.load_pipeline(args.checkpoint, device=device, use_ema=not args.no_ema)
    pipe.cfg = with_sample_overrides(pipe.cfg, sampling_overrides(args))
    return pipe.compile(args.compile)


def default_protocol(args: argparse.Namespace, pipe) -> None:
    """`--protocol` left out: builtin-quick for a model of the built-in videos; for a model
    trained on a folder (a game recording) that is here, that folder's test split
    (`--protocol folder --data-root` it, said on stderr); otherwise the user must name one.
    (The default used to be builtin-quick for every model: a Pong model was scored on the
    built-in shapes, numbers that meant nothing, without a word.)"""
    from pathlib import Path

    if args.protocol is not None:
        return
    source = pipe.cfg.data.source or "builtin"
    if source == "builtin":
        args.protocol = "builtin-quick"
    elif Path(source).is_dir() and args.data_root in (None, source):
        args.protocol, args.data_root = "folder", source
        print(f"note: scoring on the test split of the model's own data, {source} "
              f"(--protocol folder --data-root {source})", file=sys.stderr)
    else:
        raise UserError(f"this model was trained on {source}, not the built-in videos: name "
                        f"the protocol, e.g. --protocol folder --data-root DIR for a folder of "
                        f"videos, or bair, ucf, k600 (docs/evaluation.md)")


def int_list(text: str, flag: str) -> list[int]:
    """'1,2,4,8' -> [1, 2, 4, 8]; a UserError naming `flag` otherwise."""
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"{flag} '{text}' is not a comma-separated list of integers") from None


def name_list(text: str) -> tuple[str, ...]:
    """'mse, psnr,' -> ('mse', 'psnr')."""
    return tuple(x.strip() for x in text.split(",") if x.strip())


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one `error: ...` line like every other error (argparse prints the
    whole usage first), pointing at --help; subcommand parsers inherit the class."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


# What an interrupted command says (a second Ctrl-C, or the first where there is no graceful
# stop): only commands that can continue say how. Commands set theirs with set_defaults.
INTERRUPTED = "interrupted; nothing was written"


def run_command(func: Callable[[argparse.Namespace], None], args: argparse.Namespace,
                debug: bool) -> int:
    """Run a command's handler: a UserError prints one `error: ...` line and gives status 2
    (with `debug`, the traceback instead)."""
    if debug:
        func(args)
        return 0
    try:
        func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(getattr(args, "on_interrupt", INTERRUPTED), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `canvasmar ... | head` stopped reading: end quietly, like
        # other tools, with the shell's status for SIGPIPE; stdout goes to devnull so that
        # Python's flush at exit does not print a second BrokenPipeError
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return 0
