"""The named presets of `canvasmar train NAME`: our own (`tiny`, `small`) and the paper's
Table 3 sizes (`bair`, `ucf`, `k600`), as RunConfig values of config/schema.py."""

from __future__ import annotations

from canvasmar.config.schema import (
    DataConfig,
    ModelConfig,
    RunConfig,
    SampleConfig,
    TokenizerConfig,
    TrainConfig,
)


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


# `small` (issue 15): the largest model our GPU windows (~10 minutes on one H200) can train
# well on the built-in data, 16.3M parameters (<= 20M): tiny's 8x8 grid of 4x4-pixel tokens
# at 32x32 (the latent grid sets the cost; 64x64 would quadruple the tokens), twice the width
# and depth, 16-frame clips so rollouts of 16 frames are in the training distribution, and the
# residual heads: at equal steps on the CPU they made the background sharp (canvas error on
# static tokens 3x lower, docs/quality.md), which no amount of width buys a copy-from-scratch
# head. And the motion input: without it the canvas of every model we trained ignored the
# history but the last frame (canvas_history_gain ~0); with it the tiny residual canvas was
# 15% better at equal steps (docs/quality.md). And rotary positions over the token grid
# (model.spatial_rope): from scratch on the CPU, at equal steps its canvas removed 0.43 of
# copy-last's moving-token error at step 750 against 0.33 (docs/quality.md, session 31).
# Trained with `bash scripts/gpu_train_small.sh` (bf16, resumable from fp16 weights).
SMALL = RunConfig(
    name="small",
    model=ModelConfig(dim=256, heads=8, temporal_layers=4, canvas_layers=2, spatial_layers=8,
                      flow_width=512, flow_layers=3, residual=True, motion_input=True,
                      spatial_rope=True),
    data=DataConfig(resolution=32, frames=16),
    train=TrainConfig(steps=20_000, batch_size=64, lr=4e-4, warmup_steps=500, save_every=1000,
                      eval_every=1000),
)

PRESETS: dict[str, RunConfig] = {
    "tiny": RunConfig(),
    "small": SMALL,
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
