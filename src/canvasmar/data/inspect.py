"""`canvasmar data inspect PATH`: what a folder of videos holds, what is skipped, a contact sheet.

It uses the same index (and cache) as training, so what it lists as skipped is exactly what
`--data PATH` will skip.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from canvasmar.data.clips import clip_span
from canvasmar.data.index import build_index
from canvasmar.data.videoio import BadVideo, read_frames
from canvasmar.errors import UserError
from canvasmar.labels import Sheet, stack
from canvasmar.media import write_png
from canvasmar.outputs import claim_outputs

SHEET_ROWS, SHEET_COLUMNS, THUMB = 16, 8, 64


def inspect_folder(path: Path, sheet: Path | None = None, frames: int = 8,
                   stride: int = 1, force: bool = False) -> dict:
    """Summary dict (see format_report) and the contact sheet written to `sheet`."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"'{path}' is not a folder")
    if frames < 1 or stride < 1:
        raise UserError(f"--frames {frames} and --stride {stride} must be at least 1")
    sheet = Path(sheet) if sheet else Path(f"{path.resolve().name}-contact.png")
    claim_outputs([sheet], force=force, inputs=[path])
    entries = build_index(path)
    span = clip_span(frames, stride)
    good = [e for e in entries if not e.error and e.frames >= span]
    skipped = [(e.path, e.error) for e in entries if e.error]
    skipped += [(e.path, f"too short: {e.frames} frames, a clip of {frames} at stride "
                         f"{stride} needs {span}") for e in entries
                if not e.error and e.frames < span]
    rows, failed = sheet_rows(path, good)
    skipped += failed
    failed_paths = {p for p, _ in failed}
    good = [e for e in good if e.path not in failed_paths]  # each file in one category
    durations = [e.frames / e.fps for e in good if e.fps]
    if rows:
        write_png(sheet, contact_sheet(rows))
    return {
        "path": str(path), "videos": len(good), "frames": sum(e.frames for e in good),
        "seconds": sum(durations), "timed_videos": len(durations),
        "resolutions": Counter(f"{e.width}x{e.height}" for e in good).most_common(),
        "fps": Counter(round(e.fps, 2) if e.fps else "numbered frames"
                       for e in good).most_common(),
        "min_frames": min((e.frames for e in good), default=0),
        "max_frames": max((e.frames for e in good), default=0),
        "skipped": sorted(skipped), "sheet": str(sheet) if rows else None,
        "entries": [e.__dict__ for e in entries],
    }


def sheet_rows(path: Path, good: list) -> tuple[list, list[tuple[str, str]]]:
    """Contact-sheet rows (title, frame indices, thumbnails) of the first SHEET_ROWS videos
    that decode, and (path, why) of those that probed well but fail at these frames (a file
    cut after its index): they are skipped, not usable."""
    rows, failed = [], []
    for e in good:
        if len(rows) == SHEET_ROWS:
            break
        picks = np.linspace(0, e.frames - 1, SHEET_COLUMNS).round().astype(int).tolist()
        try:
            images = read_frames(path / e.path, picks, THUMB)
        except BadVideo as exc:
            failed.append((e.path, str(exc)))
            continue
        rows.append((sheet_title(e), picks, images))
    return rows, failed


def sheet_title(e) -> str:
    """A contact-sheet row's title: 'a.mp4: 16 frames, 32x24, 10 fps'."""
    fps = f", {round(e.fps, 2):g} fps" if e.fps else ""
    return f"{e.path}: {e.frames} frames, {e.width}x{e.height}{fps}"


def contact_sheet(rows: list[tuple[str, list[int], np.ndarray]]) -> np.ndarray:
    """(title, frame indices, (N, R, R, 3) uint8 thumbnails) per video -> one picture: per
    video its title, then its thumbnails side by side, each under its frame number (from 1).
    The thumbnails are pasted as they are (labels sit above them)."""
    blocks = []
    for title, picks, images in rows:
        grid = Sheet(1, len(images), tuple(images.shape[1:3]), size=11, title=title,
                     columns=[str(p + 1) for p in picks])
        block = grid.background()
        for c, image in enumerate(images):
            block[grid.box(0, c)] = image
        blocks.append(block)
    return stack(blocks, gap=4)


def format_report(r: dict, verbose: bool = False) -> str:
    lines = [f"{r['path']}: {r['videos']} usable videos, {r['frames']} frames "
             f"({r['min_frames']}-{r['max_frames']} per video)"]
    if r["timed_videos"]:
        lines.append(f"duration: {r['seconds']:.1f} s over {r['timed_videos']} timed videos "
                     f"(mean {r['seconds'] / r['timed_videos']:.1f} s)")
    lines.append("resolutions: " + ", ".join(f"{k} ({n})" for k, n in r["resolutions"]))
    lines.append("fps: " + ", ".join(f"{k} ({n})" for k, n in r["fps"]))
    lines.append(f"skipped: {len(r['skipped'])}")
    lines += [f"  {p}: {why}" for p, why in r["skipped"]]
    if verbose:
        skipped = {p for p, _ in r["skipped"]}
        lines += [f"  {e['path']}: {e['frames']} frames {e['width']}x{e['height']} "
                  f"fps {e['fps']}" for e in r["entries"] if e["path"] not in skipped]
    lines.append(f"contact sheet: {r['sheet']}" if r["sheet"] else "contact sheet: none "
                 "(no usable video)")
    return "\n".join(lines)
