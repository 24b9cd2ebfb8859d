"""CanvasMAR: masked autoregressive video prediction with a canvas (PyTorch)."""

from canvasmar.versions import __version__


def load_pipeline(path, device="cpu", use_ema=True, **kwargs):
    """Load a trained model for prediction from a folder or a Hugging Face Hub `org/name`
    (torch_dtype=, revision=, cache_dir=, token=, local_files_only=); see
    canvasmar.pipeline.load_pipeline."""
    from canvasmar.pipeline import load_pipeline as _load

    return _load(path, device, use_ema, **kwargs)


__all__ = ["__version__", "load_pipeline"]
