"""Paired comparison of two evaluations on the same clips (`canvasmar compare A.json B.json`).

Two models scored by `canvasmar eval` on the same protocol, split, data, seed and counts saw
the same contexts, so their difference is judged per video (metrics/paired.py: mean of A - B
and its 95% bootstrap interval) from the `per_video` scores each JSON keeps. FID and KID are
properties of the whole set of frames, not of a video: they are shown side by side, unpaired.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from canvasmar.errors import UserError
from canvasmar.metrics.paired import paired_difference

# what must agree for the two evaluations to have scored the same clips
SAME_CLIPS = ("protocol", "split", "seed", "resolution")
PAIRED = ("mse", "mse_best_of_k", "psnr", "psnr_best_of_k", "ssim", "ssim_best_of_k")
SET_METRICS = ("fid", "kid", "fvd")


def _load(path: str | Path) -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable evaluation JSON ({exc})") from None
    if not isinstance(record, dict) or "results" not in record:
        raise UserError(f"{path}: not a `canvasmar eval` JSON (no results)")
    return record


def _setting(record: dict, name: str | None, path: str | Path) -> tuple[str, dict]:
    """The named setting, or the model's (the only model_steps_* one)."""
    results = record["results"]
    if name is None:
        models = [k for k in results if k.startswith("model_steps_")]
        if len(models) != 1:
            raise UserError(f"{path} holds {', '.join(results)}: name the setting to compare "
                            f"(--setting-a/--setting-b)")
        name = models[0]
    if name not in results:
        raise UserError(f"{path} has no setting '{name}' (it has {', '.join(results)})")
    if "per_video" not in results[name]:
        raise UserError(f"{path}: written before evaluations kept per-video scores: run "
                        f"`canvasmar eval` again to compare it")
    return name, results[name]


def compare(path_a: str | Path, path_b: str | Path, setting_a: str | None = None,
            setting_b: str | None = None) -> dict:
    """A vs B: for each per-video metric, both means and the paired difference A - B."""
    a, b = _load(path_a), _load(path_b)
    differ = [k for k in SAME_CLIPS if a.get(k) != b.get(k)]
    if differ:
        raise UserError(f"{path_a} and {path_b} did not score the same clips ({', '.join(differ)} "
                        f"differ): evaluate both with the same protocol, split, seed and counts")
    name_a, ra = _setting(a, setting_a, path_a)
    name_b, rb = _setting(b, setting_b, path_b)
    out = {"a": {"file": str(path_a), "setting": name_a, "checkpoint": a.get("checkpoint"),
                 "actions": a.get("actions")},
           "b": {"file": str(path_b), "setting": name_b, "checkpoint": b.get("checkpoint"),
                 "actions": b.get("actions")},
           "paired": {}, "unpaired": {}}
    for metric in PAIRED:
        va, vb = ra["per_video"].get(metric), rb["per_video"].get(metric)
        if va is None or vb is None:
            continue
        if len(va) != len(vb):
            raise UserError(f"{len(va)} videos in {path_a}, {len(vb)} in {path_b}: evaluate "
                            f"both on the same clips")
        if len(va) < 2:
            raise UserError("a paired comparison needs at least 2 videos (--num-videos)")
        ta, tb = torch.tensor(va, dtype=torch.float64), torch.tensor(vb, dtype=torch.float64)
        out["paired"][metric] = {"a": ta.mean().item(), "b": tb.mean().item(),
                                 "a_minus_b": paired_difference(ta, tb)}
    for metric in SET_METRICS:
        if metric in ra and metric in rb:
            out["unpaired"][metric] = {"a": ra[metric], "b": rb[metric],
                                       "per_frame_a": ra["per_frame"].get(metric),
                                       "per_frame_b": rb["per_frame"].get(metric)}
    return out


def comparison_table(result: dict) -> str:
    """The comparison as aligned text: one row per metric."""
    lines = [f"A: {result['a']['file']} ({result['a']['setting']})",
             f"B: {result['b']['file']} ({result['b']['setting']})",
             f"{'metric':<16}{'A':>10}{'B':>10}   A - B [95% CI]  (share of videos A < B)"]
    for metric, row in result["paired"].items():
        d = row["a_minus_b"]
        lines.append(f"{metric:<16}{row['a']:>10.4g}{row['b']:>10.4g}   {d['mean']:+.4g} "
                     f"[{d['ci95_low']:+.4g}, {d['ci95_high']:+.4g}]  ({d['fraction_lower']:.2f})")
    for metric, row in result["unpaired"].items():
        lines.append(f"{metric:<16}{row['a']:>10.4g}{row['b']:>10.4g}   (one number per set: "
                     f"not paired)")
    return "\n".join(lines)
