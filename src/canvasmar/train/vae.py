"""`canvasmar vae train`: the causal 3D VAE as a task of the shared Trainer (train/trainer.py).

So it has the conventions of `canvasmar train`: the same run folder (config.json,
metrics.jsonl, checkpoints/step_N written atomically, latest), `--resume` / `--force`,
SIGTERM / time-limit checkpoint-and-stop, the non-finite guard, and determinism: the batch,
the crop and the posterior noise of step s depend only on (seed, s). The loss is the pixel
reconstruction term + kl_weight * KL, plus, from step loss.disc_start on, disc_weight times a
PatchGAN hinge term. After the last step the per-channel latent statistics are measured on
train clips and saved in the final checkpoint (models/vae/stats.py); the checkpoint folder
(or the run folder) is what tokenizer.path points at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from canvasmar import checkpoint as ckpt
from canvasmar.config.vae import VAERunConfig, vae_config_from_json
from canvasmar.data import build_dataset
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.metrics.image import psnr
from canvasmar.models.vae.discriminator import (
    PatchDiscriminator,
    discriminator_hinge_loss,
    generator_loss,
)
from canvasmar.models.vae.model import CausalVAE, kl_divergence
from canvasmar.models.vae.stats import measure_latent_stats, save_stats
from canvasmar.train.observe import RunLog
from canvasmar.train.optim import build_optimizer
from canvasmar.train.run_folder import ResumePoint, RunFolder
from canvasmar.train.trainer import (
    CheckpointParts,
    Progress,
    RunOutcome,
    StepOutcome,
    run_training,
    step_generator,
)


@torch.no_grad()
def reconstruction_psnr(vae: CausalVAE, videos: torch.Tensor, batch_size: int = 8) -> float:
    """Mean per-clip PSNR (dB) of decode(posterior mean), clamped to [0, 1]."""
    was_training = vae.training
    vae.eval()
    values = []
    for start in range(0, len(videos), batch_size):
        video = videos[start:start + batch_size]
        recon = vae.decode(vae.moments(video)[0]).clamp(0, 1)
        values.append(psnr(recon, video))
    vae.train(was_training)
    return torch.cat(values).mean().item()


def train_vae(cfg: VAERunConfig, out: Path, resume: bool = False, force: bool = False,
              progress: bool = True, quiet: bool = False) -> dict:
    """Train; returns {'val_psnr', 'train_seconds', 'steps'} of the last validation ({} if
    none). Writes checkpoints, and the latent statistics once train.steps are done.
    `quiet`: no bar and no notes."""
    folder = RunFolder(Path(out), fixed=("model", "loss", "data"), parse=vae_config_from_json)
    return run_training(lambda start: VAETask(cfg, start), folder, cfg, resume, force,
                        progress, quiet=quiet)


class VAETask:
    """VAE training as a TrainTask: the VAE, its optional discriminator, their optimizers."""

    def __init__(self, cfg: VAERunConfig, start: ResumePoint | None) -> None:
        tc, lc = cfg.train, cfg.loss
        self.cfg, self.name = cfg, f"vae {cfg.name}"
        self.validating = "validation (held-out reconstruction PSNR)"
        self.finishing = f"measuring the latent statistics on {cfg.stats_clips} train clips"
        self.vae = CausalVAE(cfg.model)
        self.optimizer = build_optimizer(self.vae, tc)
        self.disc = self.d_opt = None
        if lc.disc_weight > 0:
            self.disc = PatchDiscriminator(cfg.model.channels, lc.disc_channels, lc.disc_layers)
            self.d_opt = build_optimizer(self.disc, tc)
        self.optimizers = [o for o in (self.optimizer, self.d_opt) if o is not None]
        if start is not None:
            self._restore(start)
        self.dataset = build_dataset(cfg.data, "train", seed=tc.seed)
        val_data = build_dataset(cfg.data, "val", seed=0)
        self.val_videos = torch.stack([val_data[i] for i in range(tc.eval_clips)])
        sampler = StepBatchSampler(len(self.dataset), tc.batch_size, tc.seed,
                                   start.step if start else 0, tc.steps)
        self.batches = iter(DataLoader(self.dataset, num_workers=cfg.data.num_workers,
                                       batch_sampler=sampler))
        self.vae.train()

    def _restore(self, start: ResumePoint) -> None:
        ckpt.load_weights(self.vae, start.path)
        self.optimizer.load_state_dict(start.state["optimizer"])
        if self.disc is not None and "disc" in start.state:
            self.disc.load_state_dict(start.state["disc"])
            self.d_opt.load_state_dict(start.state["disc_optimizer"])

    def _adversarial(self, step: int) -> bool:
        return self.disc is not None and step >= self.cfg.loss.disc_start

    def _crop(self, video: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A random crop x crop window of every frame (cfg.crop; 0 keeps whole frames)."""
        crop = self.cfg.crop
        if not crop:
            return video
        top = int(torch.randint(0, video.shape[-2] - crop + 1, (1,), generator=g))
        left = int(torch.randint(0, video.shape[-1] - crop + 1, (1,), generator=g))
        return video[..., top:top + crop, left:left + crop]

    def train_step(self, step: int, stop_requested: Callable[[], bool]) -> StepOutcome:
        lc = self.cfg.loss
        g = step_generator(self.cfg.train.seed, step)  # the crop, then the posterior noise
        video = self._crop(next(self.batches), g)
        recon, mean, logvar = self.vae(video, g)
        rec = F.mse_loss(recon, video) if lc.recon == "mse" else F.l1_loss(recon, video)
        kl = kl_divergence(mean, logvar)
        loss = rec + lc.kl_weight * kl
        row = {"recon": rec.item(), "kl": kl.item()}
        if self._adversarial(step):
            gen = generator_loss(self.disc(recon))
            loss = loss + lc.disc_weight * gen
            row["gen"] = gen.item()
        loss.backward()
        row["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.vae.parameters(),
                                                          self.cfg.train.grad_clip).item()
        row["loss"] = loss.item()
        if self._adversarial(step):
            row["disc"] = self._discriminator_backward(video, recon)
        return StepOutcome(row, all(map(math.isfinite, row.values())), stop_requested())

    def _discriminator_backward(self, video: torch.Tensor, recon: torch.Tensor) -> float:
        """The hinge loss's gradient alone in the discriminator (the generator term above
        also reached it); its optimizer steps in apply_update, with the VAE's."""
        d_loss = discriminator_hinge_loss(self.disc(video), self.disc(recon.detach()))
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        return d_loss.item()

    def apply_update(self, step: int) -> None:
        self.optimizer.step()
        if self._adversarial(step):
            self.d_opt.step()

    def validate(self, progress: Progress, log: RunLog) -> dict[str, float]:
        return {"val_psnr": reconstruction_psnr(self.vae, self.val_videos),
                "train_seconds": progress.train_seconds, "steps": progress.step}

    def describe(self, progress: Progress, val: dict[str, float]) -> str:
        return (f"step {progress.step}: val_psnr={val['val_psnr']:.2f} dB "
                f"({progress.train_seconds / 60:.1f} min)")

    def postfix(self, row: dict[str, Any]) -> dict[str, str]:
        return {"recon": f"{row['recon']:.5f}", "kl": f"{row['kl']:.3f}"}

    def checkpoint(self, progress: Progress) -> CheckpointParts:
        state = {"optimizer": self.optimizer.state_dict()}
        if self.disc is not None:
            state |= {"disc": self.disc.state_dict(), "disc_optimizer": self.d_opt.state_dict()}
        return CheckpointParts(self.vae.state_dict(), state)

    def finish(self, outcome: RunOutcome) -> dict[str, float]:
        """Latent statistics into the final checkpoint once train.steps are done (a stopped
        run measures them when it is resumed to the end)."""
        if outcome.completed:
            self.vae.eval()
            tc = self.cfg.train
            clips = [self.dataset[i] for i in range(self.cfg.stats_clips)]
            batches = (torch.stack(clips[i:i + tc.batch_size])
                       for i in range(0, len(clips), tc.batch_size))
            save_stats(outcome.checkpoint,
                       measure_latent_stats(lambda v: self.vae.moments(v)[0], batches))
        return outcome.last_val
