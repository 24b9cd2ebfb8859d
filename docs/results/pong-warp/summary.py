"""Session 17: one line per evaluated Pong model from evaluate.sh's files. python summary.py NAME..."""
import json
import sys

for name in sys.argv[1:]:
    base = f"docs/results/pong-warp/{name}"
    d = json.load(open(f"{base}-diagnose.json"))["diagnostics"]
    r = json.load(open(f"{base}-val.json"))["results"]
    v = next(r[k] for k in r if k.startswith("model"))
    s = json.load(open(f"{base}-sensitivity.json"))
    print(f"{name}: warp gain {d.get('warp_moving_gain', float('nan')):.3f} canvas gain "
          f"{d['canvas_moving_gain']:.3f} swap {d['swap_mse']:.1e} | val MSE {v['mse']:.6f} "
          f"best-of-2 PSNR {v['psnr_best_of_k']:.2f} FID {v.get('fid', float('nan')):.1f} "
          f"motion {v.get('motion', float('nan')):.3f} | paddle dy model {s['model_dy_mean']:.1f} "
          f"real {s['real_dy_mean']:.1f} ({s['valid_starts']} starts) same direction "
          f"{s['same_direction']:.2f} gap in/out {s['gap_inside_mean']:.4f}/{s['gap_outside_mean']:.4f}")
