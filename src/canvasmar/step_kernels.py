"""The network work of one spatial MAR step, eager or through torch.compile (issue 14,
sampling on GPUs).

A generated frame runs `sample.steps` spatial steps, each one Spatial MAR pass over every
guidance condition and `sample.flow_steps` flow-head evaluations for the revealed tokens
(sampler.generate_group). At batch 1 on a GPU each of these is a few small kernels, and the
frame's time is their launches, not their arithmetic. `Pipeline.compile(mode)` compiles the
two functions here: inductor fuses each into a few kernels, and `mode="reduce-overhead"`
replays them as CUDA graphs. Their shapes are fixed by the schedule (a step reveals the same
count every frame), so after the first frame nothing recompiles: the MAR pass has one shape,
and the head's token count, which differs between steps, is made a dynamic size by Dynamo
after its second value (CUDA graphs are still recorded once per count).

`sample.keep_unchanged` selects the tokens to integrate with a `nonzero`: a data-dependent
size, which on a GPU makes the host wait and CUDA graphs re-record. Compiled for a GPU
(`static_keep`), every revealed token is integrated and the kept ones are put back
afterwards (`torch.where` in the sampler, the same frames). On a CPU the selection stays:
there the head's arithmetic is the cost (the checkpoint's keep_unchanged 0.1 integrates
about a fifth of the tokens; static, the compiled frame took 2.3x as long;
docs/results/compile-sampling/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from canvasmar import flow
from canvasmar.config.schema import SAMPLE_COMPILE_MODES as MODES
from canvasmar.errors import UserError


def integrate(model: torch.nn.Module, cond: torch.Tensor, coeffs: torch.Tensor,
              noise: torch.Tensor, flow_steps: int, time_shift: float) -> torch.Tensor:
    """The flow head's draws (M, C) from noise (M, C): cond (P, M, D) per guidance pass,
    combined at every ODE step with the pass weights coeffs (P, 1, 1) (Eq. 9)."""
    n_pass = cond.shape[0]
    cond = cond.reshape(-1, cond.shape[-1])

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = model.velocity(x.repeat(n_pass, 1), t.repeat(n_pass), cond)
        # Eq. 9, combined in float32 (coeffs) and returned in the model's dtype
        return (v.view(n_pass, x.shape[0], -1) * coeffs).sum(0).to(x.dtype)

    return flow.euler_sample(velocity, noise, flow_steps, time_shift)


def predict_tokens(model: torch.nn.Module, *args: torch.Tensor | None) -> torch.Tensor:
    return model.predict_tokens(*args)


@dataclass(frozen=True)
class StepKernels:
    """What sampler.generate_group calls for a step's network work."""

    predict_tokens: Callable[..., torch.Tensor]
    integrate: Callable[..., torch.Tensor]
    mode: str  # "off": eager
    static_keep: bool = False  # keep_unchanged without a nonzero (a GPU's compiled steps)

    @property
    def compiled(self) -> bool:
        return self.mode != "off"


EAGER = StepKernels(predict_tokens, integrate, "off")


def step_kernels(mode: str = "off", backend: str | Callable | None = None,
                 static_keep: bool = False) -> StepKernels:
    """Eager (`off`) or compiled in a torch.compile `mode` (inductor; `backend` overrides it,
    as the tests do). One compiled pair per call: the caller keeps it. `static_keep`: see
    the module's docstring (Pipeline.compile sets it on a GPU)."""
    if mode not in MODES:
        raise UserError(f"compile mode {mode!r}: use {', '.join(MODES)}")
    if mode == "off":
        return EAGER
    options = {"backend": backend} if backend else {"mode": mode}
    return StepKernels(_clear_failure(torch.compile(predict_tokens, **options), mode),
                       _clear_failure(torch.compile(integrate, **options), mode),
                       mode, static_keep)


def _clear_failure(compiled: Callable[..., torch.Tensor], mode: str
                   ) -> Callable[..., torch.Tensor]:
    """Compiling happens at the first call, deep in a sampling loop: a backend that cannot
    compile (no C++ compiler for inductor on a CPU, no Triton on a GPU) becomes one error
    naming the fix, not Dynamo's traceback."""
    def call(*args: torch.Tensor | None) -> torch.Tensor:
        try:
            return compiled(*args)
        except torch._dynamo.exc.BackendCompilerFailed as err:
            inner = getattr(err, "inner_exception", None) or err
            lines = str(inner).strip().splitlines() or [""]
            reason = f"{type(inner).__name__}: {lines[0]}"
            raise UserError(f"--compile {mode}: torch.compile could not compile the MAR steps "
                            f"({reason}); install what it names (inductor needs a C++ "
                            f"compiler on a CPU, Triton on a GPU) or sample with --compile "
                            f"off") from None
    return call
