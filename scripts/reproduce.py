"""The paper's claims at our scale (issue 17): Fig. 3's component study and Fig. 6's latency,
one resumable command that ends in docs/results.md.

    make reproduce                              # = python3 scripts/reproduce.py
    python3 scripts/reproduce.py --plan         # the stages and the time estimate, nothing run
    python3 scripts/reproduce.py --only builtin # one dataset (builtin or pong)
    python3 scripts/reproduce.py --device cuda  # on a GPU (bf16 autocast in training)
    python3 scripts/reproduce.py --scale smoke  # every stage in about two minutes (the test)
    python3 scripts/reproduce.py --lanes 1      # one stage at a time (default on a CPU: two,
                                                # one thread each; scripts/reproduce_lanes.py)
    python3 scripts/reproduce.py --stage "pong: train canvasmar"  # one stage (names: --plan)

What runs, for each dataset (the built-in procedural videos; Pong recorded with ale-py):
1. CanvasMAR and the no-canvas baseline (`model.canvas=false`, Sec. 5.3 / Fig. 3), trained
   with equal compute (the same preset, steps, batch and seed).
2. Each scored on the test split at N_AR = 1, 2, 4, 8, 16 without guidance: CanvasMAR in the
   motion-aware order (Sec. 4.3) and in random order (MAR's), the baseline (random order: it
   has no staticness). Frame FID/KID per position, best-of-K PSNR/SSIM, copy-last and
   canvas-only beside them (`canvasmar eval`).
3. Guidance: w_s (canvas) and w_t (temporal) of Eq. 9 chosen on val by frame FID
   (`canvasmar choose`), then CanvasMAR on test with both branches, each alone at its chosen
   scale, and none.
4. Paired 95% intervals between the variants (`canvasmar compare`).
5. Built-in only (Sec. 5.4, App. B): a next-2 model fine-tuned from the CanvasMAR run for 10%
   of its steps (`train.init_from`), scored like next-1, and the latency of both (first frame
   and whole rollout against batch size, with and without guidance; Fig. 6).
Then scripts/results_page.py writes docs/results.md with tables, plots and a verdict per claim.

Resumable: every stage's outputs go under --root (default runs/reproduce) and a stage whose
outputs exist is skipped; a killed training resumes from its last checkpoint. Each stage's
measured time goes to ROOT/times.json (the page reports it with the machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # its helpers: reproduce_steps, results_page
STEPS_SWEEP = (1, 2, 4, 8, 16)
MICRO = ["model.dim=32", "model.heads=2", "model.temporal_layers=2", "model.canvas_layers=1",
         "model.spatial_layers=2", "model.flow_width=32", "model.flow_layers=2",
         "data.resolution=16", "tokenizer.patch=2"]
# Both arms of every comparison get the settings of our shipped built-in model
# (checkpoints/builtin/README.md): residual heads and the motion input, without which the tiny
# models drew worse than copying the last frame (docs/quality.md), one flow-head repeat (more
# steps per CPU minute at this size) and head temperature 0.5 (chosen on val by FID; at 1 the
# moving regions fill with coloured noise). They are not the paper's; they change both arms alike.
OURS = ["model.residual=true", "model.motion_input=true", "loss.head_repeat=1",
        "sample.head_temperature=0.5"]


@dataclass
class Scale:
    """How big each part is. `cpu` is sized for our 2-core machines (hours, printed first)."""
    train_steps: dict[str, int]
    model: dict[str, list[str]]  # overrides of the tiny preset per dataset
    videos: int  # test clips per evaluation
    samples: int  # samples per clip (best of K)
    val_videos: int  # clips per guidance setting when choosing on val
    sweep: tuple[int, ...]
    grid_canvas: tuple[float, ...]
    grid_temporal: tuple[float, ...]
    latency_batches: tuple[int, ...]
    latency_repeats: int
    pong_episodes: tuple[int, int, int]  # train, val, test
    pong_frames: int
    metrics: str = "mse,psnr,ssim,fid,kid"
    # Costs per unit, for the estimate only: on the reference machine of reproduce_estimate.py
    # (two threads, nothing beside; scaled by its speed probe to the machine at hand). A
    # generated frame (at batch 32) costs a fixed part (Temporal ViT, canvas, the flow head on
    # every token) and a part per MAR step; then every generated and real frame goes through
    # Inception at 299x299 for FID/KID, most of an evaluation's time.
    s_per_train_step: dict[str, float] = field(default_factory=dict)
    ms_per_frame: dict[str, float] = field(default_factory=dict)
    ms_per_frame_step: dict[str, float] = field(default_factory=dict)
    ms_per_fid_frame: float = 217.0


# `cpu` fits one dataset into about two hours of our 2-core machines (its runs do not outlive a
# working session there), with 1,024 generated frames per FID; `full` is twice the evaluation
# and a third more training, for a machine that can run for most of a day.
CPU = Scale(
    train_steps={"builtin": 1500, "pong": 1200},
    model={"builtin": [*OURS, "data.frames=8"],
           "pong": [*OURS, "tokenizer.patch=8", "data.resolution=64", "data.frames=8"]},
    videos=32, samples=2, val_videos=16, sweep=STEPS_SWEEP,
    grid_canvas=(1.0, 1.5, 2.0), grid_temporal=(1.0, 1.2),
    latency_batches=(1, 4, 16), latency_repeats=3, pong_episodes=(48, 8, 8),
    pong_frames=400,
    # `python3 scripts/reproduce_estimate.py --calibrate` on the reference machine (2026-12-07)
    s_per_train_step={"builtin": 2.43, "pong": 2.42}, ms_per_frame={"builtin": 93, "pong": 101},
    ms_per_frame_step={"builtin": 8.3, "pong": 8.0})
SCALES = {
    "cpu": CPU,
    "full": dataclasses.replace(CPU, train_steps={"builtin": 2000, "pong": 1600}, videos=64,
                                val_videos=32),
    "smoke": Scale(
        train_steps={"builtin": 4, "pong": 4},
        model={"builtin": [*MICRO, "data.frames=4"], "pong": [*MICRO, "data.frames=4"]},
        videos=2, samples=2, val_videos=2, sweep=(1, 4), grid_canvas=(1.0, 1.5),
        grid_temporal=(1.0,), latency_batches=(1, 2), latency_repeats=1,
        pong_episodes=(2, 1, 1), pong_frames=40,
        s_per_train_step={"builtin": 0.2, "pong": 0.2}, ms_per_frame={"builtin": 5, "pong": 5},
        ms_per_frame_step={"builtin": 1, "pong": 1}, ms_per_fid_frame=60),
}


@dataclass
class Stage:
    name: str
    outputs: list[Path]  # the stage is done when all exist
    commands: list[list[str]]  # `canvasmar` argv lists, or ["python", script, ...]
    estimate_s: float
    needs: tuple[str, ...] = ()  # stages whose outputs it reads (--lanes starts it after them)
    alone: bool = False  # a timing: with --lanes, nothing runs beside it


@dataclass
class Setup:
    scale: Scale
    root: Path  # every output of the stages
    device: str
    pong: Path  # the Pong recording (train/ val/ test/)


def trained(run: Path, steps: int) -> Path:
    """A run's last checkpoint: the stage is done when it exists."""
    return run / "checkpoints" / f"step_{steps:08d}"


def canvasmar_train(s: Setup, dataset: str, out: Path, extra: list[str]) -> list[str]:
    steps = s.scale.train_steps[dataset]
    data = ["--data", str(s.pong)] if dataset == "pong" else []
    return ["train", "tiny", "--out", str(out), *data, "--no-progress",
            f"train.device={s.device}", *s.scale.model[dataset], f"train.steps={steps}",
            f"train.save_every={max(1, steps // 8)}", f"train.eval_every={max(1, steps // 4)}",
            "train.eval_clips=16", *extra]


def protocol_args(s: Setup, dataset: str) -> list[str]:
    if dataset == "pong":
        return ["--protocol", "folder", "--data-root", str(s.pong)]
    return ["--protocol", "builtin"]


def evaluate(s: Setup, dataset: str, run: Path, out: Path, steps: tuple,
             extra: list[str]) -> list[str]:
    return ["eval", "--checkpoint", str(run), *protocol_args(s, dataset), "--context", "2",
            "--num-videos", str(s.scale.videos), "--samples", str(s.scale.samples),
            "--sweep-steps", ",".join(map(str, steps)), "--metrics", s.scale.metrics,
            "--batch-size", "32", "--device", s.device, "--no-progress", "--out", str(out),
            "--force", *extra]


def eval_seconds(scale: Scale, dataset: str, steps: tuple, passes: int = 1,
                 videos: int | None = None, samples: int | None = None,
                 baselines: bool = True) -> float:
    """Estimated seconds of one `canvasmar eval` (or `choose` point): generating, at
    `passes` forward passes per step (3 with both guidance branches), then Inception on the
    generated frames, the canvas-only baseline's and the real ones (copy-last's repeated
    frame costs almost nothing: identical frames go through Inception once)."""
    videos = videos or scale.videos
    frames = videos * (samples or scale.samples) * 16
    generate = frames * passes * (len(steps) * scale.ms_per_frame[dataset]
                                  + sum(steps) * scale.ms_per_frame_step[dataset])
    settings = len(steps) + (1 if baselines else 0)
    inception = (frames * settings + videos * 16) * scale.ms_per_fid_frame
    return (generate + inception) / 1000


def dataset_stages(s: Setup, dataset: str) -> list[Stage]:
    scale, d = s.scale, s.root / dataset
    canvas, nocanvas = d / "canvasmar", d / "nocanvas"
    stages = []
    if dataset == "pong":
        episodes = dict(zip(("train", "val", "test"), scale.pong_episodes, strict=True))
        stages.append(Stage("pong: record episodes", [s.pong / split for split in episodes],
                            [["data", "record", "atari", "--game", "pong", "--out",
                              str(s.pong / split), "--episodes", str(n), "--frames",
                              str(scale.pong_frames), "--seed", str(seed)]
                             for seed, (split, n) in enumerate(episodes.items())], 60))
    data = tuple(st.name for st in stages)
    steps = scale.train_steps[dataset]
    for run, extra in ((canvas, []), (nocanvas, ["model.canvas=false"])):
        stages.append(Stage(f"{dataset}: train {run.name}", [trained(run, steps)],
                            [canvasmar_train(s, dataset, run, extra)],
                            steps * scale.s_per_train_step[dataset], data))
    plain = ["--cfg-canvas", "1", "--cfg-temporal", "1"]
    for name, run, extra in (("motion", canvas, plain),
                             ("random", canvas, [*plain, "--order", "random"]),
                             ("nocanvas", nocanvas, plain)):
        out = d / f"sweep-{name}.json"
        stages.append(Stage(f"{dataset}: N_AR sweep, {name}", [out],
                            [evaluate(s, dataset, run, out, scale.sweep, extra)],
                            eval_seconds(scale, dataset, scale.sweep),
                            (*data, f"{dataset}: train {run.name}")))
    stages.append(guidance_stage(s, dataset, d, canvas))
    return stages


def guidance_stage(s: Setup, dataset: str, d: Path, canvas: Path) -> Stage:
    """Choose (w_s, w_t) on val, then score both / canvas alone / temporal alone / none."""
    scale, choice = s.scale, d / "guidance-choice.json"
    assert 4 in scale.sweep, "the unguided run at 4 steps is the motion sweep's"
    commands = [["choose", "--checkpoint", str(canvas), *protocol_args(s, dataset),
                 "--context", "2", "--split", "val", "--num-videos", str(scale.val_videos),
                 "--steps", "4", "--grid", "cfg_canvas=" + ",".join(map(str, scale.grid_canvas)),
                 "--grid", "cfg_temporal=" + ",".join(map(str, scale.grid_temporal)),
                 "--device", s.device, "--no-progress", "--out", str(choice), "--force"]]
    outputs = [choice]
    # "none" (CanvasMAR at 4 steps, no guidance) is not evaluated again: the motion sweep
    # scored it with the same seed, clips and batches (every setting of an evaluation has its
    # own generator, seeded alike), so the page reads it there (results_page.unguided)
    for branch in ("both", "canvas", "temporal"):
        out = d / f"guidance-{branch}.json"
        commands.append(["python", "guidance", str(choice), branch,
                         json.dumps(evaluate(s, dataset, canvas, out, (4,), [])),
                         str(d / "sweep-motion.json")])
        outputs.append(out)
    grid = len(scale.grid_canvas) * len(scale.grid_temporal)
    seconds = (grid * eval_seconds(scale, dataset, (4,), 3, scale.val_videos, 1,
                                   baselines=False)
               + 3 * eval_seconds(scale, dataset, (4,), 3))
    return Stage(f"{dataset}: guidance chosen on val, branches on test", outputs, commands,
                 seconds, (f"{dataset}: train canvasmar", f"{dataset}: N_AR sweep, motion"))


FINE_TUNE = "builtin: fine-tune next-2 from CanvasMAR (10% of its steps)"


def next_group_stages(s: Setup) -> list[Stage]:
    scale, device, d = s.scale, s.device, s.root / "builtin"
    next2 = d / "next2"
    steps = max(1, scale.train_steps["builtin"] // 10)  # Sec. 5.4: ~10% of the training
    # the next-1 run's overrides: its data.frames (8, or 4 at smoke scale) splits into pairs
    train = ["train", "tiny", "--out", str(next2), "--no-progress", f"train.device={device}",
             *scale.model["builtin"], "model.group=2", f"train.init_from={d / 'canvasmar'}",
             f"train.steps={steps}", "train.lr=3e-4", f"train.warmup_steps={max(1, steps // 10)}",
             f"train.save_every={max(1, steps // 4)}", f"train.eval_every={steps}",
             "train.eval_clips=16"]
    out = d / "next2-steps4.json"
    latency = d / "latency.json"
    return [
        Stage(FINE_TUNE,
              [trained(next2, steps)], [train],
              steps * 1.3 * scale.s_per_train_step["builtin"], ("builtin: train canvasmar",)),
        Stage("builtin: next-2 on test at 4 steps", [out],
              [evaluate(s, "builtin", next2, out, (4,),
                        ["--cfg-canvas", "1", "--cfg-temporal", "1"])],
              eval_seconds(scale, "builtin", (4,)), (FINE_TUNE,)),
        # alone in its lane: latency measured beside another stage would be the neighbour's
        Stage("builtin: latency next-1 vs next-2 (Fig. 6)", [latency],
              [["python", "latency", str(d / "canvasmar"), str(next2), str(latency), device,
                ",".join(map(str, scale.latency_batches)), str(scale.latency_repeats)]],
              60 * len(scale.latency_batches) * scale.latency_repeats,
              ("builtin: train canvasmar", FINE_TUNE), alone=True),
    ]


def plan(s: Setup, only: str | None) -> list[Stage]:
    stages = []
    for dataset in ("builtin", "pong"):
        if only in (None, dataset):
            stages += dataset_stages(s, dataset)
            if dataset == "builtin":
                stages += next_group_stages(s)
    return stages


def show(argv: list[str]) -> str:
    if argv[0] == "python":
        return f"python3 scripts/reproduce_steps.py {' '.join(argv[1:])}"
    return "canvasmar " + " ".join(argv)


def run_stage(stage: Stage) -> None:
    from reproduce_steps import run_step

    from canvasmar.cli import main as canvasmar

    for argv in stage.commands:
        if argv[0] == "train" and (Path(argv[argv.index("--out") + 1]) / "latest").exists():
            argv = [*argv, "--resume"]  # a killed training goes on from its last checkpoint
        print(f"  $ {show(argv)}", flush=True)
        code = run_step(argv[1:]) if argv[0] == "python" else canvasmar(argv)
        if code != 0:
            raise SystemExit(f"error: stage '{stage.name}' failed (exit {code}); fix the cause "
                             f"and run the same command again: finished stages are kept")


def machine_facts(device: str) -> dict:
    import os
    import platform

    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(), "device": device,
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None}


def main(argv: list[str] | None = None) -> int:
    import os

    from reproduce_estimate import REFERENCE_GFLOPS, machine_factor
    from reproduce_lanes import launcher, makespan, resumed_first, schedule

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    p.add_argument("--only", choices=("builtin", "pong"))
    p.add_argument("--root", type=Path, default=REPO / "runs" / "reproduce")
    p.add_argument("--device", default="cpu")
    p.add_argument("--pong-data", type=Path, default=REPO / "data" / "pong",
                   help="where the Pong episodes are (recorded there if missing)")
    p.add_argument("--page", type=Path, default=REPO / "docs" / "results.md",
                   help="the results page to write at the end")
    p.add_argument("--plan", action="store_true", help="print the stages and estimate only")
    p.add_argument("--lanes", type=int, default=None,
                   help="stages run at once, each in its own process on its share of the "
                        "cores (default: 2 on a CPU with 2+ cores, else 1)")
    p.add_argument("--stage", action="append", default=[],
                   help="run only this stage (its exact name from --plan; repeatable)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one lane's stage
    args = p.parse_args(argv)
    cpus = os.cpu_count() or 1
    lanes = args.lanes if args.lanes is not None else (
        2 if args.device == "cpu" and cpus >= 2 else 1)
    if lanes < 1:
        raise SystemExit(f"error: --lanes {lanes}: give 1 or more")
    root = args.root.resolve()
    setup = Setup(SCALES[args.scale], root, args.device, args.pong_data.resolve())
    stages = plan(setup, args.only)
    unknown = sorted(set(args.stage) - {s.name for s in stages})
    if unknown:
        raise SystemExit(f"error: no stage named {unknown}; --plan lists them")
    done = {s.name for s in stages if all(o.exists() for o in s.outputs)}
    todo = [s for s in stages if s.name not in done and (not args.stage or s.name in args.stage)]
    if args.child:  # started by a lane: run the stage, the parent keeps the times
        for stage in todo:
            run_stage(stage)
        return 0
    factor, speed = machine_factor(args.device)  # the costs are a reference machine's
    hours = factor * makespan(todo, lanes, done) / 3600
    print(f"{len(stages)} stages, {len(done)} done; estimate for the rest: {hours:.1f} h "
          f"({args.scale} scale, {lanes} lane(s); {speed})")
    for s in stages:
        mark = "done" if s.name in done else f"~{factor * s.estimate_s / 60:.0f} min"
        print(f"  [{mark:>9}] {s.name}")
    if args.plan:
        return 0
    root.mkdir(parents=True, exist_ok=True)
    facts = machine_facts(args.device)
    if args.device == "cpu":  # how fast this machine is, beside the times the page shows
        facts["matmul_gflops_per_thread"] = round(REFERENCE_GFLOPS / factor, 1)
    if lanes > 1:
        facts["lanes"] = f"{lanes} stages at once, {max(1, cpus // lanes)} thread(s) each"
    (root / "machine.json").write_text(json.dumps(facts) + "\n")
    times_path = root / "times.json"

    def finished(stage: Stage, code: int, seconds: float) -> None:
        # read again: another run on this root (`--stage` in a second shell) may have added
        times = json.loads(times_path.read_text()) if times_path.exists() else {}
        times[stage.name] = times.get(stage.name, 0.0) + seconds
        times_path.write_text(json.dumps(times, indent=2) + "\n")
        print(f"== {stage.name}: {'done' if code == 0 else f'failed (exit {code})'} in "
              f"{seconds / 60:.1f} min", flush=True)

    if lanes == 1:
        for stage in todo:
            print(f"== {stage.name}", flush=True)
            start = time.monotonic()
            run_stage(stage)
            finished(stage, 0, time.monotonic() - start)
    else:
        child = ["--scale", args.scale, "--root", str(root), "--device", args.device,
                 "--pong-data", str(setup.pong), "--page", str(args.page), "--child",
                 *(["--only", args.only] if args.only else [])]
        launch = launcher(Path(__file__), child, root, max(1, cpus // lanes))
        code = schedule(resumed_first(todo), lanes, launch, finished, done)
        if code:
            raise SystemExit(f"error: a stage failed (exit {code}; its log is in "
                             f"{root / 'logs'}); fix the cause and run the same command again: "
                             "finished stages are kept")
    from results_page import write_page

    write_page(root, args.page, scale=args.scale)
    print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
