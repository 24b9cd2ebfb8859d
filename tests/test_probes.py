"""The probe suite: bad inputs and faults a user (or an attacker) tries, each of which must end
with exit status 2 and exactly one line on stderr, `error: ...`, naming the problem; no
traceback, no hang, and no file the user had changed (sha256 of every file before and after).
docs/reliability.md lists every probe with its message.

Each probe runs `canvasmar.cli.main` in this process (fast; an uncaught exception fails the
probe as a traceback would), under an alarm so that a hang fails instead of blocking CI.
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import dataclass

import pytest

from canvasmar.cli import main
from tests.probe_world import RUN_OVERRIDES, make_world, snapshot

TIMEOUT_S = 60


@dataclass(frozen=True)
class Probe:
    name: str
    argv: str  # split on spaces after {placeholders} are filled in from the world
    message: str  # must appear in the error line


SAMPLE = "sample --checkpoint {run} --frames 2 --flow-steps 2 --steps 1 --no-progress"
EVAL = ("eval --checkpoint {run} --num-videos 2 --samples 1 --no-progress "
        "--protocol builtin-quick sample.flow_steps=2")
TRAIN = "train tiny --no-progress " + " ".join(RUN_OVERRIDES)

PROBES = [
    # ---- files the user had: never overwritten, never destroyed
    Probe("sample onto an existing video", SAMPLE + " --out {root}/earlier.mp4",
          "earlier.mp4 already exists"),
    Probe("sample whose PNG would replace one", SAMPLE + " --out {root}/results.mp4",
          "results.png already exists"),
    Probe("sample over its own input video", SAMPLE + " --video {video} --out {video} --force",
          "also an input"),
    Probe("sample over its input through ..", SAMPLE + " --video {video} --force "
          "--out {root}/notes/../clip.mp4", "also an input"),
    Probe("eval onto an existing JSON", EVAL + " --out {root}/earlier.json", "already exists"),
    Probe("eval whose PNG would replace one", EVAL + " --out {root}/results.json",
          "results.png already exists"),
    Probe("bench onto existing results", "bench --checkpoint {run} --out {root}/earlier "
          "--batches 1 --sweep-steps 1 --frames 1 --rollout 2", "already exists"),
    Probe("train into a folder of the user's files", TRAIN + " --out {root}/notes",
          "preview.png already exists and"),
    Probe("train --force over a folder that holds no run", TRAIN + " --out {root}/notes "
          "--force", "preview.png already exists and"),
    Probe("data inspect onto an existing sheet", "data inspect {data} --sheet "
          "{root}/earlier.png", "already exists"),
    # ---- silent wrong results, now refused
    Probe("sample with NaN guidance", SAMPLE + " --out {root}/n.mp4 --cfg-canvas nan",
          "cfg_canvas"),
    Probe("sample with infinite guidance", SAMPLE + " --out {root}/n.mp4 --cfg-temporal inf",
          "cfg_temporal"),
    Probe("sample with negative head temperature", SAMPLE + " --out {root}/n.mp4 "
          "--head-temperature -1", "head_temperature"),
    Probe("sample with frame noise above 1", SAMPLE + " --out {root}/n.mp4 "
          "sample.frame_noise=1.5", "frame_noise"),
    Probe("sample with zero flow steps", SAMPLE + " --out {root}/n.mp4 --flow-steps 0",
          "flow_steps"),
    Probe("sample with zero MAR steps", SAMPLE + " --out {root}/n.mp4 --steps 0", "steps"),
    Probe("sample with a negative window", SAMPLE + " --out {root}/n.mp4 sample.window=-1",
          "window"),
    Probe("sample with zero confidence temperature", SAMPLE + " --out {root}/n.mp4 "
          "sample.temperature=-2", "temperature"),
    Probe("eval with negative batch size", EVAL + " --out {root}/e.json --batch-size -3",
          "--batch-size"),
    Probe("eval with zero batch size", EVAL + " --out {root}/e.json --batch-size 0",
          "--batch-size"),
    Probe("train with betas outside [0, 1)", TRAIN + " --out {root}/t train.betas=[0.9,1.5]",
          "train.betas"),
    Probe("train with a negative learning rate", TRAIN + " --out {root}/t train.lr=-1",
          "train.lr"),
    Probe("train with negative warm-up", TRAIN + " --out {root}/t train.warmup_steps=-5",
          "train.warmup_steps"),
    Probe("train with stride 0", TRAIN + " --out {root}/t data.stride=0", "data.stride"),
    Probe("train with an empty YAML", "train {root}/empty.yaml --out {root}/t", "is empty"),
    Probe("train with NaN weight decay", TRAIN + " --out {root}/t train.weight_decay=.nan",
          "train.weight_decay"),
    Probe("train with negative gradient clip", TRAIN + " --out {root}/t train.grad_clip=-1",
          "train.grad_clip"),
    Probe("train with a val share of 1", TRAIN + " --out {root}/t data.val_fraction=1",
          "data.val_fraction"),
    Probe("train with loss weights below 0", TRAIN + " --out {root}/t loss.canvas_weight=-1",
          "loss.canvas_weight"),
    Probe("train with a mask ratio above 1", TRAIN + " --out {root}/t loss.mask_ratio_min=2",
          "loss.mask_ratio_min"),
    Probe("train with noise ranges reversed", TRAIN + " --out {root}/t "
          "loss.frame_noise_min=0.7", "loss.frame_noise_min"),
    Probe("train with zero workers below 0", TRAIN + " --out {root}/t data.num_workers=-1",
          "data.num_workers"),
    Probe("train with min_lr_ratio above 1", TRAIN + " --out {root}/t train.min_lr_ratio=2",
          "train.min_lr_ratio"),
    # ---- config files and overrides
    Probe("train with a YAML list", "train {root}/list.yaml --out {root}/t",
          "must hold a mapping"),
    Probe("train with broken YAML", "train {root}/broken.yaml --out {root}/t",
          "is not valid YAML"),
    Probe("train with an unknown key", TRAIN + " --out {root}/t train.stepz=3",
          "did you mean train.steps"),
    Probe("train with a wrong type", TRAIN + " --out {root}/t train.steps=many",
          "train.steps expects a int"),
    Probe("train with a section as a value", TRAIN + " --out {root}/t train=3", "is a section"),
    Probe("train with an override without =", TRAIN + " --out {root}/t train.steps",
          "unrecognized arguments"),
    Probe("info of an unknown preset", "info nosuchpreset", "neither a preset"),
    Probe("info with an indivisible resolution", "info tiny data.resolution=30",
          "not divisible"),
    Probe("info with odd head size", "info tiny model.dim=36 model.heads=4",
          "heads of even size"),
    # ---- data
    Probe("train on a missing folder", TRAIN + " --out {root}/t --data {root}/nowhere",
          "nowhere"),
    Probe("train on a folder without videos", TRAIN + " --out {root}/t --data {empty_data}",
          "holds no videos"),
    Probe("data inspect of a missing folder", "data inspect {root}/nowhere", "is not a folder"),
    Probe("data inspect of a file", "data inspect {video}", "is not a folder"),
    # ---- checkpoints
    Probe("sample from a missing checkpoint", "sample --checkpoint {root}/nothing --out "
          "{root}/n.mp4", "does not exist"),
    Probe("sample from a folder without a checkpoint", "sample --checkpoint {empty_data} "
          "--out {root}/n.mp4", "holds no checkpoint"),
    Probe("sample from weights of another config", "sample --checkpoint {root}/mismatch "
          "--out {root}/n.mp4", "does not match its config.json"),
    Probe("sample from a corrupt config.json", "sample --checkpoint {root}/corrupt "
          "--out {root}/n.mp4", "is corrupt"),
    Probe("sample from truncated weights", "sample --checkpoint {root}/truncated "
          "--out {root}/n.mp4", "corrupt or truncated"),
    # ---- sample inputs
    Probe("sample from a missing video", SAMPLE + " --out {root}/n.mp4 --video {root}/no.mp4",
          "does not exist"),
    Probe("sample from a file that is not a video", SAMPLE + " --out {root}/n.mp4 "
          "--video {data}/junk.mp4", "cannot be decoded"),
    Probe("sample from a pipe", SAMPLE + " --out {root}/n.mp4 --video {data}/pipe.mp4",
          "not a regular file"),
    Probe("sample into a .txt", SAMPLE + " --out {root}/n.txt", "ending in .mp4"),
    Probe("sample with zero frames", SAMPLE + " --out {root}/n.mp4 --frames 0",
          "--frames must be at least 1"),
    Probe("sample past the built-in clips", SAMPLE + " --out {root}/n.mp4 --clip 100000",
          "runs past it"),
    Probe("sample changing the model", SAMPLE + " --out {root}/n.mp4 model.dim=8",
          "only sample.KEY=VALUE"),
    Probe("sample with an unknown order", SAMPLE + " --out {root}/n.mp4 --order zigzag",
          "invalid choice"),
    Probe("sample on a missing CUDA device", SAMPLE + " --out {root}/n.mp4 --device cuda",
          "CUDA"),
    Probe("sample on an unknown device", SAMPLE + " --out {root}/n.mp4 --device tpu9",
          "device"),
    # ---- eval and bench inputs
    Probe("eval with an unknown metric", EVAL + " --out {root}/e.json --metrics mse,lpips",
          "unknown metrics"),
    Probe("eval with an unknown protocol", EVAL + " --out {root}/e.json --protocol nope",
          "unknown protocol"),
    Probe("eval with a bad sweep", EVAL + " --out {root}/e.json --sweep-steps 1,x",
          "comma-separated"),
    Probe("eval with a zero sweep", EVAL + " --out {root}/e.json --sweep-steps 0,1",
          "at least 1"),
    Probe("eval FVD without I3D weights", EVAL + " --out {root}/e.json --metrics fvd",
          "needs --i3d"),
    Probe("eval of a benchmark without data", EVAL + " --out {root}/e.json --protocol bair",
          "--data-root DIR"),
    Probe("eval on a missing CUDA device", EVAL + " --out {root}/e.json --device cuda",
          "CUDA"),
    Probe("eval with zero videos", EVAL + " --out {root}/e.json --num-videos 0",
          "at least 1"),
    Probe("bench with zero batches", "bench --checkpoint {run} --out {root}/b --batches 0",
          "--batches"),
    Probe("bench with a bad batch list", "bench --checkpoint {run} --out {root}/b "
          "--batches 1,a", "comma-separated"),
    Probe("bench on a missing CUDA device", "bench --checkpoint {run} --out {root}/b "
          "--device cuda", "CUDA"),
    # ---- VAE commands
    Probe("vae train of an unknown preset", "vae train nope --out {root}/v",
          "neither a preset"),
    Probe("vae train with an odd frame count", "vae train vae-tiny --out {root}/v "
          "model.temporal=2 data.frames=4", "1 + k*2 frames"),
    Probe("vae eval of a missing folder", "vae eval --vae {root}/novae", "does not exist"),
    Probe("vae cache of a pixel config", "vae cache tiny --out {root}/cache",
          "tokenizer.kind"),
]


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer after {TIMEOUT_S} s")


def broken_checkpoints(world: dict) -> None:
    """Copies of the world's checkpoint broken the ways users break them."""
    root, step = world["root"], world["run"] / "checkpoints" / "step_00000001"
    for name in ("mismatch", "corrupt", "truncated"):
        shutil.copytree(step, root / name)
    cfg = json.loads((root / "mismatch" / "config.json").read_text())
    cfg["model"]["flow_width"] = 48  # weights of another shape than the config builds
    (root / "mismatch" / "config.json").write_text(json.dumps(cfg))
    (root / "corrupt" / "config.json").write_text("{not json")
    weights = root / "truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    paths = make_world(tmp_path_factory.mktemp("probes"))
    broken_checkpoints(paths)
    return paths


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe(probe, world, capsys):
    argv = probe.argv.format(**{k: str(v) for k, v in world.items()}).split()
    before = snapshot(world["root"])
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, f"exit status {status}; stderr:\n{err}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not one error line:\n{err}"
    assert probe.message in lines[0], f"'{probe.message}' not in: {lines[0]}"
    after = snapshot(world["root"])
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"user files changed: {changed}"


def test_there_are_at_least_60_probes():
    assert len(PROBES) >= 60 and len({p.name for p in PROBES}) == len(PROBES)
