"""What the training step keeps for backward, per part of the network, without running it.

The network is built on the `meta` device (no memory, no compute) and one clip's training
objective runs forward in its GPU form (static shapes, `losses.mar_loss`), under
`torch.autograd.graph.saved_tensors_hooks`: every tensor autograd saves for backward is
counted once (by storage) and charged to the innermost module running when it was saved. So
any preset, bair and bigger included, is measured on our CPU in a second.

What it cannot see: the attention kernel's own choice. On `meta` SDPA saves what the math
path saves (the (L, L) probabilities); a GPU's flash / memory-efficient kernel saves only its
output and a log-sum-exp per query. The probabilities are therefore listed on their own line.
Everything outside attention is exactly what a real forward keeps (tests/test_activation_
memory.py runs both). The
default dtype is the model's (fp32); `--bf16` halves every floating tensor saved, an upper
bound of autocast's savings (autocast keeps norms and softmax statistics in fp32).

    python scripts/activation_memory.py bair            # per 16-frame clip, GiB by module
    python scripts/activation_memory.py tiny --bf16 loss.head_repeat=1
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from torch import nn

from canvasmar.config import load_config
from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model


def _module_stack(model: nn.Module) -> list[str]:
    """Keep the names of the modules currently running (forward pre/post hooks)."""
    stack: list[str] = []
    for name, module in model.named_modules():
        if not name:
            continue
        # hooks return None: a value returned by a hook would replace the module's input/output
        module.register_forward_pre_hook(lambda m, a, name=name: stack.append(name) and None)
        module.register_forward_hook(lambda m, a, o: stack.pop() and None)
    return stack


def saved_bytes(config: str, overrides: list[str], depth: int, device: str = "meta"
                ) -> dict[str, float]:
    """Bytes saved for backward per module (names cut to `depth` parts), one clip; `device`
    "cpu" runs it for real (the tests compare the two)."""
    cfg = load_config(config, overrides)
    torch.manual_seed(0)
    with torch.device(device):
        model, _ = build_model(cfg)
    stack = _module_stack(model)
    c, h, w = model.latent_shape
    frames = cfg.data.frames  # pixel tokenizer; a VAE preset would need its latent frames
    latents = torch.randn(1, frames, c, h, w, device=device)
    rnd = draw_randomness(model, 1, frames, cfg.loss, torch.Generator().manual_seed(0))
    rnd = rnd.to(torch.device(device))
    seen: set[tuple[int, int]] = set()
    per_module: dict[str, float] = defaultdict(float)

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = (id(t.untyped_storage()), t.storage_offset())
        if key not in seen:
            seen.add(key)
            owner = ".".join(stack[-1].split(".")[:depth]) if stack else "(objective)"
            if "attn" in (stack[-1] if stack else "") and t.dim() == 4 and t.shape[-1] == \
                    t.shape[-2]:
                owner += " [attention probs]"
            per_module[owner] += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        TrainingObjective(model, cfg.loss, static_shapes=True)(latents, rnd)
    return dict(per_module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--depth", type=int, default=1, help="module name parts to group by")
    parser.add_argument("--bf16", action="store_true", help="halve every saved tensor")
    args = parser.parse_intermixed_args()
    per_module = saved_bytes(args.config, args.overrides, args.depth)
    scale = 0.5 if args.bf16 else 1.0
    total = sum(per_module.values()) * scale
    print(f"{args.config} {' '.join(args.overrides)}: {total / 2**30:.2f} GiB saved for "
          f"backward per clip ({'bf16 bound' if args.bf16 else 'fp32'})")
    for name, size in sorted(per_module.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<40} {size * scale / 2**30:8.3f} GiB  {size / total * scale:6.1%}")


if __name__ == "__main__":
    main()
