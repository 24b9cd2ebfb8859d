"""Devices and dtypes: pipe.to(device, dtype) in any order, load_pipeline(torch_dtype=),
noise drawn on the generator's device, and misspelt keywords of pipe(...) as UserErrors."""

from __future__ import annotations

import pytest
import torch

from canvasmar.errors import UserError
from canvasmar.pipeline import load_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


def context() -> torch.Tensor:
    return torch.rand(1, 2, 3, 16, 16, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("options", [
    {},
    {"cfg_canvas": 1.5, "cfg_temporal": 1.2, "use_kv_cache": False},
    {"order": "random", "canvas_only": True},
], ids=["plain", "guidance-no-cache", "random-canvas-only"])
def test_bfloat16_sampling_on_the_cpu(micro_pipe, options):
    pipe = micro_pipe.to(torch.bfloat16)
    assert pipe.dtype == torch.bfloat16 and pipe.device.type == "cpu"
    out = pipe(context(), 2, steps=2, flow_steps=2, generator=torch.Generator().manual_seed(0),
               **options)
    assert out.shape == (1, 2, 3, 16, 16) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    streamed = next(pipe.stream(context(), 1, steps=2, flow_steps=2, return_canvas=True))
    assert streamed.canvas.dtype == streamed.staticness.dtype == torch.float32


def test_to_takes_device_and_dtype_in_any_order(micro_pipe):
    assert micro_pipe.to("cpu", torch.bfloat16).dtype == torch.bfloat16
    assert micro_pipe.to(torch.float16, "cpu").dtype == torch.float16
    assert micro_pipe.to(dtype="float32").dtype == torch.float32
    assert micro_pipe.to("bf16").dtype == torch.bfloat16
    assert micro_pipe.to(device="auto").device.type == ("cuda" if torch.cuda.is_available()
                                                        else "cpu")
    with pytest.raises(UserError, match="not a floating dtype"):
        micro_pipe.to(torch.int8)
    with pytest.raises(UserError, match="not a torch device"):
        micro_pipe.to("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="torch sees no CUDA device"):
            micro_pipe.to("cuda")


def test_load_pipeline_with_torch_dtype(micro_pipe, tmp_path):
    folder = micro_pipe.to(torch.bfloat16).save_pretrained(tmp_path / "model")  # bf16 weights
    pipe = load_pipeline(folder, torch_dtype="bfloat16")
    assert pipe.dtype == torch.bfloat16
    for name, value in micro_pipe.model.state_dict().items():
        assert torch.equal(pipe.model.state_dict()[name], value), name
    assert load_pipeline(folder).dtype == torch.float32  # the default, as before
    out = load_pipeline(folder, torch_dtype=torch.bfloat16)(context(), 1, steps=1, flow_steps=1)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    with pytest.raises(UserError, match="torch_dtype='int8'"):
        load_pipeline(folder, torch_dtype="int8")


def test_noise_is_drawn_on_the_generators_device(micro_pipe, monkeypatch):
    """A CUDA generator draws only on CUDA: every random draw of sampling that gets a
    generator must name the generator's device. (No GPU here, so this checks where the device
    comes from; a CPU generator keeps the CPU stream, which tests/test_shipped_model.py and the
    bitwise checks of seeded samples rely on.)"""
    calls, clip = [], context()
    for name in ("randn", "rand"):
        real = getattr(torch, name)

        def spy(*args, _real=real, **kwargs):
            if kwargs.get("generator") is not None:
                calls.append((kwargs["generator"].device, kwargs.get("device")))
            return _real(*args, **kwargs)

        monkeypatch.setattr(torch, name, spy)
    generator = torch.Generator().manual_seed(0)
    micro_pipe(clip, 1, steps=2, flow_steps=2, generator=generator)
    assert len(calls) >= 4  # frame noise, canvas noise, Gumbel order, flow-head noise
    assert all(device == generator.device for _, device in calls), calls


def test_a_misspelt_keyword_is_a_did_you_mean_error(micro_pipe):
    for kwargs, wanted in [({"stepz": 4}, "steps"), ({"generater": None}, "generator"),
                           ({"flow_step": 3}, "flow_steps"), ({"num_frame": 2}, "num_frames")]:
        frames = {} if "num_frame" in kwargs else {"num_frames": 2}
        with pytest.raises(UserError, match=f"'{next(iter(kwargs))}' \\(did you mean "
                                            f"'{wanted}'\\?\\)"):
            micro_pipe(context(), **frames, **kwargs)
    with pytest.raises(UserError, match="did you mean 'head_temperature'"):
        micro_pipe.options(head_temprature=0.5)
    with pytest.raises(UserError, match="pipe\\(context, num_frames\\)"):
        micro_pipe(context())
