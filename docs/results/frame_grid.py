"""The picture of the results scripts: rows of frames (each (F, 3, H, W) in [0, 1]), one label
per row, the predicted-frame numbers `show` (0-based) above the columns."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_grid(rows: list, labels: list[str], show: list[int], out: str, cell: float = 1.1
              ) -> None:
    fig, axes = plt.subplots(len(rows), len(show), figsize=(len(show) * cell, len(rows) * cell))
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c, frame in enumerate(row):
            ax = axes[r, c]
            ax.imshow(frame.clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_xticks([]); ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {show[c] + 1}", fontsize=7)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.savefig(out, dpi=80, bbox_inches="tight")
