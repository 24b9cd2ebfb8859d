"""Writing what people look at: MP4/GIF videos (PyAV) and PNG grids/plots (matplotlib)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, C, H, W) floats in [0, 1] -> (T, H, W, 3) uint8 (grey is repeated to RGB)."""
    x = frames.detach().float().clamp(0, 1).mul(255).round().byte().cpu()
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x.permute(0, 2, 3, 1).numpy()


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling (T, H, W, 3) so tiny frames survive video codecs."""
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def encode_frames(container, stream, frames: np.ndarray) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames into a PyAV stream, then flush the encoder."""
    import av

    for frame in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 8,
                keyframe_interval: int | None = None) -> Path:
    """(T, H, W, 3) uint8 -> MP4 (H.264, yuv420p) or GIF, chosen by the file suffix.

    keyframe_interval: frames between H.264 keyframes (x264's default is 250); datasets
    write 16 so that a clip anywhere in a long video is a short seek away.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gif = path.suffix.lower() == ".gif"
    h, w = frames.shape[1:3]
    if not gif and (h % 2 or w % 2):  # yuv420p needs even sizes
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("gif" if gif else "libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "rgb8" if gif else "yuv420p"
        if not gif:
            stream.options = {"crf": "18"}
            if keyframe_interval:
                stream.codec_context.gop_size = keyframe_interval
        encode_frames(container, stream, frames)
    tmp.replace(path)
    return path


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """(H, W, 3) uint8 -> PNG."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, image)
    return path


def resize_video(video: torch.Tensor, size: int) -> torch.Tensor:
    """(B, T, C, H, W) -> short side resized to `size` (bilinear, antialiased), centre crop."""
    b, t, c, h, w = video.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(video.reshape(b * t, c, h, w), size=(nh, nw), mode="bilinear",
                      antialias=True, align_corners=False)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[:, :, top:top + size, left:left + size].reshape(b, t, c, size, size).clamp(0, 1)


@contextmanager
def saved_figure(path: str | Path, rows: int = 1, cols: int = 1, **subplots) -> Iterator:
    """`with saved_figure(path, 1, 2, figsize=(10, 3)) as (fig, axes):` draw on `axes` (always
    a 2-D array); on leaving the block the figure is laid out, written as a 100-dpi PNG and
    closed (closed, not written, if the block raised). Headless: the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, squeeze=False, **subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def heatmap(values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(h, w) values in [0, 1] -> (3, H, W) 'inferno' colours, nearest-upsampled to size."""
    import matplotlib

    rgb = matplotlib.colormaps["inferno"](values.detach().float().clamp(0, 1).cpu().numpy())
    img = torch.from_numpy(rgb[..., :3]).permute(2, 0, 1).float()
    return torch.nn.functional.interpolate(img[None], size=size, mode="nearest")[0]


def read_video(path: str | Path, max_frames: int | None = None) -> torch.Tensor:
    """A video file (anything FFmpeg reads: mp4, avi, mov, webm, gif) or a folder of numbered
    frames -> (T, 3, H, W) floats in [0, 1], through the data loaders' reader
    (data/videoio.leading_frames). A missing or unreadable file is a UserError naming it."""
    from canvasmar.data.clips import frames_to_tensor
    from canvasmar.data.videoio import BadVideo, leading_frames
    from canvasmar.errors import UserError

    path = Path(path)
    if not path.exists():
        raise UserError(f"video '{path}' does not exist")
    try:
        frames = leading_frames(path, max_frames)
    except BadVideo as exc:
        raise UserError(f"'{path}' cannot be decoded as a video ({exc}); give an "
                        f"mp4/avi/mov/webm/gif file or a folder of numbered frames") from None
    return frames_to_tensor(frames)
