"""CanvasMAR: masked autoregressive video prediction with a canvas (PyTorch)."""

__version__ = "0.1.0"


def load_pipeline(path, device="cpu", use_ema=True):
    """Load a trained model for prediction; see canvasmar.pipeline.load_pipeline."""
    from canvasmar.pipeline import load_pipeline as _load

    return _load(path, device, use_ema)


__all__ = ["load_pipeline"]
