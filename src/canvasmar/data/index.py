"""Find the videos under a folder and probe each once; the result is cached on disk.

The cache (one JSON file per root, in $CANVASMAR_CACHE or ~/.cache/canvasmar) keys every video
by its path relative to the root, its size and modification time: adding, changing or
removing a file re-probes only that file. Bad files are cached with their reason too, so
`inspect` and the datasets report them without decoding them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from canvasmar.data.videoio import IMAGE_SUFFIXES, VIDEO_SUFFIXES, BadVideo, probe

_VERSION = 2


@dataclass(frozen=True)
class Entry:
    """One video under a root: `path` is relative; `error` is set for a file that was skipped."""

    path: str
    frames: int = 0
    width: int = 0
    height: int = 0
    fps: float | None = None
    error: str | None = None
    seek: tuple[int, int] | None = None  # VideoInfo.seek


def cache_dir() -> Path:
    return Path(os.environ.get("CANVASMAR_CACHE") or Path.home() / ".cache" / "canvasmar")


def discover(root: Path) -> list[str]:
    """Relative paths of video files and numbered-frame folders under root, sorted."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(folder)
        if any(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in files):
            found.append(here.relative_to(root).as_posix())
        found += [(here / f).relative_to(root).as_posix() for f in files
                  if Path(f).suffix.lower() in VIDEO_SUFFIXES and not f.startswith(".")]
    return sorted(found)


def _signature(path: Path) -> list[int]:
    try:
        st = path.stat()
    except OSError:  # a broken link: probing reports it (videoio.check_regular_file)
        return [-1, -1]
    if path.is_dir():  # a frame folder changes when files are added, removed or replaced
        return [len(os.listdir(path)), st.st_mtime_ns]
    return [st.st_size, st.st_mtime_ns]


def _probe_entry(root: Path, rel: str) -> Entry:
    try:
        info = probe(root / rel)
    except BadVideo as exc:
        return Entry(rel, error=str(exc))
    return Entry(rel, info.frames, info.width, info.height, info.fps, seek=info.seek)


def build_index(root: str | Path, workers: int = 2) -> list[Entry]:
    """Every video under root (good and bad, sorted by path), probing only what changed."""
    root = Path(root).resolve()
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    cache_file = cache_dir() / f"index-{key}.json"
    cached: dict = {}
    if cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text())
            if data.get("version") == _VERSION and data.get("root") == str(root):
                cached = data["entries"]
        except (OSError, ValueError, KeyError):
            cached = {}  # a damaged cache is rebuilt, never trusted
    rels = discover(root)
    signatures = {rel: _signature(root / rel) for rel in rels}
    todo = [rel for rel in rels if cached.get(rel, {}).get("sig") != signatures[rel]]
    # Threads: PyAV releases the GIL while demuxing and decoding. A progress bar from 100.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        probed = tqdm(pool.map(lambda r: _probe_entry(root, r), todo), total=len(todo),
                      desc=f"indexing {root.name}", unit="video", disable=len(todo) < 100)
        fresh = dict(zip(todo, probed, strict=True))
    entries, out = [], {}
    for rel in rels:
        if rel in fresh:
            e = fresh[rel]
            out[rel] = {"sig": signatures[rel], **e.__dict__}
        else:
            out[rel] = cached[rel]
            fields = {k: v for k, v in cached[rel].items() if k != "sig"}
            e = Entry(**fields | {"seek": tuple(fields["seek"]) if fields["seek"] else None})
        entries.append(e)
    if todo or set(cached) != set(rels):
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"version": _VERSION, "root": str(root), "entries": out}))
            tmp.replace(cache_file)
        except OSError:
            pass  # a read-only cache only costs speed
    return entries
