"""What the model reads as its history in training, when it is not the real clip (not in the
paper): stuck frames (loss.history_freeze, `freeze_frames`) and the model's own samples
(loss.own_history, `own_history_inputs`).

Why loss.own_history (docs/quality.md, session 23): in a rollout every frame after the
context is the model's own sample, with its errors (a fragment of a paddle, a speckle on the
background); trained on real histories only, the model never sees such a frame and never
learns to repair it, so the errors of one step become the inputs of the next and pile up
(Pong: one paddle piece at rollout step 1, 2-5 by step 8 in every arm of session 22). This is
exposure bias, and the answer of sequence models to it is scheduled sampling (Bengio et al.,
2015) in its parallel form (Duckworth et al., 2019): one extra pass without gradients draws
every frame of the clip one step ahead from the real frames before it, exactly as the sampler
draws a rollout's next frame (`sampler.generate_frame` with the run's sample settings), and
each input frame is then replaced by its draw with probability loss.own_history. The targets
stay real: the model learns to predict the real next frame from a history that holds its own
mistakes. loss.history_noise_max (Gaussian noise) and loss.history_freeze (stuck frames)
imitate two kinds of rollout error; this shows the model its actual ones.

Cost: the draw of T - 1 frames per clip (one teacher-forced Temporal ViT pass, a Canvas ViT
pass per frame, sample.steps Spatial MAR passes and sample.flow_steps head passes per guidance
pass), forward only: counted in models/flops.py (`own_history_flops`). Seeding the draw reads
one number on the host (a sync on a GPU), so the option is off the static-shape path
(tests/test_compile.py compiles the objective without it). The draw depends on how the batch
is split over processes (each draws its own slice), unlike every other draw of the objective.
"""

from __future__ import annotations

import torch
from einops import rearrange

from canvasmar.config import SampleConfig
from canvasmar.models.canvasmar import CanvasMAR
from canvasmar.sampler import generate_frame


def previous_frames(latents: torch.Tensor) -> torch.Tensor:
    """(B, T, C, h, w) -> the frame before each target; zeros (the mean frame) before frame 0."""
    return torch.cat([torch.zeros_like(latents[:, :1]), latents[:, :-1]], dim=1)


@torch.no_grad()
def one_step_samples(model: CanvasMAR, latents: torch.Tensor, opts: SampleConfig,
                     generator: torch.Generator | None = None,
                     actions: torch.Tensor | None = None) -> torch.Tensor:
    """latents (B, T, C, h, w) -> (B, T, C, h, w): frame i (i >= 1) drawn by the sampler from
    the real frames before it (teacher-forced z_t, the real frame i-1 for the canvas), all
    frames in one batch; frame 0 is returned as it was (it has no real history to start
    from, and a rollout never generates it). `actions` (B, T-1[, N]): those the frames took."""
    b, t = latents.shape[:2]
    if t < 2:
        return latents
    if actions is not None:
        actions = actions.to(latents.device)
    z_t = model.temporal_embeddings(latents[:, :-1], actions=actions)[:, 1:]  # (B, T-1, n, D)
    prev = model.to_tokens(latents[:, :-1])  # frame i-1 for targets 1..T-1
    frame = generate_frame(model, rearrange(z_t, "b t n d -> (b t) n d"),
                           rearrange(prev, "b t n c -> (b t) n c"), opts, generator)
    drawn = rearrange(frame.latent, "(b t) c h w -> b t c h w", b=b).to(latents.dtype)
    return torch.cat([latents[:, :1], drawn], dim=1)


def own_history_inputs(model: CanvasMAR, inputs: torch.Tensor, latents: torch.Tensor,
                       replace: torch.Tensor, seed: torch.Tensor, opts: SampleConfig,
                       actions: torch.Tensor | None = None) -> torch.Tensor:
    """The input frames (B, T, ...) with those where `replace` (B*T,) bool is set taken from
    `one_step_samples` of the real `latents`, drawn from a generator seeded with `seed`
    (a 0-d integer tensor, one of the step's draws)."""
    b, t = latents.shape[:2]
    device = latents.device
    generator = torch.Generator(device=device if device.type == "cuda" else "cpu")
    generator.manual_seed(int(seed))  # a host read: see the module docstring
    drawn = one_step_samples(model, latents, opts, generator, actions)
    which = replace.to(device).view(b, t, *[1] * (latents.dim() - 2))
    return torch.where(which, drawn, inputs)


def freeze_frames(latents: torch.Tensor, freeze: torch.Tensor) -> torch.Tensor:
    """latents (B, T, ...), freeze (B, T) bool -> each frozen frame replaced by the last
    unfrozen one before it (runs of frozen frames repeat the same frame).

    loss.history_freeze (not in the paper): in a rollout, once a generated frame fails to move
    an object, the history shows no motion and every later frame stays frozen (docs/quality.md,
    session 15: the shipped model's motion falls from 0.65 of the real one at the first
    predicted frame to 0.13 at the second and 0 from the fourth). Trained only on real
    histories, the model never saw a stuck frame followed by a moving target; with this it
    does: frozen input frames, real targets. Gathers by index: static shapes, no host sync.
    """
    b, t = freeze.shape
    index = torch.arange(t, device=freeze.device).expand(b, t)
    source = torch.where(freeze, torch.zeros_like(index), index).cummax(1).values
    return latents.gather(1, source.view(b, t, *[1] * (latents.dim() - 2))
                          .expand(-1, -1, *latents.shape[2:]))
