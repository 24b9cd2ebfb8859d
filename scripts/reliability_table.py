"""Write the probe table of docs/reliability.md: every probe of tests/test_probes.py run as the
test runs it, with the one line it printed and its exit status.

    .venv/bin/python scripts/reliability_table.py > /tmp/probes.md
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.probe_world import make_world  # noqa: E402
from tests.test_probes import PROBES, broken_checkpoints  # noqa: E402

from canvasmar.cli import main  # noqa: E402


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, err.getvalue().strip()


def main_() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp) / "user")
        broken_checkpoints(world)
        print("| # | probe | exit | message |")
        print("|---:|---|---:|---|")
        for number, probe in enumerate(PROBES, 1):
            argv = probe.argv.format(**{k: str(v) for k, v in world.items()}).split()
            status, err = run(argv)
            line = err.replace(str(world["root"]), "~").replace("|", "\\|")
            line = re.sub(r"\s+", " ", line)
            print(f"| {number} | {probe.name} | {status} | `{line}` |")


if __name__ == "__main__":
    main_()
