"""CanvasMAR: masked autoregressive video prediction with a canvas (PyTorch)."""

__version__ = "0.1.0"
