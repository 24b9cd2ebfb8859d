"""scripts/activation_memory.py: what backward keeps, counted on the meta device, equals what a
real CPU forward keeps (same hooks), and names the attention probabilities apart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import micro_overrides

SCRIPT = Path(__file__).parents[1] / "scripts" / "activation_memory.py"


def _script():
    spec = importlib.util.spec_from_file_location("activation_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_meta_count_equals_a_real_forward_and_grows_with_the_head_repeat():
    script = _script()
    meta = script.saved_bytes("tiny", micro_overrides(), depth=1)
    assert meta["spatial"] > 0 and meta["head"] > 0 and "spatial [attention probs]" in meta
    # the same count on real CPU tensors (the script's numbers are what a forward keeps),
    # except inside attention, where each kernel keeps its own: math (meta) the (L, L)
    # probabilities, the CPU's flash kernel its output and log-sum-exp
    fine = script.saved_bytes("tiny", micro_overrides(), depth=4)
    real = script.saved_bytes("tiny", micro_overrides(), depth=4, device="cpu")
    outside = {k for k in fine | real if ".attn" not in k}
    assert len(outside) > 20 and all(fine[k] == real[k] for k in outside)
    assert not any("probs" in k for k in real)
    more = script.saved_bytes("tiny", [*micro_overrides(), "loss.head_repeat=8"], depth=1)
    assert more["head"] > 1.9 * meta["head"] and more["spatial"] == meta["spatial"]
