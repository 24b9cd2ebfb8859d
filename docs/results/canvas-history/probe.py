"""Session 30 probe: does a rollout keep moving if the Temporal ViT reads the canvas-only
rollout (which keeps moving, blurred) instead of the model's own sharp frames (which stop
moving after ~3 frames)? Each sharp frame is drawn by the usual MAR steps from the previous
sharp frame, conditioned on z_t of the canvas track; the canvas track advances on its own.
Built-in val clips, 16 frames from 2 context frames, the checkpoint's sampling settings, one
sample each, seed 0. Prints MSE, PSNR and motion per variant; writes a picture.
    python docs/results/canvas-history/probe.py CHECKPOINT OUT.png [CLIPS]"""
import dataclasses
import sys

import torch

sys.path.insert(0, "docs/results")

from canvasmar.data import build_dataset  # noqa: E402
from canvasmar.pipeline import load_pipeline  # noqa: E402
from canvasmar.sampler import canvas_group, generate_group, group_latents  # noqa: E402
from canvasmar.temporal_state import TemporalState  # noqa: E402
from frame_grid import save_grid  # noqa: E402


@torch.no_grad()
def rollout(pipe, context, frames, history, g):
    """Latent frames (B, frames, C, h, w): history 'own' (the paper) or 'canvas'."""
    model, opts = pipe.model, pipe.options()
    state = TemporalState(model, context, opts)
    sharp_prev, out = context[:, -1], []
    for _ in range(frames):
        z_t, _ = state.condition()
        sharp = generate_group(model, z_t, model.to_tokens(sharp_prev), opts, g)
        sharp_prev = sharp[-1].latent
        out.append(sharp_prev)
        if history == "own":
            state.push(group_latents(sharp), None, g)
        else:
            canvas = canvas_group(model, z_t, model.to_tokens(state.last), opts, g)
            state.push(group_latents(canvas), None, g)
    return torch.stack(out, 1)


def motion(video, real):  # mean |frame change| over the real one's, per predicted frame
    d = lambda v: (v[:, 1:] - v[:, :-1]).abs().mean((0, 2, 3, 4))  # noqa: E731
    return d(video) / d(real)


def main(ckpt, out_png, clips=32):
    pipe = load_pipeline(ckpt)
    data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=18), "val", seed=0)
    videos = torch.stack([data[i] for i in range(int(clips))])  # (N, 18, 3, H, W)
    ctx_lat = pipe.tokenizer.encode(videos[:, :2])
    real = videos[:, 1:]  # last context frame + 16 targets
    results = {}
    for history in ("own", "canvas"):
        lat = rollout(pipe, ctx_lat, 16, history, torch.Generator().manual_seed(0))
        pred = pipe.tokenizer.decode(lat).clamp(0, 1)
        mse = (pred - videos[:, 2:]).pow(2).mean((2, 3, 4))  # (N, 16)
        psnr = (10 * torch.log10(1 / mse)).mean()
        mo = motion(torch.cat([videos[:, 1:2], pred], 1), real)
        results[history] = pred
        print(f"history={history}: MSE {mse.mean():.5f} PSNR {psnr:.2f} motion "
              f"{mo.mean():.3f} per frame " + " ".join(f"{x:.2f}" for x in mo[:8]), flush=True)
    copy = (videos[:, 1:2] - videos[:, 2:]).pow(2).mean((2, 3, 4))
    print(f"copy-last: MSE {copy.mean():.5f} PSNR {(10 * torch.log10(1 / copy)).mean():.2f}")
    show = [0, 1, 2, 3, 5, 7, 11, 15]
    rows, labels = [], []
    for i in range(4):
        rows.append(videos[i, 2:][show]); labels.append(f"val {i}: real")
        for h, pred in results.items():
            rows.append(pred[i][show]); labels.append(f"history {h}")
    save_grid(rows, labels, show, out_png, 1.1)


if __name__ == "__main__":
    main(*sys.argv[1:])
