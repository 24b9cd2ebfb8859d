"""nn.attention.KVCache (issue 14, sampling on GPUs): keys kept in buffers written in place
hold exactly what growing by concatenation held (the windowed trim with a pinned prefix
included), a step allocates nothing once the buffer exists, and `store=False` answers
without keeping."""

from __future__ import annotations

import pytest
import torch

from canvasmar.nn.attention import KVCache


def _concatenated(chunks: list[torch.Tensor], max_tokens: int | None, prefix: int
                  ) -> torch.Tensor:
    """What the cache held when it grew by torch.cat (the code before session 29)."""
    held = None
    for x in chunks:
        held = x if held is None else torch.cat([held, x], dim=2)
        if max_tokens is not None and held.shape[2] > max_tokens:
            held = torch.cat([held[:, :, :prefix], held[:, :, -(max_tokens - prefix):]], dim=2)
    return held


@pytest.mark.parametrize("max_tokens,prefix", [(None, 0), (12, 0), (12, 4), (9, 3)])
def test_the_cache_holds_what_concatenation_held(max_tokens, prefix):
    g = torch.Generator().manual_seed(0)
    sizes = [4, 3, 3, 6, 3, 3, 3, 6, 3, 3]  # a prefill, frames, groups
    if max_tokens is not None:
        sizes = [min(s, max_tokens - prefix) for s in sizes]
    keys = [torch.randn(2, 2, s, 5, generator=g) for s in sizes]
    values = [torch.randn(2, 2, s, 5, generator=g) for s in sizes]
    cache = KVCache(max_tokens, keep_prefix=prefix)
    for i in range(len(sizes)):
        k, v = cache.append(keys[i], values[i])
        assert torch.equal(k, _concatenated(keys[:i + 1], max_tokens, prefix))
        assert torch.equal(v, _concatenated(values[:i + 1], max_tokens, prefix))
        assert len(cache) == k.shape[2]


def test_a_step_writes_in_place_and_store_false_keeps_nothing():
    cache = KVCache(12, keep_prefix=3)
    cache.append(torch.randn(1, 2, 9, 4), torch.randn(1, 2, 9, 4))
    storage = cache.k.untyped_storage().data_ptr()
    for _ in range(5):  # past the window: it slides in the same buffer
        cache.append(torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4))
        assert cache.k.untyped_storage().data_ptr() == storage and len(cache) == 12
    before_k, before_v = cache.k.clone(), cache.v.clone()
    cache.store = False
    new = torch.randn(1, 2, 3, 4)
    k, _ = cache.append(new, new)
    assert torch.equal(k, torch.cat([before_k[:, :, :3], before_k[:, :, 6:], new], dim=2))
    assert torch.equal(cache.k, before_k) and torch.equal(cache.v, before_v)


def test_an_unbounded_cache_grows_by_doubling():
    cache = KVCache()
    pointers = set()
    for _ in range(64):
        cache.append(torch.randn(1, 1, 3, 2), torch.randn(1, 1, 3, 2))
        pointers.add(cache.k.untyped_storage().data_ptr())
    assert len(cache) == 192 and len(pointers) <= 5  # 16, 24*2, ... not one per step
