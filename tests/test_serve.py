"""`canvasmar serve`: the API in-process (prediction events, uploads, one-line errors), the
command itself, and the page in a real headless browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

import canvasmar
from canvasmar.cli import main
from canvasmar.config import with_sample_overrides
from canvasmar.media import write_video
from canvasmar.web.app import bind, create_app, make_server
from canvasmar.web.jobs import png_data_url

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "tiny"
# Few, cheap frames: the page's behaviour does not depend on the model's quality.
FAST = ["sample.steps=2", "sample.flow_steps=2"]
CHROMIUM = "chromium"  # Debian's package; `make setup` installs it


@pytest.fixture(scope="module")
def pipe():
    pipe = canvasmar.load_pipeline(SHIPPED)
    pipe.cfg = with_sample_overrides(pipe.cfg, FAST)
    return pipe


@pytest.fixture
def client(pipe, tmp_path):
    with TestClient(create_app(pipe, tmp_path / "work")) as client:
        yield client


def sse_events(client: TestClient, url: str) -> list[tuple[str, dict]]:
    """Every (event, data) of a server-sent event stream, in order (pings skipped)."""
    events, name = [], None
    with client.stream("GET", url) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.removeprefix("data:"))))
    return events


def decoded_frames(data: bytes, path: Path) -> int:
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def small_video(path: Path, frames: int = 6) -> Path:
    """A 40x48 clip of a moving square (not the model's 32x32: the upload is resized)."""
    video = np.zeros((frames, 40, 48, 3), np.uint8)
    for t in range(frames):
        video[t, 10:20, 4 + 4 * t:14 + 4 * t] = (250, 200, 40)
    return write_video(path, video, fps=4)


def test_a_job_streams_its_frames_then_done_with_a_download(client, tmp_path):
    info = client.get("/api/info").json()
    assert info["frame"] == [3, 32, 32] and info["clips"] == 256
    assert info["defaults"]["steps"] == 2 and info["defaults"]["temperature"] == 0.25
    job = client.post("/api/jobs", json={"clip": 7, "frames": 3, "steps": 1,
                                         "temperature": 0.5, "cfg_canvas": 1.2}).json()
    events = sse_events(client, job["events"])
    assert [name for name, _ in events] == ["context", "frame", "frame", "frame", "done"]
    assert events[0][1]["total"] == 3 and len(events[0][1]["frames"]) == 2
    for i, (_, frame) in enumerate(events[1:4]):
        assert frame["index"] == i
        for panel in ("frame", "canvas", "staticness", "truth"):
            assert frame[panel].startswith("data:image/png;base64,"), panel
    video = client.get(events[-1][1]["download"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert decoded_frames(video.content, tmp_path / "out.mp4") == 2 + 3  # context + predicted
    # a job runs once: an EventSource reconnecting must not start it again
    again = client.get(job["events"])
    assert again.status_code == 409 and "already run" in again.json()["error"]


def test_an_uploaded_video_is_the_context(client, tmp_path):
    path = small_video(tmp_path / "mine.mp4")
    sent = client.post("/api/uploads", params={"name": "mine.mp4"}, content=path.read_bytes())
    assert sent.status_code == 200, sent.text
    assert sent.json()["frames"] == 6 and sent.json()["preview"].startswith("data:image/png")
    job = client.post("/api/jobs", json={"upload": sent.json()["upload"], "context": 3,
                                         "frames": 2}).json()
    events = sse_events(client, job["events"])
    assert [name for name, _ in events] == ["context", "frame", "frame", "done"]
    assert len(events[0][1]["frames"]) == 3
    assert all(data["truth"] for name, data in events if name == "frame")  # frames 4 and 5


@pytest.mark.usefixtures("isolated_data")
def test_a_model_of_a_recording_offers_its_own_test_clips(micro_pipe, tmp_path):
    """A model trained on a folder (a game recording) is offered that folder's test clips,
    not the built-in shapes; where the folder is not on this machine, no clips and a clear
    error, and uploads still work."""
    import dataclasses

    from canvasmar.data import build_dataset
    from tests.data_fixtures import recording_folder, trained_on

    root = recording_folder(tmp_path / "recording", 80)
    cfg = micro_pipe.cfg
    micro_pipe.cfg = trained_on(cfg, str(root))
    with TestClient(create_app(micro_pipe, tmp_path / "work")) as client:
        info = client.get("/api/info").json()
        assert info["clips_from"] == str(root) and info["clips_missing"] is None
        test = build_dataset(dataclasses.replace(micro_pipe.cfg.data, frames=64,
                                                 resolution=16), "test")
        assert info["clips"] == len(test) >= 1
        preview = client.get("/api/clips/0", params={"context": 3}).json()["frames"]
        assert preview == [png_data_url(f) for f in test[0][:3]]
    micro_pipe.cfg = trained_on(cfg, str(tmp_path / "elsewhere"))
    with TestClient(create_app(micro_pipe, tmp_path / "work2")) as client:
        info = client.get("/api/info").json()
        assert info["clips"] == 0 and "elsewhere" in info["clips_missing"]
        answer = client.post("/api/jobs", json={"clip": 0, "frames": 2})
        assert answer.status_code == 400
        assert "not on this machine" in answer.json()["error"]
        assert "upload a video instead" in answer.json()["error"]
    micro_pipe.cfg = cfg


JOB_ERRORS = [
    ({"clip": 999}, "there is no built-in clip 999: pick one of 0 to 255"),
    ({"clip": 0, "steps": 0}, "steps=0 must be at least 1"),
    ({"clip": 0, "frames": 0}, "frames must be from 1 to 48"),
    ({"clip": 0, "temperature": -1}, "temperature=-1"),
    ({"clip": 0, "upload": "x"}, "either a built-in test clip or an uploaded video"),
    ({}, "either a built-in test clip or an uploaded video"),
    ({"upload": "gone"}, "upload the video again"),
    ({"clip": 0, "stpes": 2}, "stpes: Extra inputs are not permitted"),
    ({"clip": "first"}, "clip: Input should be a valid integer"),
]


@pytest.mark.parametrize(("body", "message"), JOB_ERRORS)
def test_bad_jobs_get_a_one_line_error(client, body, message):
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.txt", b"not a video", "'notes.txt' is not a video file"),
    ("fake.mp4", b"not a video", "'fake.mp4' cannot be decoded as a video"),
    ("empty.mp4", b"", "'empty.mp4' is empty"),
])
def test_bad_uploads_get_a_one_line_error(client, name, content, message):
    response = client.post("/api/uploads", params={"name": name}, content=content)
    assert response.status_code == 400 and message in response.json()["error"]


def test_unknown_jobs_and_unfinished_videos_are_404(client):
    assert "no prediction 'nope'" in client.get("/api/jobs/nope/events").json()["error"]
    assert client.get("/api/jobs/nope/video.mp4").status_code == 404
    job = client.post("/api/jobs", json={"clip": 0, "frames": 1}).json()["job"]
    early = client.get(f"/api/jobs/{job}/video.mp4")
    assert early.status_code == 404 and "no video yet" in early.json()["error"]


def _default_signals() -> None:
    """Ctrl-C as in a terminal: a test run in the background (nohup, CI runners) starts its
    children with SIGINT ignored, and uvicorn would then stop without the KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_serve_command_starts_and_stops(tmp_path):
    """The real command: prints its address, answers, stops on Ctrl-C (SIGINT)."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "canvasmar", "serve", "--checkpoint",
                             str(SHIPPED), "--port", "0", *FAST], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=_default_signals)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving ") and "http://127.0.0.1:" in line, proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        info = httpx.get(url + "api/info", timeout=30).json()
        assert info["defaults"]["flow_steps"] == 2  # the command's sampling flags
        assert "CanvasMAR" in httpx.get(url, timeout=30).text
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    # uvicorn stops cleanly, then re-raises the Ctrl-C: the usual status 130, one line
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "stopped", err


def test_serve_command_errors_are_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--checkpoint", str(SHIPPED), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", str(SHIPPED), "--port", "0", "--steps", "0"]) == 2
    assert "sample.steps=0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0 and "--port" in capsys.readouterr().out


@contextlib.contextmanager
def served(app):
    """The app on a free local port, in a thread; -> its URL."""
    sock = bind("127.0.0.1", 0)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_requests_do_not_wait_for_delayed_acks():
    """A browser keeps its connection alive; without TCP_NODELAY on the server's connections
    Nagle held each response's body until the client's delayed ACK, ~40 ms a request whatever
    the work (the play page ran at 10 frames/s, not 15: CI, 2026-12-07). Ten kept-alive
    requests for a trivial answer: a few ms each on our slowest machine, 44 before the fix."""
    import http.client
    import statistics

    from fastapi import FastAPI

    app = FastAPI()
    app.get("/answer")(lambda: {"text": "x" * 2000})
    with served(app) as url:
        connection = http.client.HTTPConnection("127.0.0.1", int(url.rstrip("/").rsplit(":")[-1]))
        times = []
        for _ in range(12):
            began = time.perf_counter()
            connection.request("GET", "/answer")
            assert connection.getresponse().read().startswith(b'{"text"')
            times.append(time.perf_counter() - began)
        connection.close()
    assert statistics.median(times[2:]) < 0.02, f"median {statistics.median(times[2:]):.3f} s"


def gate_last_frame(pipe, frames: int) -> threading.Event:
    """Hold `pipe.stream` before its last frame until the event is set: the test sees the page
    mid-prediction (frames arrive one by one, not all at the end) whatever the machine's speed."""
    gate, stream = threading.Event(), pipe.stream

    def gated(*args, **kwargs):
        for i, out in enumerate(stream(*args, **kwargs)):
            if i == frames - 1:
                assert gate.wait(timeout=120), "the test never released the last frame"
            yield out

    pipe.stream = gated  # on the instance: `del pipe.stream` restores the method
    return gate


def browser_path() -> str:
    found = shutil.which(CHROMIUM)
    if found is None:
        pytest.fail("Debian's chromium is not installed, so the page cannot be tested in a "
                    "browser: run `make setup` (it installs it with apt-get)")
    return found


@pytest.mark.slow
def test_the_page_in_a_headless_browser(pipe, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    executable, frames = browser_path(), 3
    gate = gate_last_frame(pipe, frames)
    try:
        with served(create_app(pipe, tmp_path / "work")) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                _drive_the_page(page, expect, url, frames, gate, tmp_path)
            finally:
                gate.set()
                browser.close()
    finally:
        gate.set()
        del pipe.stream


def _drive_the_page(page, expect, url, frames, gate, tmp_path):
    page.goto(url)
    expect(page.locator("#steps")).to_have_value("2")  # the server's defaults arrived
    page.fill("#clip", "5")
    page.dispatch_event("#clip", "change")
    expect(page.locator("#preview img")).to_have_count(2)  # the clip's context frames
    # a mistake is shown on the page as the server's one line
    page.fill("#steps", "0")
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")
    # 20 s, not Playwright's 5: once in CI the line had not arrived after 5 s (2026-12-02)
    expect(page.locator("#error")).to_contain_text("steps=0 must be at least 1",
                                                    timeout=20_000)
    page.fill("#steps", "1")
    page.fill("#frames", str(frames))
    page.click("#start")
    strip = page.locator("#strip-frame img")
    expect(strip).to_have_count(frames - 1, timeout=60_000)  # held before the last frame
    expect(page.locator("#download")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text(f"predicting frame {frames} of {frames}")
    for panel in ("canvas", "staticness", "truth"):
        expect(page.locator(f"#strip-{panel} img")).to_have_count(frames - 1)
    expect(page.locator("#now-frame")).to_have_attribute("src", re.compile("^data:image/png"))
    page.screenshot(path=str(tmp_path / "mid-prediction.png"), full_page=True)
    gate.set()
    expect(page.locator("#download")).to_be_visible(timeout=60_000)
    expect(strip).to_have_count(frames)
    expect(page.locator("#error")).to_be_hidden()
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "download.mp4"
    download.value.save_as(saved)
    assert saved.stat().st_size > 0
    assert decoded_frames(saved.read_bytes(), tmp_path / "check.mp4") == 2 + frames
    # an upload from the file picker is read and previewed
    page.set_input_files("#file", str(small_video(tmp_path / "mine.mp4")))
    expect(page.locator("#upload-status")).to_contain_text("mine.mp4: 6 frames read")
    expect(page.locator("#source-upload")).to_be_checked()
