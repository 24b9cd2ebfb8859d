"""Rollout rows for built-in test clips: real | canvas alone | head T=1 | T=0.5 + keep 0.1.
python rollout_figure.py OUT.png CKPT [clip ...]  (16 frames from 2 context frames, seed 0)
The drawing is builtin-ship/rollout_settings.py's, with these three settings."""
import runpy
import sys
from pathlib import Path

out, ckpt = sys.argv[1], sys.argv[2]
clips = ",".join(sys.argv[3:]) or "0,1"
sys.argv = ["rollout_settings.py", out, ckpt, clips,
            "canvas alone:canvas_only=True",
            "T=1:head_temperature=1.0,keep_unchanged=0.0",
            "T=0.5, keep 0.1:head_temperature=0.5,keep_unchanged=0.1"]
runpy.run_path(str(Path(__file__).parents[1] / "builtin-ship" / "rollout_settings.py"),
               run_name="__main__")
