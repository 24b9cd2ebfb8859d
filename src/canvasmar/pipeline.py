"""User-facing prediction: load a trained model + tokenizer, predict or stream future frames.

    pipe = canvasmar.load_pipeline("checkpoints/tiny")
    video = pipe(context, num_frames=16, steps=4)       # (B, T, C, H, W) in [0, 1]
    for out in pipe.stream(context, 60, return_canvas=True): ...

Pixel frames in [0, 1] at the API; latents only inside. With a VAE tokenizer that compresses
time by k (tokenizer.temporal_factor), the context needs 1 + n*k frames and each generated
latent frame decodes to k pixel frames; `num_frames` always counts pixel frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from canvasmar import checkpoint as ckpt
from canvasmar.config import RunConfig, SampleConfig
from canvasmar.errors import UserError
from canvasmar.media import resize_video
from canvasmar.models import CanvasMAR, Tokenizer
from canvasmar.models.factory import build_model, frame_shape
from canvasmar.sampler import rollout


@dataclass
class StreamedFrame:
    frame: torch.Tensor  # (B, C, H, W) in [0, 1]
    canvas: torch.Tensor | None = None  # (B, C, H, W) in [0, 1], the one-pass canvas
    staticness: torch.Tensor | None = None  # (B, h, w) latent-grid staticness in (0, 1)
    reveal_step: torch.Tensor | None = None  # (B, h, w) spatial step of each token


class Pipeline:
    def __init__(self, model: CanvasMAR, tokenizer: Tokenizer, cfg: RunConfig) -> None:
        self.model, self.tokenizer, self.cfg = model.eval(), tokenizer.eval(), cfg
        self.weights = "model.safetensors"  # which file of the checkpoint (load_pipeline)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return frame_shape(self.cfg)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Pipeline:
        self.model.to(device)
        self.tokenizer.to(device)
        return self

    def options(self, **overrides) -> SampleConfig:
        """The config's sampling defaults with the given (non-None) values replaced, checked
        by `SampleConfig.validate`, and window=0 resolved to data.frames."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        opts = dataclasses.replace(self.cfg.sample, **overrides).validate()
        if opts.window == 0:
            opts = dataclasses.replace(opts, window=self.cfg.data.frames)
        return opts

    def check_context(self, context: torch.Tensor, resize: bool = False) -> torch.Tensor:
        """Validate (B, T, C, H, W) floats in [0, 1]; optionally resize to the model's size."""
        if not isinstance(context, torch.Tensor) or context.dim() != 5:
            shape = tuple(context.shape) if isinstance(context, torch.Tensor) else type(context)
            raise UserError(f"context must be a (B, T, C, H, W) tensor, got {shape}")
        if context.shape[1] < 1:
            raise UserError("context has no frames: give at least 1 context frame")
        c, h, w = self.frame_shape
        if context.shape[2] != c:
            raise UserError(f"context has {context.shape[2]} channels, the model expects {c}: "
                            f"convert the frames (e.g. grey -> RGB by repeating the channel)")
        if tuple(context.shape[-2:]) != (h, w):
            if not resize:
                raise UserError(f"context frames are {context.shape[-2]}x{context.shape[-1]}, "
                                f"the model expects {h}x{w}: resize them (resize=True or "
                                f"--resize resizes the short side and centre-crops)")
            context = resize_video(context.float(), h)
        if not context.is_floating_point():
            raise UserError(f"context must hold floats in [0, 1], got {context.dtype}")
        return context.to(self.device, torch.float32)

    @torch.no_grad()
    def stream(self, context: torch.Tensor, num_frames: int, *, steps: int | None = None,
               cfg_canvas: float | None = None, cfg_temporal: float | None = None,
               order: str | None = None, generator: torch.Generator | None = None,
               use_kv_cache: bool = True, return_canvas: bool = False, resize: bool = False,
               canvas_only: bool = False, **options) -> Iterator[torch.Tensor | StreamedFrame]:
        """Yield each new frame (B, C, H, W) as soon as it is made (StreamedFrame with
        canvas and staticness if `return_canvas`). Extra keywords override SampleConfig.
        `canvas_only` rolls out the one-pass canvas alone (a baseline)."""
        if num_frames < 1:
            raise UserError(f"num_frames must be at least 1, got {num_frames}")
        if canvas_only and not self.model.has_canvas:
            raise UserError("canvas_only needs a model with a canvas (model.canvas=true)")
        opts = self.options(steps=steps, cfg_canvas=cfg_canvas, cfg_temporal=cfg_temporal,
                            order=order, **options)
        latents = self.tokenizer.encode(self.check_context(context, resize))
        # A latent frame covers temporal_factor pixel frames (docs/vae.md): generate enough
        # latent frames, decode each with the latents before it (a causal VAE decoder looks
        # back tokenizer.decode_window latents), and stop after num_frames pixel frames.
        k, keep = self.tokenizer.temporal_factor, self.tokenizer.decode_window
        history, emitted = latents[:, -keep:], 0
        for out in rollout(self.model, latents, -(-num_frames // k), opts, generator,
                           use_kv_cache, canvas_only):
            frames = self.tokenizer.decode_new(torch.cat([history, out.latent[:, None]], 1))
            canvases = None
            if return_canvas and out.canvas is not None:
                canvases = self.tokenizer.decode_new(torch.cat([history, out.canvas[:, None]],
                                                               1))
            history = torch.cat([history, out.latent[:, None]], 1)[:, -keep:]
            for j in range(frames.shape[1]):
                if emitted == num_frames:
                    return
                emitted += 1
                if not return_canvas:
                    yield frames[:, j]
                    continue
                canvas = None if canvases is None else canvases[:, j]
                yield StreamedFrame(frames[:, j], canvas, out.staticness, out.reveal_step)

    def __call__(self, context: torch.Tensor, num_frames: int, **kwargs) -> torch.Tensor:
        """(B, T, C, H, W) context in [0, 1] -> (B, num_frames, C, H, W) in [0, 1]."""
        kwargs.pop("return_canvas", None)
        return torch.stack(list(self.stream(context, num_frames, **kwargs)), dim=1)


def load_pipeline(path: str | Path, device: str | torch.device = "cpu",
                  use_ema: bool = True) -> Pipeline:
    """A run folder (its latest checkpoint) or a checkpoint folder -> Pipeline.

    The EMA weights are used when the checkpoint has them, unless `use_ema=False`;
    `pipe.weights` names the file that was loaded.
    """
    folder = ckpt.resolve_checkpoint(path)
    cfg = ckpt.load_checkpoint_config(folder)
    model, tokenizer = build_model(cfg)
    used = ckpt.load_weights(model, folder, ema=use_ema)
    pipe = Pipeline(model, tokenizer, cfg).to(device)
    pipe.weights = used
    return pipe
