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
import json
import logging
from collections.abc import Callable
from pathlib import Path

from canvasmar.atomic import write_text_atomic
from canvasmar.errors import UserError
from canvasmar.evaluation.scoring import Clips, evaluate
from canvasmar.metrics.frames import remembering
from canvasmar.pipeline import Pipeline
from canvasmar.protocols import Protocol

log = logging.getLogger(__name__)
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
          batch_size: int = 16, progress: bool = False, resume: Path | None = None,
          fingerprint: dict | None = None, **fixed) -> dict:
    """Score every point of `grid` (all combinations) under `protocol` on `clips`; `fixed`
    sampling settings apply to every point.

    Returns {"points": [{settings..., metrics...}], "baselines": {name: metrics},
    "chosen": the point with the lowest FID (ties: the higher best-of-K PSNR)}. Each point
    uses the same seed, so points differ only by their settings.

    `resume`: a JSON file that keeps the points scored so far (written after each one,
    removed at the end), so a sweep killed after hours goes on from its next point; it holds
    `fingerprint` (what the points depend on) and is refused if that differs.
    """
    names = list(grid)
    done = _PartialSweep(resume, {**(fingerprint or {}), "grid": grid, "fixed": fixed,
                                  "seed": seed, "batch_size": batch_size})
    points, baselines = done.points, done.baselines
    frame_extractor = remembering(frame_extractor)  # the real frames: once, not per point
    for index, values in enumerate(itertools.product(*(grid[n] for n in names))):
        if index < len(points):
            continue  # scored before the sweep was stopped
        settings = dict(zip(names, values, strict=True))
        steps = [settings.pop("steps", pipe.cfg.sample.steps)]
        result = evaluate(pipe, protocol, clips, steps, seed=seed, batch_size=batch_size,
                          frame_extractor=frame_extractor, kid_fn=kid_fn, progress=progress,
                          baselines=not baselines, **fixed, **settings)
        model = result.pop(f"model_steps_{steps[0]}")
        baselines = baselines or {name: _reported(r) for name, r in result.items()}
        points.append({**dict(zip(names, values, strict=True)), **_reported(model),
                       "per_frame_fid": model["per_frame"].get("fid")})
        done.save(points, baselines)
    chosen = min(points, key=lambda p: (p["fid"], -p["psnr_best_of_k"]))
    done.remove()
    return {"grid": grid, "points": points, "baselines": baselines, "chosen": chosen}


class _PartialSweep:
    """The points a sweep has scored, kept in a JSON file between runs (`sweep`'s resume)."""

    def __init__(self, path: Path | None, fingerprint: dict) -> None:
        self.path = Path(path) if path is not None else None
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        self.points: list[dict] = []
        self.baselines: dict = {}
        if self.path is None or not self.path.is_file():
            return
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the partial sweep {self.path} ({exc}); delete it "
                            f"to start over") from None
        if state.get("fingerprint") != self.fingerprint:
            raise UserError(f"{self.path} holds a partial sweep with other settings; delete "
                            f"it to start over, or use another --out")
        self.points, self.baselines = state["points"], state["baselines"]
        log.info("resuming the sweep from %s: %d point(s) already scored", self.path,
                 len(self.points))

    def save(self, points: list[dict], baselines: dict) -> None:
        if self.path is not None:
            write_text_atomic(self.path, json.dumps(
                {"fingerprint": self.fingerprint, "points": points, "baselines": baselines}))

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


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
