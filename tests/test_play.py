"""Play mode (issue 18, web/play.py): the play files, plays from the recorded start and from
the live emulator, their frames, errors and MP4, through the Arcade and through the app."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from canvasmar.config import load_config
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model
from canvasmar.pipeline import Pipeline
from canvasmar.web.app import create_app
from canvasmar.web.jobs import NotFound
from canvasmar.web.play import MAX_STEPS, Arcade, PlaySpec, load_play, save_play
from tests.conftest import micro_overrides
from tests.test_serve import decoded_frames

ACTIONS = ["NOOP", "UP", "DOWN"]


def _pipe(*extra: str) -> Pipeline:
    cfg = load_config("tiny", [*micro_overrides(), "sample.steps=1", "sample.flow_steps=2",
                               *extra])
    torch.manual_seed(0)
    model, tok = build_model(cfg)
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    return Pipeline(model, tok, cfg)


@pytest.fixture(scope="module")
def pipe():
    return _pipe("model.actions=3")


def _spec(game: str = "", frames: int = 3) -> PlaySpec:
    start = np.random.default_rng(0).integers(0, 256, (frames, 16, 16, 3), dtype=np.uint8)
    return PlaySpec(game=game, actions=ACTIONS, keys={"ArrowUp": 1, "ArrowDown": 2},
                    fps=15, warmup=3, start=start, start_actions=[0] * (frames - 1))


def test_play_files_round_trip(tmp_path):
    spec = _spec("pong")
    save_play(tmp_path, spec)
    back = load_play(tmp_path)
    assert back.describe() == spec.describe()
    assert np.array_equal(back.start, spec.start)
    assert load_play(tmp_path / "nothing") is None
    (tmp_path / "play.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="unreadable play files"):
        load_play(tmp_path)
    with pytest.raises(UserError, match="3 start frames need 2 actions"):
        save_play(tmp_path, PlaySpec(game="", actions=ACTIONS, keys={}, start=spec.start,
                                     start_actions=[0]))


def test_a_recorded_play_steps_and_records(pipe, tmp_path):
    arcade = Arcade(pipe, _spec(), tmp_path)
    assert arcade.info()["context"] == 3 and not arcade.info()["emulator"]
    started = arcade.start(seed=1)
    assert not started["emulator"] and len(started["context"]) == 3
    play = started["play"]
    frames = [arcade.step(play, a) for a in (1, 1, 2, 0)]
    assert [f["step"] for f in frames] == [4, 5, 6, 7]
    assert all(f["frame"].startswith("data:image/png;base64,") and "real" not in f
               for f in frames)
    # the frames are the session's: the same seed and actions give the same frames
    again = arcade.start(seed=1)["play"]
    assert [arcade.step(again, a)["frame"] for a in (1, 1)] == [f["frame"] for f in frames[:2]]
    video = arcade.video(play)
    assert decoded_frames(video.read_bytes(), tmp_path / "check.mp4") == 3 + 4


def test_play_mistakes_are_clear_errors(pipe, tmp_path):
    arcade = Arcade(pipe, _spec(), tmp_path)
    play = arcade.start()["play"]
    for bad in (3, -1, "UP", 1.5):
        with pytest.raises(UserError, match="action must be an index from 0 to 2"):
            arcade.step(play, bad)
    with pytest.raises(NotFound, match="no play 'nope'"):
        arcade.step("nope", 0)
    arcade.plays[play].model_frames.extend([arcade.plays[play].model_frames[0]] * MAX_STEPS)
    with pytest.raises(UserError, match=f"at most {MAX_STEPS} frames"):
        arcade.step(play, 0)
    with pytest.raises(UserError, match="names 2 actions"):
        Arcade(pipe, PlaySpec(game="", actions=ACTIONS[:2], keys={}), tmp_path)
    with pytest.raises(UserError, match="discrete actions"):
        Arcade(_pipe(), _spec(), tmp_path)
    no_start = PlaySpec(game="", actions=ACTIONS, keys={})
    with pytest.raises(UserError, match="no recorded start"):
        Arcade(pipe, no_start, tmp_path).start()


def test_a_live_play_steps_the_emulator_beside_the_model(pipe, tmp_path):
    pytest.importorskip("ale_py", reason="the atari extra (make setup installs it)")
    arcade = Arcade(pipe, _spec("pong", frames=2), tmp_path)
    started = arcade.start(seed=0)
    assert started["emulator"] and len(started["context"]) == 2
    out = [arcade.step(started["play"], a) for a in (1, 1, 1)]
    assert all(o["real"].startswith("data:image/png") and not o["game_over"] for o in out)
    play = arcade.plays[started["play"]]
    assert len(play.real_frames) == len(play.model_frames) == 5
    assert play.real_frames[0].shape == (16, 16, 3)
    video = arcade.video(started["play"])
    assert decoded_frames(video.read_bytes(), tmp_path / "check.mp4") == 5
    # asked for the recorded start, a live-capable arcade uses it
    assert not arcade.start(emulator=False)["emulator"]


def test_the_play_routes(pipe, tmp_path):
    with TestClient(create_app(pipe, tmp_path / "work", play=_spec())) as client:
        info = client.get("/api/info").json()["play"]
        assert info["actions"] == ACTIONS and info["keys"]["ArrowUp"] == 1
        started = client.post("/api/play", json={"seed": 3}).json()
        url = f"/api/play/{started['play']}"
        for action in (1, 2):
            answer = client.post(f"{url}/step", json={"action": action})
            assert answer.status_code == 200 and answer.json()["frame"].startswith("data:")
        bad = client.post(f"{url}/step", json={"action": 7})
        assert bad.status_code == 400 and "action must be an index" in bad.json()["error"]
        bad = client.post(f"{url}/step", json={"move": 1})
        assert bad.status_code == 400 and "move" in bad.json()["error"]
        assert client.post("/api/play/nope/step", json={"action": 0}).status_code == 404
        video = client.get(f"{url}/video.mp4")
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with TestClient(create_app(_pipe(), tmp_path / "other")) as client:
        assert client.get("/api/info").json()["play"] is None
        missing = client.post("/api/play", json={})
        assert missing.status_code == 404 and "no play mode" in missing.json()["error"]


def test_saved_pipelines_keep_their_play_files(pipe, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    save_play(source, _spec())
    pipe.source = source
    try:
        out = pipe.save_pretrained(tmp_path / "copy")
    finally:
        pipe.source = None
    assert load_play(out).describe() == _spec().describe()


def play_in_the_browser(app, tmp_path, steps: int) -> dict:
    """Open the page, start a play, hold ArrowUp, then ArrowDown, for `steps` frames, stop
    and download the MP4 -> what the page measured and the MP4's frame count."""
    from playwright.sync_api import expect, sync_playwright

    from tests.test_serve import browser_path, served

    with served(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path(), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            expect(page.locator("#play")).to_be_visible()
            actions = app.state.arcade.spec.actions
            expect(page.locator("#play-buttons button")).to_have_count(len(actions))
            page.click("#play-start")
            expect(page.locator("#play-stop")).to_be_enabled(timeout=60_000)
            status = page.locator("#play-status")
            page.keyboard.down("ArrowUp")
            page.wait_for_function("n => Number(document.querySelector('#play-status')"
                                   ".dataset.steps || 0) >= n", arg=steps // 2, timeout=120_000)
            page.keyboard.up("ArrowUp")
            page.keyboard.down("ArrowDown")
            page.wait_for_function("n => Number(document.querySelector('#play-status')"
                                   ".dataset.steps || 0) >= n", arg=steps, timeout=120_000)
            page.keyboard.up("ArrowDown")
            fps = float(status.get_attribute("data-fps"))
            page.screenshot(path=str(tmp_path / "play.png"), full_page=True)
            page.click("#play-stop")
            expect(page.locator("#play-download")).to_be_visible()
            expect(page.locator("#error")).to_be_hidden()
            with page.expect_download() as download:
                page.click("#play-download")
            saved = tmp_path / "played.mp4"
            download.value.save_as(saved)
            return {"fps": fps, "frames": decoded_frames(saved.read_bytes(),
                                                         tmp_path / "check.mp4"),
                    "real": page.locator("#play-real-figure").is_visible()}
        finally:
            browser.close()


@pytest.mark.slow
def test_the_page_plays_a_game(pipe, tmp_path):
    app = create_app(pipe, tmp_path / "work", play=_spec())
    out = play_in_the_browser(app, tmp_path, steps=20)
    assert out["frames"] >= 3 + 20 and not out["real"]


SHIPPED_GAME = Path(__file__).resolve().parents[1] / "checkpoints" / "atari-pong"


@pytest.mark.slow
def test_the_shipped_pong_model_plays_100_steps_through_the_page(tmp_path):
    """Issue 18: the shipped game model, played through the page on our 2-core CPU at batch 1
    with the emulator beside it (the page asks for 15 frames per second), at >= 10 frames per
    second. With its sample.keep_unchanged=0.1 a model step takes 13 ms instead of 45
    (only the tokens the canvas expects to change go through the flow head): the page played
    12.6, 12.0 and 12.3 frames/s in three runs on 2026-12-02 while a training run held one of
    the two cores, and 15.0 (its own rate) on a slower machine on 2026-12-07 once the server
    stopped waiting for delayed ACKs, where it had played 9.9 (docs/world-model.md)."""
    pytest.importorskip("ale_py", reason="the atari extra (make setup installs it)")
    import canvasmar

    pipe = canvasmar.load_pipeline(SHIPPED_GAME)
    app = create_app(pipe, tmp_path / "work")
    assert app.state.arcade.spec.game == "pong"
    out = play_in_the_browser(app, tmp_path, steps=100)
    context = len(app.state.arcade.spec.start)
    assert out["real"] and out["frames"] >= context + 100
    assert out["fps"] >= 10, f"the page played at {out['fps']:.1f} frames per second"
