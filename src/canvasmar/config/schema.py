"""The CanvasMAR run config: frozen dataclasses per component, their checks, and presets.

A run is fully described by one `RunConfig`; it is saved as JSON beside every checkpoint and
the model is rebuilt from it. Presets are data (`PRESETS`); config/loading.py reads YAML files
and `section.key=value` overrides into these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from canvasmar.errors import UserError


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    """How pixel frames become latent frames (the autoregressive units)."""

    kind: str = "pixel"  # "pixel": space-to-depth; "vae": causal VAE; "diffusers": image VAE
    patch: int = 4  # pixels per latent cell along each side (a VAE's spatial compression)
    channels: int = 3  # image channels
    path: str = ""  # kind vae: a `canvasmar vae train` folder; kind diffusers: AutoencoderKL dir
    cache: str = ""  # a `canvasmar vae cache` folder: train on its latents (docs/vae.md)


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
    activation_checkpointing: bool = False  # recompute transformer blocks in backward
    # EMA of the weights (MAR, NOVA: 0.9999), saved beside them and used by sample/eval;
    # 0 turns it off. The decay ramps up as min(ema_decay, (1 + s) / (10 + s)).
    ema_decay: float = 0.9999
    max_nonfinite: int = 5  # stop after this many non-finite steps in a row (each is skipped)
    time_limit_min: float = 0.0  # stop cleanly (with a checkpoint) after this many minutes
    tensorboard: bool = True  # TensorBoard event files in the run folder (if installed)


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
        for name in ("steps", "flow_steps"):
            if getattr(self, name) < 1:
                raise UserError(f"sample.{name}={getattr(self, name)} must be at least 1")
        if self.window < 0:
            raise UserError(f"sample.window={self.window} must be at least 0 "
                            f"(0 = data.frames, the training clip length)")
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
        """Check shapes that must agree; raise UserError naming the fix."""
        res, tp, mp = self.data.resolution, self.tokenizer.patch, self.model.temporal_patch
        if res % tp:
            raise UserError(f"data.resolution={res} is not divisible by tokenizer.patch={tp}: "
                            f"choose a resolution that is a multiple of {tp}")
        if (res // tp) % mp:
            raise UserError(f"the latent grid {res // tp}x{res // tp} is not divisible by "
                            f"model.temporal_patch={mp}: use a resolution that is a multiple "
                            f"of {tp * mp}")
        if self.model.dim % self.model.heads or (self.model.dim // self.model.heads) % 2:
            raise UserError(f"model.dim={self.model.dim} must split into model.heads="
                            f"{self.model.heads} heads of even size")
        if self.tokenizer.kind != "pixel" and not self.tokenizer.path:
            raise UserError(f"tokenizer.kind={self.tokenizer.kind} needs tokenizer.path=DIR "
                            f"(the trained VAE folder)")
        if self.data.frames < 2:
            raise UserError(f"data.frames={self.data.frames}: a clip needs at least 2 frames")
        for name in ("steps", "batch_size", "save_every", "eval_every"):
            if getattr(self.train, name) < 1:
                raise UserError(f"train.{name} must be at least 1")
        choices = {"device": ("auto", "cpu", "cuda"), "precision": ("fp32", "bf16"),
                   "parallel": ("ddp", "fsdp")}
        for name, allowed in choices.items():
            if getattr(self.train, name) not in allowed:
                raise UserError(f"train.{name}={getattr(self.train, name)!r}: use one of "
                                f"{', '.join(allowed)}")
        if self.train.grad_accum < 1 or self.train.batch_size % self.train.grad_accum:
            raise UserError(f"train.batch_size={self.train.batch_size} must be a multiple of "
                            f"train.grad_accum={self.train.grad_accum} (>= 1)")
        if not 0 <= self.train.ema_decay < 1:
            raise UserError(f"train.ema_decay={self.train.ema_decay} must be in [0, 1)")
        self.sample.validate()
        drops = self.loss.drop_canvas + self.loss.drop_temporal + self.loss.drop_both
        if drops > 1:
            raise UserError(f"condition dropout probabilities add up to {drops} > 1")
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
