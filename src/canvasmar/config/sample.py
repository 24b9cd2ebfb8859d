"""Generation defaults (Table 3, 'Sampling'): the `sample` section of a run config, which
every sampling call, flag and `sample.KEY=VALUE` override is checked against."""

from __future__ import annotations

from dataclasses import dataclass, fields

from canvasmar.config.checks import all_at_least, at_least, finite, in_range, positive, setting
from canvasmar.errors import UserError


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    """Generation defaults (Table 3, 'Sampling'); every one can be changed per call, and on the
    command line as a flag (--flow-steps) or as sample.KEY=VALUE (sample.flow_steps=10)."""

    steps: int = setting(4, "spatial MAR steps per frame (Table 3: BAIR 4, UCF 8, K600 10)")
    flow_steps: int = setting(30, "Euler steps of the flow head's ODE")
    cfg_canvas: float = setting(1.0, "canvas guidance scale w_s of Eq. 9 (Table 3 BAIR: 1.5)")
    cfg_temporal: float = setting(1.0, "temporal guidance scale w_t of Eq. 9 "
                                       "(Table 3 BAIR: 1.2)")
    # v = v_no_action + w (v_action - v_no_action), each the Eq. 9 combination (sampler.py)
    cfg_action: float = setting(1.0, "action guidance scale (model.actions > 0); 1 = off, "
                                     "costs nothing")
    order: str = setting("motion", "token order: motion (Sec. 4.3) or random (MAR)",
                         choices=("motion", "random"))
    temperature: float = setting(6.5, "confidence temperature of the motion-aware order "
                                      "(Table 3)")
    frame_noise: float = setting(0.3, "noise level r on the previous frame at inference "
                                      "(Table 3; 0.4 on K600)")
    canvas_noise: float = setting(0.2, "noise level r' on the canvas at inference (Table 3)")
    time_shift: float = setting(1.0, "flow ODE time shift (1 = uniform grid)")
    # MAR's sampling temperature: the flow ODE starts from temperature * N(0, I), so values
    # below 1 trade diversity for fidelity (1 = the trained distribution).
    head_temperature: float = setting(1.0, "flow-head noise scale (MAR's temperature): 1 = "
                                           "the trained distribution, < 1 sharper")
    # Not in the paper: the staticness map (Sec. 4.3) also sets how much noise each token's
    # ODE starts from, T x (1 - s (1 - scale)), so tokens the canvas calls static are drawn
    # near-deterministically (no noise for the rollout to accumulate) while moving ones keep
    # the full temperature and commit to a motion (docs/quality.md). 1 = off.
    static_temperature_scale: float = setting(1.0, "head temperature on tokens the canvas "
                                                   "calls static, as a share of "
                                                   "head_temperature (1 = off)")
    # Not in the paper (docs/quality.md, session 30): each token's ODE starts from
    # sqrt(1 - rho) e_token + sqrt(rho) e_frame, e_frame one N(0, I) draw per frame shared by
    # all its tokens, so the tokens of one uncertain object (each drawn on its own by a MAR that
    # barely reads its neighbours) pick the same side of their distributions instead of a
    # mixture of moved and unmoved pieces. Each token's marginal noise stays N(0, I). 0 = off.
    noise_share: float = setting(0.0, "share of the flow-head noise common to all tokens of "
                                      "a frame (0 = independent, the paper)")
    # Not in the paper: the canvas is a one-pass prediction of the whole frame (Sec. 4.2); a
    # token where it predicts no change (RMS difference from the previous frame's token, per
    # channel, below this) keeps the previous frame's value instead of a flow-head draw. On a
    # static background (games, BAIR's table) a draw adds noise that a rollout accumulates as
    # speckle, and the head runs only on the rest (docs/quality.md). 0 = off, the paper's
    # sampler.
    keep_unchanged: float = setting(0.0, "keep the previous frame's token where the canvas "
                                         "changes it by less than this RMS (0 = off)")
    # Not in the paper (docs/quality.md): GameNGen's inference noise on generated history, in
    # Eq. 11's form; a model with model.history_noise_input is told the level. Context: clean.
    history_noise: float = setting(0.0, "noise level on generated frames as the Temporal ViT "
                                        "reads them (0 = clean, the paper)")
    window: int = setting(0, "input frames kept in the KV cache; 0 = data.frames (the "
                             "training span)")
    # An attention sink: training never shows the model a window without BOS. Lowers
    # late-rollout error; see TemporalViT.new_cache and docs/sampling.md.
    keep_bos: bool = setting(True, "pin the BOS frame in the sliding window")

    def validate(self) -> SampleConfig:
        """The one check of sampling settings (configs, overrides, flags, Pipeline.options);
        raise UserError naming the key."""
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise UserError(f"sample.{f.name}={getattr(self, f.name)!r}: use "
                                f"{' or '.join(repr(c) for c in choices)}")
        all_at_least("sample", self, ("steps", "flow_steps"), 1)
        at_least("sample.window", self.window, 0, " (0 = data.frames, the training clip length)")
        for name in ("cfg_canvas", "cfg_temporal", "cfg_action"):  # any finite scale
            finite(f"sample.{name}", getattr(self, name))
        for name in ("frame_noise", "canvas_noise"):  # Eq. 11, 12 mixing weights
            in_range(f"sample.{name}", getattr(self, name), 0, 1)
        at_least("sample.temperature", self.temperature, 0)
        at_least("sample.head_temperature", self.head_temperature, 0)
        in_range("sample.static_temperature_scale", self.static_temperature_scale, 0, 1)
        in_range("sample.noise_share", self.noise_share, 0, 1)
        at_least("sample.keep_unchanged", self.keep_unchanged, 0)
        in_range("sample.history_noise", self.history_noise, 0, 1)
        positive("sample.time_shift", self.time_shift)
        if self.keep_bos and self.window == 1:
            raise UserError(f"sample.window={self.window} is too small: use at least 2 (BOS is "
                            f"pinned in the window; sample.keep_bos=false unpins it)")
        return self
