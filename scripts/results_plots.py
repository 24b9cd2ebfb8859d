"""The plots of docs/results.md (scripts/results_page.py): Fig. 3-like quality against the
number of MAR steps, Fig. 6-like latency against batch size."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = {"motion": "CanvasMAR (motion order)", "random": "CanvasMAR (random order)",
            "nocanvas": "no canvas"}


def plot_sweep(d: Path, out: Path) -> bool:
    """FID and best-of-K PSNR against N_AR for the three variants, copy-last dashed."""
    records = {n: json.loads((d / f"sweep-{n}.json").read_text()) for n in VARIANTS
               if (d / f"sweep-{n}.json").exists()}
    if not records:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric, label in ((axes[0], "fid", "frame FID (lower is better)"),
                              (axes[1], "psnr_best_of_k", "best-of-K PSNR (dB)")):
        for name, record in records.items():
            res = record["results"]
            steps = sorted(int(k.rsplit("_", 1)[1]) for k in res if k.startswith("model_"))
            values = [res[f"model_steps_{s}"].get(metric) for s in steps]
            if None not in values:
                ax.plot(steps, values, marker="o", label=VARIANTS[name])
        copy = next(iter(records.values()))["results"].get("copy_last", {}).get(metric)
        if copy is not None:
            ax.axhline(copy, ls="--", c="grey", label="copy last frame")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("MAR steps per frame (N_AR)")
        ax.set_ylabel(label)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"{d.name}: quality against MAR steps (no guidance)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def plot_latency(d: Path, out: Path) -> bool:
    """First-frame latency and whole-rollout time against batch: next-1 and next-2."""
    path = d / "latency.json"
    if not path.exists():
        return False
    rows = json.loads(path.read_text())["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, label in ((axes[0], "first_frame_ms", "first frame (ms)"),
                           (axes[1], "total_ms", "16 frames (ms)")):
        for model in ("next-1", "next-2"):
            for guidance, style in (("none", "-"), ("compositional", ":")):
                sel = [r for r in rows if r["model"] == model and r["guidance"] == guidance]
                ax.plot([r["batch"] for r in sel], [r[key] for r in sel], style, marker="o",
                        label=f"{model}, guidance {guidance}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    fig.suptitle("latency of 4-step sampling (Fig. 6 at our scale)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True
