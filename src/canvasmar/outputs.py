"""The one guard in front of every file a command writes: nothing the user had is lost.

Every command that writes (`sample`, `eval`, `bench`, `train`, `vae ...`, `data ...`) names
all the files it will write before it writes any, and calls `claim_outputs`:
- an output that already exists is refused unless the user passed `--force`;
- an output that is also one of the command's inputs (`--video X.mp4 --out X.mp4`, or the same
  file through another path or a link) is refused even with `--force`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from canvasmar.errors import UserError


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links or `..` too); False if either is absent."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def claim_outputs(outputs: Iterable[str | Path], *, force: bool,
                  inputs: Iterable[str | Path | None] = (), flag: str = "--force") -> list[Path]:
    """Check every output path before anything is written; returns them as Paths.

    Raises UserError naming the first output that would overwrite an input (always refused)
    or an existing file or folder (refused unless `force`)."""
    outs = [Path(p) for p in outputs]
    ins = [Path(p) for p in inputs if p is not None]
    for out in outs:
        for source in ins:
            if same_file(out, source):
                raise UserError(f"{out} is also an input of this command ({source}); writing "
                                f"it would destroy the input: choose another output name")
    if not force:
        existing = [out for out in outs if out.exists() or out.is_symlink()]
        if existing:
            others = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise UserError(f"{existing[0]} already exists{others}; pass {flag} to replace it "
                            f"or choose another output name")
    for out in outs:
        if out.is_dir() and not out.is_symlink():
            raise UserError(f"{out} is a folder; give a file name")
    return outs
