"""Shared tiny configs for fast CPU tests."""

from __future__ import annotations

import pytest
import torch

from canvasmar.config import load_config


def micro_overrides() -> list[str]:
    """A model small enough that a forward+backward takes milliseconds."""
    return ["model.dim=32", "model.heads=2", "model.temporal_layers=2", "model.canvas_layers=1",
            "model.spatial_layers=2", "model.flow_width=32", "model.flow_layers=2",
            "data.resolution=16", "data.frames=4", "tokenizer.patch=2"]


@pytest.fixture
def micro_cfg():
    return load_config("tiny", micro_overrides())


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def one_thread():
    """Tiny matrices: extra BLAS/OpenMP threads only add synchronisation, which costs seconds
    (not milliseconds) per eigendecomposition when the cores are busy elsewhere."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
