"""Scoring generated videos (docs/evaluation.md) and VAE reconstructions (docs/vae.md).

    scoring.py  rollouts of a pipeline under a protocol: pixel metrics, FVD, FID/KID, baselines
    vae.py      latent statistics and reconstruction PSNR of a VAE tokenizer
"""
