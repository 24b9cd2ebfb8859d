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


def _paired_per_frame(va: list | None, vb: list | None) -> list[dict] | None:
    """Per predicted-frame position t: the paired difference A - B over videos (the issue's
    "per predicted-frame position, with paired intervals"); None for JSONs written before
    evaluations kept (N, T) scores."""
    if va is None or vb is None:
        return None
    ta, tb = torch.tensor(va, dtype=torch.float64), torch.tensor(vb, dtype=torch.float64)
    if ta.shape != tb.shape:
        raise UserError(f"per-frame scores of shape {tuple(ta.shape)} and {tuple(tb.shape)}: "
                        f"evaluate both with the same --context and protocol")
    return [{"a": ta[:, t].mean().item(), "b": tb[:, t].mean().item(),
             "a_minus_b": paired_difference(ta[:, t], tb[:, t])} for t in range(ta.shape[1])]


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
           "paired": {}, "paired_per_frame": {}, "unpaired": {}}
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
        per_frame = _paired_per_frame(ra["per_video"].get(f"{metric}_per_frame"),
                                      rb["per_video"].get(f"{metric}_per_frame"))
        if per_frame is not None:
            out["paired_per_frame"][metric] = per_frame
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
    lines += _per_frame_lines(result)
    return "\n".join(lines)


def _per_frame_lines(result: dict) -> list[str]:
    """Per predicted-frame position: best-of-K PSNR paired (A - B [95% CI]), FID side by side."""
    psnr = result.get("paired_per_frame", {}).get("psnr_best_of_k")
    fid = result["unpaired"].get("fid", {})
    fid_a, fid_b = fid.get("per_frame_a"), fid.get("per_frame_b")
    if psnr is None and fid_a is None:
        return []
    frames = len(psnr) if psnr is not None else len(fid_a)
    lines = ["", "per predicted frame:  best-of-K PSNR A - B [95% CI]      FID A / B"]
    for t in range(frames):
        row = f"frame {t + 1:<3}"
        if psnr is not None:
            d = psnr[t]["a_minus_b"]
            row += f"{d['mean']:>+22.3f} [{d['ci95_low']:+.3f}, {d['ci95_high']:+.3f}]"
        if fid_a is not None and fid_b is not None:
            row += f"   {fid_a[t]:8.2f} / {fid_b[t]:.2f}"
        lines.append(row)
    return lines
