"""Patchify / unpatchify of latent frames and the frame-causal attention mask."""

from __future__ import annotations

import torch
from einops import rearrange


def patchify(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """(..., C, h, w) -> (..., n, C*p*p) with n = (h/p)*(w/p), raster order."""
    return rearrange(frames, "... c (h p) (w q) -> ... (h w) (c p q)", p=patch, q=patch)


def unpatchify(tokens: torch.Tensor, patch: int, height: int, width: int) -> torch.Tensor:
    """(..., n, C*p*p) -> (..., C, h, w); the inverse of `patchify`."""
    return rearrange(tokens, "... (h w) (c p q) -> ... c (h p) (w q)",
                     h=height // patch, w=width // patch, p=patch, q=patch)


def frame_causal_mask(frames: int, tokens_per_frame: int, device=None,
                      window: int | None = None, keep_first: int = 0) -> torch.Tensor:
    """(L, L) bool, True where query i may attend key j: frame(j) <= frame(i) (Sec. 4.1).

    Causal across frames, bidirectional inside a frame (the 'hybrid' mask of NOVA). With a
    `window` of W frames a frame sees only W frames up to itself: the first `keep_first`
    frames (an anchor such as BOS) and the W - keep_first newest. This is the attention
    pattern of a sliding-window KV cache that pins its first frames (`KVCache.keep_prefix`), so
    recomputation and cached rollouts agree exactly.
    """
    frame_of = torch.arange(frames, device=device).repeat_interleave(tokens_per_frame)
    allowed = frame_of[None, :] <= frame_of[:, None]
    if window is not None:
        if not 0 <= keep_first < window:
            raise ValueError(f"keep_first={keep_first} must be in [0, window={window})")
        newest = frame_of[None, :] > frame_of[:, None] - (window - keep_first)
        allowed &= newest | (frame_of[None, :] < keep_first)
    return allowed


def chunk_mask(query_frames: torch.Tensor, key_frames: torch.Tensor, tokens_per_frame: int,
               window: int | None = None, keep_first: int = 0) -> torch.Tensor:
    """(Lq, Lk) bool: `frame_causal_mask`'s rule for queries and keys given by the absolute
    frame index of each query / key frame (a chunk of new frames against a KV cache that may
    have dropped old frames). With all frames on both sides it is `frame_causal_mask`."""
    q = query_frames.repeat_interleave(tokens_per_frame)[:, None]
    k = key_frames.repeat_interleave(tokens_per_frame)[None, :]
    allowed = k <= q
    if window is not None:
        allowed &= (k > q - (window - keep_first)) | (k < keep_first)
    return allowed
