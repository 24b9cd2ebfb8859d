"""The routes of `canvasmar serve` (FastAPI): the page, its form's data, uploads, prediction
jobs streamed as server-sent events, and the MP4s to download.

    POST /api/uploads?name=clip.mp4   the raw file as the body -> {upload, frames, preview}
    POST /api/jobs                    JSON (clip or upload, settings) -> {job, events}
    GET  /api/jobs/ID/events          SSE: context, frame (one per frame), done | failed
    GET  /api/jobs/ID/video.mp4       the finished prediction
    POST /api/play                    JSON {seed, emulator} -> {play, emulator, context}
    POST /api/play/ID/step            JSON {action} -> {frame, real?, step, ms, game_over}
    GET  /api/play/ID/video.mp4       the played episode so far (play mode: web/play.py)

A job is checked in full when it is posted, so a mistake is a 400 with {"error": one line}
before anything streams (an EventSource cannot read an error response's body).
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from contextlib import asynccontextmanager
from dataclasses import fields
from pathlib import Path
from typing import get_type_hints

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, create_model
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from canvasmar.errors import UserError
from canvasmar.pipeline import Pipeline
from canvasmar.web.jobs import MAX_CONTEXT, MAX_UPLOAD_BYTES, JobRequest, NotFound, Studio
from canvasmar.web.play import Arcade, PlaySpec, load_play

STATIC = Path(__file__).parent / "static"


# The JSON of POST /api/jobs: JobRequest's fields and defaults, validated by pydantic; unknown
# keys are refused by name (a misspelt setting would otherwise be ignored).
JobIn = create_model("JobIn", __config__=ConfigDict(extra="forbid"),
                     **{f.name: (hint, f.default) for f in fields(JobRequest)
                        for hint in [get_type_hints(JobRequest)[f.name]]})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    """pydantic's list of problems -> one line naming each field."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


class PlayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    emulator: bool = True  # the live emulator when installed, else the recorded start


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: int


def create_app(pipe: Pipeline, workdir: str | Path | None = None,
               play: PlaySpec | None = None) -> FastAPI:
    """The page's app around `pipe`. Uploads and MP4s live in `workdir` (default: a temporary
    folder removed when the app shuts down). A model with actions is also playable, with
    `play` or the play files beside its weights (web/play.py)."""
    own = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="canvasmar-serve-") if own else workdir)
    folder.mkdir(parents=True, exist_ok=True)
    studio = Studio(pipe, folder)
    if play is None and pipe.model.has_actions and pipe.source is not None:
        play = load_play(pipe.source)
    arcade = Arcade(pipe, play, folder) if play is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if own:
            shutil.rmtree(folder, ignore_errors=True)

    app = FastAPI(title="CanvasMAR", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.studio, app.state.arcade = studio, arcade
    app.add_exception_handler(UserError, lambda r, e: _error(400, str(e)))
    app.add_exception_handler(NotFound, lambda r, e: _error(404, str(e)))
    app.add_exception_handler(RequestValidationError,
                              lambda r, e: _error(400, _validation_message(e)))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_routes(app, studio, arcade)
    _add_play_routes(app, arcade)
    return app


def _add_routes(app: FastAPI, studio: Studio, arcade: Arcade | None) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info")
    def info() -> dict:
        return {**studio.info(), "play": None if arcade is None else arcade.info()}

    @app.get("/api/clips/{clip}")
    def clip(clip: int, context: int = 2) -> dict:
        if not 1 <= context <= MAX_CONTEXT:
            raise UserError(f"context must be from 1 to {MAX_CONTEXT}, got {context}")
        return {"clip": clip, "frames": studio.clip_preview(clip, context)}

    @app.post("/api/uploads")
    async def upload(request: Request, name: str = "upload.mp4") -> dict:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD_BYTES:
                raise UserError(f"'{name}' is larger than {MAX_UPLOAD_BYTES // 2**20} MB: "
                                f"upload a shorter clip")
        return await run_in_threadpool(studio.add_upload, bytes(data), name)

    @app.post("/api/jobs")
    def new_job(body: JobIn) -> dict:
        job = studio.new_job(JobRequest(**body.model_dump()))
        return {"job": job.id, "events": f"/api/jobs/{job.id}/events"}

    @app.get("/api/jobs/{job_id}/events")
    def events(job_id: str):
        job = studio.job(job_id)
        if job.started:  # an EventSource reconnects by itself; a job runs once
            return _error(409, "this prediction has already run: start a new one")

        def stream():
            for name, data in studio.events(job):
                yield {"event": name, "data": json.dumps(data)}

        return EventSourceResponse(stream())

    @app.get("/api/jobs/{job_id}/video.mp4")
    def video(job_id: str) -> FileResponse:
        job = studio.job(job_id)
        if job.video is None or not job.video.exists():
            raise NotFound("this prediction has no video yet: wait for its last frame")
        return FileResponse(job.video, media_type="video/mp4",
                            filename=f"canvasmar-{job_id}.mp4")


def _add_play_routes(app: FastAPI, arcade: Arcade | None) -> None:
    def playable() -> Arcade:
        if arcade is None:
            raise NotFound("this model has no play mode: it needs a model trained with "
                           "actions and its play files (docs/world-model.md)")
        return arcade

    @app.post("/api/play")
    def new_play(body: PlayIn) -> dict:
        return playable().start(body.seed, body.emulator)

    @app.post("/api/play/{play_id}/step")
    def step(play_id: str, body: StepIn) -> dict:
        return playable().step(play_id, body.action)

    @app.get("/api/play/{play_id}/video.mp4")
    def play_video(play_id: str) -> FileResponse:
        return FileResponse(playable().video(play_id), media_type="video/mp4",
                            filename=f"canvasmar-play-{play_id}.mp4")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or a UserError saying why not,
    before the server starts (uvicorn would log a traceback-like error and exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on connections whose
    # socket says TCP, and without it Nagle held each response's body until the browser's
    # delayed ACK (~40 ms per request on a kept-alive connection: the play page ran at 10
    # frames/s instead of 20, tests/test_serve.py::test_requests_do_not_wait_for_delayed_acks).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another "
                        f"--port or --host") from None
    return sock


def make_server(app: FastAPI, log_level: str = "warning"):
    """A uvicorn server for `app`; run it with `.run(sockets=[bind(host, port)])` (in any
    thread: signals are only handled in the main one) and stop it with `.should_exit = True`."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))
