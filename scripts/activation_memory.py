"""What the training step keeps for backward, per part of the network, without running it.

The network is built on the `meta` device (no memory, no compute) and one clip's training
objective runs forward in its GPU form (static shapes, `mar_losses.mar_loss`), under
`torch.autograd.graph.saved_tensors_hooks`: every tensor autograd saves for backward is
counted once (by storage) and charged to the innermost module running when it was saved. So
any preset, bair and bigger included, is measured on our CPU in a second.

What it cannot see: the attention kernel's own choice. On `meta` SDPA saves what the math
path saves (the (L, L) probabilities); a GPU's flash / memory-efficient kernel saves only its
output and a log-sum-exp per query. The probabilities are therefore listed on their own line.
Everything outside attention is exactly what a real forward keeps (tests/test_activation_
memory.py runs both). A storage is charged once however many views of it are saved, the
weights not at all (they are there anyway). The default dtype is the model's (fp32); `--bf16`
halves every floating tensor saved, a lower bound (autocast keeps norms and their inputs, the
residual streams, in fp32). `--autocast` emulates a GPU's bf16 autocast and flash attention
(`GpuAutocast`), the figure to hold against a GPU: bair's plain count, 7.7 GiB per clip, is
what an H200 showed (~7.9 GiB per clip at batch 8); autocast's bf16 weight copies are listed
apart (once per step). The step counted is the default one, with nn/recompute.py's selective
recomputation; `--plain` counts plain autograd (every activation kept, as before it).

    python scripts/activation_memory.py bair            # per 16-frame clip, GiB by module
    python scripts/activation_memory.py bair --autocast          # as a GPU keeps it
    python scripts/activation_memory.py bair --autocast --plain  # without nn/recompute.py
    python scripts/activation_memory.py tiny --bf16 loss.head_repeat=1
"""

from __future__ import annotations

import argparse
import contextlib
from collections import defaultdict

import torch
import torch.nn.functional as F
import torch.utils._pytree as pytree
from torch import nn
from torch.overrides import TorchFunctionMode

from canvasmar.config import load_config
from canvasmar.losses import TrainingObjective, draw_randomness
from canvasmar.models.factory import build_model
from canvasmar.nn import recompute

WEIGHTS = "(bf16 weight copies: once per step)"
PROBS = " [attention probs]"


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


class _FlashSaves(torch.autograd.Function):
    """SDPA keeping what a GPU's flash / memory-efficient kernel keeps: q, k, v, its output
    (laid out (B, L, heads, d), so the output projection's input is a view of it) and a
    log-sum-exp per query. Counting only: its backward never runs."""

    @staticmethod
    def forward(ctx, q, k, v, mask):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out = out.transpose(1, 2).contiguous().transpose(1, 2)
        ctx.save_for_backward(q, k, v, out, q.new_empty(q.shape[:-1], dtype=torch.float32))
        return out

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("counting only")


class GpuAutocast(TorchFunctionMode):
    """A GPU's bf16 autocast emulated on any device (`meta` has no autocast): linears and
    matmuls take bf16 inputs, norms, softmax and losses fp32 ones, everything else the dtypes
    it is given; attention in bf16 keeps what a flash kernel keeps (`_FlashSaves`). Casts are
    kept alive (autocast caches its weight casts); those of `params` are named in `copies`."""

    LOW = {F.linear, F.scaled_dot_product_attention, torch.matmul, torch.Tensor.__matmul__,
           torch.mm, torch.bmm, torch.addmm, torch.baddbmm}
    FP32 = {F.layer_norm, F.group_norm, F.softmax, torch.softmax, F.log_softmax, F.mse_loss,
            torch.exp, torch.log, torch.pow, torch.Tensor.pow}

    def __init__(self, params: set[int]) -> None:
        super().__init__()
        self.params, self.copies, self.casts = params, set(), []

    def _cast(self, t, dtype: torch.dtype):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dtype == dtype:
            return t
        out = t.to(dtype)
        self.casts.append(out)
        if id(t.untyped_storage()) in self.params:
            self.copies.add(id(out.untyped_storage()))
        return out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        dtype = torch.bfloat16 if func in self.LOW else torch.float32 if func in self.FP32 \
            else None
        if dtype is not None:
            args, kwargs = pytree.tree_map(lambda t: self._cast(t, dtype), (args, kwargs))
        if func is F.scaled_dot_product_attention:
            return _FlashSaves.apply(*args[:3], kwargs.get("attn_mask"))
        return func(*args, **kwargs)


def saved_bytes(config: str, overrides: list[str], depth: int, device: str = "meta",
                autocast: bool = False) -> dict[str, float]:
    """Bytes saved for backward per module (names cut to `depth` parts), one clip; `device`
    "cpu" runs it for real (the tests compare the two); `autocast`: under `GpuAutocast`."""
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
    # a storage is charged once, whichever views of it are saved (chunks at other offsets
    # included); live storages keep their Python object, so id() names them
    # weights themselves cost nothing more when saved; autocast's bf16 copies of them do
    params = {id(p.untyped_storage()) for p in model.parameters()}
    seen: set[int] = set(params)
    mode = GpuAutocast(params) if autocast else None
    per_module: dict[str, float] = defaultdict(float)

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = id(t.untyped_storage())
        if key not in seen:
            seen.add(key)
            owner = ".".join(stack[-1].split(".")[:depth]) if stack else "(objective)"
            if mode is not None and key in mode.copies:
                owner = WEIGHTS
            elif "attn" in (stack[-1] if stack else "") and t.dim() == 4 and t.shape[-1] == \
                    t.shape[-2]:
                owner += PROBS
            per_module[owner] += t.untyped_storage().nbytes()
        return t

    with (torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
          mode or contextlib.nullcontext()):
        TrainingObjective(model, cfg.loss, static_shapes=True)(latents, rnd)
    return dict(per_module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--depth", type=int, default=1, help="module name parts to group by")
    parser.add_argument("--bf16", action="store_true", help="halve every saved tensor")
    parser.add_argument("--autocast", action="store_true",
                        help="bf16 autocast's dtypes and a flash kernel, as on a GPU (emulated)")
    parser.add_argument("--plain", action="store_true",
                        help="plain autograd, without nn/recompute.py's selective recompute")
    args = parser.parse_intermixed_args()
    with recompute.plain_autograd() if args.plain else contextlib.nullcontext():
        per_module = saved_bytes(args.config, args.overrides, args.depth,
                                 autocast=args.autocast)
    scale = 0.5 if args.bf16 else 1.0
    weights = per_module.pop(WEIGHTS, 0.0) * scale
    total = sum(per_module.values()) * scale
    probs = sum(v for k, v in per_module.items() if k.endswith(PROBS)) * scale
    form = "bf16 bound" if args.bf16 else "GPU bf16 autocast" if args.autocast else "fp32"
    parts = [f"{total / 2**30:.2f} GiB saved for backward per clip ({form}"
             f"{', plain autograd' if args.plain else ''})"]
    if probs:
        parts.append(f"{(total - probs) / 2**30:.2f} GiB without the attention probabilities "
                     "(which a flash kernel does not keep)")
    if weights:
        parts.append(f"autocast's bf16 weight copies {weights / 2**30:.2f} GiB once per step")
    print(f"{args.config} {' '.join(args.overrides)}: " + "; ".join(parts))
    for name, size in sorted(per_module.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<40} {size * scale / 2**30:8.3f} GiB  {size / total * scale:6.1%}")


if __name__ == "__main__":
    main()
