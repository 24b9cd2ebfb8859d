"""Evaluation protocols of the paper (App. A), as data.

Every protocol gives `context` frames and scores the next `predict` frames: the real
distribution is the true `predict`-frame segment after the context, the fake one the generated
segment (App. A: "the subsequent 16-frame segment"). FVD needs at least 9 frames (I3D).
FVD depends on all of these numbers, so each result records the protocol it used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Protocol:
    name: str
    context: int  # given frames
    predict: int  # generated frames per sample (the FVD clip length)
    num_videos: int  # test videos (or clips)
    samples: int  # generated samples per context (K)
    resolution: int | None  # evaluation resolution; None = the model's
    debiased: bool = False  # BAIR: also the debiased FVD (MAGVIT)
    dataset: str = "builtin"

    def to_dict(self) -> dict:
        return asdict(self)


PROTOCOLS: dict[str, Protocol] = {
    # BAIR: 256 test videos, first frame given, K samples each (K = 100 for system-level
    # comparison, 20 otherwise), plus the debiased FVD.
    "bair": Protocol("bair", 1, 16, 256, 20, 64, debiased=True, dataset="bair"),
    # UCF-101: 5K random test clips, 1 context frame, one sample each.
    "ucf": Protocol("ucf", 1, 16, 5000, 1, None, dataset="ucf101"),
    # Kinetics-600: 5 context frames, one sample per clip, evaluated at 64x64; 50K clips for
    # system-level numbers, 10K for ablations.
    "k600": Protocol("k600", 5, 16, 50_000, 1, 64, dataset="kinetics600"),
    # The same form on the built-in procedural test split (sized so that the tiny model at
    # steps 1,2,4,8 plus both baselines fits in about an hour on 2 CPU cores), and a quick
    # version of it (1/8 of the clips).
    "builtin": Protocol("builtin", 1, 16, 256, 2, None),
    "builtin-quick": Protocol("builtin-quick", 1, 16, 32, 2, None),
    # Any folder of the user's videos (`--data-root DIR`): its test videos (a `test/` or
    # `val/` subfolder, else the held-out share that `train --data DIR` does not train on),
    # fixed non-overlapping clips from the start of each, in the built-in protocol's form.
    "folder": Protocol("folder", 1, 16, 256, 2, None, dataset="folder"),
    # Next-frame quality: 2 context frames, the first predicted frame only (no FVD).
    "next-frame": Protocol("next-frame", 2, 1, 64, 1, None),
}
