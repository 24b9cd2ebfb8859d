"""Play a game model through `canvasmar serve`'s page in headless Chromium and keep the
played episode as a GIF (docs/img/): the model's frames beside the real emulator's, as the
page's "Download MP4" gives them.

    python3 scripts/play_gif.py CHECKPOINT OUT.gif [--steps 120] [--seed 0]

The keys follow a fixed pattern (up, nothing, down, ...) so the GIF shows the paddle obeying;
the page's measured frame rate is printed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from canvasmar.media import read_video
from canvasmar.pipeline import load_pipeline
from canvasmar.web.app import bind, create_app, make_server

PATTERN = [("ArrowUp", 12), (None, 6), ("ArrowDown", 14), (None, 6)]  # (key, frames)


def steps_shown(page) -> int:
    return int(page.locator("#play-status").get_attribute("data-steps") or 0)


def play(url: str, steps: int, seed: int, work: Path) -> tuple[Path, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#play:not([hidden])")
        page.fill("#play-seed", str(seed))
        page.click("#play-start")
        page.wait_for_selector("#play-stop:not([disabled])", timeout=60_000)
        done = 0
        while done < steps:
            for key, frames in PATTERN:
                if key:
                    page.keyboard.down(key)
                target = min(steps, done + frames)
                while steps_shown(page) < target:
                    time.sleep(0.01)
                if key:
                    page.keyboard.up(key)
                done = target
        fps = float(page.locator("#play-status").get_attribute("data-fps"))
        page.click("#play-stop")
        with page.expect_download() as download:
            page.click("#play-download")
        path = work / "played.mp4"
        download.value.save_as(path)
        browser.close()
    return path, fps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("out", type=Path)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sock = bind("127.0.0.1", 0)
        server = make_server(create_app(load_pipeline(args.checkpoint), work / "serve"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            mp4, fps = play(f"http://127.0.0.1:{sock.getsockname()[1]}/", args.steps,
                            args.seed, work)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        frames = (read_video(mp4).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    from PIL import Image

    images = [Image.fromarray(f).resize((f.shape[1] // 2, f.shape[0] // 2), Image.NEAREST)
              for f in frames]
    images[0].save(args.out, save_all=True, append_images=images[1:], duration=1000 // 15,
                   loop=0, optimize=True)
    print(f"{len(frames)} frames (context included) played at {fps:.1f} frames/s on the page; "
          f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
