"""The network (CanvasMAR and its parts) and the tokenizers."""

from canvasmar.models.canvasmar import Canvas, CanvasMAR
from canvasmar.models.factory import build_tokenizer
from canvasmar.models.tokenizer import PixelPatchTokenizer, Tokenizer

__all__ = ["Canvas", "CanvasMAR", "PixelPatchTokenizer", "Tokenizer", "build_tokenizer"]
