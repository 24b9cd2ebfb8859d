"""Labelled pictures: panels of frames in a grid, with text in margins around them.

Every picture people look at (the `sample` MP4 and PNG, the training previews, the contact
sheet of `data inspect`) is built here as a uint8 array: a `Sheet` places panels of equal
size in rows and columns and draws column labels in a header strip, row labels in a left
margin and leaves a footer strip for a frame counter and the staticness colour bar. Text never
goes over a panel, so the pixels inside a panel are exactly the frame pasted there.

Text is drawn with the DejaVu Sans font that matplotlib ships, through FreeType directly
(matplotlib's ft2font, which its Agg canvas uses), not through a figure: a label costs well
under a millisecond, each (text, size) is rendered once and cached, and the same text always
gives the same pixels, so the pictures stay byte-for-byte reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

BACKGROUND, TEXT, MUTED = 255, (25, 25, 25), (105, 105, 105)
CONTEXT_COLOUR = (20, 90, 190)  # the frame counter during given frames: not a prediction
STATICNESS_COLOURS = "inferno"  # media.heatmap's colour map: 0 = moving (black), 1 = static


@lru_cache(maxsize=1)
def _font():
    from matplotlib import font_manager, ft2font

    return ft2font.FT2Font(font_manager.findfont("DejaVu Sans", fallback_to_default=True))


def line_height(size: int) -> int:
    """Pixels between two text lines of `size` pixel font (ascent + descent + a little air)."""
    return int(round(size * 1.3))


@lru_cache(maxsize=1024)
def text_mask(text: str, size: int) -> np.ndarray:
    """`text` in `size` pixel DejaVu Sans -> (line_height(size), width) uint8 coverage, the
    baseline on the same row for every text (so labels of one strip line up). Read-only."""
    font = _font()
    font.clear()
    font.set_size(size, 72)  # 72 dpi: points are pixels
    font.set_text(text, 0.0)
    font.draw_glyphs_to_bitmap(antialiased=True)
    glyphs = np.asarray(font.get_image())
    height = line_height(size)
    baseline = int(round(size * 1.02))  # DejaVu's ascent is 0.93 em, plus rounding room
    descent = int(round(font.get_descent() / 64))
    top = baseline - (glyphs.shape[0] - descent)
    mask = np.zeros((height, glyphs.shape[1]), np.uint8)
    lo, hi = max(0, top), min(height, top + glyphs.shape[0])
    if hi > lo:
        mask[lo:hi] = glyphs[lo - top:hi - top]
    mask.flags.writeable = False
    return mask


def text_width(text: str, size: int) -> int:
    return text_mask(text, size).shape[1]


def fit_text(text: str, size: int, width: int) -> str:
    """`text`, or its end after a leading '...' when it is wider than `width` pixels (file
    names: their end is what tells them apart)."""
    if text_width(text, size) <= width:
        return text
    for start in range(1, len(text)):
        short = "..." + text[start:]
        if text_width(short, size) <= width:
            return short
    return ""


def draw_text(image: np.ndarray, text: str, x: int, y: int, size: int,
              colour: tuple[int, int, int] = TEXT, align: str = "left") -> None:
    """Blend `text` into `image` (H, W, 3) uint8 in place: line top at row y, at column x as
    its left edge, centre or right edge (`align`); what falls outside the image is cut."""
    mask = text_mask(text, size)
    h, w = mask.shape
    x -= {"left": 0, "center": w // 2, "right": w}[align]
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + h, image.shape[0]), min(x + w, image.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    alpha = mask[y0 - y:y1 - y, x0 - x:x1 - x, None].astype(np.uint16)
    under = image[y0:y1, x0:x1].astype(np.uint16)
    ink = np.asarray(colour, np.uint16)
    # Integer blending with rounding: the same inputs give the same bytes on every machine.
    image[y0:y1, x0:x1] = ((under * (255 - alpha) + ink * alpha + 127) // 255).astype(np.uint8)


def draw_lines(image: np.ndarray, text: str, x: int, y: int, size: int, align: str = "left",
               colour: tuple[int, int, int] = TEXT) -> None:
    """draw_text for each '\\n'-separated line, the first line's top at row y."""
    for i, line in enumerate(text.split("\n")):
        draw_text(image, line, x, y + i * line_height(size), size, colour, align)


def colour_bar(width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 ramp of the staticness colours, 0 (moving) left, 1 right."""
    import matplotlib

    ramp = matplotlib.colormaps[STATICNESS_COLOURS](np.linspace(0.0, 1.0, max(width, 1)))
    row = np.round(ramp[:, :3] * 255).astype(np.uint8)
    return np.broadcast_to(row[None], (height, width, 3)).copy()


def draw_colour_bar(image: np.ndarray, x: int, y: int, width: int, size: int) -> None:
    """'moving [inferno ramp] static' in `width` pixels from (x, y): the staticness legend."""
    low, high = "moving", "static"
    pad = size // 2
    bar = width - text_width(low, size) - text_width(high, size) - 2 * pad
    if bar < 8:
        return
    draw_text(image, low, x, y, size, MUTED)
    bx, top = x + text_width(low, size) + pad, y + (line_height(size) - size) // 2
    image[top:top + size, bx:bx + bar] = colour_bar(bar, size)[:image.shape[0] - top]
    draw_text(image, high, bx + bar + pad, y, size, MUTED)


def legend_strip(width: int, size: int) -> np.ndarray:
    """A strip explaining the staticness colours: 'staticness: moving [ramp] static'."""
    strip = np.full((line_height(size) + size // 2, width, 3), BACKGROUND, np.uint8)
    name = "staticness:"
    draw_text(strip, name, size // 2, size // 4, size, MUTED)
    start = size // 2 + text_width(name, size) + size // 2
    draw_colour_bar(strip, start, size // 4, min(width - start - size // 2, 24 * size), size)
    return strip


@dataclass(frozen=True)
class Sheet:
    """Where each panel of a labelled grid goes. `background()` draws the labels; `box(r, c)`
    gives the panel's pixels; `footer` is the row where the footer strip starts."""

    rows: int
    cols: int
    cell: tuple[int, int]  # (height, width) of a panel in pixels
    size: int = 12  # label font size in pixels
    columns: Sequence[str] = ()  # one label over each column
    row_labels: Sequence[str] = ()  # one label left of each row ('\n' for several lines)
    groups: Sequence[tuple[int, int, str]] = ()  # (first, end, text) over a span of columns
    title: str = ""
    footer_lines: int = 0  # text lines reserved under the panels
    gap: int = 2
    split: int = 0  # a wider gap before this column (context | predicted)
    xs: tuple[int, ...] = field(init=False)
    ys: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        line = line_height(self.size)
        lines = sum(map(bool, (self.title, self.groups, self.columns)))
        top = lines * line + self.gap + (self.size // 3 if lines else 0)
        widest = max((text_width(part, self.size) for label in self.row_labels
                      for part in label.split("\n")), default=0)
        left = widest + self.size if widest else 0
        step_x, step_y = self.cell[1] + self.gap, self.cell[0] + self.gap
        xs = [left + self.gap + c * step_x + (3 * self.gap if 0 < self.split <= c else 0)
              for c in range(self.cols)]
        object.__setattr__(self, "xs", tuple(xs))
        object.__setattr__(self, "ys", tuple(top + r * step_y for r in range(self.rows)))

    @property
    def footer(self) -> int:
        return self.ys[-1] + self.cell[0] + self.gap

    @property
    def shape(self) -> tuple[int, int, int]:
        lines = self.footer_lines * line_height(self.size)
        height = self.footer + lines + (self.size // 2 if lines else 0)
        return height, self.xs[-1] + self.cell[1] + self.gap + self.size // 2, 3

    def box(self, r: int, c: int) -> tuple[slice, slice]:
        """Index of panel (r, c) in the picture: `picture[sheet.box(r, c)] = frame`."""
        y, x = self.ys[r], self.xs[c]
        return slice(y, y + self.cell[0]), slice(x, x + self.cell[1])

    def span(self, first: int, end: int) -> tuple[int, int]:
        """Left and right pixel of columns first..end-1."""
        return self.xs[first], self.xs[end - 1] + self.cell[1]

    def background(self) -> np.ndarray:
        """The picture without panels: background colour, title, group and column labels,
        row labels. (The footer is left to the caller: it changes per frame.)"""
        image = np.full(self.shape, BACKGROUND, np.uint8)
        line, y = line_height(self.size), self.size // 6
        if self.title:
            draw_text(image, fit_text(self.title, self.size, image.shape[1]), self.gap, y,
                      self.size)
            y += line
        if self.groups:
            for first, end, text in self.groups:
                if end <= first:
                    continue
                left, right = self.span(first, end)
                draw_text(image, fit_text(text, self.size, right - left), (left + right) // 2,
                          y, self.size, MUTED, "center")
            y += line
        for c, text in enumerate(self.columns):
            draw_text(image, fit_text(text, self.size, self.cell[1] + self.gap),
                      self.xs[c] + self.cell[1] // 2, y, self.size, TEXT, "center")
        for r, text in enumerate(self.row_labels):
            lines = text.split("\n")
            top = self.ys[r] + (self.cell[0] - len(lines) * line) // 2
            draw_lines(image, text, self.xs[0] - self.gap - self.size // 2, top, self.size,
                       "right")
        return image


Panels = list[tuple[str, np.ndarray]]  # one clip: (name, (T, H, W, 3) uint8 frames) per panel


def labelled_movie(clips: Sequence[Panels], rows: Sequence[str], counter: Sequence[str],
                   context: int = 0, panel: int = 256, size: int = 16) -> np.ndarray:
    """(T, H', W', 3) uint8 video: a row of panels per clip (labelled `rows`), a column per
    panel (labelled with its name), under them `counter[t]` (in CONTEXT_COLOUR for the first
    `context` frames) and, when a panel is named 'staticness', the colour bar under it. The
    frames are upscaled (nearest) to about `panel` pixels high and never drawn over."""
    names = [name for name, _ in clips[0]]
    t, h, w = clips[0][0][1].shape[:3]
    factor = upscale_factor(h, panel)
    sheet = Sheet(len(clips), len(names), (h * factor, w * factor), size=size, columns=names,
                  row_labels=rows, footer_lines=1)
    base = sheet.background()
    if "staticness" in names:
        c = names.index("staticness")
        draw_colour_bar(base, sheet.xs[c], sheet.footer, sheet.cell[1], size)
    h2, w2 = base.shape[0] % 2, base.shape[1] % 2  # H.264's yuv420p needs even sizes: pad
    base = np.pad(base, ((0, h2), (0, w2), (0, 0)), constant_values=BACKGROUND)  # not black
    movie = np.repeat(base[None], t, axis=0)
    for r, columns in enumerate(clips):
        for c, (_, frames) in enumerate(columns):
            movie[(slice(None), *sheet.box(r, c))] = _upscale(frames, factor)
    for i, frame in enumerate(movie):
        draw_text(frame, counter[i], sheet.xs[0], sheet.footer, size,
                  CONTEXT_COLOUR if i < context else TEXT)
    return movie


def labelled_sheet(clips: Sequence[Panels], titles: Sequence[str], times: Sequence[int],
                   columns: Sequence[str], groups: Sequence[tuple[int, int, str]] = (),
                   split: int = 0, panel: int = 96, size: int = 12) -> np.ndarray:
    """(H', W', 3) uint8 picture: a block per clip (titled), a row per panel (named), a
    column per frame index in `times` (labelled `columns`, spans of them `groups`, a wider
    gap before column `split`), the staticness colour bar at the bottom when a panel is
    named 'staticness'. Frames upscaled (nearest) to about `panel` pixels, never drawn over."""
    names = [name for name, _ in clips[0]]
    h, w = clips[0][0][1].shape[1:3]
    factor = upscale_factor(h, panel)
    blocks = []
    for title, panels in zip(titles, clips, strict=True):
        sheet = Sheet(len(names), len(times), (h * factor, w * factor), size=size,
                      columns=columns, row_labels=names, groups=groups, title=title,
                      split=split)
        image = sheet.background()
        for r, (_, frames) in enumerate(panels):
            for c, i in enumerate(times):
                image[sheet.box(r, c)] = _upscale(frames[i:i + 1], factor)[0]
        blocks.append(image)
    if "staticness" in names:
        blocks.append(legend_strip(blocks[0].shape[1], size))
    return stack(blocks, gap=size // 2)


def _upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    from canvasmar.media import upscale

    return upscale(frames, factor)


def stack(images: Sequence[np.ndarray], gap: int = 0) -> np.ndarray:
    """Images one under the other, left-aligned on a background as wide as the widest."""
    width = max(i.shape[1] for i in images)
    height = sum(i.shape[0] for i in images) + gap * (len(images) - 1)
    out = np.full((height, width, 3), BACKGROUND, np.uint8)
    y = 0
    for image in images:
        out[y:y + image.shape[0], :image.shape[1]] = image
        y += image.shape[0] + gap
    return out


def upscale_factor(frame_height: int, target: int) -> int:
    """Nearest-neighbour factor that makes a frame about `target` pixels high (at least 1)."""
    return max(1, target // max(frame_height, 1))
