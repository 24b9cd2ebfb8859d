"""The adapter for pretrained image VAEs: a small randomly initialised diffusers AutoencoderKL,
saved to a temporary folder as a user's pretrained model would be, used per frame."""

from __future__ import annotations

import diffusers  # pinned in requirements-dev.txt: a missing install fails here, never skips
import pytest
import torch

from canvasmar import checkpoint as ckpt
from canvasmar.cli import main
from canvasmar.config import load_config
from canvasmar.errors import UserError
from canvasmar.models.factory import build_model
from canvasmar.models.vae.diffusers_adapter import load_diffusers_tokenizer
from canvasmar.models.vae.stats import STATS
from canvasmar.pipeline import load_pipeline
from tests.conftest import micro_overrides


@pytest.fixture(scope="module")
def kl_dir(tmp_path_factory):
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(8, 8, 16), norm_num_groups=4, sample_size=16)
    folder = tmp_path_factory.mktemp("autoencoder_kl")
    vae.save_pretrained(folder)
    return folder


# Small tensors: extra threads only add synchronisation on a busy 2-core machine.
pytestmark = pytest.mark.usefixtures("one_thread")


def test_stats_are_required_then_measured(kl_dir):
    (kl_dir / STATS).unlink(missing_ok=True)
    with pytest.raises(UserError, match="canvasmar vae stats"):
        load_diffusers_tokenizer(kl_dir)
    assert main(["vae", "stats", "--kind", "diffusers", "--vae", str(kl_dir), "--resolution",
                 "16", "--frames", "2", "--clips", "3"]) == 0
    tok = load_diffusers_tokenizer(kl_dir)
    assert tok.spatial_factor == 4 and tok.temporal_factor == 1 and tok.std.numel() == 4


def test_per_frame_round_trip(kl_dir):
    tok = load_diffusers_tokenizer(kl_dir)
    video = torch.rand(2, 3, 3, 16, 16)
    z = tok.encode(video)
    assert z.shape == (2, 3, 4, 4, 4) and tok.latent_shape((3, 16, 16)) == (4, 4, 4)
    torch.testing.assert_close(tok.encode(video[:, 1:2]), z[:, 1:2], atol=1e-5, rtol=1e-4)
    pixels = tok.decode(z)
    assert pixels.shape == video.shape and 0 <= pixels.min() and pixels.max() <= 1
    with torch.no_grad():  # the adapter undoes exactly what it did: raw diffusers decode
        raw = z[:, 0] * tok.std[0] + tok.mean[0]
        direct = ((tok.vae.decode(raw).sample + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(pixels[:, 0], direct)
    assert main(["vae", "eval", "--kind", "diffusers", "--vae", str(kl_dir), "--resolution",
                 "16", "--frames", "2", "--clips", "2"]) == 0


def test_pipeline_on_diffusers_latents(kl_dir, tmp_path):
    assert (kl_dir / STATS).is_file()
    cfg = load_config("tiny", [*micro_overrides(), "tokenizer.kind=diffusers",
                               f"tokenizer.path={kl_dir}", "tokenizer.patch=4"])
    model, tokenizer = build_model(cfg)
    assert model.latent_shape == (4, 4, 4)
    ckpt.save_checkpoint(tmp_path / "run", 1, model, cfg, {"step": 1})
    pipe = load_pipeline(tmp_path / "run")
    video = pipe(torch.rand(1, 2, 3, 16, 16), num_frames=2, steps=1, flow_steps=2)
    assert video.shape == (1, 2, 3, 16, 16)


def test_bad_folders_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not a diffusers AutoencoderKL folder"):
        load_diffusers_tokenizer(tmp_path)
