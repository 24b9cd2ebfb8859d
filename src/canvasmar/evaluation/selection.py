"""Choosing sampling settings the way the field judges samples: by a distribution metric.

Mean MSE rewards the blurry mean (the head temperature 0.25 of the first shipped model was
chosen that way, and its samples are nearly the blurry canvas). So a sweep here scores every
point of a grid of sampling settings (head temperature, guidance scales, frame / canvas noise,
MAR steps, ...) on the *validation* split with frame FID (and KID when asked), beside best-of-K
and mean PSNR/SSIM, and picks the lowest FID; best-of-K PSNR breaks ties (it rewards a sampler
whose K tries include the truth, not one that averages them). The copy-last and canvas-only
baselines are scored once, with the first point. Choosing on val and reporting on test keeps
the test numbers honest.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from canvasmar.errors import UserError
from canvasmar.evaluation.scoring import Clips, evaluate
from canvasmar.metrics.frames import remembering
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import Protocol

REPORTED = ("fid", "kid", "psnr_best_of_k", "ssim_best_of_k", "psnr", "ssim", "mse",
            "mse_best_of_k")


def parse_grid(items: list[str], pipe: Pipeline) -> dict[str, list]:
    """['head_temperature=0.25,0.5,1', 'steps=4,8'] -> {name: [values]}, each value checked
    by the pipeline's own validation (`Pipeline.options`)."""
    grid: dict[str, list] = {}
    fields = set(pipe.cfg.sample.__dataclass_fields__)
    for item in items:
        name, _, text = item.partition("=")
        if name not in fields or not text:
            raise UserError(f"--grid '{item}': use KEY=V1,V2,... with KEY one of "
                            f"{', '.join(sorted(fields))}")
        kind = type(getattr(pipe.cfg.sample, name))
        try:
            values = [kind(v) for v in text.split(",")]
        except ValueError:
            raise UserError(f"--grid '{item}': the values of {name} must be "
                            f"{kind.__name__}s") from None
        for value in values:
            pipe.options(**{name: value})  # raises the one-line error of a bad value
        grid[name] = values
    if not grid:
        raise UserError("give at least one --grid KEY=V1,V2,...")
    return grid


def sweep(pipe: Pipeline, protocol: Protocol, clips: Clips, grid: dict[str, list], *,
          frame_extractor: Callable, kid_fn: Callable | None = None, seed: int = 0,
          batch_size: int = 16, progress: bool = False, **fixed) -> dict:
    """Score every point of `grid` (all combinations) under `protocol` on `clips`; `fixed`
    sampling settings apply to every point.

    Returns {"points": [{settings..., metrics...}], "baselines": {name: metrics},
    "chosen": the point with the lowest FID (ties: the higher best-of-K PSNR)}. Each point
    uses the same seed, so points differ only by their settings.
    """
    names = list(grid)
    points, baselines = [], {}
    frame_extractor = remembering(frame_extractor)  # the real frames: once, not per point
    for index, values in enumerate(itertools.product(*(grid[n] for n in names))):
        settings = dict(zip(names, values, strict=True))
        steps = [settings.pop("steps", pipe.cfg.sample.steps)]
        result = evaluate(pipe, protocol, clips, steps, seed=seed, batch_size=batch_size,
                          frame_extractor=frame_extractor, kid_fn=kid_fn, progress=progress,
                          baselines=index == 0, **fixed, **settings)
        model = result.pop(f"model_steps_{steps[0]}")
        baselines = baselines or {name: _reported(r) for name, r in result.items()}
        points.append({**dict(zip(names, values, strict=True)), **_reported(model),
                       "per_frame_fid": model["per_frame"].get("fid")})
    chosen = min(points, key=lambda p: (p["fid"], -p["psnr_best_of_k"]))
    return {"grid": grid, "points": points, "baselines": baselines, "chosen": chosen}


def _reported(scores: dict) -> dict:
    return {k: scores[k] for k in REPORTED if k in scores}


def sweep_markdown(result: dict) -> str:
    """The sweep as a table, the chosen point marked, the baselines below."""
    names = list(result["grid"])
    metrics = [m for m in REPORTED if m in result["points"][0]]
    lines = ["| " + " | ".join(names + metrics) + " |",
             "|" + "---:|" * (len(names) + len(metrics))]
    for point in result["points"]:
        mark = " **(chosen)**" if point is result["chosen"] or point == result["chosen"] else ""
        cells = [str(point[n]) for n in names] + [f"{point[m]:.4f}" for m in metrics]
        cells[0] += mark
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for name, scores in result["baselines"].items():
        lines.append(f"- {name}: " + ", ".join(f"{m} {v:.4f}" for m, v in scores.items()))
    return "\n".join(lines) + "\n"
