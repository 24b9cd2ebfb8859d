"""Plot canvas moving gain against training clips seen: the probe's plain regressors
(probe.py, 64 val clips) beside our model's canvas (training validation rows, 32 val clips,
raw weights) and the Bayes ceiling (docs/results/bayes-canvas/val-64.json).

    python docs/results/conv-canvas/curves.py OUT.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE.parent
PROBES = {  # probe.py's output file -> legend
    "conv-40min": "U-Net on pixels, constant lr (40 min, 1 thread)",
    "conv-cosine-40min": "U-Net on pixels, cosine lr (40 min, 1 thread)",
    "conv-cosine-2threads-45min": "U-Net on pixels, cosine lr (45 min, 2 threads)",
    "patchvit-40min": "ViT on 4x4-pixel tokens (40 min, 1 thread)",
    "stemvit-40min": "the same ViT with a conv stem (40 min, 1 thread)"}
BATCH = 8  # clips per training step, in the probe and in our runs
SHIPPED_STEPS, SHIPPED_GAIN = 4661, 0.46
STAGE2_START = 1679  # rope-stage2 continued the rope arm's EMA weights at this step


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    out = sys.argv[1]
    fig, ax = plt.subplots(figsize=(11, 4.8))
    for name, label in PROBES.items():
        path = HERE / f"{name}.jsonl"
        if path.exists():
            rows = [r for r in _rows(path) if r["clips_seen"]]
            ax.plot([r["clips_seen"] for r in rows], [r["canvas_moving_gain"] for r in rows],
                    "o-", ms=3, label=f"probe: {label}")
    ours = [("spatial-rope/rope-control-validation-rows.jsonl", 0,
             "ours: stage 1, absolute positions"),
            ("spatial-rope/rope-arm-validation-rows.jsonl", 0, "ours: stage 1, spatial_rope"),
            ("rope-ship/rope-stage2-validation-rows.jsonl", STAGE2_START,
             "ours: spatial_rope, stage 2"),
            ("canvas-first/canvas-first-validation-rows.jsonl", 0,
             "ours: spatial_rope, canvas path alone (session 34)")]
    for rel, offset, label in ours:
        rows = _rows(RESULTS / rel)
        ax.plot([(offset + r["step"]) * BATCH for r in rows],
                [r["diag_canvas_moving_gain"] for r in rows], "s--", ms=4, label=label)
    # The shipped checkpoints/builtin (4,661 steps; docs/quality.md, session 31's table).
    ax.plot([SHIPPED_STEPS * BATCH], [SHIPPED_GAIN], "k*", ms=9, label="ours: shipped model")
    bayes = json.loads((RESULTS / "bayes-canvas/val-64.json").read_text())["bayes"]
    ax.axhline(bayes["canvas_moving_gain"], color="k", ls=":", label="Bayes canvas (ceiling)")
    ax.set_xscale("log")
    ax.set_xlabel("training clips seen (8 frames each)")
    ax.set_ylabel("canvas moving gain (share of copy-last's error removed)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title("Built-in data: how fast a next-frame canvas learns, by architecture")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
