"""Interactive prediction (issue 18, docs/world-model.md): one frame per call, each after the
action the caller takes, with the temporal KV cache kept between calls.

    session = pipe.start(context)          # (B, T, C, H, W) in [0, 1], as for pipe(...)
    frame = session.step(action)           # (B, C, H, W) in [0, 1]: the frame after it
    video = pipe(context, 16, actions=acts)    # whole sequences: models/actions.py shapes

`Pipeline.start` builds a `Session`; `sequence_actions` turns the actions given to
`pipe(...)` / `pipe.stream(...)` into the one tensor that `sampler.rollout` takes.
"""

from __future__ import annotations

import torch

from canvasmar.config import SampleConfig
from canvasmar.errors import UserError
from canvasmar.models import CanvasMAR, Tokenizer
from canvasmar.models.actions import action_tensor, step_action
from canvasmar.sampler import (
    GeneratedFrame,
    check_actions,
    generate_group,
    group_latents,
)
from canvasmar.step_kernels import EAGER, StepKernels
from canvasmar.temporal_state import TemporalState


def sequence_actions(model: CanvasMAR, opts: SampleConfig, actions: object,
                     context_actions: object, batch: int, context_frames: int,
                     new_frames: int) -> torch.Tensor | None:
    """`actions` (one per new frame: the action after the newest frame leads to the first)
    and `context_actions` (the context_frames - 1 actions between the context frames) ->
    (B, context_frames + new_frames - 1[, N]) for `rollout`, nulls where not given; None
    when neither is given. UserError for actions asked of a model without them."""
    if actions is None and context_actions is None:
        check_actions(model, None, opts)
        return None
    if not model.has_actions:
        check_actions(model, torch.zeros(0), opts)  # raises the UserError
    count, kind = model.cfg.actions, model.cfg.action_kind
    past = action_tensor(context_actions, count, kind, batch, context_frames - 1,
                         "context_actions")
    future = action_tensor(actions, count, kind, batch, new_frames, "actions")
    return torch.cat([past, future], 1).to(model.temporal.pos.device)


class Session:
    """An interactive rollout of `pipe.start(context)`: `step(action)` makes the next frame.

    The KV cache lives here (`temporal_state.TemporalState`); with actions the newest frame waits
    outside it until the action taken after it is known. Sampling settings, the generator
    and `use_kv_cache` are fixed at `start`. `frames` counts the frames made, `latest` is the
    last `GeneratedFrame` (its latent, canvas, staticness and reveal steps). A next-K model
    (model.group = K, App. B) makes K frames at every K-th step and returns them one per
    step: the frames of `pipe(context, num_frames)` all the same.
    """

    def __init__(self, model: CanvasMAR, tokenizer: Tokenizer, context: torch.Tensor,
                 opts: SampleConfig, generator: torch.Generator | None = None,
                 context_actions: object = None, use_kv_cache: bool = True,
                 kernels: StepKernels = EAGER) -> None:
        """`context` pixel frames (B, T, C, H, W), already checked (Pipeline.check_context);
        `kernels` the pipeline's step work, eager or compiled (Pipeline.compile)."""
        if tokenizer.temporal_factor != 1:
            raise UserError(f"a session makes one frame per step, but this tokenizer makes "
                            f"{tokenizer.temporal_factor} frames per latent frame: use "
                            f"pipe.stream(context, num_frames)")
        self.model, self.tokenizer, self.opts, self.generator = model, tokenizer, opts, generator
        self.kernels = kernels
        latents = tokenizer.encode(context)
        b, t = latents.shape[:2]
        past = sequence_actions(model, opts, None, context_actions, b, t, 0)
        self.state = TemporalState(model, latents, opts, use_kv_cache, past)
        self.history = latents[:, -tokenizer.decode_window:]  # what the decoder looks back on
        self.frames = 0
        self.latest: GeneratedFrame | None = None
        self.queued: list[GeneratedFrame] = []  # the rest of a next-K model's group

    @property
    def batch(self) -> int:
        return self.history.shape[0]

    @torch.no_grad()
    def step(self, action: object = None) -> torch.Tensor:
        """The next frame (B, C, H, W), float32 in [0, 1], after `action` taken on the newest
        frame: an index or (B,) indices (discrete), a vector (N,) or (B, N) (continuous);
        None: no action (the null action; the only choice for a model without actions)."""
        model = self.model
        if action is not None and not model.has_actions:
            check_actions(model, torch.zeros(0), self.opts)  # raises the UserError
        a = None
        if action is not None:
            a = step_action(action, model.cfg.actions, model.cfg.action_kind, self.batch)
            a = a.to(model.temporal.pos.device)
        if not self.queued:
            z_t, z_free = self.state.condition(a, free=a is not None and
                                               self.opts.cfg_action != 1)
            self.queued = generate_group(model, z_t, model.to_tokens(self.state.last),
                                         self.opts, self.generator, z_free, self.kernels)
            self.state.push(group_latents(self.queued), a, self.generator)
        out = self.queued.pop(0)
        sequence = torch.cat([self.history, out.latent[:, None]], 1)
        frame = self.tokenizer.decode_new(sequence)[:, -1]
        self.history = sequence[:, -self.tokenizer.decode_window:]
        self.frames += 1
        self.latest = out
        return frame.float()
