"""scripts/checkpoint_shards.py: weights carried across GPU windows as <= 15 MiB shards."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("checkpoint_shards",
                                               ROOT / "scripts" / "checkpoint_shards.py")
shards = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shards)


def _run(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    ckpt = tmp_path / "run" / "checkpoints" / "step_00000002"
    ckpt.mkdir(parents=True)
    (tmp_path / "run" / "latest").write_text("step_00000002\n")
    (ckpt / "config.json").write_text('{"format_version": 2}')
    g = torch.Generator().manual_seed(0)
    ema = {f"w{i}": torch.randn(300, 100, generator=g) for i in range(5)}
    ema["steps"] = torch.arange(3)  # integers stay integers
    save_file(ema, ckpt / "ema.safetensors")
    save_file({k: v * 0 for k, v in ema.items()}, ckpt / "model.safetensors")
    return tmp_path / "run", ema


def test_export_then_join_gives_the_ema_weights_in_fp16(tmp_path, monkeypatch):
    run, ema = _run(tmp_path)
    monkeypatch.setattr(shards, "SHARD_BYTES", 100_000)  # 60 KB a tensor: several shards
    shards.export(run, tmp_path / "model", tmp_path / "small")
    parts = sorted((tmp_path / "small").glob("part-*.safetensors"))
    assert len(parts) == 3
    joined = shards.join(tmp_path / "small", tmp_path / "joined")
    for folder in (tmp_path / "model", joined):
        state = load_file(folder / "model.safetensors")
        assert state.keys() == ema.keys() and state["steps"].dtype == torch.int64
        for name, value in ema.items():
            expected = value.half() if value.is_floating_point() else value
            assert torch.equal(state[name], expected)
        assert json.loads((folder / "config.json").read_text()) == {"format_version": 2}
    with pytest.raises(SystemExit, match="error: .* exists"):
        shards.join(tmp_path / "small", joined)
    with pytest.raises(SystemExit, match="error: .* no part"):
        shards.join(tmp_path, tmp_path / "other")


def test_steps_fit_the_window_at_the_settled_speed(tmp_path):
    rows = [{"step": i, "sec_per_step": 5.0 if i < 3 else 0.5} for i in range(9)]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\n{\"val_loss\": 1}\n")
    assert shards.steps_in(metrics, 2.0) == int(2 * 60 * 0.9 / 0.5)
