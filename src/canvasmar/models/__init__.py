"""The network (CanvasMAR and its parts) and the tokenizers."""

from canvasmar.models.canvasmar import Canvas, CanvasMAR
from canvasmar.models.tokenizer import PixelPatchTokenizer, Tokenizer, build_tokenizer

__all__ = ["Canvas", "CanvasMAR", "PixelPatchTokenizer", "Tokenizer", "build_tokenizer"]
