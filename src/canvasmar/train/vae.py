"""`canvasmar vae train`: train the causal 3D VAE with the conventions of `canvasmar train`.

Same run folder (config.json, metrics.jsonl, checkpoints/step_N written atomically, latest),
`--resume` / `--force`, and determinism: the batch and the posterior noise of step s depend
only on (seed, s). The loss is the pixel reconstruction term + kl_weight * KL, plus, from
step loss.disc_start on, disc_weight times a PatchGAN hinge term. After the last step the
per-channel latent statistics are measured on train clips and saved in the final checkpoint
(models/vae/stats.py); the checkpoint folder (or the run folder) is what tokenizer.path points at.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from canvasmar import checkpoint as ckpt
from canvasmar.config.vae import VAERunConfig, vae_config_from_json
from canvasmar.data import build_dataset
from canvasmar.data.sampling import StepBatchSampler
from canvasmar.errors import UserError
from canvasmar.metrics.image import psnr
from canvasmar.models.vae.discriminator import (
    PatchDiscriminator,
    discriminator_hinge_loss,
    generator_loss,
)
from canvasmar.models.vae.model import CausalVAE, kl_divergence
from canvasmar.models.vae.stats import measure_latent_stats, save_stats
from canvasmar.train.loop import prepare_run_dir, step_generator
from canvasmar.train.optim import build_optimizer, learning_rate


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
              progress: bool = True) -> dict:
    """Train; returns {'val_psnr', 'train_seconds', 'steps'}. Writes checkpoints and stats."""
    out = Path(out)
    cfg = prepare_run_dir(out, cfg, resume, force, fixed=("model", "loss", "data"),
                          parse=vae_config_from_json)
    tc, lc = cfg.train, cfg.loss
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    vae = CausalVAE(cfg.model)
    optimizer = build_optimizer(vae, tc)
    disc = d_opt = None
    if lc.disc_weight > 0:
        disc = PatchDiscriminator(cfg.model.channels, lc.disc_channels, lc.disc_layers)
        d_opt = build_optimizer(disc, tc)
    start, seconds = 0, 0.0
    if resume:
        last = ckpt.resolve_checkpoint(out)
        ckpt.load_weights(vae, last)
        state = ckpt.load_train_state(last)
        optimizer.load_state_dict(state["optimizer"])
        if disc is not None and "disc" in state:
            disc.load_state_dict(state["disc"])
            d_opt.load_state_dict(state["disc_optimizer"])
        start, seconds = int(state["step"]), float(state.get("train_seconds", 0.0))
        if start >= tc.steps:
            raise UserError(f"the run in {out} already reached step {start}; raise "
                            f"train.steps to train further")

    dataset = build_dataset(cfg.data, "train", seed=tc.seed)
    val_data = build_dataset(cfg.data, "val", seed=0)
    val_videos = torch.stack([val_data[i] for i in range(tc.eval_clips)])
    loader = DataLoader(dataset, num_workers=cfg.data.num_workers,
                        batch_sampler=StepBatchSampler(len(dataset), tc.batch_size, tc.seed,
                                                       start, tc.steps))
    metrics_file = (out / "metrics.jsonl").open("a")
    bar = tqdm(total=tc.steps, initial=start, disable=not progress, dynamic_ncols=True,
               desc=f"vae {cfg.name}")
    vae.train()
    result: dict = {}
    t_last = time.perf_counter()

    def log(row: dict) -> None:
        metrics_file.write(json.dumps(row) + "\n")
        metrics_file.flush()

    def save(step_done: int) -> Path:
        state = {"step": step_done, "optimizer": optimizer.state_dict(),
                 "train_seconds": seconds}
        if disc is not None:
            state |= {"disc": disc.state_dict(), "disc_optimizer": d_opt.state_dict()}
        return ckpt.save_checkpoint(out, step_done, vae, cfg, state, keep_last=tc.keep_last)

    for step, video in enumerate(loader, start=start):
        lr = learning_rate(step, tc)
        for opt in (optimizer, d_opt):
            for group in opt.param_groups if opt is not None else []:
                group["lr"] = lr
        g = step_generator(tc.seed, step)
        if cfg.crop:
            top = int(torch.randint(0, video.shape[-2] - cfg.crop + 1, (1,), generator=g))
            left = int(torch.randint(0, video.shape[-1] - cfg.crop + 1, (1,), generator=g))
            video = video[..., top:top + cfg.crop, left:left + cfg.crop]
        recon, mean, logvar = vae(video, g)
        rec = F.mse_loss(recon, video) if lc.recon == "mse" else F.l1_loss(recon, video)
        kl = kl_divergence(mean, logvar)
        loss = rec + lc.kl_weight * kl
        row = {"step": step + 1, "lr": lr, "recon": rec.item(), "kl": kl.item()}
        adversarial = disc is not None and step >= lc.disc_start
        if adversarial:
            g = generator_loss(disc(recon))
            loss = loss + lc.disc_weight * g
            row["gen"] = g.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        row["grad_norm"] = torch.nn.utils.clip_grad_norm_(vae.parameters(), tc.grad_clip).item()
        optimizer.step()
        if adversarial:
            d_loss = discriminator_hinge_loss(disc(video), disc(recon.detach()))
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            row["disc"] = d_loss.item()

        now = time.perf_counter()
        seconds += now - t_last
        row |= {"loss": loss.item(), "sec_per_step": now - t_last}
        t_last = now
        log(row)
        bar.set_postfix(recon=f"{row['recon']:.5f}", kl=f"{row['kl']:.3f}")
        bar.update(1)
        done = step + 1
        if done % tc.eval_every == 0 or done == tc.steps:
            result = {"val_psnr": reconstruction_psnr(vae, val_videos), "train_seconds": seconds,
                      "steps": done}
            log({"step": done, **result})
            bar.write(f"step {done}: val_psnr={result['val_psnr']:.2f} dB "
                      f"({seconds / 60:.1f} min)")
            t_last = time.perf_counter()  # evaluation time is not training time
        if done % tc.save_every == 0 or done == tc.steps:
            final = save(done)
            t_last = time.perf_counter()
    bar.close()
    metrics_file.close()

    vae.eval()
    clips = [dataset[i] for i in range(cfg.stats_clips)]
    batches = (torch.stack(clips[i:i + tc.batch_size]) for i in range(0, len(clips),
                                                                         tc.batch_size))
    save_stats(final, measure_latent_stats(lambda v: vae.moments(v)[0], batches))
    return result
