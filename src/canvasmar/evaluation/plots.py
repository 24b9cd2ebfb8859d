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
    """One panel per pixel metric: its mean at each predicted frame, one line per setting
    (where a rollout starts to drift, e.g. when the context leaves the window)."""
    results = record["results"]
    metrics = list(next(iter(results.values()))["per_frame"])
    with saved_figure(path, 1, len(metrics), figsize=(3.6 * len(metrics), 3)) as (fig, axes):
        for ax, metric in zip(axes[0], metrics, strict=True):
            for name, scores in results.items():
                curve = scores["per_frame"][metric]
                style = "--" if name in ("copy_last", "canvas_only") else "-"
                ax.plot(range(1, len(curve) + 1), curve, style, label=name, linewidth=1.2)
            ax.set_xlabel("predicted frame")
            ax.set_title(metric)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{record['protocol']['name']}: per predicted frame", fontsize=9)
    return path
