"""The causal 3D video VAE (Table 3, BAIR: {1,2} x 4 x 4), its training, latent statistics,
the latent cache and the adapter for pretrained image VAEs (diffusers AutoencoderKL)."""
