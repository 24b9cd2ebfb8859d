"""User-facing prediction: load a trained model + tokenizer, predict or stream future frames.

    pipe = canvasmar.load_pipeline("checkpoints/tiny")  # or "org/name" on the Hugging Face Hub
    video = pipe(context, num_frames=16, steps=4)       # (B, T, C, H, W) in [0, 1]
    for out in pipe.stream(context, 60, return_canvas=True): ...
    video = pipe(context, 16, actions=acts)             # an action-conditioned model
    session = pipe.start(context); frame = session.step(action)   # interactive (session.py)
    pipe.to("cuda", torch.bfloat16); pipe.save_pretrained("out"); pipe.push_to_hub("org/name")
    pipe.compile("reduce-overhead")  # each MAR step's network work compiled (step_kernels.py)

Pixel frames in [0, 1] at the API; latents only inside. With a VAE tokenizer that compresses
time by k (tokenizer.temporal_factor), the context needs 1 + n*k frames and each generated
latent frame decodes to k pixel frames; `num_frames` always counts pixel frames. Frames come
back as float32 whatever the pipeline's dtype (docs/hub.md: devices, dtypes, the Hub).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from canvasmar import checkpoint as ckpt
from canvasmar import hub
from canvasmar.config import RunConfig, SampleConfig
from canvasmar.devices import resolve_device, resolve_dtype
from canvasmar.errors import UserError
from canvasmar.media import resize_video
from canvasmar.models import CanvasMAR, Tokenizer
from canvasmar.models.factory import build_model, frame_shape
from canvasmar.sampler import rollout
from canvasmar.session import Session, sequence_actions
from canvasmar.step_kernels import EAGER, step_kernels


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
        self.source: Path | None = None  # the folder it was loaded from (its card is kept)
        self.kernels = EAGER  # each MAR step's network work (compile)

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> Pipeline:
        """The same as `load_pipeline(path, **kwargs)` (diffusers' spelling)."""
        return load_pipeline(path, **kwargs)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return frame_shape(self.cfg)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def to(self, *args: str | torch.device | torch.dtype, device: str | torch.device | None = None,
           dtype: torch.dtype | str | None = None) -> Pipeline:
        """Move and/or cast the model and tokenizer, like a module: `to("cuda")`,
        `to(torch.bfloat16)`, `to("cuda", torch.bfloat16)`, `to(device=..., dtype=...)`."""
        for arg in args:
            if isinstance(arg, torch.dtype) or (isinstance(arg, str) and _is_dtype_name(arg)):
                dtype = arg
            else:
                device = arg
        if device is not None:
            device = _resolve_any_device(device)
        if dtype is not None:
            dtype = resolve_dtype(dtype)
        for module in (self.model, self.tokenizer):
            module.to(device=device, dtype=dtype)
        return self

    def compile(self, mode: str = "default", backend: object = None) -> Pipeline:
        """torch.compile each spatial MAR step's network work (the MAR pass and the flow
        head's ODE; step_kernels.py) in `mode`: default, reduce-overhead (CUDA graphs: for
        batch-1 latency on a GPU), max-autotune, or off. The first frame compiles; the
        frames are the same, up to float rounding. Compile after `to(device)`: on a GPU
        `sample.keep_unchanged` then runs without a host sync (step_kernels.py)."""
        self.kernels = step_kernels(mode, backend, static_keep=self.device.type != "cpu")
        return self

    def options(self, **overrides) -> SampleConfig:
        """The config's sampling defaults with the given (non-None) values replaced, checked
        by `SampleConfig.validate`, and window=0 resolved to data.frames."""
        _check_keywords(overrides)
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
        return context.to(self.device, self.dtype)

    @torch.no_grad()
    def stream(self, context: torch.Tensor, num_frames: int | None = None, *,
               steps: int | None = None, cfg_canvas: float | None = None,
               cfg_temporal: float | None = None, order: str | None = None,
               generator: torch.Generator | None = None, use_kv_cache: bool = True,
               return_canvas: bool = False, resize: bool = False, canvas_only: bool = False,
               actions: object = None, context_actions: object = None,
               **options) -> Iterator[torch.Tensor | StreamedFrame]:
        """Yield each new frame (B, C, H, W) as soon as it is made (StreamedFrame with
        canvas and staticness if `return_canvas`). Extra keywords override SampleConfig.
        `canvas_only` rolls out the one-pass canvas alone (a baseline). `generator` may live
        on any device: the noise is drawn there (a CPU one, the same noise on any model device).
        A model with actions (docs/world-model.md): `actions`, num_frames of them, the first
        taken after the last context frame; `context_actions`, the T-1 between the context
        frames; (B, F) indices or (B, F, N) vectors, or without B for all clips; None: none."""
        opts = self.options(steps=steps, cfg_canvas=cfg_canvas, cfg_temporal=cfg_temporal,
                            order=order, **options)  # first: a misspelt keyword is named
        if num_frames is None:
            raise UserError("give the number of frames to predict: pipe(context, num_frames)")
        if num_frames < 1:
            raise UserError(f"num_frames must be at least 1, got {num_frames}")
        if canvas_only and not self.model.has_canvas:
            raise UserError("canvas_only needs a model with a canvas (model.canvas=true)")
        latents = self.tokenizer.encode(self.check_context(context, resize))
        # A latent frame covers temporal_factor pixel frames (docs/vae.md): generate enough
        # latent frames, decode each with the latents before it (a causal VAE decoder looks
        # back tokenizer.decode_window latents), and stop after num_frames pixel frames.
        new_frames = -(-num_frames // self.tokenizer.temporal_factor)
        keep = self.tokenizer.decode_window
        actions = sequence_actions(self.model, opts, actions, context_actions,
                                   latents.shape[0], latents.shape[1], new_frames)
        history, emitted = latents[:, -keep:], 0
        for out in rollout(self.model, latents, new_frames, opts, generator, use_kv_cache,
                           canvas_only, actions, self.kernels):
            frames = self.tokenizer.decode_new(torch.cat([history, out.latent[:, None]], 1))
            canvases = None
            if return_canvas and out.canvas is not None:
                canvases = self.tokenizer.decode_new(torch.cat([history, out.canvas[:, None]],
                                                               1)).float()
            history = torch.cat([history, out.latent[:, None]], 1)[:, -keep:]
            frames = frames.float()  # pixels out are float32 in any dtype (no-op in float32)
            for j in range(frames.shape[1]):
                if emitted == num_frames:
                    return
                emitted += 1
                if not return_canvas:
                    yield frames[:, j]
                    continue
                canvas = None if canvases is None else canvases[:, j]
                staticness = None if out.staticness is None else out.staticness.float()
                yield StreamedFrame(frames[:, j], canvas, staticness, out.reveal_step)

    def __call__(self, context: torch.Tensor, num_frames: int | None = None, **kwargs
                 ) -> torch.Tensor:
        """(B, T, C, H, W) context in [0, 1] -> (B, num_frames, C, H, W) in [0, 1]."""
        kwargs.pop("return_canvas", None)
        return torch.stack(list(self.stream(context, num_frames, **kwargs)), dim=1)

    @torch.no_grad()
    def start(self, context: torch.Tensor, *, context_actions: object = None,
              generator: torch.Generator | None = None, resize: bool = False,
              use_kv_cache: bool = True, **options) -> Session:
        """An interactive session (session.py) from a (B, T, C, H, W) context in [0, 1]:
        `session.step(action)` returns the next frame (B, C, H, W). `context_actions`: the
        T-1 actions between the context frames (None: unknown); keywords as for `stream`."""
        opts = self.options(**options)
        return Session(self.model, self.tokenizer, self.check_context(context, resize), opts,
                       generator, context_actions, use_kv_cache, self.kernels)

    def save_pretrained(self, folder: str | Path, *, repo_id: str | None = None) -> Path:
        """Write the pipeline as a folder that `load_pipeline` and the Hub read: config.json
        (with its format_version), model.safetensors (the weights held now, in their dtype),
        README.md (the model card: the source folder's, or one written from the config) and,
        for a VAE tokenizer, tokenizer/. `repo_id` names the model in a generated card."""
        existing = None
        if self.source is not None and (self.source / hub.CARD).is_file():
            existing = (self.source / hub.CARD).read_text()
        params = sum(p.numel() for p in self.model.parameters())
        card = hub.model_card(self.cfg, params, repo_id, existing)
        out = hub.save_pretrained_folder(folder, self.model.state_dict(), self.cfg, card,
                                         getattr(self.tokenizer, "folder", None))
        for name in PLAY_FILES:  # a game model's play files go with it (web/play.py)
            if self.source is not None and (self.source / name).is_file():
                shutil.copyfile(self.source / name, Path(out) / name)
        return out

    def push_to_hub(self, repo_id: str, *, private: bool | None = None,
                    token: str | bool | None = None, commit_message: str | None = None,
                    revision: str | None = None, create_pr: bool = False) -> str:
        """save_pretrained into a temporary folder and upload it to the Hugging Face Hub as
        one commit (the repo is created if needed); -> the commit's URL."""
        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "model", repo_id=repo_id)
            return hub.push_folder(folder, repo_id, private=private, token=token,
                                   commit_message=commit_message, revision=revision,
                                   create_pr=create_pr)


_SAMPLE_KEYS = tuple(f.name for f in dataclasses.fields(SampleConfig))


PLAY_FILES = ("play.json", "play.npz")  # web/play.py reads them; no web import here


def _check_keywords(overrides: dict) -> None:
    """Unknown keyword arguments of pipe(...) / stream / options -> one UserError with the
    closest valid name, not dataclasses' TypeError."""
    unknown = [key for key in overrides if key not in _SAMPLE_KEYS]
    if not unknown:
        return
    named = [n for n in inspect.signature(Pipeline.stream).parameters
             if n not in ("self", "context", "options")]
    valid = sorted(set(named) | set(_SAMPLE_KEYS))
    close = difflib.get_close_matches(unknown[0], valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise UserError(f"unknown keyword argument '{unknown[0]}'{hint}; pipe(context, num_frames, "
                    f"...) takes {', '.join(valid)}")


def _is_dtype_name(name: str) -> bool:
    try:
        resolve_dtype(name)
    except UserError:
        return False
    return True


def _resolve_any_device(device: str | torch.device) -> torch.device:
    """`auto`, cpu and cuda[:N] checked by devices.resolve_device; other torch devices
    (mps, xpu, ...) as torch reads them."""
    name = str(device).strip().lower()
    if name in ("auto", "cpu") or name.startswith("cuda"):
        return resolve_device(device, option="device")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"device={device!r} is not a torch device: use auto, cpu, cuda or "
                        f"cuda:N") from None


def load_pipeline(path: str | Path, device: str | torch.device = "cpu", use_ema: bool = True,
                  *, torch_dtype: torch.dtype | str | None = None, revision: str | None = None,
                  cache_dir: str | Path | None = None, token: str | bool | None = None,
                  local_files_only: bool = False) -> Pipeline:
    """A run folder (its latest checkpoint), a checkpoint folder, or a Hugging Face Hub model
    `org/name` (downloaded to, or with HF_HUB_OFFLINE=1 read from, the Hub cache;
    `revision`, `cache_dir`, `token`, `local_files_only` as in huggingface_hub) -> Pipeline
    on `device` (auto, cpu, cuda, ...) in `torch_dtype` (default float32).

    The EMA weights are used when the checkpoint has them, unless `use_ema=False`;
    `pipe.weights` names the file that was loaded. An older checkpoint format is read with a
    notice; a newer one is refused.
    """
    dtype = None if torch_dtype is None else resolve_dtype(torch_dtype, "torch_dtype")
    source = hub.resolve_pretrained(path, revision=revision, cache_dir=cache_dir, token=token,
                                    local_files_only=local_files_only)
    folder = ckpt.resolve_checkpoint(source)
    cfg = hub.bundled_tokenizer(ckpt.load_checkpoint_config(folder), folder)
    model, tokenizer = build_model(cfg)
    used = ckpt.load_weights(model, folder, ema=use_ema)
    pipe = Pipeline(model, tokenizer, cfg).to(device, dtype=dtype)
    pipe.weights, pipe.source = used, folder
    return pipe
