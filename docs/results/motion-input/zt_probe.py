import sys, torch
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
pipe = load_pipeline(sys.argv[1]); m = pipe.model.eval()
data = build_dataset(pipe.cfg.data, "val", seed=0)
videos = torch.stack([data[i] for i in range(32)])
with torch.no_grad():
    lat = pipe.tokenizer.encode(videos); hist = lat[:, :-1]
    acts = m.null_actions(len(lat), hist.shape[1]) if m.has_actions else None
    z = m.temporal_embeddings(hist, actions=acts)[:, -1]
    other = lat.roll(1, 0)[:, :-1]
    for j in range(1, hist.shape[1] + 1):
        h = hist.clone(); h[:, -j] = other[:, -j]
        z2 = m.temporal_embeddings(h, actions=acts)[:, -1]
        print(f"replace history frame -{j}: rel change of z_t", float((z2 - z).norm() / z.norm()))
    # canvas sensitivity to z_t: replace z_t with another clip's
    prev = m.to_tokens(lat[:, -2])
    c = m.predict_canvas(z, prev, prev).tokens
    c2 = m.predict_canvas(z.roll(1, 0), prev, prev).tokens
    c3 = m.predict_canvas(z, prev.roll(1, 0), prev).tokens
    print("canvas change from other clip's z_t:", float((c2 - c).pow(2).mean()),
          " from other prev tokens:", float((c3 - c).pow(2).mean()))
