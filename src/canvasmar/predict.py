"""Predict frames from a pipeline and write an MP4 and a PNG grid (`canvasmar sample`).

Both show, per clip, the panels of the paper's Fig. 1/4: canvas | staticness heat map |
generated | ground truth (when known), each labelled, over time: first the context frames
(shown in every panel: the model's input), then the predicted ones. The MP4 has a panel per
column and a clip per row, a frame counter ('context 1/2', 'predicted 3/16') and a colour bar
of the staticness map; the PNG has a block per clip, a panel per row and numbered columns
(context, then up to 16 predicted frames). Labels sit in margins: the pixels of each panel
are the model's output, upscaled (nearest), and the same inputs give the same PNG bytes.
Sampling settings are the pipeline's (`pipe.cfg.sample`, changed with
`config.with_sample_overrides`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from canvasmar.data.actions import actions_path, load_actions
from canvasmar.errors import UserError
from canvasmar.labels import BACKGROUND, Panels, labelled_movie, labelled_sheet
from canvasmar.media import heatmap, read_video, resize_video, to_uint8, write_png, write_video
from canvasmar.outputs import claim_outputs
from canvasmar.pipeline import Pipeline


def builtin_context(pipe: Pipeline, context: int, frames: int, clips: int, first_clip: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Built-in test clips: (clips, context, C, H, W) context and (clips, frames, ...) truth."""
    from canvasmar.data.procedural import ProceduralVideos

    _, h, _ = pipe.frame_shape
    return _first_clips(ProceduralVideos("test", frames=context + frames, resolution=h),
                        "built-in", context, clips, first_clip)


def model_data_context(pipe: Pipeline, context: int, frames: int, clips: int, first_clip: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Test-split clips of the data the model was trained on (its data.source: the built-in
    videos, a folder such as a Pong recording, a benchmark), as `builtin_context` gives the
    built-in ones. (A Pong model was once given the built-in shapes here.)"""
    import dataclasses

    from canvasmar.data import build_dataset

    source = pipe.cfg.data.source or "builtin"
    if source == "builtin":
        return builtin_context(pipe, context, frames, clips, first_clip)
    cfg = dataclasses.replace(pipe.cfg.data, frames=context + frames,
                              resolution=pipe.frame_shape[1])
    try:
        data = build_dataset(cfg, "test")
    except UserError as exc:
        raise UserError(f"without --video the context is a test clip of the model's own data "
                        f"({source}), and that failed: {exc}. Give --video FILE") from None
    return _first_clips(data, source, context, clips, first_clip)


def _first_clips(data, name: str, context: int, clips: int, first_clip: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    if first_clip + clips > len(data):
        raise UserError(f"the {name} test split has {len(data)} clips; "
                        f"--clip {first_clip} with {clips} clips runs past it")
    videos = torch.stack([data[first_clip + i] for i in range(clips)])
    return videos[:, :context], videos[:, context:]


def video_context(pipe: Pipeline, path: str, context: int, frames: int, resize: bool
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A user's video: its first `context` frames; the next ones are the ground truth."""
    video = read_video(path, max_frames=context + frames)
    if len(video) < context:
        raise UserError(f"'{path}' has {len(video)} frames but --context {context} needs "
                        f"at least {context}")
    c, h, w = pipe.frame_shape
    if tuple(video.shape[-2:]) != (h, w):
        if not resize:
            raise UserError(f"'{path}' is {video.shape[-2]}x{video.shape[-1]}, the model "
                            f"expects {h}x{w}: add --resize to resize and centre-crop")
        video = resize_video(video[None], h)[0]
    truth = video[context:] if len(video) > context else None
    return video[None, :context], (None if truth is None else truth[None])


def _padded(values: np.ndarray | list, length: int, kind: str, count: int) -> np.ndarray:
    """The first `length` actions, the missing ones unknown (-1, or a row of NaN)."""
    if kind == "discrete":
        out = np.full(length, -1, dtype=np.int64)
    else:
        out = np.full((length, count), np.nan, dtype=np.float32)
    values = np.asarray(values)[:length]
    out[:len(values)] = values
    return out


def sample_actions(pipe: Pipeline, video: str | None, choice: str, context: int,
                   frames: int) -> dict:
    """`--actions` -> the pipeline's action keywords. `auto`: a model with actions given a
    recorded `--video` (NAME.actions.json beside it) gets the recorded actions, else none;
    `none`: the null action; `I,I,...`: these action indices after the last context frame
    (the rest unknown), the context's from the recording if there is one."""
    model = pipe.model
    if choice == "none" or (choice == "auto" and not model.has_actions):
        return {}
    if not model.has_actions:
        raise UserError("--actions: this model was trained without actions (model.actions=0); "
                        "leave --actions out")
    count, kind = model.cfg.actions, model.cfg.action_kind
    out, recorded = {}, None
    if video is not None and actions_path(video).is_file():
        try:
            available = len(json.loads(actions_path(video).read_text())["actions"])
        except (OSError, ValueError, KeyError, TypeError):
            available = 0  # load_actions names the problem
        recorded = load_actions(video, min(available + 1, context + frames), count, kind)
        out["context_actions"] = _padded(recorded[:context - 1], context - 1, kind, count)
    if choice == "auto":
        if recorded is not None:
            out["actions"] = _padded(recorded[context - 1:], frames, kind, count)
        return out
    if kind != "discrete":
        raise UserError("--actions I,I,... gives discrete action indices; a continuous-action "
                        "model takes its actions from a recorded --video (NAME.actions.json)")
    try:
        indices = [int(x) for x in choice.split(",")]
    except ValueError:
        raise UserError(f"--actions {choice}: give auto, none or action indices such as "
                        f"2,2,3") from None
    if len(indices) > frames or any(not 0 <= i < count for i in indices):
        raise UserError(f"--actions {choice}: at most --frames {frames} indices, each from 0 "
                        f"to {count - 1}")
    out["actions"] = _padded(indices, frames, kind, count)
    return out


PANEL_ORDER = ("canvas", "staticness", "generated", "ground truth")  # Fig. 1's rows
MOVIE_PANEL, SHEET_PANEL = 256, 96  # about this many pixels per panel (nearest upscaling)


def panel_columns(context: torch.Tensor, generated: torch.Tensor, canvas: torch.Tensor | None,
                  static: torch.Tensor | None, truth: torch.Tensor | None
                  ) -> Panels:
    """One clip's panels over time, (name, (T, H, W, 3) uint8) in PANEL_ORDER: the context
    frames, then the predicted ones. During the context every panel shows the context frame
    (what the model was given); ground truth past the end of a user's video is left blank."""
    n, (h, w) = len(generated), tuple(generated.shape[-2:])
    columns = {"generated": to_uint8(generated)}
    if canvas is not None and static is not None:
        columns["canvas"] = to_uint8(canvas)
        columns["staticness"] = to_uint8(torch.stack([heatmap(s, (h, w)) for s in static]))
    if truth is not None:
        known = to_uint8(truth[:n])
        missing = np.full((n - len(known), h, w, 3), BACKGROUND, np.uint8)
        columns["ground truth"] = np.concatenate([known, missing])
    given = to_uint8(context)
    return [(name, np.concatenate([given, columns[name]])) for name in PANEL_ORDER
            if name in columns]


def frame_counter(t: int, context: int, total: int) -> str:
    """'context 1/2' for the given frames, then 'predicted 3/16'."""
    if t < context:
        return f"context {t + 1}/{context}"
    return f"predicted {t - context + 1}/{total - context}"


def sample_movie(clips: list[Panels], rows: list[str], context: int) -> np.ndarray:
    """The MP4's frames: a column per panel, a row per clip, frame counter and colour bar."""
    t = len(clips[0][0][1])
    return labelled_movie(clips, rows, [frame_counter(i, context, t) for i in range(t)],
                          context=context, panel=MOVIE_PANEL)


def sample_sheet(clips: list[Panels], titles: list[str], context: int,
                 max_columns: int = 16, max_context: int = 4) -> np.ndarray:
    """The PNG: a block per clip, a row per panel, the last `max_context` context frames then
    up to `max_columns` predicted frames spread over the rollout, each column numbered."""
    t = len(clips[0][0][1])
    shown = list(range(max(0, context - max_context), context))
    keep = torch.linspace(0, t - context - 1, min(t - context, max_columns)).round().long()
    times = shown + [context + int(k) for k in keep]
    labels = [str(i + 1) for i in shown] + [str(int(k) + 1) for k in keep]
    groups = [(0, len(shown), "context"), (len(shown), len(times), "predicted")]
    return labelled_sheet(clips, titles, times, labels, groups, split=len(shown),
                          panel=SHEET_PANEL)


def clip_names(video: str | None, first_clip: int, clips: int, num_samples: int
               ) -> tuple[list[str], list[str]]:
    """Row labels of the MP4 ('clip 3' or 'clip 3\nsample 2') and titles of the PNG's blocks."""
    rows, titles = [], []
    for b in range(clips * num_samples):
        clip = Path(video).name if video else f"clip {first_clip + b // num_samples}"
        sample = f"sample {b % num_samples + 1}" if num_samples > 1 else ""
        rows.append(f"{clip}\n{sample}" if sample else clip)
        titles.append(f"{clip}, {sample}" if sample else clip)
    return rows, titles


def run_sample(pipe: Pipeline, out: Path, *, video: str | None, context: int, frames: int,
               num_samples: int, clips: int, first_clip: int, seed: int, resize: bool,
               gif: bool, progress: bool = True, force: bool = False, actions: str = "auto"
               ) -> list[Path]:
    """Generate with `pipe.cfg.sample`'s settings (and `actions`, see sample_actions), then
    write OUT (mp4), OUT.png and optionally OUT.gif. Returns the paths."""
    for name, value in (("--frames", frames), ("--context", context),
                        ("--num-samples", num_samples), ("--clips", clips)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise UserError(f"--out {out}: give a file name ending in .mp4 (or .gif)")
    claim_outputs(output_paths(out, gif), force=force, inputs=[video])
    action_keywords = sample_actions(pipe, video, actions, context, frames)
    if video is None:
        ctx, truth = model_data_context(pipe, context, frames, clips, first_clip)
    else:
        ctx, truth = video_context(pipe, video, context, frames, resize)
    ctx = ctx.repeat_interleave(num_samples, dim=0)
    truth = None if truth is None else truth.repeat_interleave(num_samples, dim=0)
    generator = torch.Generator().manual_seed(seed)
    outs = list(tqdm(pipe.stream(ctx, frames, generator=generator, return_canvas=True,
                                 **action_keywords),
                     total=frames, desc="frames", disable=not progress))
    generated = torch.stack([o.frame for o in outs], 1).cpu()
    has_canvas = outs[0].canvas is not None
    canvas = torch.stack([o.canvas for o in outs], 1).cpu() if has_canvas else None
    static = torch.stack([o.staticness for o in outs], 1).cpu() if has_canvas else None
    panels = [panel_columns(ctx[b].cpu(), generated[b], None if canvas is None else canvas[b],
                            None if static is None else static[b],
                            None if truth is None else truth[b])
              for b in range(len(generated))]
    rows, titles = clip_names(video, first_clip, len(ctx) // num_samples, num_samples)
    movie = sample_movie(panels, rows, context)
    paths = [write_video(out, movie, fps=4)]
    if gif and out.suffix.lower() != ".gif":
        paths.append(write_video(out.with_suffix(".gif"), movie, fps=4))
    paths.append(write_png(out.with_suffix(".png"), sample_sheet(panels, titles, context)))
    return paths


def output_paths(out: Path, gif: bool) -> list[Path]:
    """What `run_sample` writes: OUT, OUT.png, and OUT.gif with `gif` (an .mp4 OUT)."""
    paths = [out, out.with_suffix(".png")]
    if gif and out.suffix.lower() != ".gif":
        paths.append(out.with_suffix(".gif"))
    return paths
