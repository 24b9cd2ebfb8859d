"""Record simulator episodes as a video folder: `canvasmar data record atari|dmc ...`.

Each episode becomes `NAME_EEEE.mp4` plus `NAME_EEEE.actions.json` (the action taken after
each frame, so frame t+1 follows frame t under actions[t]) in the folder format that
`--data PATH` trains on. Simulators are optional extras: `pip install canvasmar[atari]`
(ale-py, which bundles the ROMs) and `canvasmar[dmc]` (dm_control + MuJoCo, rendered on the
CPU through EGL; docs/data.md).

Policies: `random` draws a fresh action every step; `sticky` holds a random action for 4-15
steps, which gives longer coherent motions (a simple scripted behaviour that works for any
game or task); `mixed` alternates them by episode (even episodes sticky, odd random). A world
model needs the random episodes: under `sticky` the history already predicts the next move
(in Pong the paddle's last two moves explain 87% of the variance of its next one, 39% under
`random`), so the model can ignore the action (docs/world-model.md, session 20).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from canvasmar.errors import UserError
from canvasmar.media import write_video
from canvasmar.outputs import claim_outputs

POLICIES = ("random", "sticky", "mixed")


class SimEnv(Protocol):
    """What the recorder needs from a simulator (also implemented by the tests' fake)."""

    name: str

    def reset(self, seed: int) -> np.ndarray: ...  # first frame (H, W, 3) uint8

    def step(self, action: Any) -> tuple[np.ndarray, bool]: ...  # next frame, episode over

    def random_action(self, rng: np.random.Generator) -> Any: ...  # JSON-serialisable


def record(env: SimEnv, out: str | Path, *, episodes: int, frames: int, policy: str = "sticky",
           seed: int = 0, fps: int = 15, progress: bool = True, force: bool = False
           ) -> list[Path]:
    """Write `episodes` videos of up to `frames` frames (shorter if the game ends); episodes
    of the same names already in `out` are replaced only with `force`."""
    if policy not in POLICIES:
        raise UserError(f"unknown policy '{policy}' (choose {', '.join(POLICIES)})")
    if episodes < 1 or frames < 2:
        raise UserError("--episodes must be at least 1 and --frames at least 2")
    out = Path(out)
    stems = [out / f"{env.name}_{episode:04d}" for episode in range(episodes)]
    claim_outputs([path for stem in stems for path in (stem.with_suffix(".mp4"),
                                                        stem.with_suffix(".actions.json"))],
                  force=force)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    bar = tqdm(total=episodes * frames, disable=not progress, desc=f"record {env.name}",
               unit="frame", dynamic_ncols=True)
    for episode in range(episodes):
        video = [env.reset(seed * 100_003 + episode)]
        actions: list = []
        action, hold = None, 0
        random_steps = policy == "random" or (policy == "mixed" and episode % 2 == 1)
        bar.update(1)
        while len(video) < frames:
            if random_steps or hold == 0:
                action, hold = env.random_action(rng), int(rng.integers(4, 16))
            hold -= 1
            frame, done = env.step(action)
            video.append(frame)
            actions.append(action)
            bar.update(1)
            if done:
                bar.update(frames - len(video))
                break
        stem = out / f"{env.name}_{episode:04d}"
        written.append(write_video(stem.with_suffix(".mp4"), np.stack(video), fps=fps,
                                   keyframe_interval=16))
        stem.with_suffix(".actions.json").write_text(json.dumps(
            {"env": env.name, "policy": "random" if random_steps else "sticky", "seed": seed,
             "episode": episode, "frames": len(video), "actions": actions}))
    bar.close()
    return written


class AtariEnv:
    """An ALE game (ale-py) with sticky actions (p = 0.25) and `frame_skip` frames per step."""

    def __init__(self, game: str, frame_skip: int = 4) -> None:
        if frame_skip < 1:
            raise UserError(f"--frame-skip {frame_skip}: at least 1 emulator frame per step")
        try:
            from ale_py import ALEInterface, LoggerMode, roms
        except ImportError:
            raise UserError("recording Atari needs ale-py: pip install 'canvasmar[atari]'"
                            ) from None
        ALEInterface.setLoggerMode(LoggerMode.Error)
        try:
            with warnings.catch_warnings():  # ale-py also warns; our error says it once
                warnings.simplefilter("ignore")
                self._rom = roms.get_rom_path(game)
        except Exception:  # noqa: BLE001 (ale-py raises various types for unknown names)
            self._rom = None
        if self._rom is None:
            names = ", ".join(sorted(roms.get_all_rom_ids())[:8])
            raise UserError(f"unknown Atari game '{game}' (ale-py ROM ids such as {names}, ...)")
        self.name, self.frame_skip = game, frame_skip
        self._ale = ALEInterface()
        self._actions: list = []

    def reset(self, seed: int) -> np.ndarray:
        self._ale.setInt("random_seed", seed % 2**31)
        self._ale.setFloat("repeat_action_probability", 0.25)
        self._ale.loadROM(self._rom)  # loading applies the seed
        self._actions = list(self._ale.getMinimalActionSet())
        self._ale.reset_game()
        return self._ale.getScreenRGB()

    def step(self, action: int) -> tuple[np.ndarray, bool]:
        for _ in range(self.frame_skip):
            self._ale.act(self._actions[action])
        return self._ale.getScreenRGB(), self._ale.game_over()

    def random_action(self, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self._actions)))

    def action_names(self) -> list[str]:
        """The minimal action set's names, in the order of the recorded action indices."""
        return [a.name for a in self._actions]

    def clone(self) -> object:
        """The emulator's state now (to play several futures from the same moment)."""
        return self._ale.cloneState()

    def restore(self, state: object) -> None:
        self._ale.restoreState(state)


class DMCEnv:
    """A dm_control suite task rendered by MuJoCo on the CPU (EGL, or OSMesa if chosen)."""

    def __init__(self, task: str, size: int = 64, action_repeat: int = 2,
                 camera: int = 0) -> None:
        if size < 8 or action_repeat < 1:
            raise UserError(f"--size {size} / --action-repeat {action_repeat}: use a size of "
                            f"at least 8 pixels and at least 1 physics step per frame")
        if "-" not in task:
            raise UserError(f"--task '{task}' should be DOMAIN-TASK, e.g. cartpole-swingup")
        # MuJoCo picks its GL backend at import: headless CPU rendering needs EGL (Mesa's
        # llvmpipe) or OSMesa, never the default GLFW window.
        os.environ.setdefault("MUJOCO_GL", "egl")
        try:
            from dm_control import suite
        except ImportError:
            raise UserError("recording dm_control needs it: pip install 'canvasmar[dmc]'"
                            ) from None
        domain, name = task.split("-", 1)
        if (domain, name) not in suite.ALL_TASKS:
            some = ", ".join(f"{d}-{t}" for d, t in suite.ALL_TASKS[:6])
            raise UserError(f"unknown dm_control task '{task}' (e.g. {some}, ...)")
        self._suite, self._domain, self._task = suite, domain, name
        self.name, self.size = task, size
        self.action_repeat, self.camera = action_repeat, camera
        self._env = None

    def _render(self) -> np.ndarray:
        return self._env.physics.render(self.size, self.size, camera_id=self.camera)

    def reset(self, seed: int) -> np.ndarray:
        self._env = self._suite.load(self._domain, self._task, task_kwargs={"random": seed})
        self._env.reset()
        return self._render()

    def step(self, action: list[float]) -> tuple[np.ndarray, bool]:
        done = False
        for _ in range(self.action_repeat):
            done = self._env.step(np.asarray(action)).last()
            if done:
                break
        return self._render(), done

    def random_action(self, rng: np.random.Generator) -> list[float]:
        spec = self._env.action_spec()
        return rng.uniform(spec.minimum, spec.maximum, size=spec.shape).round(4).tolist()
