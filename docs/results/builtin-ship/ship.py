"""Session 14: write checkpoints/builtin from a run's EMA weights with the sampling settings
chosen on val (head temperature 0.5, keep_unchanged 0.1: docs/quality.md), fp32 (12 MB).
python ship.py RUN_OR_CHECKPOINT [OUT]; the card (README.md) is written by hand afterwards."""
import dataclasses
import sys

import canvasmar

src, out = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "checkpoints/builtin")
pipe = canvasmar.load_pipeline(src)
sample = dataclasses.replace(pipe.cfg.sample, head_temperature=0.5, keep_unchanged=0.1, steps=4)
pipe.cfg = dataclasses.replace(pipe.cfg, sample=sample)
pipe.save_pretrained(out)
print("wrote", out)
