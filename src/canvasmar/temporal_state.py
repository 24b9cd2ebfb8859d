"""z_t of the next frame during generation (paper Fig. 2 left, step 1): the context and the
frames generated so far, through the Temporal ViT's KV cache or recomputed (for checking).
Used by the rollout loop (sampler.py) and interactive sessions (session.py)."""

from __future__ import annotations

import torch

from canvasmar.augment import noise_augment, to_device
from canvasmar.config import SampleConfig
from canvasmar.models.canvasmar import CanvasMAR


class TemporalState:
    """z_t of the next frame from the frames so far and the actions between them: through
    the KV cache (context prefilled once, one step per frame) or, with `use_kv_cache=False`,
    recomputed over the whole history with the same windowed attention (for checking).

    The cache keeps `opts.window` input frames (sliding window): the newest ones, with the BOS
    frame pinned among them when `opts.keep_bos`. Without actions the context is prefilled
    whole. With actions (model.actions > 0) the newest frame waits outside the cache: its
    tokens carry the action taken after it, which only the next `condition` call brings.
    With `opts.history_noise` L > 0, each generated frame is read with noise of level L
    (Eq. 11's form; GameNGen's inference augmentation) and, with model.history_noise_input,
    the model is told L; the context stays clean and the canvas sees the clean frame.
    """

    def __init__(self, model: CanvasMAR, context: torch.Tensor, opts: SampleConfig,
                 use_kv_cache: bool = True, actions: torch.Tensor | None = None) -> None:
        """context (B, T, C, h, w); `actions` (B, T-1[, N]) after its frames but the last."""
        self.model, self.opts, self.window = model, opts, opts.window or None
        self.last = context[:, -1]  # the newest frame
        self.pending: torch.Tensor | None = None  # a frame not yet in the cache
        self.pending_level = 0.0  # its history noise level (context frames: clean)
        self.levels = [0.0] * context.shape[1]  # of each frame of `history` (recompute)
        self.ready: torch.Tensor | None = None  # z_t of the next frame, when known
        self.history, self.cache = context, None
        b, t = context.shape[:2]
        self.actions = model.null_actions(b, t - 1) if actions is None and model.has_actions \
            else actions
        if use_kv_cache:
            self.cache = model.new_cache(self.window, opts.keep_bos)
            if model.has_actions:
                model.encode_history(context[:, :-1], self.cache, self.actions)
                self.pending = self.last
            else:
                self.ready = model.encode_history(context, self.cache)

    def condition(self, action: torch.Tensor | None = None, free: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z_t (B, n, D) of the next frame, the newest followed by `action` ((B,) / (B, N),
        None: the null action), and with `free` also z_t under the null action."""
        model, b = self.model, self.last.shape[0]
        if model.has_actions and action is None:
            action = model.null_actions(b, 1)[:, 0]
        null = model.null_actions(b, 1)[:, 0] if free else None
        if self.cache is None:
            z_t = self._recompute(action)
            return z_t, None if null is None else self._recompute(null)
        if self.pending is not None:
            level = self.pending_level
            z_free = None if null is None else model.temporal_step(
                self.pending, self.cache, null, append=False, noise_level=level)
            self.ready = model.temporal_step(self.pending, self.cache,
                                             action if model.has_actions else None,
                                             noise_level=level)
            self.pending = None
            return self.ready, z_free
        return self.ready, None

    def _recompute(self, action: torch.Tensor | None) -> torch.Tensor:
        actions = None
        if action is not None:
            actions = torch.cat([self.actions, action[:, None]], 1)
        levels = None
        if self.model.cfg.history_noise_input and any(self.levels):
            levels = to_device(torch.tensor(self.levels), self.history.device).expand(
                self.history.shape[0], -1)
        return self.model.temporal_embeddings(self.history, self.window, self.opts.keep_bos,
                                              actions, noise_level=levels)[:, -1]

    def push(self, frame: torch.Tensor, action: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> None:
        """The frame (B, C, h, w) that follows, `action` being the one it followed (recompute
        keeps it; the cache holds it already), or a next-K model's group (B, K, C, h, w),
        which the next `condition` appends in one temporal step. With opts.history_noise
        the Temporal ViT reads it noised (noise drawn from `generator`)."""
        self.last = frame if frame.dim() == 4 else frame[:, -1]
        self.pending_level = level = self.opts.history_noise
        if level:
            frame = noise_augment(frame, level, generator)
        self.pending = frame
        if self.cache is None:
            frames = frame[:, None] if frame.dim() == 4 else frame
            self.history = torch.cat([self.history, frames], dim=1)
            self.levels += [level] * frames.shape[1]
            if self.model.has_actions:
                if action is None:
                    action = self.model.null_actions(frame.shape[0], 1)[:, 0]
                self.actions = torch.cat([self.actions, action[:, None]], 1)
