"""Predict frames from a pipeline and write an MP4 and a PNG grid (`canvasmar sample`).

The PNG has, per sample, the rows of the paper's Fig. 1/4: context | canvas | staticness heat
map | generated | ground truth (when known). The MP4 shows, side by side and over time: the
video (context, then generated frames), the canvas, the staticness map and the ground truth.
Sampling settings are the pipeline's (`pipe.cfg.sample`, changed with
`config.with_sample_overrides`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm import tqdm

from canvasmar.errors import UserError
from canvasmar.media import (
    grid_image,
    heatmap,
    read_video,
    resize_video,
    saved_figure,
    to_uint8,
    upscale,
    write_video,
)
from canvasmar.outputs import claim_outputs
from canvasmar.pipeline import Pipeline


def builtin_context(pipe: Pipeline, context: int, frames: int, clips: int, first_clip: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Test-split clips: (clips, context, C, H, W) context and (clips, frames, ...) truth."""
    from canvasmar.data.procedural import ProceduralVideos

    _, h, _ = pipe.frame_shape
    data = ProceduralVideos("test", frames=context + frames, resolution=h)
    if first_clip + clips > len(data):
        raise UserError(f"the built-in test split has {len(data)} clips; "
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


def _panel_rows(context, canvas, static, generated, truth, size):
    """Per sample: rows (each (N, 3, H, W)) for the PNG, in Fig. 1 order."""
    n = generated.shape[0]
    blank = torch.ones(n, 3, *size)
    ctx = blank.clone()
    ctx[:min(n, len(context))] = context[-n:]
    rows = [ctx]
    if canvas is not None:
        rows += [canvas, torch.stack([heatmap(s, size) for s in static])]
    rows.append(generated)
    if truth is not None:
        row = blank.clone()
        row[:len(truth)] = truth[:n]
        rows.append(row)
    return rows


def write_grid_png(path: Path, samples: list[list[torch.Tensor]], names: list[str],
                   max_columns: int = 16) -> Path:
    """Labelled grid with matplotlib: one block of rows per sample."""
    n = samples[0][0].shape[0]
    keep = torch.linspace(0, n - 1, min(n, max_columns)).round().long()
    blocks = [grid_image([r[keep] for r in rows]) for rows in samples]
    size = (1.0 * len(keep) + 1.5, 1.0 * len(samples[0]) * len(blocks))
    with saved_figure(path, len(blocks), 1, figsize=size) as (fig, axes):
        for ax, block, rows in zip(axes[:, 0], blocks, samples, strict=True):
            ax.imshow(block)
            h = block.shape[0] / len(rows)
            ax.set_yticks([h * (i + 0.5) for i in range(len(rows))], names[:len(rows)])
            ax.set_xticks([])
        fig.suptitle(f"frames {', '.join(str(int(k) + 1) for k in keep)} after the context",
                     fontsize=8)
    return path


def run_sample(pipe: Pipeline, out: Path, *, video: str | None, context: int, frames: int,
               num_samples: int, clips: int, first_clip: int, seed: int, resize: bool,
               gif: bool, progress: bool = True, force: bool = False) -> list[Path]:
    """Generate with `pipe.cfg.sample`'s settings, then write OUT (mp4), OUT.png and optionally
    OUT.gif. Returns the paths."""
    for name, value in (("--frames", frames), ("--context", context),
                        ("--num-samples", num_samples), ("--clips", clips)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    if out.suffix.lower() not in (".mp4", ".gif"):
        raise UserError(f"--out {out}: give a file name ending in .mp4 (or .gif)")
    claim_outputs(output_paths(out, gif), force=force, inputs=[video])
    if video is None:
        ctx, truth = builtin_context(pipe, context, frames, clips, first_clip)
    else:
        ctx, truth = video_context(pipe, video, context, frames, resize)
    ctx = ctx.repeat_interleave(num_samples, dim=0)
    truth = None if truth is None else truth.repeat_interleave(num_samples, dim=0)
    generator = torch.Generator().manual_seed(seed)
    outs = list(tqdm(pipe.stream(ctx, frames, generator=generator, return_canvas=True),
                     total=frames, desc="frames", disable=not progress))
    generated = torch.stack([o.frame for o in outs], 1).cpu()
    has_canvas = outs[0].canvas is not None
    canvas = torch.stack([o.canvas for o in outs], 1).cpu() if has_canvas else None
    static = torch.stack([o.staticness for o in outs], 1).cpu() if has_canvas else None
    size = tuple(generated.shape[-2:])

    samples, movies = [], []
    for b in range(len(generated)):
        tb = None if truth is None else truth[b]
        samples.append(_panel_rows(ctx[b].cpu(), None if canvas is None else canvas[b],
                                   None if static is None else static[b], generated[b], tb,
                                   size))
        # Movie panels over time: [video | canvas | staticness | truth].
        video_row = torch.cat([ctx[b].cpu(), generated[b]])
        t = len(video_row)
        panels = [video_row]
        if has_canvas:
            pad = torch.ones(len(ctx[b]), 3, *size)
            panels.append(torch.cat([pad, canvas[b]]))
            panels.append(torch.cat([pad, torch.stack([heatmap(s, size) for s in static[b]])]))
        if tb is not None:
            full = torch.ones(t, 3, *size)
            full[:len(ctx[b]) + len(tb)] = torch.cat([ctx[b].cpu(), tb])[:t]
            panels.append(full)
        movies.append(torch.cat(panels, dim=3))
    names = ["context"] + (["canvas", "staticness"] if has_canvas else []) + ["generated",
                                                                             "ground truth"]
    out.parent.mkdir(parents=True, exist_ok=True)
    movie = upscale(to_uint8(torch.cat(movies, dim=2)), max(1, 256 // size[0]))
    paths = [write_video(out, movie, fps=4)]
    if gif and out.suffix.lower() != ".gif":
        paths.append(write_video(out.with_suffix(".gif"), movie, fps=4))
    paths.append(write_grid_png(out.with_suffix(".png"), samples, names))
    return paths


def output_paths(out: Path, gif: bool) -> list[Path]:
    """What `run_sample` writes: OUT, OUT.png, and OUT.gif with `gif` (an .mp4 OUT)."""
    paths = [out, out.with_suffix(".png")]
    if gif and out.suffix.lower() != ".gif":
        paths.append(out.with_suffix(".gif"))
    return paths
