"""The CanvasMAR run config: frozen dataclasses per component, their checks, and presets.

A run is fully described by one `RunConfig`; it is saved as JSON beside every checkpoint and
the model is rebuilt from it. Presets are data (`PRESETS`); config/loading.py reads YAML files
and `section.key=value` overrides into these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from canvasmar.config.checks import (
    all_at_least,
    at_least,
    finite,
    in_range,
    one_of,
    positive,
)
from canvasmar.errors import UserError


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    """How pixel frames become latent frames (the autoregressive units)."""

    kind: str = "pixel"  # "pixel": space-to-depth; "vae": causal VAE; "diffusers": image VAE
    patch: int = 4  # pixels per latent cell along each side (a VAE's spatial compression)
    channels: int = 3  # image channels
    path: str = ""  # kind vae: a `canvasmar vae train` folder; kind diffusers: AutoencoderKL dir
    cache: str = ""  # a `canvasmar vae cache` folder: train on its latents (docs/vae.md)

    def validate(self) -> TokenizerConfig:
        one_of("tokenizer.kind", self.kind, ("pixel", "vae", "diffusers"))
        all_at_least("tokenizer", self, ("patch", "channels"), 1)
        if self.kind != "pixel" and not self.path:
            raise UserError(f"tokenizer.kind={self.kind} needs tokenizer.path=DIR "
                            f"(the trained VAE folder)")
        return self


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The network (paper Sec. 4, Table 3). Widths are shared by all three transformers."""

    dim: int = 128
    heads: int = 4
    mlp_ratio: float = 4.0
    temporal_layers: int = 2
    # Latent cells per temporal token side. Table 3 uses 2 on VAE latents of a few channels;
    # the tiny preset's pixel tokens have 48 channels, so 2x2 of them (192 values) would be
    # squeezed into one 128-d token: measured, that bottleneck kept the canvas worse than
    # copying the last frame after 300 steps (docs/training.md). Presets set 2.
    temporal_patch: int = 1
    canvas_layers: int = 2
    # Table 3 lists "layers / depth"; we build an MAE-style encoder + decoder of `layers`
    # blocks each as one stack (see REFERENCE.md §1), so spatial_layers = 2 x Table 3 layers.
    spatial_layers: int = 4
    expert_norm: bool = True  # separate LN affines for condition / clean / canvas tokens
    flow_width: int = 256
    flow_layers: int = 3
    canvas: bool = True  # False: the paper's non-canvas baseline (learned mask token)

    def validate(self) -> ModelConfig:
        all_at_least("model", self, ("dim", "heads", "temporal_layers", "temporal_patch",
                                     "spatial_layers", "flow_width", "flow_layers"), 1)
        at_least("model.canvas_layers", self.canvas_layers, 1 if self.canvas else 0)
        positive("model.mlp_ratio", self.mlp_ratio)
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise UserError(f"model.dim={self.dim} must split into model.heads={self.heads} "
                            f"heads of even size")
        return self


@dataclass(frozen=True, kw_only=True)
class LossConfig:
    """The training objective (Sec. 4, Eq. 10) and its augmentations (App. A)."""

    canvas_weight: float = 0.1  # lambda_c, Eq. 10
    static_weight: float = 0.1  # lambda_s, Eq. 10
    head_repeat: int = 4  # each masked token repeated with fresh noise/time (MAR, NOVA)
    mask_ratio_min: float = 0.7  # MAR: truncated normal on [min, 1], centre 1
    mask_ratio_std: float = 0.25
    drop_canvas: float = 0.05  # Sec. 4.4 condition dropout
    drop_temporal: float = 0.05
    drop_both: float = 0.05
    frame_noise_min: float = 0.2  # r of Eq. 11, training range (Table 3)
    frame_noise_max: float = 0.6
    canvas_noise_min: float = 0.0  # r' of Eq. 12, training range (Table 3)
    canvas_noise_max: float = 0.3

    def validate(self) -> LossConfig:
        for name in ("canvas_weight", "static_weight"):
            at_least(f"loss.{name}", getattr(self, name), 0)
        at_least("loss.head_repeat", self.head_repeat, 1)
        in_range("loss.mask_ratio_min", self.mask_ratio_min, 0, 1)
        positive("loss.mask_ratio_std", self.mask_ratio_std)
        for name in ("drop_canvas", "drop_temporal", "drop_both"):
            in_range(f"loss.{name}", getattr(self, name), 0, 1)
        drops = self.drop_canvas + self.drop_temporal + self.drop_both
        if drops > 1:
            raise UserError(f"condition dropout probabilities add up to {drops} > 1")
        for kind in ("frame_noise", "canvas_noise"):  # Eq. 11, 12: r ~ U[min, max] in [0, 1]
            low, high = getattr(self, f"{kind}_min"), getattr(self, f"{kind}_max")
            in_range(f"loss.{kind}_min", low, 0, 1)
            in_range(f"loss.{kind}_max", high, 0, 1)
            if low > high:
                raise UserError(f"loss.{kind}_min={low} is above loss.{kind}_max={high}")
        return self


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    # "builtin" procedural videos, a folder of videos (its path), or a benchmark: "bair",
    # "ucf101", "k600" with its files under `root` (docs/data.md)
    source: str = "builtin"
    root: str = ""  # benchmark folder (for bair / ucf101 / k600)
    resolution: int = 32
    frames: int = 8  # frames per training clip
    stride: int = 1  # take every stride-th frame of the source video
    val_fraction: float = 0.1  # folders without train/ val/ subfolders: held-out share
    fold: int = 1  # UCF-101 official split list (1, 2 or 3)
    num_workers: int = 0

    def validate(self) -> DataConfig:
        at_least("data.resolution", self.resolution, 1)
        at_least("data.frames", self.frames, 2, ": a clip needs at least 2 frames")
        at_least("data.stride", self.stride, 1, " (1 = every frame)")
        in_range("data.val_fraction", self.val_fraction, 0, 1, high_open=True)
        one_of("data.fold", self.fold, (1, 2, 3))
        at_least("data.num_workers", self.num_workers, 0)
        return self


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.02
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0
    save_every: int = 500
    eval_every: int = 250
    eval_clips: int = 32
    keep_last: int = 3
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    # batch_size is the global batch: per step, processes x grad_accum micro-batches of
    # batch_size / (processes * grad_accum) clips each, whatever the launch (train/dist.py).
    grad_accum: int = 1
    device: str = "auto"  # auto (cuda when available), cpu, cuda
    precision: str = "fp32"  # fp32, or bf16 autocast (GPUs; ~30x slower on our CPUs)
    parallel: str = "ddp"  # with several processes (torchrun): ddp, or fsdp (FSDP2 fully_shard)
    compile: bool = False  # torch.compile the training step's network
    # torch.compile mode with train.compile: default; reduce-overhead (CUDA graphs: the
    # objective is one static-shape graph, tests/test_compile.py); max-autotune (GEMM
    # autotuning + CUDA graphs, long compile); max-autotune-no-cudagraphs. Not measured on a
    # GPU yet (docs/training-at-scale.md); on our CPUs only default was measured.
    compile_mode: str = "default"
    activation_checkpointing: bool = False  # recompute transformer blocks in backward
    # EMA of the weights (MAR, NOVA: 0.9999), saved beside them and used by sample/eval;
    # 0 turns it off. The decay ramps up as min(ema_decay, (1 + s) / (10 + s)).
    ema_decay: float = 0.9999
    max_nonfinite: int = 5  # stop after this many non-finite steps in a row (each is skipped)
    time_limit_min: float = 0.0  # stop cleanly (with a checkpoint) after this many minutes
    tensorboard: bool = True  # TensorBoard event files in the run folder (if installed)
    # learning diagnostics at each validation (evaluation/diagnostics.py: the swap test, head
    # calibration, canvas on static tokens) as diag_* metrics; ~15 s per 32 tiny clips
    diagnostics: bool = True

    def validate(self) -> TrainConfig:
        all_at_least("train", self, ("steps", "batch_size", "save_every", "eval_every",
                                     "eval_clips", "grad_accum"), 1)
        all_at_least("train", self, ("warmup_steps", "keep_last", "threads", "max_nonfinite"),
                     0)
        positive("train.lr", self.lr)
        at_least("train.weight_decay", self.weight_decay, 0)
        for i, beta in enumerate(self.betas):  # AdamW's moment decays
            in_range(f"train.betas[{i}]", beta, 0, 1, high_open=True)
        in_range("train.min_lr_ratio", self.min_lr_ratio, 0, 1)
        positive("train.grad_clip", self.grad_clip)
        in_range("train.ema_decay", self.ema_decay, 0, 1, high_open=True)
        at_least("train.time_limit_min", self.time_limit_min, 0)
        if self.batch_size % self.grad_accum:
            raise UserError(f"train.batch_size={self.batch_size} must be a multiple of "
                            f"train.grad_accum={self.grad_accum}")
        device = self.device.split(":")[0] if self.device.startswith("cuda:") else self.device
        one_of("train.device", device, ("auto", "cpu", "cuda"))
        one_of("train.precision", self.precision, ("fp32", "bf16"))
        one_of("train.parallel", self.parallel, ("ddp", "fsdp"))
        one_of("train.compile_mode", self.compile_mode, COMPILE_MODES)
        return self


def _setting(default, text: str, **more) -> Any:
    """A SampleConfig field: its default and one line of help (the `sample`/`eval` flags are
    generated from these, canvasmar/cli/common.py)."""
    return field(default=default, metadata={"help": text, **more})


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    """Generation defaults (Table 3, 'Sampling'); every one can be changed per call, and on the
    command line as a flag (--flow-steps) or as sample.KEY=VALUE (sample.flow_steps=10)."""

    steps: int = _setting(4, "spatial MAR steps per frame (Table 3: BAIR 4, UCF 8, K600 10)")
    flow_steps: int = _setting(30, "Euler steps of the flow head's ODE")
    cfg_canvas: float = _setting(1.0, "canvas guidance scale w_s of Eq. 9 (Table 3 BAIR: 1.5)")
    cfg_temporal: float = _setting(1.0, "temporal guidance scale w_t of Eq. 9 "
                                        "(Table 3 BAIR: 1.2)")
    order: str = _setting("motion", "token order: motion (Sec. 4.3) or random (MAR)",
                          choices=("motion", "random"))
    temperature: float = _setting(6.5, "confidence temperature of the motion-aware order "
                                       "(Table 3)")
    frame_noise: float = _setting(0.3, "noise level r on the previous frame at inference "
                                       "(Table 3; 0.4 on K600)")
    canvas_noise: float = _setting(0.2, "noise level r' on the canvas at inference (Table 3)")
    time_shift: float = _setting(1.0, "flow ODE time shift (1 = uniform grid)")
    # MAR's sampling temperature: the flow ODE starts from temperature * N(0, I), so values
    # below 1 trade diversity for fidelity (1 = the trained distribution).
    head_temperature: float = _setting(1.0, "flow-head noise scale (MAR's temperature): 1 = "
                                            "the trained distribution, < 1 sharper")
    window: int = _setting(0, "input frames kept in the KV cache; 0 = data.frames (the "
                              "training span)")
    # An attention sink: training never shows the model a window without BOS. Lowers
    # late-rollout error; see TemporalViT.new_cache and docs/sampling.md.
    keep_bos: bool = _setting(True, "pin the BOS frame in the sliding window")

    def validate(self) -> SampleConfig:
        """The one check of sampling settings (configs, overrides, flags, Pipeline.options);
        raise UserError naming the key."""
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise UserError(f"sample.{f.name}={getattr(self, f.name)!r}: use "
                                f"{' or '.join(repr(c) for c in choices)}")
        all_at_least("sample", self, ("steps", "flow_steps"), 1)
        at_least("sample.window", self.window, 0, " (0 = data.frames, the training clip length)")
        for name in ("cfg_canvas", "cfg_temporal"):  # Eq. 9: any finite scale is a choice
            finite(f"sample.{name}", getattr(self, name))
        for name in ("frame_noise", "canvas_noise"):  # Eq. 11, 12 mixing weights
            in_range(f"sample.{name}", getattr(self, name), 0, 1)
        at_least("sample.temperature", self.temperature, 0)
        at_least("sample.head_temperature", self.head_temperature, 0)
        positive("sample.time_shift", self.time_shift)
        if self.keep_bos and self.window == 1:
            raise UserError(f"sample.window={self.window} is too small: use at least 2 (BOS is "
                            f"pinned in the window; sample.keep_bos=false unpins it)")
        return self


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    name: str = "tiny"
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    def validate(self) -> RunConfig:
        """Each section's own checks, then the shapes that must agree across sections; raise
        UserError naming the key and the fix."""
        for section in (self.model, self.tokenizer, self.loss, self.data, self.train,
                        self.sample):
            section.validate()
        res, tp, mp = self.data.resolution, self.tokenizer.patch, self.model.temporal_patch
        if res % tp:
            raise UserError(f"data.resolution={res} is not divisible by tokenizer.patch={tp}: "
                            f"choose a resolution that is a multiple of {tp}")
        if (res // tp) % mp:
            raise UserError(f"the latent grid {res // tp}x{res // tp} is not divisible by "
                            f"model.temporal_patch={mp}: use a resolution that is a multiple "
                            f"of {tp * mp}")
        return self


# Table 3. Pixel tokenizer until the VAE lands, with the paper's spatial compression, so the
# latent grids match Table 3 (BAIR 16x16 at 4x, UCF 32x32 and K600 16x16 at 8x). The K600
# preset's MM-DiT is approximated by expert LayerNorm.
def _paper_preset(name: str, dim: int, heads: int, t_layers: int, c_layers: int, s_layers: int,
                  resolution: int, compression: int, sample: SampleConfig) -> RunConfig:
    return RunConfig(
        name=name,
        model=ModelConfig(dim=dim, heads=heads, temporal_patch=2,
                          temporal_layers=t_layers, canvas_layers=c_layers,
                          spatial_layers=2 * s_layers, flow_width=1280, flow_layers=3),
        tokenizer=TokenizerConfig(patch=compression),
        data=DataConfig(resolution=resolution, frames=16),
        train=TrainConfig(steps=200_000, batch_size=192 if name != "ucf" else 64, lr=4e-4,
                          warmup_steps=5000, save_every=5000, eval_every=5000),
        sample=sample,
    )


PRESETS: dict[str, RunConfig] = {
    "tiny": RunConfig(),
    "bair": _paper_preset("bair", 768, 12, 8, 4, 8, 64, 4,
                          SampleConfig(steps=4, cfg_canvas=1.5, cfg_temporal=1.2)),
    "ucf": _paper_preset("ucf", 1024, 16, 16, 8, 16, 256, 8,
                         SampleConfig(steps=8, cfg_canvas=1.5, cfg_temporal=1.2)),
    "k600": _paper_preset("k600", 1024, 16, 16, 8, 16, 128, 8,
                          SampleConfig(steps=10, cfg_canvas=2.25, cfg_temporal=1.1,
                                       frame_noise=0.4)),
}
# Parameter totals reported in Table 3, checked by the tests.
PAPER_PARAMS = {"bair": 211e6, "ucf": 733e6, "k600": 733e6}
