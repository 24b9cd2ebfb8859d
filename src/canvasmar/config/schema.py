"""The CanvasMAR run config: frozen dataclasses per component and their checks.

A run is fully described by one `RunConfig`; it is saved as JSON beside every checkpoint and
the model is rebuilt from it. Presets are data (`PRESETS`, config/presets.py);
config/loading.py reads YAML files and `section.key=value` overrides into these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canvasmar.config.checks import (
    all_at_least,
    at_least,
    check_across_sections,
    check_group_frames,
    in_range,
    one_of,
    positive,
    setting,
)
from canvasmar.config.sample import SampleConfig
from canvasmar.errors import UserError


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    """How pixel frames become latent frames (the autoregressive units)."""

    kind: str = setting("pixel", "pixel (space-to-depth), vae (the causal VAE) or diffusers "
                                 "(a pretrained image VAE)")
    patch: int = setting(4, "pixels per latent cell along each side (a VAE's spatial "
                            "compression)")
    channels: int = setting(3, "image channels")
    path: str = setting("", "kind vae: a `canvasmar vae train` folder; kind diffusers: an "
                            "AutoencoderKL folder")
    cache: str = setting("", "a `canvasmar vae cache` folder: train on its latents "
                             "(docs/vae.md)")

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

    dim: int = setting(128, "token width of all three transformers")
    heads: int = setting(4, "attention heads (dim / heads must be even)")
    mlp_ratio: float = setting(4.0, "MLP hidden width / dim")
    temporal_layers: int = setting(2, "blocks of the Temporal ViT (causal over frames)")
    # Table 3: 2 on VAE latents; 2x2 pixel tokens (192 values) in one 128-d token kept the
    # tiny canvas worse than copy-last (docs/training.md).
    temporal_patch: int = setting(1, "latent cells per temporal token side")
    canvas_layers: int = setting(2, "blocks of the Canvas ViT (the one-pass canvas)")
    # Table 3 "layers / depth": MAE-style encoder + decoder as one stack (REFERENCE.md §1).
    spatial_layers: int = setting(4, "blocks of the Spatial MAR (encoder + decoder)")
    expert_norm: bool = setting(True, "separate LayerNorm affines for condition, clean and "
                                      "canvas tokens")
    flow_width: int = setting(256, "width of the flow-matching head's MLP")
    flow_layers: int = setting(3, "residual blocks of the flow-matching head")
    canvas: bool = setting(True, "false: the paper's non-canvas baseline (a learned mask "
                                 "token)")
    # Not in the paper (off in the paper presets): the canvas and flow heads predict each
    # token's change from the previous frame, so a static token is a zero to predict; rebuilt,
    # the background stayed ~300x worse than copying it at our scale (docs/quality.md).
    residual: bool = setting(False, "predict tokens as changes from the previous frame "
                                    "(canvas and flow head)")
    # Not in the paper (docs/quality.md): each frame's change from the one before, embedded
    # and added to its Temporal ViT input (the canvas sees where things move).
    motion_input: bool = setting(False, "add each frame's change from the previous frame to "
                                        "its Temporal ViT input")
    # Not in the paper (docs/quality.md): tell the Temporal ViT each history frame's noise
    # level (loss.history_noise_max; an embedding per level bucket, GameNGen).
    history_noise_input: bool = setting(False, "add an embedding of each history frame's noise "
                                               "level to its Temporal ViT input")
    # Not in the paper (issue 18, docs/world-model.md): the action taken after frame t,
    # embedded and added to frame t's Temporal ViT input, conditions frame t+1.
    actions: int = setting(0, "action conditioning: the number of discrete actions, or the "
                              "size of a continuous action; 0 = none")
    action_kind: str = setting("discrete", "discrete (an action index, Atari) or continuous "
                                           "(a vector, dm_control)")
    action_film: bool = setting(False, "the action also scales and shifts z_t of the frame it "
                                       "leads to (FiLM; models/temporal_vit.py)")
    # Not in the paper (docs/world-model.md, session 22): each revealed token also enters the
    # Spatial MAR as its change from what the residual heads add to (Canvas.base), so that a
    # revealed moving token says "something arrived here" at the input layer; zero-initialised.
    reveal_change: bool = setting(False, "revealed tokens also enter the Spatial MAR as their "
                                         "change from the previous frame")
    # Next-group prediction (App. B, docs/next-group.md): K frames per temporal step.
    group: int = setting(1, "frames generated jointly per temporal step (App. B next-group "
                            "prediction); 1 = next-frame")
    # Not in the paper (models/warp.py, docs/quality.md): the canvas also picks, per token, an
    # integer shift of the previous frame; the residual heads add to the moved frame.
    warp: int = setting(0, "largest per-token shift of the previous frame, in pixels (0 = off; "
                           "needs model.residual)")

    # Not in the paper, which leaves positions open (nn/rope.py): rotary positions over the
    # token grid as well as time, so attention goes by spatial offsets, as motion does.
    spatial_rope: bool = setting(False, "rotary positions over (frame, row, column) in all "
                                        "three transformers, not the frame alone")

    def validate(self) -> ModelConfig:
        all_at_least("model", self, ("dim", "heads", "temporal_layers", "temporal_patch",
                                     "spatial_layers", "flow_width", "flow_layers"), 1)
        at_least("model.canvas_layers", self.canvas_layers, 1 if self.canvas else 0)
        positive("model.mlp_ratio", self.mlp_ratio)
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise UserError(f"model.dim={self.dim} must split into model.heads={self.heads} "
                            f"heads of even size")
        at_least("model.actions", self.actions, 0, " (0 = no actions)")
        one_of("model.action_kind", self.action_kind, ("discrete", "continuous"))
        if self.action_film and not self.actions:
            raise UserError("model.action_film=true needs actions: set model.actions=N")
        at_least("model.group", self.group, 1, " (1 = next-frame prediction)")
        if self.group > 1 and self.actions:
            raise UserError(f"model.group={self.group} with model.actions={self.actions}: "
                            f"action conditioning is for next-frame models only (a session "
                            f"takes one action per frame); use model.group=1 or "
                            f"model.actions=0 (docs/next-group.md)")
        at_least("model.warp", self.warp, 0, " (0 = off)")
        if self.warp and not (self.residual and self.canvas):
            raise UserError(f"model.warp={self.warp} moves what the residual heads add to: it "
                            f"needs model.residual=true and model.canvas=true, or model.warp=0")
        return self


@dataclass(frozen=True, kw_only=True)
class LossConfig:
    """The training objective (Sec. 4, Eq. 10) and its augmentations (App. A)."""

    canvas_weight: float = setting(0.1, "lambda_c of Eq. 10: weight of the canvas loss")
    static_weight: float = setting(0.1, "lambda_s of Eq. 10: weight of the staticness loss")
    mar_weight: float = setting(1.0, "weight of L_MAR in Eq. 10 (1: the paper; 0 trains the "
                                     "canvas path alone, docs/training.md)")
    head_repeat: int = setting(4, "copies of each masked token, each with fresh flow noise "
                                  "and time (MAR, NOVA)")
    mask_ratio_min: float = setting(0.7, "lowest mask ratio (MAR: truncated normal on "
                                         "[min, 1], centre 1)")
    mask_ratio_std: float = setting(0.25, "spread of the mask-ratio truncated normal")
    drop_canvas: float = setting(0.05, "probability a frame's canvas becomes the mask token "
                                       "(Sec. 4.4)")
    drop_temporal: float = setting(0.05, "probability a frame's z_t becomes the null vector "
                                         "(Sec. 4.4)")
    drop_both: float = setting(0.05, "probability a frame loses both canvas and z_t "
                                     "(Sec. 4.4)")
    drop_action: float = setting(0.1, "probability a frame's action becomes the null action "
                                      "(model.actions > 0; for sample.cfg_action)")
    frame_noise_min: float = setting(0.2, "lowest noise level r on the previous frame "
                                          "(Eq. 11, Table 3)")
    frame_noise_max: float = setting(0.6, "highest noise level r on the previous frame")
    canvas_noise_min: float = setting(0.0, "lowest noise level r' on the canvas "
                                           "(Eq. 12, Table 3)")
    canvas_noise_max: float = setting(0.3, "highest noise level r' on the canvas")
    # Not in the paper (docs/quality.md): history noise r ~ U[0, max] per frame (Eq. 11's form)
    history_noise_max: float = setting(0.0, "highest noise level on the Temporal ViT's history "
                                            "frames (0 = clean, the paper)")
    history_freeze: float = setting(0.0, "chance an input frame repeats the one before it, as a "
                                         "stuck generated frame would (losses.py)")
    own_history: float = setting(0.0, "chance an input frame is the model's own one-step draw "
                                      "of it (scheduled sampling; history_inputs.py)")
    warp_weight: float = setting(0.1, "weight of model.warp's shift cross-entropy")
    mean_weight: float = setting(0.0, "weight of the flow head's mean readout at the noise "
                                      "end (0 = the paper; mar_losses.mean_loss)")
    moving_weight: float = setting(1.0, "loss weight of tokens near motion in the two frames "
                                        "before (1 = the paper; losses.token_weights)")
    # Not in the paper (docs/quality.md, session 30): Eq. 5's squared error is minimised by
    # the mean of the futures the model believes in (an object it is unsure of drawn
    # part-way), the absolute error by their per-value median, which commits. Eq. 7's
    # staticness target keeps the squared error either way. Tried against our frozen
    # rollouts: the median committed to "the object stays"; it did not restore motion.
    canvas_norm: str = setting("l2", "canvas loss per token: l2 (Eq. 5, squared error) or "
                                     "l1 (absolute error: a committed, median canvas)")

    def validate(self) -> LossConfig:
        for name in ("canvas_weight", "static_weight", "mar_weight", "warp_weight",
                     "mean_weight"):
            at_least(f"loss.{name}", getattr(self, name), 0)
        at_least("loss.moving_weight", self.moving_weight, 1)
        one_of("loss.canvas_norm", self.canvas_norm, ("l2", "l1"))
        at_least("loss.head_repeat", self.head_repeat, 1)
        in_range("loss.mask_ratio_min", self.mask_ratio_min, 0, 1)
        positive("loss.mask_ratio_std", self.mask_ratio_std)
        for name in ("drop_canvas", "drop_temporal", "drop_both"):
            in_range(f"loss.{name}", getattr(self, name), 0, 1)
        in_range("loss.drop_action", self.drop_action, 0, 1)
        drops = self.drop_canvas + self.drop_temporal + self.drop_both
        if drops > 1:
            raise UserError(f"condition dropout probabilities add up to {drops} > 1")
        in_range("loss.history_noise_max", self.history_noise_max, 0, 1)
        in_range("loss.history_freeze", self.history_freeze, 0, 1, high_open=True)
        in_range("loss.own_history", self.own_history, 0, 1)
        for kind in ("frame_noise", "canvas_noise"):  # Eq. 11, 12: r ~ U[min, max] in [0, 1]
            low, high = getattr(self, f"{kind}_min"), getattr(self, f"{kind}_max")
            in_range(f"loss.{kind}_min", low, 0, 1)
            in_range(f"loss.{kind}_max", high, 0, 1)
            if low > high:
                raise UserError(f"loss.{kind}_min={low} is above loss.{kind}_max={high}")
        return self


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    source: str = setting("builtin", "builtin (procedural videos), a folder of videos, or "
                                     "bair / ucf101 / k600 in data.root")
    root: str = setting("", "the benchmark's folder (bair, ucf101, k600)")
    resolution: int = setting(32, "frame side in pixels (frames are square)")
    frames: int = setting(8, "frames per training clip")
    stride: int = setting(1, "take every stride-th frame of the source video")
    val_fraction: float = setting(0.1, "held-out share of a folder without train/ and val/ "
                                       "subfolders")
    fold: int = setting(1, "UCF-101 official split list (1, 2 or 3)")
    num_workers: int = setting(0, "data-loader worker processes (0: load in the training "
                                  "process)")

    def validate(self) -> DataConfig:
        at_least("data.resolution", self.resolution, 1)
        at_least("data.frames", self.frames, 2, ": a clip needs at least 2 frames")
        at_least("data.stride", self.stride, 1, " (1 = every frame)")
        in_range("data.val_fraction", self.val_fraction, 0, 1, high_open=True)
        one_of("data.fold", self.fold, (1, 2, 3))
        at_least("data.num_workers", self.num_workers, 0)
        return self


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# Pipeline.compile / --compile of sample, eval and bench (step_kernels.py)
SAMPLE_COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    steps: int = setting(2000, "optimizer steps of the whole run")
    batch_size: int = setting(8, "clips per optimizer step, over all processes")
    lr: float = setting(1e-3, "peak learning rate (AdamW)")
    weight_decay: float = setting(0.02, "AdamW weight decay")
    betas: tuple[float, float] = setting((0.9, 0.95), "AdamW's moment decays")
    warmup_steps: int = setting(100, "steps of linear learning-rate warm-up")
    min_lr_ratio: float = setting(0.1, "the cosine decays to lr * min_lr_ratio")
    grad_clip: float = setting(1.0, "largest gradient norm (clipped above)")
    save_every: int = setting(500, "steps between checkpoints (one at the end too)")
    eval_every: int = setting(250, "steps between validations and previews (one at the end "
                                   "too)")
    eval_clips: int = setting(32, "held-out clips of each validation")
    keep_last: int = setting(3, "checkpoints kept (older ones are deleted)")
    seed: int = setting(0, "seed of the weights, batches and all training randomness")
    threads: int = setting(0, "torch intra-op threads; 0 leaves torch's default")
    # batch_size is global: per step, processes x grad_accum micro-batches (train/dist.py).
    grad_accum: int = setting(1, "micro-batches per step and process (gradient "
                                 "accumulation)")
    device: str = setting("auto", "auto (a GPU when torch sees one), cpu, cuda or cuda:N")
    precision: str = setting("fp32", "fp32, or bf16 autocast (GPUs; ~30x slower on our CPUs)")
    parallel: str = setting("ddp", "with several processes (torchrun): ddp, or fsdp (FSDP2)")
    compile: bool = setting(False, "torch.compile the training step's network")
    # torch.compile mode: reduce-overhead = CUDA graphs (the objective is one static-shape
    # graph, tests/test_compile.py). Only default was measured (CPU; docs/training-at-scale.md).
    compile_mode: str = setting("default", "torch.compile mode: default, reduce-overhead, "
                                           "max-autotune, max-autotune-no-cudagraphs")
    activation_checkpointing: bool = setting(False, "recompute transformer blocks in the "
                                                    "backward pass (less memory)")
    # EMA of the weights (MAR, NOVA: 0.9999), saved beside them and used by sample/eval;
    # 0 turns it off. The decay ramps up as min(ema_decay, (1 + s) / (10 + s)).
    ema_decay: float = setting(0.9999, "decay of the EMA weights that sample/eval use; 0: "
                                       "no EMA")
    max_nonfinite: int = setting(5, "stop after this many non-finite steps in a row (each "
                                    "is skipped)")
    time_limit_min: float = setting(0.0, "stop cleanly, with a checkpoint, after this many "
                                         "minutes; 0: no limit")
    tensorboard: bool = setting(True, "TensorBoard event files in the run folder")
    # learning diagnostics at each validation (evaluation/diagnostics.py: the swap test, head
    # calibration, canvas on static tokens) as diag_* metrics; ~15 s per 32 tiny clips
    diagnostics: bool = setting(True, "learning diagnostics (diag_* rows) at each "
                                      "validation")
    # App. B / Sec. 5.4: a next-group model fine-tuned from a next-frame one (docs/next-group.md)
    init_from: str = setting("", "start from the matching weights of this run/checkpoint folder "
                                 "(e.g. next-1 for model.group=2)")
    action_lr_mult: float = setting(1.0, "learning-rate multiplier of the action embedding "
                                         "(model.actions; train/optim.py)")

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
        positive("train.action_lr_mult", self.action_lr_mult)
        if self.batch_size % self.grad_accum:
            raise UserError(f"train.batch_size={self.batch_size} must be a multiple of "
                            f"train.grad_accum={self.grad_accum}")
        device = self.device.split(":")[0] if self.device.startswith("cuda:") else self.device
        one_of("train.device", device, ("auto", "cpu", "cuda"))
        one_of("train.precision", self.precision, ("fp32", "bf16"))
        one_of("train.parallel", self.parallel, ("ddp", "fsdp"))
        one_of("train.compile_mode", self.compile_mode, COMPILE_MODES)
        return self


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    name: str = setting("tiny", "the run's name (the preset's, unless set)")
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
        check_across_sections(self)
        if self.tokenizer.kind != "vae":  # one latent frame per frame (a VAE: at build time)
            check_group_frames(self.model.group, self.data.frames, self.data.frames)
        return self

