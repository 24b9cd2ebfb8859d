"""What a run records: metrics.jsonl (always) and TensorBoard scalars and images (optional).

Only the main process writes. The first row a process logs also carries `versions` (canvasmar,
torch, git commit: canvasmar.versions), so every stretch of a resumed run's rows names the
code that wrote it; the other rows stay small. TensorBoard is a dependency of the package;
if a user's environment lacks it, `train.tensorboard=true` says so once and the run goes on
with the JSON log alone (`train.tensorboard=false` silences it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from canvasmar.atomic import write_text_atomic
from canvasmar.versions import versions


class RunLog:
    def __init__(self, out: Path, enabled: bool, tensorboard: bool) -> None:
        self.enabled = enabled
        self.metrics = (out / "metrics.jsonl").open("a") if enabled else None
        self.versions = versions() if enabled else None  # for this process's first row
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                print("warning: tensorboard is not installed; logging to metrics.jsonl only "
                      "(pip install tensorboard, or set train.tensorboard=false)",
                      file=sys.stderr)
            else:
                self.tb = SummaryWriter(str(out / "tensorboard"))

    def row(self, row: dict, group: str = "train") -> None:
        """One JSON line; its numeric entries also become TensorBoard scalars `group/key`."""
        if not self.enabled:
            return
        if self.versions is not None:
            row, self.versions = {**row, "versions": self.versions}, None
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()
        if self.tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, int | float):
                    self.tb.add_scalar(f"{group}/{key}", value, row["step"])

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An (H, W, 3) uint8 image, e.g. a preview grid with staticness maps."""
        if self.tb is not None:
            self.tb.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
        if self.tb is not None:
            self.tb.close()


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics rows logged after `step` (a resumed run logs them again), atomically."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    write_text_atomic(path, "".join(line + "\n" for line in keep))
