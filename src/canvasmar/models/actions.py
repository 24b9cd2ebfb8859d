"""Actions (issue 18, docs/world-model.md): the embedding the Temporal ViT adds to a frame's
input tokens, and the checks that turn what a caller gives into the tensors it takes.

Conventions: `actions[:, t]` is the action taken after frame t, so it conditions frame t+1.
Discrete actions (`model.action_kind=discrete`, Atari) are long indices in [0, N); continuous
ones (dm_control) are float vectors of size N (N = `model.actions`). The null action (no
action known, condition dropout in training, the unguided pass of `sample.cfg_action`) is
written -1 (discrete) or a row of NaN (continuous) inside a tensor, or None for a whole call.

Why an embedding added to every input token of the frame the action follows, and not an
extra action token per frame or a vector added to z_t:
- the frame's keys and values in the KV cache then carry its action, so every later frame
  sees the whole action history through attention, at the cost of one vector add per frame;
  the token count, the frame-causal mask, the rotary positions, the sliding window and the
  FLOPs stay exactly those of the model without actions (an action token would change all
  of them);
- an action acts on the whole frame (the player moves, the camera turns), and a per-frame
  vector reaches every spatial position at once;
- added to z_t instead (the output), an action would condition only the frame it leads to,
  and the model could not read the actions behind the history (what the player was doing).
The null action is learned (row N of the table; a vector for continuous actions) and trained
by per-frame dropout (`loss.drop_action`), as the null z_t of Sec. 4.4 is, so that the model
also predicts without an action, which guidance on the action needs.
"""

from __future__ import annotations

import torch
from torch import nn

from canvasmar.errors import UserError
from canvasmar.nn.blocks import init_weights

KINDS = ("discrete", "continuous")


class ActionEmbedding(nn.Module):
    """Actions (B, F) long or (B, F, N) float -> one vector (B, F, D) per frame."""

    def __init__(self, count: int, kind: str, dim: int) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"action kind {kind!r}: use one of {KINDS}")
        self.count, self.kind = count, kind
        if kind == "discrete":
            self.table = nn.Embedding(count + 1, dim)  # row `count`: the null action
            nn.init.normal_(self.table.weight, std=0.02)  # the scale of the positions
        else:
            self.proj = nn.Linear(count, dim)
            init_weights(self.proj)
            self.null = nn.Parameter(torch.randn(dim) * 0.02)

    def forward(self, actions: torch.Tensor | None, lead: tuple[int, int],
                drop: torch.Tensor | None = None) -> torch.Tensor:
        """`actions` for `lead` = (B, F) frames (None: all null); `drop` (B, F) bool makes
        those frames' actions null (training's condition dropout)."""
        if actions is None:
            actions = null_actions(self.count, self.kind, *lead, device=self._device())
        if self.kind == "discrete":
            null = actions < 0
            if drop is not None:
                null = null | drop
            return self.table(torch.where(null, self.count, actions))
        null = actions.isnan().any(-1)
        if drop is not None:
            null = null | drop
        zero = torch.zeros((), dtype=actions.dtype, device=actions.device)
        values = self.proj(torch.where(null[..., None], zero, actions).to(self.proj.weight.dtype))
        return torch.where(null[..., None], self.null.to(values.dtype), values)

    def _device(self) -> torch.device:
        return next(self.parameters()).device


def null_actions(count: int, kind: str, batch: int, frames: int,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """`frames` null actions per clip: (B, F) of -1, or (B, F, N) of NaN."""
    if kind == "discrete":
        return torch.full((batch, frames), -1, dtype=torch.long, device=device)
    return torch.full((batch, frames, count), float("nan"), device=device)


def action_tensor(value: object, count: int, kind: str, batch: int, frames: int,
                  what: str = "actions") -> torch.Tensor:
    """What a caller gives for `frames` actions of `batch` clips -> (B, F) long or (B, F, N)
    float (None: all null). A batch dimension of 1 or none is shared by all clips. Raises
    UserError naming `what`, the shape expected and the range of the values."""
    if value is None:
        return null_actions(count, kind, batch, frames)
    t = _as_tensor(value, what)
    discrete = kind == "discrete"
    per_frame = 0 if discrete else 1
    if t.dim() == 1 + per_frame:
        t = t.unsqueeze(0)
    want = (f"({frames},) or ({batch}, {frames}) action indices" if discrete else
            f"({frames}, {count}) or ({batch}, {frames}, {count}) action vectors")
    if (t.dim() != 2 + per_frame or t.shape[0] not in (1, batch) or t.shape[1] != frames
            or (not discrete and t.shape[2] != count)):
        raise UserError(f"{what} has shape {tuple(t.shape)}: this model takes {want} "
                        f"(model.actions={count}, {kind})")
    t = t.expand(batch, *t.shape[1:])
    if discrete:
        if t.is_floating_point() and not torch.equal(t, t.round()):
            raise UserError(f"{what} must be whole action indices for a discrete model, got "
                            f"{t.flatten()[0].item()}")
        t = t.long()
        bad = (t < -1) | (t >= count)
        if bad.any():
            raise UserError(f"{what} holds action {int(t[bad][0])}: this model knows {count} "
                            f"actions, 0..{count - 1} (-1 = no action)")
        return t.contiguous()
    t = t.float()
    if t.isinf().any():
        raise UserError(f"{what} holds an infinite value (NaN marks 'no action')")
    return t.contiguous()


def step_action(value: object, count: int, kind: str, batch: int) -> torch.Tensor:
    """One action per clip for a single step: an index or (B,) indices (discrete), a vector
    (N,) or (B, N) (continuous), None for the null action -> (B,) long or (B, N) float."""
    if value is None:
        return null_actions(count, kind, batch, 1)[:, 0]
    t = _as_tensor(value, "action")
    discrete = kind == "discrete"
    if discrete and t.dim() <= 1:
        t = t.reshape(-1, 1)  # () or (B,) -> (B, 1): one frame
    elif not discrete and t.dim() in (1, 2):
        t = t.unsqueeze(-2)  # (N,) or (B, N) -> (1 or B, 1, N)
    else:
        want = "an index or (B,) indices" if discrete else f"a vector ({count},) or (B, {count})"
        raise UserError(f"action has shape {tuple(t.shape)}: a step takes {want}")
    return action_tensor(t, count, kind, batch, 1, "action")[:, 0]


def _as_tensor(value: object, what: str) -> torch.Tensor:
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise UserError(f"{what} must be numbers (a list, array or tensor), got "
                        f"{type(value).__name__}") from None
