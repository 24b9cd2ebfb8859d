"""Is the canvas's plateau the data, the compute, or the way our canvas sees the frame?

Session 33. Every canvas we trained on the built-in data removes 0.45-0.56 of copy-last's
error on moving tokens (`canvas_moving_gain`), against the 0.90 the data allows (session 31's
Bayes probe, docs/results/bayes-canvas/). This probe trains plain next-frame regressors,
outside the package, on the same clips for the same CPU time, and scores them exactly as the
training validations score our canvas (diagnose's `canvas_motion` on the last frame of the
first 64 val clips, 4x4-pixel tokens):

* `conv`: a small U-Net on pixels (last two frames in, the change to the last frame out);
* `patchvit`: a transformer over 4x4-pixel tokens (our tokenizer's grid), each token the two
  frames' patches side by side, learned absolute positions: our canvas's view of a frame,
  without the rest of the model (no MAR, no noise augmentation, no other loss terms);
* `stemvit`: `patchvit` with two 3x3 convolutions on the pixels before the tokens are cut.

Each sees the two frames before the target (the motion input gives our canvas the same),
train with Adam on the mean squared error, batch 8 clips x 6 targets, one thread each.

    python docs/results/conv-canvas/probe.py ARCH [--cosine] [--threads N] --minutes M --out F.jsonl

(conv-40min.jsonl and patchvit-40min.jsonl were written before rows carried "cosine";
both ran with the constant rate.)
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from einops import rearrange
from torch import nn

from canvasmar.data.procedural import ProceduralVideos
from canvasmar.evaluation.diagnostics import canvas_motion
from canvasmar.models.tokenizer import PixelPatchTokenizer


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                  nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UNet(nn.Module):
    """32x32 -> 16x16 -> 8x8 and back, two residual blocks per level, skip connections."""

    def __init__(self, ch: int = 32) -> None:
        super().__init__()
        self.inp = nn.Conv2d(6, ch, 3, padding=1)
        self.e1 = nn.Sequential(ResBlock(ch), ResBlock(ch))
        self.d1 = nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1)
        self.e2 = nn.Sequential(ResBlock(2 * ch), ResBlock(2 * ch))
        self.d2 = nn.Conv2d(2 * ch, 2 * ch, 4, stride=2, padding=1)
        self.mid = nn.Sequential(ResBlock(2 * ch), ResBlock(2 * ch))
        self.u2 = nn.ConvTranspose2d(2 * ch, 2 * ch, 4, stride=2, padding=1)
        self.m2 = nn.Sequential(ResBlock(2 * ch), ResBlock(2 * ch))
        self.u1 = nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1)
        self.m1 = nn.Sequential(ResBlock(ch), ResBlock(ch))
        self.out = nn.Conv2d(ch, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, prev2: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        h1 = self.e1(self.inp(torch.cat([prev2, prev], 1)))
        h2 = self.e2(self.d1(h1))
        h = self.mid(self.d2(h2))
        h = self.m2(self.u2(h) + h2)
        h = self.m1(self.u1(h) + h1)
        return prev + self.out(h)


class PatchViT(nn.Module):
    """4x4-pixel tokens of both frames, 8x8 grid, pre-norm transformer, residual output."""

    def __init__(self, dim: int = 128, layers: int = 4, heads: int = 4, patch: int = 4,
                 stem: int = 0) -> None:
        super().__init__()
        self.p = patch
        # stem > 0: two 3x3 convolutions over the pixels of both frames before the tokens are
        # cut ("early convolutions", Xiao et al. 2021), so a token sees edges that moved inside
        # and across its patch; their features go in beside the raw pixels.
        self.stem = None if not stem else nn.Sequential(
            nn.Conv2d(6, stem, 3, padding=1), nn.GELU(), nn.Conv2d(stem, stem, 3, padding=1),
            nn.GELU())
        self.embed = nn.Linear((6 + stem) * patch * patch, dim)
        self.pos = nn.Parameter(torch.randn(1, 64, dim) * 0.02)
        self.body = nn.Sequential(*[
            nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True,
                                       norm_first=True, activation="gelu")
            for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3 * patch * patch)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, prev2: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prev2, prev], 1)
        if self.stem is not None:
            x = torch.cat([x, self.stem(x)], 1)
        tok = rearrange(x, "b c (h p) (w q) -> b (h w) (c p q)", p=self.p, q=self.p)
        h = self.body(self.embed(tok) + self.pos)
        d = rearrange(self.head(self.norm(h)), "b (h w) (c p q) -> b c (h p) (w q)",
                      h=32 // self.p, p=self.p, q=self.p)
        return prev + d


def batch(data: ProceduralVideos, rng: np.random.Generator, clips: int
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """clips x 6 (frame t-1, frame t, frame t+1) triples, pixels mapped to [-1, 1]."""
    video = torch.stack([data[int(i)] for i in rng.integers(0, len(data), clips)]) * 2 - 1
    return (video[:, :-2].flatten(0, 1), video[:, 1:-1].flatten(0, 1), video[:, 2:].flatten(0, 1))


@torch.no_grad()
def score(model: nn.Module, val: torch.Tensor) -> dict[str, float]:
    """diagnose's canvas_motion on the last frame of each val clip, in token space."""
    model.eval()
    pred = model(val[:, -3], val[:, -2])
    model.train()
    tok = PixelPatchTokenizer(4)

    def tokens(x: torch.Tensor) -> torch.Tensor:  # [-1, 1] pixels -> (B, 64, 48) tokens
        return tok.encode(((x + 1) / 2)[:, None]).flatten(3)[:, 0].mT
    # Scored unclamped, as our canvas is; truth and previous frame are real frames.
    return canvas_motion(tokens(pred), tokens(val[:, -2]), tokens(val[:, -1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("arch", choices=("conv", "patchvit", "stemvit"))
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=120, help="seconds between scores")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--cosine", action="store_true",
                        help="decay the learning rate to 0 over --minutes (cosine in time)")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = {"conv": UNet, "patchvit": PatchViT,
             "stemvit": lambda: PatchViT(stem=32)}[args.arch]()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    data = ProceduralVideos("train", frames=8, resolution=32)
    val = torch.stack([ProceduralVideos("val", frames=8, resolution=32)[i]
                       for i in range(64)]) * 2 - 1
    rng = np.random.default_rng(0)
    start, last, step = time.monotonic(), -1e9, 0
    with open(args.out, "w") as f:
        while True:
            elapsed = time.monotonic() - start
            done = elapsed > args.minutes * 60
            if done or elapsed - last >= args.every:
                row = {"arch": args.arch, "cosine": args.cosine, "params": params, "step": step,
                       "clips_seen": step * args.clips, "minutes": round(elapsed / 60, 2)}
                row |= {k: round(v, 4) for k, v in score(model, val).items()}
                print(json.dumps(row), file=f, flush=True)
                last = elapsed
            if done:
                break
            prev2, prev, target = batch(data, rng, args.clips)
            lr = args.lr * min(1.0, (step + 1) / 100)
            if args.cosine:
                lr *= 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / (args.minutes * 60))))
            for group in opt.param_groups:
                group["lr"] = lr
            loss = (model(prev2, prev) - target).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1


if __name__ == "__main__":
    main()
