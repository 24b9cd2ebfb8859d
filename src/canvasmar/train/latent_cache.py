"""`canvasmar vae cache`: encode the training clips once into latent shards (the layout is
described in data/latent_cache.py, which reads them back for training)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from canvasmar.config import RunConfig
from canvasmar.data import build_dataset
from canvasmar.data.latent_cache import META, cache_identity
from canvasmar.errors import UserError
from canvasmar.models.factory import build_tokenizer


@torch.no_grad()
def write_latent_cache(cfg: RunConfig, out: Path, clips: int, shard_size: int = 256,
                       batch_size: int = 16, progress: bool = True) -> Path:
    """Encode train clips 0..clips-1 with cfg's tokenizer into shards; returns meta.json."""
    if cfg.tokenizer.kind == "pixel":
        raise UserError("a latent cache is for tokenizer.kind=vae or diffusers (the pixel "
                        "tokenizer is cheaper than reading a cache): set tokenizer.kind and "
                        "tokenizer.path")
    out = Path(out)
    if clips < 1 or shard_size < 1:
        raise UserError("--clips and --shard-size must be at least 1")
    if (out / META).exists():
        raise UserError(f"{out} already holds a latent cache; delete it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(cfg.tokenizer).eval()
    dataset = build_dataset(cfg.data, "train", seed=cfg.train.seed)
    if clips > len(dataset):
        raise UserError(f"--clips {clips} is more than the {len(dataset)} train clips")
    shards = []
    bar = tqdm(total=clips, disable=not progress, desc="encode")
    for first in range(0, clips, shard_size):
        parts = []
        for start in range(first, min(first + shard_size, clips), batch_size):
            stop = min(start + batch_size, first + shard_size, clips)
            video = torch.stack([dataset[i] for i in range(start, stop)])
            parts.append(tokenizer.encode(video).contiguous())
            bar.update(stop - start)
        name = f"shard_{len(shards):05d}.safetensors"
        save_file({"latents": torch.cat(parts)}, str(out / name))
        shards.append(name)
    bar.close()
    meta = {**cache_identity(cfg), "clips": clips, "shards": shards,
            "latent_shape": list(parts[0].shape[1:])}
    (out / META).write_text(json.dumps(meta, indent=2))
    return out / META
