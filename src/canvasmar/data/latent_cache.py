"""A latent cache, read side: the training clips encoded once into safetensors shards
(written by train/latent_cache.py), read back as a dataset.

    canvasmar vae cache CONFIG --out CACHE --clips 4096      # CONFIG has tokenizer.kind=vae
    canvasmar train CONFIG --out RUN tokenizer.cache=CACHE

Layout: CACHE/shard_00000.safetensors ... (a "latents" tensor (N, T', c, h, w) each, the
normalised posterior means of train clips 0..N-1 in order) and CACHE/meta.json, written last,
so a folder without meta.json is an unfinished cache. meta.json records the tokenizer and data
settings; training refuses a cache made with other ones. Clip i of the cache is clip i of the
train split with seed train.seed, so the step-indexed batches (data/sampling.py) and --resume
work as with pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch.utils.data import Dataset

from canvasmar.config import RunConfig, to_dict
from canvasmar.errors import UserError

META = "meta.json"


def cache_identity(cfg: RunConfig) -> dict:
    """The settings a cache depends on."""
    tok = {k: v for k, v in to_dict(cfg.tokenizer).items() if k != "cache"}
    return {"tokenizer": tok, "data": {k: to_dict(cfg.data)[k]
                                       for k in ("source", "resolution", "frames")},
            "seed": cfg.train.seed}


class LatentShards(Dataset):
    """The clips of a latent cache as (T', c, h, w) tensors, all held in memory."""

    def __init__(self, path: str | Path, cfg: RunConfig | None = None) -> None:
        folder = Path(path)
        if not (folder / META).is_file():
            raise UserError(f"'{folder}' is not a finished latent cache (no {META}); write one "
                            f"with 'canvasmar vae cache CONFIG --out {folder}'")
        meta = json.loads((folder / META).read_text())
        if cfg is not None:
            want = cache_identity(cfg)
            for key in ("tokenizer", "data", "seed"):
                if meta.get(key) != want[key]:
                    raise UserError(f"the latent cache in {folder} was made with other {key} "
                                    f"settings ({meta.get(key)}); re-encode it for this config")
        try:
            self.latents = torch.cat([load_file(str(folder / name))["latents"]
                                      for name in meta["shards"]])
        except (SafetensorError, OSError, KeyError) as exc:
            raise UserError(f"a shard of the latent cache in {folder} cannot be read ({exc}); "
                            f"re-encode the cache") from None
        if len(self.latents) != meta["clips"]:
            raise UserError(f"the latent cache in {folder} holds {len(self.latents)} clips, "
                            f"its {META} says {meta['clips']}; re-encode it")

    def __len__(self) -> int:
        return len(self.latents)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.latents[index]
