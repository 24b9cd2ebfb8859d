"""What code produced a result: the canvasmar version, the torch version and the git commit.

Every results JSON (`eval`, `bench`, `diagnose`) and each process's first row of a run's
metrics.jsonl carry `versions()`, so a number can be traced to the code that made it. Nothing
here may fail or be slow: a missing git, a package installed outside a checkout or a broken
repository give `commit: None`, and git runs at most once per process.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

__version__ = "0.1.0"  # the one place; canvasmar.__version__ re-exports it

_GIT_TIMEOUT_S = 5.0


def torch_version() -> str | None:
    """torch's version, without importing torch when nothing has yet (`--version` stays fast)."""
    loaded = sys.modules.get("torch")
    if loaded is not None:
        return str(getattr(loaded, "__version__", None))
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(args: list[str], where: Path) -> subprocess.CompletedProcess:
    # GIT_OPTIONAL_LOCKS=0: `git status` must not take index.lock, which would make a
    # concurrent `git commit` in the same checkout fail.
    return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                          timeout=_GIT_TIMEOUT_S, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})


@functools.cache
def git_commit() -> str | None:
    """`git rev-parse --short HEAD` of the checkout this package runs from, with `+dirty` when
    tracked files differ from it; None unless the package's own files are tracked there (a
    wheel installed into a virtual environment inside some repository is not that repository's
    code)."""
    here = Path(__file__).resolve().parent
    try:
        tracked = _git(["ls-files", "--error-unmatch", "__init__.py"], here)
        head = _git(["rev-parse", "--short", "HEAD"], here)
        if tracked.returncode or head.returncode or not head.stdout.strip():
            return None
        status = _git(["status", "--porcelain", "--untracked-files=no"], here)
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    dirty = status.returncode != 0 or bool(status.stdout.strip())
    return head.stdout.strip() + ("+dirty" if dirty else "")


def versions() -> dict[str, str | None]:
    """{"canvasmar": ..., "torch": ..., "commit": ...} for result records."""
    return {"canvasmar": __version__, "torch": torch_version(), "commit": git_commit()}


def version_line() -> str:
    """What `canvasmar --version` prints."""
    return f"canvasmar {__version__} (torch {torch_version() or 'not installed'})"
