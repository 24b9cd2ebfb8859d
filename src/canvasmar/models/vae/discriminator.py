"""A PatchGAN discriminator (Isola et al. 2017, as in the LDM / Song et al. [44] VAEs), applied
to each frame, with the hinge loss. Used after a warm-up (loss.disc_start) if disc_weight > 0."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """(B, T, C, H, W) in [0, 1] -> per-patch real/fake logits (B*T, 1, h, w)."""

    def __init__(self, channels: int = 3, width: int = 32, layers: int = 3) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for i in range(1, layers):
            out = width * min(2**i, 8)
            mods += [nn.Conv2d(c, out, 4, 2 if i < layers - 1 else 1, 1),
                     nn.GroupNorm(min(32, out // 4), out), nn.LeakyReLU(0.2)]
            c = out
        mods.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.net(video.flatten(0, 1) * 2 - 1)


def discriminator_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor
                             ) -> torch.Tensor:
    return 0.5 * (F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean())


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()
