"""Session 17: Pong test rollouts, real frames against models: 16 frames from 2 context frames
given the recorded actions, head temperature 0.5, keep_unchanged 0.1 (the shipped settings),
seed 0, on the 4 test clips (of 64 spread over the episodes) with the most motion.
python rollout_pic.py OUT.png NAME=CKPT [NAME=CKPT ...]   (from the repository root)"""
import sys

import torch

sys.path.insert(0, "docs/results")

from canvasmar.data.folder import folder_dataset
from canvasmar.pipeline import load_pipeline
from frame_grid import save_grid  # noqa: E402


data = folder_dataset("data/pong", "test", frames=18, resolution=64, stride=1, actions=6)
step = max(len(data) // 64, 1)
items = [data[i * step] for i in range(64)]
motion = torch.tensor([(c[1:] - c[:-1]).abs().mean() for c, _ in items])
chosen = motion.topk(4).indices.tolist()
show = [0, 1, 2, 3, 5, 7, 11, 15]
rows, labels = [], []
models = [(a.split("=", 1)[0], load_pipeline(a.split("=", 1)[1])) for a in sys.argv[2:]]
for i in chosen:
    clip, actions = items[i]
    rows.append(clip[2:18][show]); labels.append(f"clip {i}: real")
    for name, pipe in models:
        with torch.no_grad():
            pred = pipe(clip[None, :2], 16, actions=actions[1:17], context_actions=actions[:1],
                        generator=torch.Generator().manual_seed(0), head_temperature=0.5,
                        keep_unchanged=0.1)[0]
        rows.append(pred[show]); labels.append(name)
save_grid(rows, labels, show, sys.argv[1], 1.2)
print("clips", chosen)
