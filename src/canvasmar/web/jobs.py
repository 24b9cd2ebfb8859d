"""The web page's work without the web: uploaded videos, prediction jobs and the events they
send (context, one per predicted frame, done), and the MP4 each job leaves to download.

Kept free of FastAPI so the app (`web/app.py`) is only routes; every mistake a user can make
here is a UserError, which the app answers with a 400 and its one-line message.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from canvasmar.errors import UserError
from canvasmar.media import heatmap, read_video, resize_video, to_uint8, upscale, write_video
from canvasmar.pipeline import Pipeline
from canvasmar.predict import builtin_context

log = logging.getLogger(__name__)

# Bounds of one request: a page on a laptop CPU should answer in minutes, not hours, and an
# upload is decoded in full at its own size before it is resized (64 1080p frames ~ 1.6 GB).
MAX_CONTEXT, MAX_FRAMES = 16, 48
MAX_UPLOAD_BYTES = 200 * 2**20
# FFmpeg guesses formats from content too: it reads a .txt file as a 'tty' video of rendered
# text, so only names with a video suffix are tried at all.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".gif", ".mpg", ".mpeg")
KEEP_UPLOADS, KEEP_JOBS = 8, 16  # older ones are dropped (their MP4 deleted) as new ones come
FPS = 4  # the MP4's frame rate, as `canvasmar sample` writes


class NotFound(Exception):
    """A job the server does not hold (or holds no video of yet): the app answers 404."""


@dataclass(frozen=True)
class JobRequest:
    """What the page asks for: a built-in test clip or an upload as context, how many frames,
    and the sampling settings (None: the checkpoint's, or the serve command's flags)."""

    clip: int | None = None
    upload: str | None = None
    context: int = 2
    frames: int = 16
    steps: int | None = None
    cfg_canvas: float | None = None
    cfg_temporal: float | None = None
    temperature: float | None = None  # MAR's temperature: sample.head_temperature
    flow_steps: int | None = None
    seed: int = 0


@dataclass
class Job:
    id: str
    context: torch.Tensor  # (1, T, C, H, W) in [0, 1] at the model's size
    truth: torch.Tensor | None  # (T', C, H, W): the clip's real frames after the context
    frames: int
    options: dict
    seed: int
    started: bool = False
    video: Path | None = None


@dataclass
class Studio:
    """One model served to the page: its uploads, jobs and their files under `workdir`."""

    pipe: Pipeline
    workdir: Path
    uploads: OrderedDict[str, torch.Tensor] = field(default_factory=OrderedDict)
    jobs: OrderedDict[str, Job] = field(default_factory=OrderedDict)
    # uploads and jobs arrive on the server's worker threads
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def clips_from(self) -> str:
        """Whose test clips the page offers: the model's own data (data.source)."""
        source = self.pipe.cfg.data.source or "builtin"
        return "built-in" if source == "builtin" else source

    @functools.cached_property
    def _own_clips(self) -> tuple[object | None, str | None]:
        """A model trained on a folder (a game recording) or a benchmark: that data's test
        clips, each MAX_CONTEXT + MAX_FRAMES frames (so a clip's context is the same whatever
        the job asks), or None and why, when the data is not on this machine (a downloaded
        model's training folder usually is not): uploads still work. (Such a model was once
        offered the built-in shapes.)"""
        import dataclasses

        from canvasmar.data import build_dataset

        cfg = dataclasses.replace(self.pipe.cfg.data, frames=MAX_CONTEXT + MAX_FRAMES,
                                  resolution=self.pipe.frame_shape[1])
        try:
            return build_dataset(cfg, "test"), None
        except UserError as exc:
            return None, str(exc)

    @property
    def clips(self) -> int:
        """How many test clips there are to pick from (0: the model's data is not here)."""
        if self.clips_from == "built-in":
            from canvasmar.data.procedural import ProceduralVideos

            return len(ProceduralVideos("test", frames=2, resolution=self.pipe.frame_shape[1]))
        data, _ = self._own_clips
        return 0 if data is None else len(data)

    def info(self) -> dict:
        """What the page needs to draw its form: the model's frame size, the default settings
        and the bounds of each field."""
        s = self.pipe.cfg.sample
        c, h, w = self.pipe.frame_shape
        missing = None if self.clips_from == "built-in" else self._own_clips[1]
        return {"frame": [c, h, w], "clips": self.clips, "clips_from": self.clips_from,
                "clips_missing": missing, "max_context": MAX_CONTEXT,
                "max_frames": MAX_FRAMES, "max_upload_mb": MAX_UPLOAD_BYTES // 2**20,
                "video_suffixes": list(VIDEO_SUFFIXES),
                "defaults": {"context": 2, "frames": 16, "steps": s.steps,
                             "cfg_canvas": s.cfg_canvas, "cfg_temporal": s.cfg_temporal,
                             "temperature": s.head_temperature, "flow_steps": s.flow_steps,
                             "seed": 0}}

    def clip_preview(self, clip: int, context: int = 2) -> list[str]:
        """The context frames of built-in clip `clip` as PNG data URLs."""
        ctx, _ = self._test_clip(clip, context, 1)
        return [png_data_url(f) for f in ctx[0]]

    def add_upload(self, data: bytes, name: str) -> dict:
        """Decode an uploaded video (resized and centre-cropped to the model's frames) and keep
        its first frames; -> its id and frame count."""
        suffix = Path(name).suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            raise UserError(f"'{name}' is not a video file: upload one ending in "
                            f"{', '.join(VIDEO_SUFFIXES)}")
        if not data:
            raise UserError(f"'{name}' is empty")
        path = self.workdir / f"upload-{secrets.token_hex(8)}{suffix}"
        path.write_bytes(data)
        try:
            video = read_video(path, max_frames=MAX_CONTEXT + MAX_FRAMES)
        except UserError:
            raise UserError(f"'{name}' cannot be decoded as a video: upload an mp4, mov, "
                            f"avi, mkv, webm or gif file") from None
        finally:
            path.unlink(missing_ok=True)
        _, h, w = self.pipe.frame_shape
        if tuple(video.shape[-2:]) != (h, w):
            video = resize_video(video[None], h)[0]
        key = secrets.token_hex(8)
        with self.lock:
            self.uploads[key] = video
            keep_last(self.uploads, KEEP_UPLOADS)
        return {"upload": key, "name": name, "frames": len(video),
                "preview": png_data_url(video[0])}

    def new_job(self, req: JobRequest) -> Job:
        """Check a request in full (so the page hears of a mistake before any event) and read
        its context; -> the job, to be run once by `events`."""
        _check_range("context", req.context, 1, MAX_CONTEXT)
        _check_range("frames", req.frames, 1, MAX_FRAMES)
        options = {"steps": req.steps, "cfg_canvas": req.cfg_canvas,
                   "cfg_temporal": req.cfg_temporal, "head_temperature": req.temperature,
                   "flow_steps": req.flow_steps}
        options = {k: v for k, v in options.items() if v is not None}
        try:
            self.pipe.options(**options)  # SampleConfig.validate: a 'sample.steps' message
        except UserError as exc:
            raise UserError(str(exc).replace("sample.head_temperature", "temperature")
                            .replace("sample.", "")) from None
        if (req.clip is None) == (req.upload is None):
            raise UserError(f"pick either a {self.clips_from} test clip or an uploaded video")
        if req.clip is not None:
            ctx, truth = self._test_clip(req.clip, req.context, req.frames)
        else:
            ctx, truth = self._uploaded(req.upload, req.context)
        job = Job(secrets.token_hex(8), ctx, truth, req.frames, options, req.seed)
        with self.lock:
            self.jobs[job.id] = job
            dropped = keep_last(self.jobs, KEEP_JOBS)
        for old in dropped:
            if old.video is not None:
                old.video.unlink(missing_ok=True)
        return job

    def job(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise NotFound(f"no prediction '{job_id}' (it may have been dropped for newer "
                              f"ones): start it again")
        return self.jobs[job_id]

    def events(self, job: Job) -> Iterator[tuple[str, dict]]:
        """Run `job`: ('context', ...), then ('frame', ...) as each frame is made, then ('done',
        {download}) once its MP4 is written, or ("failed", {message})."""
        job.started = True
        yield "context", {"frames": [png_data_url(f) for f in job.context[0]],
                          "total": job.frames}
        try:
            start = time.perf_counter()
            panels = []
            for index, panel in enumerate(self._predict(job)):
                panels.append(panel)
                yield "frame", {"index": index, **{k: png_data_url(v) for k, v in
                                                   panel.items()}}
            job.video = self._write_movie(job, panels)
        except UserError as exc:
            yield "failed", {"message": str(exc)}
            return
        except Exception as exc:  # a bug: the page is told, the traceback goes to the log
            log.exception("prediction %s failed", job.id)
            yield "failed", {"message": f"internal error ({type(exc).__name__}: {exc}); "
                                       f"see the server's log"}
            return
        yield "done", {"download": f"/api/jobs/{job.id}/video.mp4",
                       "seconds": round(time.perf_counter() - start, 2)}

    def _predict(self, job: Job) -> Iterator[dict]:
        """One dict of (3, H, W) panels per predicted frame: frame, canvas, staticness, truth
        (the last three None where the model has no canvas or the truth is unknown)."""
        size = tuple(job.context.shape[-2:])
        generator = torch.Generator().manual_seed(job.seed)
        stream = self.pipe.stream(job.context, job.frames, return_canvas=True,
                                  generator=generator, **job.options)
        for i, out in enumerate(stream):
            truth = job.truth
            yield {"frame": out.frame[0].cpu(),
                   "canvas": None if out.canvas is None else out.canvas[0].cpu(),
                   "staticness": (None if out.staticness is None
                                  else heatmap(out.staticness[0], size)),
                   "truth": None if truth is None or i >= len(truth) else truth[i]}

    def _write_movie(self, job: Job, panels: list[dict]) -> Path:
        """The MP4 to download: over time, the video (context, then predictions) beside the
        canvas, the staticness map and the truth, as `canvasmar sample` lays them out."""
        context = job.context[0].cpu()
        blank = torch.ones_like(context[0])
        columns = ["frame"] + [k for k in ("canvas", "staticness", "truth")
                               if any(p[k] is not None for p in panels)]
        rows = [torch.cat([f, *[blank] * (len(columns) - 1)], dim=2) for f in context]
        if "truth" in columns:  # the context is its own truth
            rows = [torch.cat([f, *[blank] * (len(columns) - 2), f], dim=2) for f in context]
        for p in panels:
            rows.append(torch.cat([blank if p[k] is None else p[k] for k in columns], dim=2))
        movie = torch.stack(rows)
        path = self.workdir / f"{job.id}.mp4"
        return write_video(path, upscale(to_uint8(movie), max(1, 256 // movie.shape[-2])),
                           fps=FPS)

    def _test_clip(self, clip: int, context: int, frames: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Test clip `clip` of the model's data: its context (1, T, ...) and the truth."""
        clips, name = self.clips, self.clips_from
        if clips == 0:
            raise UserError(f"this model's test clips ({name}) are not on this machine "
                            f"({self._own_clips[1]}): upload a video instead")
        if not 0 <= clip < clips:
            raise UserError(f"there is no {name} clip {clip}: pick one of 0 to {clips - 1}")
        if name == "built-in":
            ctx, truth = builtin_context(self.pipe, context, frames, 1, clip)
            return ctx, truth[0]
        video = self._own_clips[0][clip]
        return video[None, :context], video[context:context + frames]

    def _uploaded(self, key: str, context: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if key not in self.uploads:
            raise UserError("that upload is gone (the server keeps the last "
                            f"{KEEP_UPLOADS}): upload the video again")
        video = self.uploads[key]
        if len(video) < context:
            raise UserError(f"the uploaded video has {len(video)} frames, fewer than the "
                            f"{context} context frames asked for")
        truth = video[context:] if len(video) > context else None
        return video[None, :context], truth


def png_data_url(image: torch.Tensor | None) -> str | None:
    """(C, H, W) in [0, 1] -> a `data:image/png;base64,...` URL the page shows as it is
    (the page scales it up with pixelated rendering); None stays None."""
    if image is None:
        return None
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, to_uint8(image[None])[0], format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise UserError(f"{name} must be from {low} to {high}, got {value}")


def keep_last(items: OrderedDict, keep: int) -> list:
    """Drop the oldest entries beyond `keep`; -> the dropped values."""
    dropped = []
    while len(items) > keep:
        dropped.append(items.popitem(last=False)[1])
    return dropped
