"""Loading the TorchScript metric networks (the form in which their weights are distributed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from canvasmar.errors import UserError


def load_torchscript(path: str | Path, device: str | torch.device, hint: str) -> torch.nn.Module:
    """torch.jit.load `path` in eval mode on `device`; a UserError (ending with `hint`) if the
    file is missing or is not TorchScript.

    torch >= 2.13 warns that TorchScript is deprecated; the I3D and Inception weights exist only
    in that form, so the warning is not actionable here and is silenced.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"weights not found at {path}. {hint}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated",
                                    category=DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # torch raises RuntimeError/ValueError for non-TorchScript files
        raise UserError(f"{path} is not a TorchScript module ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}). {hint}") from e
    return module.eval().to(device)
