"""Shift canvas (model.warp, not in the paper): each token's displacement of the previous frame.

Why (docs/quality.md, session 16): at our scale the canvas puts a moving object's next position
as a blurred ghost (the squared-error mean over where it may go), and the flow head, drawing each
token's change from the previous frame, keeps the object where it was; rollouts freeze. A
displacement is a sharper thing to predict than the moved pixels: on the built-in clips the best
integer shift per token (radius 4 px, one shift per 4x4 pixel token) removes 83% of copying's
error on the tokens that move, the trained canvas ~54%. So with model.warp = R the Canvas ViT
also classifies, per token, which of the (2R+1)^2 integer shifts of the previous frame best
explains the next frame; the chosen shift (argmax) moves the previous frame, sharply, and the
residual heads then predict each token's change from that *moved* frame instead of the unmoved
one: a head that draws "no change" now draws the object where it went. The frame-prediction
literature's warping models (DVF, Liu et al. 2017; CDNA, Finn et al. 2016) do the same with
a flow field or kernels.

Training target: the shift whose copy of the previous frame is closest to the true token
(`best_shift`; near-ties go to the smaller displacement) and every shift exactly as good
(`acceptable_shifts`), with the negative log of the probability of that set (`shift_loss`);
no gradient passes through the argmax, so training and sampling use the same hard shift.
(The first model.warp run, session 16's phase 1, trained on `best_shift` alone.)

Shifts are in the tokenizer's cells: a pixel tokenizer with patch p packs p x p pixels into a
token (channels c*p*p, `(c p q)` order, models/tokenizer.py), so `cell_patch` = p unpacks the
tokens into pixels, shifts them and packs them back; a VAE's latent cells shift whole (p = 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from canvasmar.nn.patches import patchify, unpatchify

# The logit of the zero shift at initialisation: argmax picks "no move" until the head has
# learnt otherwise, so a model fine-tuned from one without a warp starts from its predictions.
_ZERO_SHIFT_BIAS = 2.0
# Near-ties (a smooth background shifted by a pixel) go to the zero shift: a shift's error is
# raised by this much per squared pixel of displacement over R^2 (token units, [-1, 1] pixels).
_DISPLACEMENT_PENALTY = 1e-3
# Shifts within this of the best one's error (mean squared, token units) are as good as it:
# exact ties, such as the inside of a uniformly coloured object (`acceptable_shifts`).
_TIE = 1e-6
# `_errors` builds this many shifts at a time (whole rows of the shift grid): radius 4 (81)
# in one piece, larger radii in a few, so memory stays that of ~81 copies of the frames.
_SHIFTS_PER_CHUNK = 81


class ShiftWarp(nn.Module):
    """Per-token shift logits from the canvas embedding, and the shifts themselves."""

    def __init__(self, dim: int, radius: int, latent_shape: tuple[int, int, int],
                 cell_patch: int) -> None:
        super().__init__()
        c, h, w = latent_shape
        if c % (cell_patch * cell_patch):
            raise ValueError(f"{c} token channels do not unpack into {cell_patch}x{cell_patch} "
                             f"cells")
        self.radius, self.cell_patch, self.grid = radius, cell_patch, (h * cell_patch,
                                                                      w * cell_patch)
        side = 2 * radius + 1
        self.logits = nn.Linear(dim, side * side)
        offsets = torch.arange(-radius, radius + 1)
        dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
        self.register_buffer("offsets", torch.stack([dy.reshape(-1), dx.reshape(-1)], 1),
                             persistent=False)  # (K, 2): shift k reads pixel (y+dy, x+dx)
        self._offset_list = self.offsets.tolist()  # slicing needs host ints: no device read
        self.zero_init()

    @property
    def zero_shift(self) -> int:
        """Index of the shift (0, 0)."""
        return self.offsets.shape[0] // 2

    def zero_init(self) -> None:
        """Weights 0, bias favouring the zero shift: starts as 'nothing moves'."""
        nn.init.zeros_(self.logits.weight)
        with torch.no_grad():
            self.logits.bias.zero_()
            self.logits.bias[self.zero_shift] = _ZERO_SHIFT_BIAS

    def shifted(self, tokens: torch.Tensor, rows: range | None = None) -> torch.Tensor:
        """tokens (F, n, C) -> their shifts (F, K', n, C), K' = every shift, or those of the
        given rows of the (2R+1)x(2R+1) grid (`_errors` goes row by row); borders repeat
        the edge."""
        p, (height, width), r = self.cell_patch, self.grid, self.radius
        side = 2 * r + 1  # shifts are row-major in the grid: rows are a slice of them
        offsets = self._offset_list if rows is None else self._offset_list[
            rows.start * side:rows.stop * side]
        image = unpatchify(tokens, p, height, width)  # (F, c, H, W)
        padded = F.pad(image, (r, r, r, r), mode="replicate")
        views = [padded[..., r + dy:r + dy + height, r + dx:r + dx + width]
                 for dy, dx in offsets]
        return patchify(torch.stack(views, 1), p)

    def apply(self, tokens: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """tokens (F, n, C), shift (F, n) indices -> each token taken from its shifted frame:
        one gather from the padded frame (sampling and every training step run this; only
        the training target needs all K shifts, `shifted`)."""
        p, (height, width), r = self.cell_patch, self.grid, self.radius
        frames = tokens.shape[0]
        padded = F.pad(unpatchify(tokens, p, height, width), (r, r, r, r), mode="replicate")
        move = self.offsets[shift].view(frames, height // p, width // p, 2)
        move = move.repeat_interleave(p, 1).repeat_interleave(p, 2)  # (F, H, W, 2) per pixel
        ys = torch.arange(height, device=tokens.device)[:, None] + r + move[..., 0]
        xs = torch.arange(width, device=tokens.device)[None, :] + r + move[..., 1]
        index = (ys * (width + 2 * r) + xs).view(frames, 1, -1)
        moved = padded.flatten(2).gather(2, index.expand(-1, padded.shape[1], -1))
        return patchify(moved.view(frames, -1, height, width), p)

    def _errors(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(F, K, n): each shift's mean squared error against `targets`. A few rows of the
        shift grid at a time: all K shifts of a 64x64 frame at radius 8 (289 of them) would
        hold ~14 MB per frame, ~0.8 GB for a batch of 8 clips of 8 frames."""
        side = 2 * self.radius + 1
        per_chunk = max(1, _SHIFTS_PER_CHUNK // side)
        return torch.cat([
            (self.shifted(tokens, range(start, min(start + per_chunk, side)))
             - targets[:, None]).float().pow(2).mean(-1)
            for start in range(0, side, per_chunk)], 1)

    def _best(self, error: torch.Tensor) -> torch.Tensor:
        penalty = self.offsets.float().pow(2).sum(1) / max(self.radius, 1) ** 2
        return (error + _DISPLACEMENT_PENALTY * penalty[None, :, None]).argmin(1)

    def best_shift(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per token, the shift of `tokens` (F, n, C) closest to `targets` (F, n, C) in mean
        squared error, small displacements winning near-ties: (F, n) indices."""
        return self._best(self._errors(tokens, targets))

    def acceptable_shifts(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training target, (F, n, K) bool: the best shift and every shift as good as it
        to within _TIE. The inside of a uniformly coloured moving object is copied exactly by
        the zero shift and by the object's own displacement; accepting both lets the model
        give a whole object one shift instead of learning where the argmin switches."""
        error = self._errors(tokens, targets)
        best = error.gather(1, self._best(error)[:, None])  # (F, 1, n)
        return (error <= best + _TIE).transpose(1, 2)


def shift_loss(logits: torch.Tensor, acceptable: torch.Tensor) -> torch.Tensor:
    """Summed over tokens: -log of the probability the logits (F, n, K) give to the
    acceptable shifts (F, n, K) bool (cross-entropy when one shift is acceptable)."""
    logits = logits.float()
    chosen = logits.masked_fill(~acceptable, float("-inf")).logsumexp(-1)
    return (logits.logsumexp(-1) - chosen).sum()
