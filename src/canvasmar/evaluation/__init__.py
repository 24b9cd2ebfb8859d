"""Scoring generated videos (docs/evaluation.md) and VAE reconstructions (docs/vae.md).

    scoring.py       rollouts of a pipeline under a protocol: pixel metrics, FVD, FID/KID,
                     baselines
    protocol_run.py  a whole `canvasmar eval`: the protocol's clips, metric backends, cached
                     reference statistics, the JSON record (EvalRequest, run_eval)
    plots.py         the plots beside the JSON: against MAR steps, per predicted frame
    vae.py           latent statistics and reconstruction PSNR of a VAE tokenizer
"""
