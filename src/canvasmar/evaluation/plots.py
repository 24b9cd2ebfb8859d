"""The plots beside an evaluation's JSON: scores against MAR steps, and per predicted frame."""

from __future__ import annotations

from pathlib import Path

from canvasmar.media import saved_figure


def plot_against_steps(record: dict, path: Path) -> Path:
    """One panel per metric: the model against MAR steps, baselines as horizontal lines."""
    results, steps = record["results"], record["steps"]
    names = [m for m, v in next(iter(results.values())).items()
             if not m.endswith("_best_of_k") and isinstance(v, float)]
    with saved_figure(path, 1, len(names), figsize=(3.2 * len(names), 3)) as (fig, axes):
        for ax, metric in zip(axes[0], names, strict=True):
            ax.plot(steps, [results[f"model_steps_{s}"][metric] for s in steps], "o-",
                    label="CanvasMAR")
            for base, style in (("copy_last", "--"), ("canvas_only", ":")):
                if base in results:
                    ax.axhline(results[base][metric], linestyle=style, color="gray",
                               label=base)
            ax.set_xlabel("MAR steps")
            ax.set_title(metric)
            ax.set_xscale("log", base=2)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{record['protocol']['name']}: {record['protocol']['num_videos']} videos "
                     f"x {record['protocol']['samples']} samples", fontsize=9)
    return path


def plot_per_frame(record: dict, path: Path) -> Path:
    """One panel per metric (pixel means, best of K, FID/KID when measured): its value at each
    predicted frame, one line per setting (where a rollout starts to drift or blur), four
    panels a row."""
    results = record["results"]
    metrics = list(next(iter(results.values()))["per_frame"])
    cols = min(4, len(metrics))
    rows = -(-len(metrics) // cols)
    with saved_figure(path, rows, cols, figsize=(3.6 * cols, 3 * rows)) as (fig, axes):
        panels = [ax for row in axes for ax in row]
        for ax in panels[len(metrics):]:
            ax.set_visible(False)
        for ax, metric in zip(panels, metrics, strict=False):
            for name, scores in results.items():
                curve = scores["per_frame"][metric]
                style = "--" if name in ("copy_last", "canvas_only") else "-"
                ax.plot(range(1, len(curve) + 1), curve, style, label=name, linewidth=1.2)
            ax.set_xlabel("predicted frame")
            ax.set_title(metric)
        panels[0].legend(fontsize=7)
        fig.suptitle(f"{record['protocol']['name']}: per predicted frame", fontsize=9)
    return path
