"""A trained VAE as CanvasMAR's tokenizer: `vae train` run folders, latent statistics, round
trips, the latent cache, training on latents and the pipeline decoding back to pixels."""

from __future__ import annotations

import json

import pytest
import torch

from canvasmar import checkpoint as ckpt
from canvasmar.cli import main
from canvasmar.config import load_config
from canvasmar.data.latent_cache import LatentShards
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model
from canvasmar.models.vae.stats import STATS, load_stats
from canvasmar.models.vae.tokenizer import load_vae_tokenizer
from canvasmar.pipeline import load_pipeline
from canvasmar.train.latent_cache import write_latent_cache
from tests.conftest import micro_overrides

# Small tensors: extra threads only add synchronisation on a busy 2-core machine.
pytestmark = pytest.mark.usefixtures("one_thread")

VAE_ARGS = ["model.base_channels=4", "model.max_channels=8", "model.latent_channels=4",
            "data.resolution=16", "train.batch_size=2", "train.eval_clips=2", "stats_clips=4",
            "train.save_every=2", "train.eval_every=2", "train.warmup_steps=1"]


def train_tiny_vae(out, temporal: int, steps: int = 2, extra: tuple = ()) -> int:
    frames = 1 + 2 * temporal
    return main(["vae", "train", "vae-tiny", "--out", str(out), "--no-progress",
                 *VAE_ARGS, f"model.temporal={temporal}", f"data.frames={frames}",
                 f"train.steps={steps}", *extra])


@pytest.fixture(scope="module", params=[1, 2], ids=["temporal1", "temporal2"])
def vae_dir(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"vae{request.param}")
    assert train_tiny_vae(out, request.param) == 0
    return out


def run_cfg(vae_dir, *extra):
    frames = 1 + 2 * load_vae_tokenizer(vae_dir).temporal_factor
    return load_config("tiny", [*micro_overrides(), "tokenizer.kind=vae",
                                f"tokenizer.path={vae_dir}", "tokenizer.patch=4",
                                f"data.frames={frames}", *extra])


def test_vae_run_folder_and_stats(vae_dir):
    folder = ckpt.resolve_checkpoint(vae_dir)
    assert folder.name == "step_00000002" and (folder / STATS).is_file()
    mean, std = load_stats(folder, 4)
    assert mean.shape == std.shape == (4,) and (std > 0).all()
    rows = [json.loads(line) for line in (vae_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("val_psnr" in r for r in rows) and all("recon" in r for r in rows
                                                      if "val_psnr" not in r)


def test_normalised_latents_follow_the_saved_statistics(vae_dir):
    """The statistics were measured on train clips 0..3, so those clips' latents have
    per-channel mean 0 and standard deviation 1 after the tokenizer's normalisation."""
    from canvasmar.config import DataConfig
    from canvasmar.data import build_dataset

    tok = load_vae_tokenizer(vae_dir)
    frames = 1 + 2 * tok.temporal_factor
    data = build_dataset(DataConfig(resolution=16, frames=frames), "train")
    z = tok.encode(torch.stack([data[i] for i in range(4)])).double()
    flat = z.transpose(0, 2).reshape(4, -1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(4, dtype=torch.double), atol=1e-4,
                               rtol=0)
    torch.testing.assert_close(flat.std(1, unbiased=False), torch.ones(4, dtype=torch.double),
                               atol=1e-4, rtol=0)


def test_tokenizer_round_trip(vae_dir):
    tok = load_vae_tokenizer(vae_dir)
    k = tok.temporal_factor
    video = torch.rand(2, 1 + 2 * k, 3, 16, 16)
    latents = tok.encode(video)
    assert latents.shape == (2, 3, 4, 4, 4)
    assert tok.latent_shape((3, 16, 16)) == (4, 4, 4)
    pixels = tok.decode(latents)
    assert pixels.shape == video.shape and pixels.min() >= 0 and pixels.max() <= 1
    # decode_new gives the last latent's pixel frames, equal to decoding the whole sequence
    torch.testing.assert_close(tok.decode_new(latents), pixels[:, -k:])
    torch.testing.assert_close(tok.decode_new(latents[:, :1]), pixels[:, :1])
    # encode(decode(z)) is not asserted equal: 2 training steps make no autoencoder


def test_missing_or_wrong_stats_are_user_errors(vae_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ckpt.resolve_checkpoint(vae_dir), copy)
    (copy / STATS).unlink()
    with pytest.raises(UserError, match="canvasmar vae stats"):
        load_vae_tokenizer(copy)
    assert main(["vae", "stats", "--vae", str(copy), "--resolution", "16", "--frames",
                 str(1 + 2 * load_vae_tokenizer(copy, stats=False).temporal_factor),
                 "--clips", "2"]) == 0
    assert load_vae_tokenizer(copy).std.numel() == 4
    (copy / STATS).write_text(json.dumps({"mean": [0.0], "std": [1.0]}))
    with pytest.raises(UserError, match="1 channels"):
        load_vae_tokenizer(copy)
    with pytest.raises(UserError, match="tokenizer.patch=4"):
        build_model(load_config("tiny", [*micro_overrides(), "tokenizer.kind=vae",
                                         f"tokenizer.path={vae_dir}", "tokenizer.patch=2"]))
    with pytest.raises(UserError, match="needs tokenizer.path"):
        load_config("tiny", ["tokenizer.kind=vae"])


def test_latent_cache_round_trip(vae_dir, tmp_path):
    cfg = run_cfg(vae_dir)
    meta = write_latent_cache(cfg, tmp_path / "cache", clips=5, shard_size=2, batch_size=2,
                              progress=False)
    assert sorted(p.name for p in meta.parent.glob("shard_*")) == [
        "shard_00000.safetensors", "shard_00001.safetensors", "shard_00002.safetensors"]
    shards = LatentShards(tmp_path / "cache", cfg)
    assert len(shards) == 5
    from canvasmar.data import build_dataset

    data = build_dataset(cfg.data, "train", seed=cfg.train.seed)
    tok = load_vae_tokenizer(vae_dir)
    torch.testing.assert_close(shards[3], tok.encode(data[3][None])[0])
    with pytest.raises(UserError, match="already holds"):
        write_latent_cache(cfg, tmp_path / "cache", clips=1, progress=False)
    other = run_cfg(vae_dir, "data.resolution=32")
    with pytest.raises(UserError, match="other data settings"):
        LatentShards(tmp_path / "cache", other)


def test_train_on_the_cache_then_sample_pixels(vae_dir, tmp_path):
    """CanvasMAR trains on cached VAE latents and load_pipeline decodes back to pixels."""
    cache, run = tmp_path / "cache", tmp_path / "run"
    args = [*micro_overrides(), "tokenizer.kind=vae", f"tokenizer.path={vae_dir}",
            "tokenizer.patch=4", f"data.frames={run_cfg(vae_dir).data.frames}"]
    assert main(["vae", "cache", "tiny", *args, "--out", str(cache), "--clips", "4",
                 "--no-progress"]) == 0
    assert main(["train", "tiny", *args, f"tokenizer.cache={cache}", "--out", str(run),
                 "train.steps=2", "train.batch_size=2", "train.eval_clips=2",
                 "--no-progress"]) == 0
    pipe = load_pipeline(run)
    k = pipe.tokenizer.temporal_factor
    context = torch.rand(1, 1 + k, 3, 16, 16)
    video = pipe(context, num_frames=3, steps=1, flow_steps=2,
                 generator=torch.Generator().manual_seed(0))
    assert video.shape == (1, 3, 3, 16, 16) and 0 <= video.min() and video.max() <= 1
    outs = list(pipe.stream(context, 3, steps=1, flow_steps=2, return_canvas=True,
                            generator=torch.Generator().manual_seed(0)))
    assert len(outs) == 3 and outs[0].canvas.shape == (1, 3, 16, 16)
    torch.testing.assert_close(torch.stack([o.frame for o in outs], 1), video)
    if k > 1:
        with pytest.raises(UserError, match="1 \\+ n\\*2"):
            pipe(torch.rand(1, 2, 3, 16, 16), num_frames=1, steps=1, flow_steps=2)


def test_vae_resume_continues_the_same_run(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert train_tiny_vae(full, 1, steps=4) == 0
    assert train_tiny_vae(part, 1, steps=2) == 0
    assert train_tiny_vae(part, 1, steps=2) == 2  # exists: needs --resume or --force
    assert main(["vae", "train", "vae-tiny", "--out", str(part), "--resume", "--no-progress",
                 *VAE_ARGS, "data.frames=3", "train.steps=4"]) == 0

    def losses(run):
        return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text()
                .splitlines() if '"loss"' in line]

    assert losses(part) == pytest.approx(losses(full), rel=1e-5)


def test_discriminator_after_warm_up(tmp_path):
    out = tmp_path / "gan"
    assert train_tiny_vae(out, 1, steps=3, extra=("loss.disc_weight=0.1", "loss.disc_start=1",
                                                  "loss.disc_channels=4",
                                                  "loss.disc_layers=2")) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "recon" in r]
    assert "gen" not in steps[0] and "gen" in steps[1] and "disc" in steps[2]
    state = ckpt.load_train_state(ckpt.resolve_checkpoint(out))
    assert "disc" in state
