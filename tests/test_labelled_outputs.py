"""Pictures people look at: the `sample` MP4/PNG, the training previews and the contact sheet
carry labels in margins (checked against the same text drawn on its own), show the context in
every panel during the context frames, count frames, explain the staticness colours, keep
every frame's pixels exactly the (nearest-upscaled) model output, and are reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from canvasmar import labels
from canvasmar.config.loading import with_sample_overrides
from canvasmar.labels import BACKGROUND, CONTEXT_COLOUR, MUTED, TEXT, draw_lines, draw_text
from canvasmar.media import heatmap, to_uint8, upscale
from canvasmar.predict import (
    MOVIE_PANEL,
    SHEET_PANEL,
    frame_counter,
    panel_columns,
    run_sample,
    sample_movie,
    sample_sheet,
)

H = W = 16
CONTEXT, FRAMES = 2, 5


def find(image: np.ndarray, patch: np.ndarray) -> list[tuple[int, int]]:
    """Every (y, x) where `patch` sits in `image` exactly, pixel for pixel."""
    h, w = patch.shape[:2]
    ys, xs = np.nonzero((image[:image.shape[0] - h + 1, :image.shape[1] - w + 1]
                         == patch[0, 0]).all(-1))
    return [(int(y), int(x)) for y, x in zip(ys, xs, strict=True)
            if np.array_equal(image[y:y + h, x:x + w], patch)]


def ink(crop: np.ndarray) -> np.ndarray:
    """The part of `crop` that is not background: its bounding box (text without position)."""
    ys, xs = np.nonzero((crop != BACKGROUND).any(-1))
    assert len(ys), "blank: no label here"
    return crop[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def expected_ink(text: str, size: int, colour=TEXT, align: str = "left") -> np.ndarray:
    """`text` drawn alone by the same function on a blank strip, cropped to its ink."""
    strip = np.full((6 * size, 40 * size, 3), BACKGROUND, np.uint8)
    x = 39 * size if align == "right" else size
    draw_lines(strip, text, x, size, size, align, colour)
    return ink(strip)


def fake_clip(seed: int, truth_frames: int = FRAMES):
    g = torch.Generator().manual_seed(seed)
    return dict(context=torch.rand(CONTEXT, 3, H, W, generator=g),
                generated=torch.rand(FRAMES, 3, H, W, generator=g),
                canvas=torch.rand(FRAMES, 3, H, W, generator=g),
                static=torch.rand(FRAMES, 4, 4, generator=g),
                truth=torch.rand(truth_frames, 3, H, W, generator=g))


def up(frames: torch.Tensor, panel: int) -> np.ndarray:
    """What a panel must hold: the frames as uint8, nearest-upscaled, nothing else."""
    return upscale(to_uint8(frames), labels.upscale_factor(H, panel))


@pytest.fixture(scope="module")
def movie_and_clips():
    clips = [fake_clip(0), fake_clip(1, truth_frames=3)]  # the 2nd video ends before the rollout
    panels = [panel_columns(**c) for c in clips]
    return sample_movie(panels, ["clip 0", "clip 1\nsample 2"], CONTEXT), clips, panels


def test_movie_panels_hold_the_exact_upscaled_frames(movie_and_clips):
    movie, clips, panels = movie_and_clips
    assert [n for n, _ in panels[0]] == ["canvas", "staticness", "generated", "ground truth"]
    assert len(movie) == CONTEXT + FRAMES
    for c in clips:
        heat = torch.stack([heatmap(s, (H, W)) for s in c["static"]])
        for i in range(FRAMES):
            frame = movie[CONTEXT + i]
            for name, frames in (("generated", c["generated"]), ("canvas", c["canvas"]),
                                 ("staticness", heat)):
                assert len(find(frame, up(frames[i:i + 1], MOVIE_PANEL)[0])) == 1, (name, i)
            if i < len(c["truth"]):
                assert len(find(frame, up(c["truth"][i:i + 1], MOVIE_PANEL)[0])) == 1


def test_movie_shows_the_context_in_every_column(movie_and_clips):
    movie, clips, panels = movie_and_clips
    for t in range(CONTEXT):
        for c in clips:
            spots = find(movie[t], up(c["context"][t:t + 1], MOVIE_PANEL)[0])
            assert len(spots) == len(panels[0])  # one per column, none white or blank
            assert len({y for y, _ in spots}) == 1  # in the clip's own row


def _panel_spots(movie, clips, t):
    """(y, x) of each panel of frame t's first clip, and the panel size."""
    c = clips[0]
    heat = torch.stack([heatmap(s, (H, W)) for s in c["static"]])
    i = t - CONTEXT
    patches = [up(f[i:i + 1], MOVIE_PANEL)[0]
               for f in (c["canvas"], heat, c["generated"], c["truth"])]
    return [find(movie[t], p)[0] for p in patches], patches[0].shape[0]


def test_movie_labels_columns_rows_and_counts_frames(movie_and_clips):
    movie, clips, _ = movie_and_clips
    spots, size = _panel_spots(movie, clips, CONTEXT)
    frame = movie[CONTEXT]
    for (y, x), name in zip(spots, ["canvas", "staticness", "generated", "ground truth"],
                            strict=True):
        assert np.array_equal(ink(frame[:y, x:x + size]), expected_ink(name, 16))
    (y, x), (y1, _) = spots[0], find(frame, up(clips[1]["canvas"][:1], MOVIE_PANEL)[0])[0]
    assert np.array_equal(ink(frame[y:y + size, :x]), expected_ink("clip 0", 16))
    assert np.array_equal(ink(frame[y1:y1 + size, :x]),
                          expected_ink("clip 1\nsample 2", 16, align="right"))
    below = y1 + size + 1  # the footer strip, under the last row of panels
    counters = []
    for t, picture in enumerate(movie):
        colour = CONTEXT_COLOUR if t < CONTEXT else TEXT
        text = frame_counter(t, CONTEXT, len(movie))
        assert np.array_equal(ink(picture[below:, x:x + size]), expected_ink(text, 16, colour))
        counters.append(text)
    assert counters[:3] == ["context 1/2", "context 2/2", "predicted 1/5"]
    assert counters[-1] == "predicted 5/5" and len(set(counters)) == len(movie)


def test_movie_has_a_staticness_colour_bar(movie_and_clips):
    movie, clips, _ = movie_and_clips
    spots, size = _panel_spots(movie, clips, CONTEXT)
    _, x = spots[1]  # the staticness column
    y1 = find(movie[CONTEXT], up(clips[1]["canvas"][:1], MOVIE_PANEL)[0])[0][0]
    legend = ink(movie[CONTEXT][y1 + size + 1:, x:x + size])
    strip = np.full((60, size, 3), BACKGROUND, np.uint8)
    labels.draw_colour_bar(strip, 0, 10, size, 16)
    assert np.array_equal(legend, ink(strip))
    # The ramp: black (moving) on the left, yellow (static) on the right, the words beside it.
    ramp = labels.colour_bar(50, 1)[0]
    assert tuple(ramp[0]) < (10, 10, 30) and ramp[-1][0] > 240 and ramp[-1][1] > 240
    row = legend[legend.shape[0] // 2]
    black = np.nonzero((row == ramp[0]).all(-1))[0]
    yellow = np.nonzero((row == ramp[-1]).all(-1))[0]
    assert len(black) and len(yellow) and black.max() < yellow.min()
    assert np.array_equal(ink(legend[:, yellow.max() + 1:]), expected_ink("static", 16, MUTED))
    assert np.array_equal(ink(legend[:, :black.min()]), expected_ink("moving", 16, MUTED))


def test_movie_leaves_ground_truth_blank_past_the_end_of_a_video(movie_and_clips):
    movie, clips, panels = movie_and_clips
    truth = panels[1][3][1]
    assert (truth[CONTEXT + 3:] == BACKGROUND).all()
    assert np.array_equal(truth[CONTEXT:CONTEXT + 3], to_uint8(clips[1]["truth"]))


def test_png_sheet_is_labelled_and_exact(movie_and_clips):
    _, clips, panels = movie_and_clips
    sheet = sample_sheet(panels, ["clip 0", "clip 1, sample 2"], CONTEXT)
    assert np.array_equal(sheet, sample_sheet(panels, ["clip 0", "clip 1, sample 2"], CONTEXT))
    for c in clips:
        for f in (c["generated"], c["canvas"]):
            for i in range(FRAMES):
                assert len(find(sheet, up(f[i:i + 1], SHEET_PANEL)[0])) == 1
        for t in range(CONTEXT):  # the context in every row of its block
            assert len(find(sheet, up(c["context"][t:t + 1], SHEET_PANEL)[0])) == 4
    size = up(clips[0]["generated"][:1], SHEET_PANEL).shape[1]
    y, _ = find(sheet, up(clips[0]["generated"][:1], SHEET_PANEL)[0])[0]
    x = min(x for _, x in find(sheet, up(clips[0]["context"][:1], SHEET_PANEL)[0]))
    assert np.array_equal(ink(sheet[y:y + size, :x]), expected_ink("generated", 12))
    y, x = find(sheet, up(clips[0]["canvas"][2:3], SHEET_PANEL)[0])[0]
    assert len(find(sheet[:y, x:x + size], expected_ink("3", 12))) == 1  # its frame number
    legend = labels.legend_strip(sheet.shape[1], 12)
    assert np.array_equal(sheet[-legend.shape[0]:], legend)


def test_sample_files_are_deterministic_and_exact(micro_pipe, tmp_path, one_thread):
    kw = dict(video=None, context=2, frames=3, num_samples=2, clips=1, first_clip=4, seed=3,
              resize=False, gif=False, progress=False)
    micro_pipe.cfg = with_sample_overrides(micro_pipe.cfg, ["sample.steps=1",
                                                            "sample.flow_steps=2"])
    first = run_sample(micro_pipe, tmp_path / "a.mp4", **kw)
    second = run_sample(micro_pipe, tmp_path / "b.mp4", **kw)
    assert first[1].read_bytes() == second[1].read_bytes()
    png = np.asarray(Image.open(first[1]).convert("RGB"))
    from canvasmar.predict import builtin_context

    ctx, _ = builtin_context(micro_pipe, 2, 3, 1, 4)
    frames = list(micro_pipe.stream(ctx.repeat_interleave(2, 0), 3,
                                    generator=torch.Generator().manual_seed(3)))
    for frame in frames:
        for b in range(2):
            assert len(find(png, up(frame[b:b + 1], SHEET_PANEL)[0])) == 1
    import av

    with av.open(str(first[0])) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 2 + 3
    assert (decoded[0] > 200).mean() > 0.05  # white margins around the panels, a real picture


def test_training_previews_are_labelled(micro_pipe, tmp_path, one_thread):
    from canvasmar.data.procedural import ProceduralVideos
    from canvasmar.train.preview import write_canvas_preview, write_sample_preview

    videos = torch.stack([ProceduralVideos("val", frames=4, resolution=H)[i] for i in range(2)])
    grid = write_canvas_preview(micro_pipe.model, micro_pipe.tokenizer, videos, tmp_path)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "preview.png").convert("RGB")), grid)
    truth = upscale(to_uint8(videos[1]), labels.upscale_factor(H, 64))
    spots = [find(grid, f)[0] for f in truth]
    y, x = spots[0]
    assert np.array_equal(ink(grid[y:y + len(truth[0]), :x - 4]),
                          expected_ink("ground truth", 12))
    assert np.array_equal(grid[-labels.legend_strip(grid.shape[1], 12).shape[0]:],
                          labels.legend_strip(grid.shape[1], 12))
    opts = with_sample_overrides(micro_pipe.cfg, ["sample.steps=1", "sample.flow_steps=2"]).sample
    grid = write_sample_preview(micro_pipe.model, micro_pipe.tokenizer, videos,
                                tmp_path / "s.mp4", opts)
    y, x = find(grid, truth[0])[0]
    assert np.array_equal(ink(grid[y:y + len(truth[0]), :x - 4]),
                          expected_ink("ground truth", 12))
    assert (tmp_path / "s.mp4").stat().st_size > 1000


def test_contact_sheet_titles_rows_and_numbers_frames():
    from canvasmar.data.inspect import contact_sheet

    rng = np.random.default_rng(0)
    thumbs = rng.integers(0, 256, (2, 8, 32, 32, 3), dtype=np.uint8)
    sheet = contact_sheet([("a.mp4: 16 frames, 32x24, 8 fps", [0, 2, 4, 6, 9, 11, 13, 15],
                            thumbs[0]),
                           ("b.gif: 8 frames, 8x8", list(range(8)), thumbs[1])])
    y, x = find(sheet, thumbs[1][2])[0]
    above = sheet[y - 2 * labels.line_height(11):y, x:x + 32]  # its number, under the title
    assert len(find(above, expected_ink("3", 11))) == 1
    y, x = find(sheet, thumbs[0][7])[0]
    assert len(find(sheet[:y, x:x + 32], expected_ink("16", 11))) == 1
    title = expected_ink("a.mp4: 16 frames, 32x24, 8 fps", 11)
    assert len(find(sheet[:y], title)) == 1 and not find(sheet[y:], title)
    for row in thumbs:
        for image in row:
            assert len(find(sheet, image)) == 1


def test_text_is_drawn_the_same_every_time_and_cut_at_the_edges():
    a = np.full((20, 30, 3), BACKGROUND, np.uint8)
    b = a.copy()
    draw_text(a, "a long label that runs off", 5, 2, 12)
    draw_text(b, "a long label that runs off", 5, 2, 12)
    assert np.array_equal(a, b) and (a != BACKGROUND).any()
    assert labels.fit_text("some/long/path/video.mp4", 12, 80).endswith("video.mp4")
    assert labels.text_width(labels.fit_text("some/long/path/video.mp4", 12, 80), 12) <= 80


@pytest.mark.usefixtures("isolated_data")
def test_without_a_video_the_context_is_the_models_own_test_data(micro_pipe, tmp_path):
    """A model trained on a folder (a Pong recording) gets that folder's test clips, not the
    built-in shapes it never saw (it once did); a folder that is not here is a clear error."""
    import dataclasses

    from canvasmar.data import build_dataset
    from canvasmar.errors import UserError
    from canvasmar.predict import model_data_context
    from tests.data_fixtures import recording_folder, trained_on

    root = recording_folder(tmp_path / "recording", 12)
    cfg = micro_pipe.cfg
    micro_pipe.cfg = trained_on(cfg, str(root))
    ctx, truth = model_data_context(micro_pipe, 2, 3, 1, 0)
    expected = build_dataset(dataclasses.replace(micro_pipe.cfg.data, frames=5, resolution=16),
                             "test")[0]
    assert torch.equal(torch.cat([ctx[0], truth[0]]), expected)
    micro_pipe.cfg = trained_on(cfg, str(tmp_path / "elsewhere"))
    with pytest.raises(UserError, match="own data .*elsewhere.*Give --video FILE"):
        model_data_context(micro_pipe, 2, 3, 1, 0)


def test_loss_plot_of_a_run_without_validation_rows_warns_nothing(tmp_path):
    """A run stopped before its first validation (train.time_limit_min, a probe) still gets
    its losses.png, without matplotlib's "No artists with labels" warning on the empty panel."""
    import json
    import warnings

    from canvasmar.train.preview import plot_losses

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps({"step": s, "mar": 1.0 / s, "canvas": 0.5}) + "\n"
                               for s in (1, 2, 3)))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="No artists with labels")
        out = plot_losses(metrics, tmp_path / "losses.png")
    assert out.exists() and out.stat().st_size > 0
