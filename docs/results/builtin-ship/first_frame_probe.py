"""Session 14: the first predicted frame from 2 context frames on 64 val clips (token MSE on all
and on moving tokens): the sampler's canvas against the training path's teacher-forced one, and
samples at several settings. python first_frame_probe.py (checkpoint: runs/builtin-motion-rerun)."""
import dataclasses, torch
from canvasmar.pipeline import load_pipeline
from canvasmar.data import build_dataset
pipe = load_pipeline("runs/builtin-motion-rerun")
m = pipe.model
data = build_dataset(dataclasses.replace(pipe.cfg.data, frames=3), "val", seed=0)
clips = torch.stack([data[i] for i in range(64)])
with torch.no_grad():
    lat = pipe.tokenizer.encode(clips)
    z = m.temporal_embeddings(lat[:, :2])[:, 2]
    prev = m.to_tokens(lat[:, 1])
    cv = m.predict_canvas(z, prev, prev)
    samp = pipe(clips[:, :2], 1, canvas_only=True, frame_noise=0.0)[:, 0]
    tgt_tok = m.to_tokens(lat[:, 2])
    samp_tok = m.to_tokens(pipe.tokenizer.encode(samp[:, None])[:, 0])
print("teacher-forced canvas token MSE", (cv.tokens - tgt_tok).pow(2).mean().item())
print("sampler canvas token MSE       ", (samp_tok - tgt_tok).pow(2).mean().item())
print("copy-last token MSE            ", (prev - tgt_tok).pow(2).mean().item())
print("tf vs sampler                  ", (samp_tok - cv.tokens).pow(2).mean().item())
for kw in [dict(head_temperature=0.0), dict(head_temperature=0.5), dict(head_temperature=0.5, keep_unchanged=0.1), dict(head_temperature=1.0), dict(head_temperature=0.5, steps=1), dict(head_temperature=0.5, steps=16)]:
    with torch.no_grad():
        s = pipe(clips[:, :2], 1, generator=torch.Generator().manual_seed(0), **kw)[:, 0]
        st = m.to_tokens(pipe.tokenizer.encode(s[:, None])[:, 0])
    mov = (prev - tgt_tok).pow(2).mean(-1) > 1e-3
    e = (st - tgt_tok).pow(2).mean(-1)
    print(kw, "MSE", round(e.mean().item(), 5), "moving", round(e[mov].mean().item(), 5),
          "copy moving", round((prev - tgt_tok).pow(2).mean(-1)[mov].mean().item(), 5),
          "canvas moving", round((cv.tokens - tgt_tok).pow(2).mean(-1)[mov].mean().item(), 5))
