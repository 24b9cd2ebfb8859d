"""Shared tiny configs for fast CPU tests."""

from __future__ import annotations

import pytest
import torch

from canvasmar.config import load_config
from tests.metric_fixtures import save_stand_in_i3d


def micro_overrides() -> list[str]:
    """A model small enough that a forward+backward takes milliseconds."""
    return ["model.dim=32", "model.heads=2", "model.temporal_layers=2", "model.canvas_layers=1",
            "model.spatial_layers=2", "model.flow_width=32", "model.flow_layers=2",
            "data.resolution=16", "data.frames=4", "tokenizer.patch=2"]


@pytest.fixture
def micro_cfg():
    return load_config("tiny", micro_overrides())


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """A fresh dataset cache per test, and "reported once" notes reported again (they are
    once per process)."""
    from canvasmar.data import report

    monkeypatch.setenv("CANVASMAR_CACHE", str(tmp_path / "cache"))
    report._reported.clear()


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


@pytest.fixture
def detector_path(tmp_path):
    """A stand-in I3D TorchScript file with StyleGAN-V's calling convention."""
    return save_stand_in_i3d(tmp_path / "i3d_torchscript.pt")


@pytest.fixture
def micro_pipe(micro_cfg):
    """A sampling pipeline around an untrained micro model with perturbed weights."""
    from canvasmar.models.factory import build_model
    from canvasmar.pipeline import Pipeline

    torch.manual_seed(0)
    model, tok = build_model(micro_cfg)
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * 0.05)
    return Pipeline(model, tok, micro_cfg)
