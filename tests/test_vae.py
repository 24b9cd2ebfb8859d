"""The causal 3D VAE: shapes per compression, causality, a tiny overfit, config errors."""

from __future__ import annotations

import pytest
import torch

from canvasmar.config.vae import VAEModelConfig, load_vae_config
from canvasmar.errors import UserError
from canvasmar.models.vae.model import CausalVAE, kl_divergence

# Small tensors: extra threads only add synchronisation on a busy 2-core machine.
pytestmark = pytest.mark.usefixtures("one_thread")

def small(spatial: int = 4, temporal: int = 1, **kw) -> CausalVAE:
    return CausalVAE(VAEModelConfig(spatial=spatial, temporal=temporal, base_channels=8,
                                    max_channels=16, latent_channels=4, **kw)).eval()


@pytest.mark.parametrize("spatial,temporal,frames,latent_frames,patch", [
    (4, 1, 5, 5, 1), (4, 2, 17, 9, 1), (8, 4, 17, 5, 1), (8, 2, 9, 5, 1), (4, 4, 1, 1, 1),
    (4, 2, 5, 3, 2), (8, 1, 3, 3, 4)])
def test_shapes_per_compression(spatial, temporal, frames, latent_frames, patch):
    vae = small(spatial, temporal, patch=patch)
    video = torch.rand(2, frames, 3, 32, 32)
    with torch.no_grad():
        mean, logvar = vae.moments(video)
        recon = vae.decode(mean)
    assert mean.shape == (2, latent_frames, 4, 32 // spatial, 32 // spatial)
    assert logvar.shape == mean.shape
    assert recon.shape == video.shape
    assert vae.latent_frames(frames) == latent_frames and vae.pixel_frames(latent_frames) == frames


def test_table3_bair_shapes():
    """Table 3, BAIR: 17 x 64 x 64 frames -> 9 x 16 x 16 latents at {1,2} x 4 x 4."""
    cfg = load_vae_config("vae-bair", ["model.base_channels=4", "model.max_channels=8",
                                       "model.res_blocks=1"])
    with torch.no_grad():
        mean, _ = CausalVAE(cfg.model).moments(torch.rand(1, 17, 3, 64, 64))
    assert mean.shape[1:2] + mean.shape[3:] == (9, 16, 16)


@pytest.mark.parametrize("temporal,patch", [(1, 1), (2, 1), (4, 1), (2, 2)])
def test_changing_frame_t_never_changes_earlier_latents(temporal, patch):
    torch.manual_seed(1)
    vae = small(4, temporal, patch=patch)
    video = torch.rand(1, 1 + 4 * temporal, 3, 16, 16)
    with torch.no_grad():
        base = vae.moments(video)[0]
        for t in range(1, video.shape[1]):
            changed = video.clone()
            changed[:, t] = torch.rand_like(changed[:, t])
            latents = vae.moments(changed)[0]
            first_affected = 1 + (t - 1) // temporal  # latent i >= 1 covers frames up to k*i
            assert torch.equal(latents[:, :first_affected], base[:, :first_affected]), t
            assert not torch.allclose(latents[:, first_affected], base[:, first_affected]), t


@pytest.mark.parametrize("temporal", [1, 2])
def test_decoder_is_causal_too(temporal):
    vae = small(4, temporal)
    z = torch.randn(1, 5, 4, 4, 4)
    with torch.no_grad():
        base = vae.decode(z)
        z2 = z.clone()
        z2[:, 3] += 1
        out = vae.decode(z2)
    frames_before = vae.pixel_frames(3)  # pixel frames of latents 0..2
    assert torch.equal(out[:, :frames_before], base[:, :frames_before])
    assert not torch.allclose(out[:, frames_before:], base[:, frames_before:])


def test_a_prefix_encodes_like_the_whole_clip():
    vae = small(4, 2)
    video = torch.rand(1, 9, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(vae.moments(video[:, :5])[0], vae.moments(video)[0][:, :3])


def test_tiny_overfit_reduces_loss():
    torch.manual_seed(0)
    vae = small(4, 2).train()
    video = torch.rand(1, 3, 3, 16, 16) * 0.5 + 0.25
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    history = []
    for _ in range(30):
        recon, mean, logvar = vae(video, g)
        rec = (recon - video).pow(2).mean()
        loss = rec + 1e-3 * kl_divergence(mean, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.item(), rec.item()))
    assert history[-1][0] < 0.5 * history[0][0]
    assert history[-1][1] < 0.5 * history[0][1]


def test_bad_inputs_are_user_errors():
    vae = small(4, 2)
    with pytest.raises(UserError, match="1 \\+ n\\*2"):
        vae.moments(torch.rand(1, 4, 3, 16, 16))
    with pytest.raises(UserError, match="not divisible"):
        vae.moments(torch.rand(1, 3, 3, 18, 18))
    with pytest.raises(UserError, match="model.temporal=3"):
        load_vae_config("vae-tiny", ["model.temporal=3"])
    with pytest.raises(UserError, match="data.frames=4"):
        load_vae_config("vae-tiny", ["model.temporal=2"])
    with pytest.raises(UserError, match="unknown config key"):
        load_vae_config("vae-tiny", ["model.widht=3"])
