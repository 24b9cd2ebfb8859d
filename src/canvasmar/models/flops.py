"""FLOPs of a training clip and of a generated frame, counted from the config (no run needed).

What is counted (the MFU convention of PaLM / nanoGPT, but exact per layer instead of 6N):
every matmul, 2*M*N*K for an (M, K) x (K, N) product, which is every linear layer (biases,
norms, activations, rotary, the noise mixing and the losses are elementwise and left out) and
both products of attention, 4 * queries * keys * width per layer. Attention is counted over
every key SDPA computes, masked ones included (the frame-causal mask skips no work), as
`torch.utils.flop_counter` does (which counts SDPA's CUDA kernels but not the CPU one:
tests/test_flops.py registers that one before comparing).

Backward costs twice the forward (the gradients of a product's input and of its weight), except
for the layers whose input is data (the frame embeddings, the flow head's noisy input and its
sinusoidal time features): there autograd computes the weight gradient alone, 1x. Attention's
backward is counted as 2x (four products); a kernel that recomputes the scores (flash) does
more work than this, which is hardware FLOPs, not model FLOPs.

Training (`losses.training_losses`, one clip of T latent frames): one Temporal ViT pass over
[BOS, frames 0..T-2]; the Canvas ViT and its two heads on the T frames; the Spatial MAR on
[condition prefix; frame] (2n tokens) of every frame; the flow head on k = loss.head_repeat
copies of each masked token. On the CPU the objective gathers the masked tokens, whose count
is random (a truncated-normal ratio per frame, masking.random_masks): its expectation is used.
On a GPU it runs the head on all tokens for static shapes (mar_losses.mar_loss), 1 / E[ratio] ~
1.15x the head's work with the default ratios, and that work is counted too: the count is what
the run computes (`static_objective`).

Next-group models (model.group = K, App. B): the Canvas ViT runs once per group of K frames,
its K canvas heads (two d x d layers each) and the two light heads once per frame; each of the
Spatial MAR's temporal attention layers adds, per frame, a qkv and an output projection over
its n frame tokens and attention of each to the K tokens at its position in the group. A
sampling step makes K frames: one temporal step appends the K frames against the cached
window (which holds K - 1 frames more), then the Spatial MAR passes and the flow head run on
the K frames' tokens together.

Sampling (`sampler.rollout` with the KV cache): per frame one temporal step (the new frame's
tokens against the cached window), the Canvas ViT, and for each of the MAR steps one Spatial
MAR pass per guidance pass, plus the flow head over all n tokens (each revealed once) at every
ODE step for every guidance pass. Guidance passes of zero weight are skipped (Eq. 9 as
`sampler.guidance_weights` writes it). The tokenizer (encode / decode) is not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from canvasmar.config import LossConfig, ModelConfig, RunConfig, SampleConfig
from canvasmar.models.flow_head import timestep_embedding
from canvasmar.models.group import attention_after

TIME_FEATURES = timestep_embedding.__defaults__[0]  # the flow head's sinusoidal width (256)


@dataclass(frozen=True)
class Dims:
    """The widths and token counts the FLOPs depend on."""

    d: int  # model width
    hidden: int  # MLP width of the transformer blocks
    c: int  # latent channels (token width)
    n: int  # tokens per latent frame
    n_t: int  # temporal tokens per frame (temporal_patch^2 cells each)
    w: int  # flow-head width
    cfg: ModelConfig

    @classmethod
    def of(cls, cfg: ModelConfig, latent_shape: tuple[int, int, int]) -> Dims:
        c, h, w = latent_shape
        p = cfg.temporal_patch
        return cls(cfg.dim, int(cfg.dim * cfg.mlp_ratio), c, h * w, (h // p) * (w // p),
                   cfg.flow_width, cfg)


def linear(tokens: float, fan_in: int, fan_out: int) -> float:
    return 2.0 * tokens * fan_in * fan_out


def block(dims: Dims, queries: float, keys: float) -> float:
    """One transformer block (nn/blocks.py): qkv, attention, projection, MLP. `keys`: the
    keys each query is scored against."""
    d = dims.d
    dense = linear(queries, d, 3 * d) + linear(queries, d, d) + 2 * linear(queries, d, dims.hidden)
    return dense + 4.0 * queries * keys * d


# ---- forward FLOPs of each part, split as (input-fed, rest): the input-fed layers' backward
# computes the weight gradient alone.
def temporal(dims: Dims, inputs: int, queries: int, keys: int) -> tuple[float, float]:
    """Temporal ViT: embed `inputs` frames, run `queries` frames' tokens against `keys`
    frames' (all per sequence)."""
    cfg, n_t, p2 = dims.cfg, dims.n_t, dims.cfg.temporal_patch ** 2
    embed = linear(inputs * n_t, dims.c * p2, dims.d) * (2 if cfg.motion_input else 1)
    film = linear(queries, dims.d, 2 * dims.d) if cfg.action_film else 0.0  # one per frame
    return embed, cfg.temporal_layers * block(dims, queries * n_t, keys * n_t) + film


def canvas(dims: Dims) -> tuple[float, float]:
    """Canvas ViT and its canvas / staticness heads, one frame, or one group of K frames of a
    next-K model (the ViT once, the K canvas heads, the light heads on each frame)."""
    if not dims.cfg.canvas:
        return 0.0, 0.0
    n, d, k = dims.n, dims.d, dims.cfg.group
    if k == 1:
        rest = dims.cfg.canvas_layers * block(dims, n, n) + linear(n, d, dims.c) + linear(n, d, 1)
    else:
        rest = (dims.cfg.canvas_layers * block(dims, n, n)
                + k * (2 * linear(n, d, d) + linear(n, d, dims.c) + linear(n, d, 1)))
    if dims.cfg.warp:  # the shift logits (models/warp.py); the shifts themselves are copies
        rest += k * linear(n, d, (2 * dims.cfg.warp + 1) ** 2)
    return linear(n, dims.c, d), rest


def spatial(dims: Dims) -> tuple[float, float]:
    """Spatial MAR, one frame: token and canvas embeddings of all n, blocks over 2n tokens;
    in a next-K model, its share of the temporal attention layers (n queries, K keys each)."""
    n, d, k = dims.n, dims.d, dims.cfg.group
    rest = dims.cfg.spatial_layers * block(dims, 2 * n, 2 * n)
    if dims.cfg.canvas:
        rest += linear(n, d, d)
    if k > 1:
        layers = len(attention_after(dims.cfg.spatial_layers))
        rest += layers * (linear(n, d, 3 * d) + linear(n, d, d) + 4.0 * n * k * d)
    return linear(n, dims.c, d) * (2 if dims.cfg.reveal_change else 1), rest


def head(dims: Dims, tokens: float, conditions: float | None = None) -> tuple[float, float]:
    """Flow head (models/flow_head.py) on `tokens` tokens whose `conditions` condition
    vectors (default: one per token) are embedded once each and broadcast."""
    w = dims.w
    conditions = tokens if conditions is None else conditions
    fed = linear(tokens, TIME_FEATURES, w) + linear(tokens, dims.c, w)
    rest = (linear(tokens, w, w) + linear(conditions, dims.d, w)  # time MLP's 2nd layer, cond
            + dims.cfg.flow_layers * (2 * linear(tokens, w, w) + linear(tokens, w, 3 * w))
            + linear(tokens, w, 2 * w) + linear(tokens, w, dims.c))
    return fed, rest


# ---- training
def expected_masked(num_tokens: int, ratio_min: float, ratio_std: float) -> float:
    """E[ceil(n r)] for r ~ N(1, std) truncated to [ratio_min, 1] (masking.random_masks):
    the sum over j < n of P(n r > j), exactly."""
    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - 1.0) / (ratio_std * math.sqrt(2))))

    low, high = cdf(ratio_min), cdf(1.0)
    total = 0.0
    for j in range(num_tokens):
        x = j / num_tokens
        total += 1.0 if x < ratio_min else (high - cdf(x)) / (high - low)
    return max(1.0, total)


def static_objective(device_type: str) -> bool:
    """Which form of L_MAR a run computes (mar_losses.mar_loss's default): the static-shaped one
    (the head on every token) on any device but the CPU, the gathered one (masked tokens) on
    the CPU, compiled or not."""
    return device_type != "cpu"


def training_flops(model: ModelConfig, loss: LossConfig, latent_shape: tuple[int, int, int],
                   frames: int, static: bool = False, masked_per_frame: float | None = None
                   ) -> float:
    """Forward + backward FLOPs of the training objective for one clip of `frames` latent
    frames. The flow head runs on k = loss.head_repeat copies of each masked token
    (`masked_per_frame`, default its expectation) with one condition embedding per copy, or
    with `static` on k copies of every token with one condition embedding per token."""
    dims = Dims.of(model, latent_shape)
    groups = frames // model.group  # the Canvas ViT runs once per group (App. B)
    parts = [temporal(dims, frames - 1, frames, frames)]
    parts += [tuple(count * x for x in part)
              for count, part in ((groups, canvas(dims)), (frames, spatial(dims)))]
    k = loss.head_repeat
    if not loss.mar_weight:  # the canvas path alone: no Spatial MAR, no head
        parts.pop()
    elif static:
        parts.append(head(dims, k * frames * dims.n, frames * dims.n))
    else:
        if masked_per_frame is None:
            masked_per_frame = expected_masked(dims.n, loss.mask_ratio_min, loss.mask_ratio_std)
        parts.append(head(dims, k * frames * masked_per_frame))
    if loss.mar_weight and loss.mean_weight > 0:  # the mean readout: one pass on every token
        parts.append(head(dims, frames * dims.n))
    fed = sum(p[0] for p in parts)
    rest = sum(p[1] for p in parts)
    return 2 * fed + 3 * rest  # forward + backward (1x for input-fed layers, else 2x)


def latent_frames(frames: int, temporal_factor: int) -> int:
    """Latent frames of `frames` pixel frames (a causal VAE keeps frame 0 on its own)."""
    return frames if temporal_factor == 1 else 1 + (frames - 1) // temporal_factor


def pixel_latent_shape(cfg: RunConfig) -> tuple[int, int, int]:
    """The latent shape of the pixel tokenizer (other tokenizers: ask the tokenizer)."""
    p, r = cfg.tokenizer.patch, cfg.data.resolution
    return cfg.tokenizer.channels * p * p, r // p, r // p


def run_training_flops(cfg: RunConfig, device_type: str, latent_shape: tuple[int, int, int]
                       | None = None, temporal_factor: int = 1) -> float:
    """Training FLOPs per clip (data.frames pixel frames) of a run config on a device type,
    in the form of the objective it runs there."""
    shape = latent_shape or pixel_latent_shape(cfg)
    frames = latent_frames(cfg.data.frames, temporal_factor)
    total = training_flops(cfg.model, cfg.loss, shape, frames, static_objective(device_type))
    if cfg.loss.own_history > 0:
        total += own_history_flops(cfg.model, shape, frames, cfg.sample)
    return total


def own_history_flops(model: ModelConfig, latent_shape: tuple[int, int, int], frames: int,
                      opts: SampleConfig) -> float:
    """Forward FLOPs of loss.own_history's draw for one clip (history_inputs.one_step_samples):
    one teacher-forced Temporal ViT pass, then frames 1..T-1 drawn as a rollout draws a frame
    whose z_t is given. With sample.keep_unchanged > 0 the head skips the kept tokens, so this
    is then an upper bound."""
    dims = Dims.of(model, latent_shape)
    return (sum(temporal(dims, frames - 1, frames, frames))
            + (frames - 1) * frame_flops(model, latent_shape, opts, None))


# ---- sampling
def guidance_passes(cfg_canvas: float, cfg_temporal: float, has_canvas: bool) -> int:
    """How many condition passes a MAR step runs: the non-zero weights of Eq. 9 (the same
    rule as sampler.guidance_weights, checked by the tests)."""
    weights = ([1 - cfg_temporal, cfg_temporal - cfg_canvas, cfg_canvas] if has_canvas
               else [1 - cfg_temporal, cfg_temporal])
    return sum(weight != 0 for weight in weights)


def frame_flops(model: ModelConfig, latent_shape: tuple[int, int, int], opts: SampleConfig,
                cached_frames: int | None, batch: int = 1, canvas_only: bool = False) -> float:
    """Forward FLOPs of one generated frame, or of a next-K model's group of K frames (one
    temporal step). `cached_frames`: input frames in the KV cache after appending the
    previous frame or group (BOS included), or None for the first, whose temporal condition
    came from the prefill."""
    dims, k = Dims.of(model, latent_shape), model.group
    total = 0.0 if cached_frames is None else sum(temporal(dims, k, k, cached_frames))
    total += sum(canvas(dims))
    if not canvas_only:
        passes = guidance_passes(opts.cfg_canvas, opts.cfg_temporal, model.canvas)
        total += opts.steps * passes * k * sum(spatial(dims))
        total += opts.flow_steps * sum(head(dims, passes * k * dims.n))
    return batch * total


def cache_frames(model: ModelConfig, window: int | None) -> int | None:
    """Input frames the KV cache holds at most (`TemporalViT.new_cache`): the window, plus
    K - 1 for a next-K model, whose first new frame of a step still sees a whole window."""
    return None if window is None else window + model.group - 1


def rollout_flops(model: ModelConfig, latent_shape: tuple[int, int, int], opts: SampleConfig,
                  context: int, num_frames: int, window: int | None, batch: int = 1,
                  canvas_only: bool = False) -> float:
    """Forward FLOPs of `sampler.rollout` with the KV cache: the prefill of [BOS, context]
    (each frame against the window before it) and `num_frames` frames (a next-K model: the
    groups that hold them, the last made whole)."""
    dims, k = Dims.of(model, latent_shape), model.group
    inputs = context + 1
    limit = cache_frames(model, window) or inputs + num_frames + k
    # Prefill: one sequence of `inputs` frames, all scored against all (the mask skips no
    # work), or against the cache's window if it is shorter.
    keys = min(limit, inputs)
    total = batch * sum(temporal(dims, context, inputs, keys))
    for i in range(0, num_frames, k):
        cached = None if i == 0 else min(limit, inputs + i)
        total += frame_flops(model, latent_shape, opts, cached, batch, canvas_only)
    return total
