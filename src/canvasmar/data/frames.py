"""One decoded frame -> the model's square RGB frame: colour handling, resize, centre crop.

Every loader (video files, numbered frames, BAIR records) ends here, so all data reaches the
model the same way: (3, R, R) uint8, the short side resized to R with area averaging (no
aliasing when shrinking) and the long side centre-cropped.
"""

from __future__ import annotations

import numpy as np


def has_alpha(frame) -> bool:  # noqa: ANN001 (an av.VideoFrame; av is imported lazily)
    return any(c.is_alpha for c in frame.format.components)


def square_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """(w, h) after scaling the short side to `resolution` (aspect ratio kept)."""
    if width <= height:
        return resolution, max(resolution, round(height * resolution / width))
    return max(resolution, round(width * resolution / height)), resolution


def centre_crop(image: np.ndarray, resolution: int) -> np.ndarray:
    """(H, W, C) with min(H, W) == resolution -> (resolution, resolution, C)."""
    h, w = image.shape[:2]
    y, x = (h - resolution) // 2, (w - resolution) // 2
    return image[y:y + resolution, x:x + resolution]


def composite_rgba(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3): transparent pixels over black (straight alpha)."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    return ((rgba[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)


def frame_to_rgb(frame, resolution: int | None) -> np.ndarray:  # noqa: ANN001
    """An av.VideoFrame in any pixel format -> (R, R, 3) uint8 (or full size if None).

    Grey frames become grey RGB (FFmpeg's conversion repeats the luma); frames with an alpha
    channel (RGBA PNG, transparent GIF) are composited over black, because dropping alpha
    would show whatever colour an encoder left in fully transparent pixels.
    """
    alpha = has_alpha(frame)
    fmt = "rgba" if alpha else "rgb24"
    if resolution is None:
        image = frame.to_ndarray(format=fmt)
    else:
        w, h = square_size(frame.width, frame.height, resolution)
        image = frame.reformat(width=w, height=h, format=fmt, interpolation="AREA").to_ndarray()
        image = centre_crop(image, resolution)
    return composite_rgba(image) if alpha else image


def array_to_rgb(image: np.ndarray, resolution: int | None) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (R, R, 3) uint8 via the same path."""
    import av

    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[-1]
    if channels == 1:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[..., 0]), format="gray")
    elif channels in (3, 4):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image),
                                           format="rgb24" if channels == 3 else "rgba")
    else:
        raise ValueError(f"an image needs 1, 3 or 4 channels, got shape {image.shape}")
    return frame_to_rgb(frame, resolution)
