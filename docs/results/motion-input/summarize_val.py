"""One row per eval JSON: FID, MSE, PSNR, best-of-K PSNR, MSE at predicted frames 1/4/8/16,
canvas-only MSE at the same frames.  python summarize_val.py A.json [B.json ...]"""
import json
import sys

AT = (0, 3, 7, 15)
print("| file | FID | MSE | PSNR | best-of-K PSNR | MSE at 1/4/8/16 | canvas-only MSE at 1/4/8/16 |")
print("|---|---:|---:|---:|---:|---|---|")
for path in sys.argv[1:]:
    res = json.load(open(path))["results"]
    model = next(v for k, v in res.items() if k.startswith("model"))
    canvas = res["canvas_only"]
    at = " / ".join(f"{model['per_frame']['mse'][i]:.5f}" for i in AT)
    cat = " / ".join(f"{canvas['per_frame']['mse'][i]:.5f}" for i in AT)
    print(f"| {path.split('/')[-1]} | {model.get('fid', float('nan')):.1f} | {model['mse']:.6f} | "
          f"{model['psnr']:.2f} | {model['psnr_best_of_k']:.2f} | {at} | {cat} |")
