"""Temporal ViT (paper Sec. 4.1): past frames -> one temporal embedding z_t per target frame.

Input sequence [BOS, f_0, ..., f_{T-2}], each frame cut into temporal patches (Table 3: 2x2
latent cells). The output at input frame i-1 is z_t for target frame i, so one pass gives the
condition of every target frame of a clip (training), and at inference one frame at a time
through a frame-level KV cache gives exactly the same numbers (a next-K model, App. B, appends
K frames per step, frame-causal among them). With model.actions, the
embedding of the action taken after each input frame is added to all of its tokens
(models/actions.py explains why there), so the cache carries the actions too.

Motion input (model.motion_input, not in the paper): each input frame's change from the frame
before it (zero for the first frame) is embedded by a second linear layer and added to its
tokens, so a token sees the local motion at its place without attention having to line up
two frames. Why: measured on both shipped models (docs/quality.md, "The canvas did not look
at the past"), replacing every history frame but the last by the last one changed their
canvas by ~1e-3 of copy-last's error: the Temporal ViT had not learnt to compare frames, so
the canvas could not tell where an object was going. Frame stacking does the same for
Atari agents (DQN) and world models (DIAMOND). The layer starts at zero, so a model
fine-tuned from one without it (train.init_from) starts from that model's predictions.

History noise level (model.history_noise_input, not in the paper): trained with
loss.history_noise_max, each history frame carries noise of a level r the model is told, as a
learned embedding of r's bucket (NOISE_LEVEL_BUCKETS over [0, 1]) added to its tokens. This
is GameNGen's (Valevski et al., 2024) conditioning augmentation, after Ho et al. (2021): noise
alone taught our model to distrust all history, motion included (docs/quality.md); told the
level, it can trust a clean history (level 0, what inference passes) and still learn to
repair a noisy one. Zero-initialised, like the motion input.

Temporal patch 2 -> spatial patch 1 (a choice the paper leaves open): each temporal token is
copied to the p x p latent cells it covers and a learned embedding of the cell's place inside
the patch is added. A full linear expansion (d -> p*p*d) would cost 2-4M parameters more and
push the BAIR preset past Table 3's 211M; the Canvas ViT and Spatial MAR attend across cells
anyway, so they can resolve finer structure themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from einops import rearrange
from torch import nn

from canvasmar.config import ModelConfig
from canvasmar.models.actions import ActionEmbedding
from canvasmar.nn.attention import KVCache
from canvasmar.nn.blocks import Block, ExpertLayerNorm
from canvasmar.nn.patches import chunk_mask, frame_causal_mask, patchify
from canvasmar.nn.rope import grid_positions

NOISE_LEVEL_BUCKETS = 10  # of the history noise level input: [0, 0.1), [0.1, 0.2), ...


@dataclass
class TemporalCache:
    """Per-layer KV caches plus the rotary position (frame index) of the next input frame."""

    layers: list[KVCache]
    next_position: int = 0
    meta: dict = field(default_factory=dict)


class TemporalViT(nn.Module):
    def __init__(self, cfg: ModelConfig, latent_channels: int, grid: tuple[int, int]) -> None:
        super().__init__()
        p, d = cfg.temporal_patch, cfg.dim
        self.patch, self.grid = p, grid
        self.tokens_per_frame = (grid[0] // p) * (grid[1] // p)
        self.embed = nn.Linear(latent_channels * p * p, d)
        self.pos = nn.Parameter(torch.randn(1, self.tokens_per_frame, d) * 0.02)
        self.bos = nn.Parameter(torch.randn(1, 1, self.tokens_per_frame, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio)
                                    for _ in range(cfg.temporal_layers))
        self.norm = ExpertLayerNorm(d)
        self.sub_cell = nn.Parameter(torch.randn(p * p, d) * 0.02)
        # model.actions > 0: set by CanvasMAR after every other weight is drawn (models/actions.py)
        self.action: ActionEmbedding | None = None
        self.motion: nn.Linear | None = None  # model.motion_input: `add_motion_input`
        self.action_film: nn.Linear | None = None  # model.action_film: `add_action_film`
        self.noise_level: nn.Embedding | None = None  # model.history_noise_input
        # model.spatial_rope: (n_t, 3) (0, row, column) of a frame's tokens (nn/rope.py)
        self.register_buffer("rope_grid", None, persistent=False)

    def use_spatial_rope(self) -> None:
        """model.spatial_rope: rotary positions over (frame, row, column) instead of the frame
        alone. No weights: the checkpoint and the initial draws are unchanged."""
        self.rope_grid = grid_positions(self.grid[0] // self.patch, self.grid[1] // self.patch)

    def add_motion_input(self) -> None:
        """The zero-initialised embedding of each frame's change from the one before it."""
        self.motion = nn.Linear(self.embed.in_features, self.embed.out_features)
        nn.init.zeros_(self.motion.weight)
        nn.init.zeros_(self.motion.bias)

    def add_action_film(self) -> None:
        """model.action_film (not in the paper): the embedding of the action after a frame
        also scales and shifts, per channel, the z_t that frame's output gives the next one
        (FiLM, Perez et al. 2018; DIAMOND conditions its denoiser on the action the same way,
        through adaptive norms). Added to the input only, the action is one small vector on
        tokens ~20x its size, and moving an object by it needs the network to learn the
        product "the object is here" x "this action": at our scale it did not (Pong's paddle
        did not follow the key, docs/world-model.md). A product with z_t, which already says
        what is at each place, is that interaction in one layer. After the blocks, so the KV
        cache is unchanged; zero-initialised, so a model fine-tuned from one without it
        starts from that model's predictions."""
        d = self.embed.out_features
        with torch.random.fork_rng(devices=[]):  # its random init is zeroed: leave no draws
            self.action_film = nn.Linear(d, 2 * d)
        nn.init.zeros_(self.action_film.weight)
        nn.init.zeros_(self.action_film.bias)

    def _film(self, actions: torch.Tensor | None, lead: tuple[int, int],
              drop: torch.Tensor | None = None) -> torch.Tensor | None:
        """(scale, shift) (B, F, 1, 2D) of the outputs whose next frame follows these actions
        (None: the null action); None without model.action_film."""
        if self.action_film is None:
            return None
        return self.action_film(self.action(actions, lead, drop))[:, :, None]

    def add_noise_level_input(self) -> None:
        """The zero-initialised embedding of each history frame's noise level bucket."""
        # _weight: no random init drawn and discarded, so later draws are unchanged
        self.noise_level = nn.Embedding(NOISE_LEVEL_BUCKETS, self.embed.out_features,
                                        _weight=torch.zeros(NOISE_LEVEL_BUCKETS,
                                                            self.embed.out_features))

    def _noise_level_embedding(self, level: torch.Tensor | None, shape: torch.Size
                               ) -> torch.Tensor:
        """(B, T) levels in [0, 1] -> (B, T, 1, D) embeddings; None: clean, bucket 0's row
        for every frame (what inference passes, with no index tensor to build)."""
        if level is None:
            return self.noise_level.weight[0].expand(*shape, 1, -1)
        bucket = (level * NOISE_LEVEL_BUCKETS).long().clamp(0, NOISE_LEVEL_BUCKETS - 1)
        return self.noise_level(bucket)[:, :, None]

    def _frame_tokens(self, frames: torch.Tensor, actions: torch.Tensor | None = None,
                      drop_action: torch.Tensor | None = None,
                      before: torch.Tensor | None = None,
                      noise_level: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, C, h, w) latents -> (B, T, n_t, D); with actions, the embedding of the
        action after each frame (None: the null action) is added to all its tokens. With
        the motion input, `before` (B, C, h, w) is the frame before frames[:, 0] (None:
        none, its change is zero). With the noise level input, `noise_level` (B, T) is each
        frame's history noise level (None: clean)."""
        x = self.embed(patchify(frames, self.patch)) + self.pos
        if self.motion is not None:
            first = frames[:, :1] if before is None else before[:, None]
            change = frames - torch.cat([first, frames[:, :-1]], dim=1)
            x = x + self.motion(patchify(change, self.patch))
        if self.noise_level is not None:
            x = x + self._noise_level_embedding(noise_level, frames.shape[:2])
        elif noise_level is not None:
            raise ValueError("noise levels given to a model without model.history_noise_input")
        if self.action is not None:
            return x + self.action(actions, frames.shape[:2], drop_action)[:, :, None]
        if actions is not None:
            raise ValueError("actions given to a model without actions (model.actions=0)")
        return x

    def _to_cells(self, x: torch.Tensor, film: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, n_t, D) -> (B, T, n, D), one embedding per latent cell in raster order;
        `film` (B, T, 1, 2D): model.action_film's scale and shift of each frame's output."""
        gh, gw = self.grid[0] // self.patch, self.grid[1] // self.patch
        x = self.norm(x)
        if film is not None:
            scale, shift = film.chunk(2, dim=-1)
            x = x * (1 + scale) + shift
        cells = x[..., None, :] + self.sub_cell  # (B, T, n_t, p*p, D)
        return rearrange(cells, "b t (gh gw) (p q) d -> b t (gh p gw q) d",
                         gh=gh, gw=gw, p=self.patch, q=self.patch)

    def _run(self, tokens: torch.Tensor, start: int, cache: TemporalCache | None,
             causal: bool, window: int | None = None, keep_bos: bool = False) -> torch.Tensor:
        """tokens (B, F, n_t, D) at frame positions start.. -> block outputs, same shape."""
        b, frames, n_t, _ = tokens.shape
        positions = torch.arange(start, start + frames, device=tokens.device)
        positions = positions.repeat_interleave(n_t)
        if self.rope_grid is not None:  # (frame, row, column) per token
            positions = torch.cat([positions[:, None], self.rope_grid[:, 1:].repeat(frames, 1)], 1)
        mask = None
        if causal and cache is not None and len(cache.layers[0]) and (
                frames > 1 or cache.meta.get("group", 1) > 1):
            mask = self._chunk_mask(cache, start, frames, tokens.device)  # a group step
        elif causal and frames > 1:
            mask = frame_causal_mask(frames, n_t, tokens.device, window,
                                     keep_first=int(keep_bos and window is not None))
        x = rearrange(tokens, "b f n d -> b (f n) d")
        for i, block in enumerate(self.blocks):
            layer_cache = cache.layers[i] if cache is not None else None
            x = block(x, mask=mask, positions=positions, cache=layer_cache)
        if cache is not None:
            cache.next_position = start + frames
        return rearrange(x, "b (f n) d -> b f n d", f=frames)

    def _chunk_mask(self, cache: TemporalCache, start: int, frames: int,
                    device: torch.device) -> torch.Tensor:
        """The mask of `frames` new frames (positions start..) against the cache once they are
        appended: which frames it holds (BOS pinned and the newest, after a trim) and the
        windowed frame-causal rule of `forward`, so a K-frame step equals recomputation."""
        n_t, layer = self.tokens_per_frame, cache.layers[0]
        window = cache.meta["window"]
        pinned = int(cache.meta.get("keep_bos", False) and window is not None)
        total = start + frames
        held = len(layer) // n_t + frames
        if layer.max_tokens is not None:
            held = min(held, layer.max_tokens // n_t)
        keys = torch.arange(total, device=device)
        if held < total:  # trimmed: the pinned frames and the newest
            keys = torch.cat([keys[:pinned], keys[total - (held - pinned):]])
        queries = torch.arange(start, total, device=device)
        return chunk_mask(queries, keys, n_t, window, pinned)

    def _with_bos(self, history: torch.Tensor, actions: torch.Tensor | None = None,
                  drop_action: torch.Tensor | None = None,
                  noise_level: torch.Tensor | None = None) -> torch.Tensor:
        b = history.shape[0]
        frames = self._frame_tokens(history, actions, drop_action, noise_level=noise_level)
        return torch.cat([self.bos.expand(b, -1, -1, -1), frames], dim=1)

    def forward(self, history: torch.Tensor, window: int | None = None,
                keep_bos: bool = False, actions: torch.Tensor | None = None,
                drop_action: torch.Tensor | None = None,
                noise_level: torch.Tensor | None = None) -> torch.Tensor:
        """history (B, T-1, C, h, w) -> z_t (B, T, n, D) for target frames 0..T-1.

        `window` (input frames, BOS included) and `keep_bos` reproduce the sliding-window
        cache of `new_cache(window, keep_bos)` exactly. `actions` (B, T-1[, N]): the action
        after each history frame; `drop_action` (B, T-1) bool nulls some (training).
        `noise_level` (B, T-1): the history noise on each frame (training; None: clean).
        """
        tokens = self._with_bos(history, actions, drop_action, noise_level)
        film = None
        if self.action_film is not None:  # BOS's output leads to frame 0: no action before it
            b, t = history.shape[:2]
            film = torch.cat([self._film(None, (b, 1)), self._film(actions, (b, t), drop_action)],
                             dim=1)
        return self._to_cells(self._run(tokens, 0, None, True, window, keep_bos), film)

    def new_cache(self, window: int | None = None, keep_bos: bool = False, group: int = 1
                  ) -> TemporalCache:
        """An empty cache; `window` keeps only that many input frames (sliding window): the
        newest ones, and with `keep_bos` the BOS frame pinned as the first of them. `group`
        (model.group, App. B): frames appended per step; the cache then holds group - 1
        frames more, which the first frames of a step still see (`_chunk_mask`).

        Why pin BOS: in training every frame attends to BOS (clips never exceed the window),
        so a window that slides BOS out shows the model an attention pattern it never saw. On
        the built-in val split, pinning it lowers the error of frames 9-16 of a rollout by up
        to 16% (docs/sampling.md), the attention-sink effect of StreamingLLM (Xiao et al.,
        2024).
        """
        if window is None:
            return TemporalCache([KVCache() for _ in self.blocks],
                                 meta={"window": None, "group": group})
        pinned = int(keep_bos)
        if window <= pinned:
            raise ValueError(f"a window of {window} frame(s) with BOS pinned leaves no room for "
                             f"frames; use a window of at least 2")
        n_t, held = self.tokens_per_frame, window + group - 1
        layers = [KVCache(held * n_t, keep_prefix=pinned * n_t) for _ in self.blocks]
        return TemporalCache(layers, meta={"window": window, "keep_bos": keep_bos,
                                           "group": group})

    def prefill(self, history: torch.Tensor, cache: TemporalCache,
                actions: torch.Tensor | None = None) -> torch.Tensor:
        """Fill an empty cache with [BOS, history] (the actions after its frames); return
        z_t (B, n, D) of the next frame."""
        tokens = self._with_bos(history, actions)
        if history.shape[1]:  # the motion input of the next step (none after BOS alone)
            cache.meta["last_frame"] = history[:, -1]
        # A context longer than the cache holds: prefill what fits with the windowed mask, then
        # the rest a step of `group` frames at a time, so each frame sees exactly its window
        # (one pass over it all would attend to keys the cache has already dropped)
        layer = cache.layers[0]
        fits = tokens.shape[1] if layer.max_tokens is None else \
            layer.max_tokens // self.tokens_per_frame
        out = self._run(tokens[:, :fits], 0, cache, True, cache.meta["window"],
                        cache.meta.get("keep_bos", False))
        group = cache.meta.get("group", 1)
        for start in range(fits, tokens.shape[1], group):
            out = self._run(tokens[:, start:start + group], start, cache, causal=True)
        last = None if actions is None or not history.shape[1] else actions[:, -1:]
        film = self._film(last, (history.shape[0], 1))  # the action after the last frame
        return self._to_cells(out[:, -1:], film)[:, 0]

    def step(self, frame: torch.Tensor, cache: TemporalCache,
             action: torch.Tensor | None = None, append: bool = True,
             noise_level: float = 0.0) -> torch.Tensor:
        """Append one frame (B, C, h, w), with the action (B,) / (B, N) taken after it, to the
        cache; return z_t (B, n, D) of the next frame. `append=False` leaves the cache as it
        was (the same z_t, as if the frame were appended with this action). A group of
        frames (B, K, C, h, w) (model.group = K, no actions) is appended in one pass,
        frame-causal inside it, and z_t is that of the frame after its last. `noise_level`:
        the level the model with the noise level input is told the frame carries."""
        saved_position = cache.next_position
        for layer in cache.layers:  # append=False: each layer answers without keeping
            layer.store = append
        before = cache.meta.get("last_frame")
        frames = frame if frame.dim() == 5 else frame[:, None]
        level = None
        if self.noise_level is not None and noise_level:
            level = torch.full(frames.shape[:2], noise_level, device=frame.device)
        try:
            if frame.dim() == 5:  # App. B: the cache advances K frames at a time
                if frame.shape[1] > cache.meta.get("group", 1):
                    raise ValueError(f"{frame.shape[1]} frames in one step, but the cache was "
                                     f"made for {cache.meta.get('group', 1)}: "
                                     f"new_cache(..., group)")
                tokens = self._frame_tokens(frames, before=before, noise_level=level)
                out = self._run(tokens, cache.next_position, cache, causal=True)[:, -1:]
            else:
                tokens = self._frame_tokens(frames, None if action is None else action[:, None],
                                            before=before, noise_level=level)
                out = self._run(tokens, cache.next_position, cache, causal=False)
        finally:
            for layer in cache.layers:
                layer.store = True
        film = None if frame.dim() == 5 else self._film(  # groups carry no actions
            None if action is None else action[:, None], (frame.shape[0], 1))
        if append:
            cache.meta["last_frame"] = frame if frame.dim() == 4 else frame[:, -1]
        else:
            cache.next_position = saved_position
        return self._to_cells(out, film)[:, 0]
