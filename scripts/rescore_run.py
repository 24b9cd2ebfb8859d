"""Re-score checkpoints on their config's current validation clips (docs/data.md).

    python scripts/rescore_run.py RUN/checkpoints/step_00000120 [...]

Prints the canvas and copy-last pixel MSE of `train/validation.validate` on the first 32
validation clips, so checkpoints of one run can be compared on the same clips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from canvasmar import checkpoint as ckpt
from canvasmar.data import build_dataset
from canvasmar.models.factory import build_model
from canvasmar.train.validation import validate


def main() -> None:
    torch.set_num_threads(1)
    for path in sys.argv[1:]:
        found = ckpt.resolve_checkpoint(Path(path))
        cfg = ckpt.load_checkpoint_config(found)
        model, tokenizer = build_model(cfg)
        ckpt.load_weights(model, found)
        val = build_dataset(cfg.data, "val", seed=0)
        videos = torch.stack([val[i] for i in range(min(32, len(val)))])
        result = validate(model, tokenizer, videos, cfg.loss)
        print(path, {k: round(v, 5) for k, v in result.items() if k.endswith("mse")})


if __name__ == "__main__":
    main()
