"""Play mode of `canvasmar serve` without the web (issue 18, docs/world-model.md): a game
model's play files, the plays in progress, one model frame per action, the real emulator
beside it, and the MP4 of a played episode.

A game model's checkpoint folder holds two play files, written by `save_play` (or
`scripts/play_files.py` from a recorded episode):

    play.json   {"game": "pong", "frame_skip": 4, "actions": ["NOOP", "FIRE", ...],
                 "keys": {"ArrowUp": 2, ...}, "idle": 0, "fps": 15, "warmup": 60}
    play.npz    start: (T, H, W, 3) uint8 recorded frames at the model's size, and
                start_actions: the T - 1 actions between them

A play starts from the live emulator when ale-py is installed (reset with the play's seed,
`warmup` idle steps, then the context frames under the idle action; stepped beside the model
with every action after that), or else from the recorded start frames. Kept free of FastAPI
like `web/jobs.py`; every mistake a user can make is a UserError (answered with a 400).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from canvasmar.errors import UserError
from canvasmar.media import upscale, write_video
from canvasmar.pipeline import PLAY_FILES, Pipeline
from canvasmar.web.jobs import NotFound, keep_last, png_data_url

PLAY_FILE, START_FILE = PLAY_FILES  # play.json, play.npz
KEEP_PLAYS = 4  # plays in progress the server holds; older ones are dropped
MAX_STEPS = 3000  # frames of one play (its recording lives in memory: ~37 MB at 64x64)


@dataclass(frozen=True)
class PlaySpec:
    """How a game model is played: its game, the names of its actions, the keys that take
    them, and a recorded start for when the emulator is not installed."""

    game: str  # the ALE ROM id of the emulator ("" for none)
    actions: list[str]  # the name of each action index the model was trained on
    keys: dict[str, int]  # KeyboardEvent.key -> action index
    idle: int = 0  # the action while no key is held (NOOP)
    frame_skip: int = 4  # emulator frames per step, as recorded
    fps: int = 15  # the page's target frame rate
    warmup: int = 60  # idle emulator steps before a live start's context
    help: str = ""  # one line for the player, e.g. which paddle is theirs
    start: np.ndarray | None = None  # (T, H, W, 3) uint8 recorded context frames
    start_actions: list[int] = field(default_factory=list)  # the T - 1 actions between them

    def describe(self) -> dict:
        """The page's view: everything but the start frames."""
        out = asdict(self)
        out.pop("start")
        out["context"] = 0 if self.start is None else len(self.start)
        return out


def save_play(folder: str | Path, spec: PlaySpec) -> list[Path]:
    """Write `spec` as the play files of a checkpoint folder."""
    folder = Path(folder)
    if spec.start is None or len(spec.start) < 1:
        raise UserError("a play needs at least one recorded start frame")
    if len(spec.start_actions) != len(spec.start) - 1:
        raise UserError(f"{len(spec.start)} start frames need {len(spec.start) - 1} actions "
                        f"between them, got {len(spec.start_actions)}")
    meta = spec.describe()
    meta.pop("context")
    meta.pop("start_actions")
    (folder / PLAY_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    np.savez_compressed(folder / START_FILE, start=spec.start,
                        start_actions=np.asarray(spec.start_actions, dtype=np.int64))
    return [folder / PLAY_FILE, folder / START_FILE]


def load_play(folder: str | Path) -> PlaySpec | None:
    """The play files of a checkpoint folder, or None when it has none."""
    folder = Path(folder)
    if not (folder / PLAY_FILE).exists():
        return None
    try:
        meta = json.loads((folder / PLAY_FILE).read_text())
        with np.load(folder / START_FILE) as start:
            frames, actions = start["start"], start["start_actions"].tolist()
        return PlaySpec(**meta, start=frames, start_actions=actions)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UserError(f"{folder / PLAY_FILE}: unreadable play files ({exc}); write them "
                        f"again with scripts/play_files.py") from None


@dataclass
class Play:
    """One game in progress: the model's session, the emulator beside it, what was shown."""

    id: str
    session: object  # canvasmar.session.Session
    emulator: object | None  # canvasmar.data.record.AtariEnv, when installed
    model_frames: list[np.ndarray]  # (H, W, 3) uint8, context included
    real_frames: list[np.ndarray]
    game_over: bool = False


@contextlib.contextmanager
def _one_thread():
    """One torch thread for a play step: a batch-1 frame of a small model is as fast on one
    (51 vs 50 ms per step for atari-pong on our 2 cores), and a second one only contends with
    the browser and the emulator on the same machine (the page played 7.8 frames/s with two
    threads, 9.9 with one, 100 steps of checkpoints/atari-pong, docs/world-model.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Arcade:
    """The plays of one game model served to the page."""

    def __init__(self, pipe: Pipeline, spec: PlaySpec, workdir: Path) -> None:
        count = pipe.model.cfg.actions
        if not pipe.model.has_actions or pipe.model.cfg.action_kind != "discrete":
            raise UserError("play mode needs a model trained with discrete actions "
                            "(model.actions=N)")
        if len(spec.actions) != count or not all(0 <= a < count for a in spec.keys.values()):
            raise UserError(f"{PLAY_FILE} names {len(spec.actions)} actions (keys "
                            f"{sorted(spec.keys.values())}) for a model of {count}")
        self.pipe, self.spec, self.workdir = pipe, spec, workdir
        self.plays: OrderedDict[str, Play] = OrderedDict()
        self.lock = threading.Lock()  # one model, used by one step at a time

    @property
    def emulator_installed(self) -> bool:
        try:
            import ale_py  # noqa: F401
        except ImportError:
            return False
        return bool(self.spec.game)

    def info(self) -> dict:
        return {**self.spec.describe(), "emulator": self.emulator_installed,
                "max_steps": MAX_STEPS}

    def start(self, seed: int = 0, emulator: bool = True) -> dict:
        """A new play from the live emulator (if `emulator` and installed) or the recorded
        start -> its id and context frames."""
        live = emulator and self.emulator_installed
        env, frames, actions = self._live_start(seed) if live else (None, *self._recorded())
        context = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)[None].float() / 255
        generator = torch.Generator(self.pipe.device).manual_seed(seed)
        with self.lock:
            session = self.pipe.start(self.pipe.check_context(context, resize=True),
                                      context_actions=actions, generator=generator)
            play = Play(secrets.token_hex(6), session, env, list(frames),
                        list(frames) if live else [])
            self.plays[play.id] = play
            keep_last(self.plays, KEEP_PLAYS)
        return {"play": play.id, "emulator": live, "context": [png_data_url(_tensor(f))
                                                                for f in frames]}

    def step(self, play_id: str, action: int) -> dict:
        """Take `action` on the newest frame -> the model's next frame (and the emulator's)."""
        play = self.play(play_id)
        if not isinstance(action, int) or not 0 <= action < len(self.spec.actions):
            raise UserError(f"action must be an index from 0 to {len(self.spec.actions) - 1}, "
                            f"got {action!r}")
        if len(play.model_frames) >= MAX_STEPS:
            raise UserError(f"a play keeps at most {MAX_STEPS} frames: download it and start "
                            f"a new one")
        began = time.perf_counter()
        with self.lock, _one_thread():
            frame = play.session.step(action)[0]
        made = (frame.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        play.model_frames.append(made)
        out = {"frame": png_data_url(frame), "step": len(play.model_frames),
               "ms": round(1000 * (time.perf_counter() - began), 1)}
        if play.emulator is not None and not play.game_over:
            real, play.game_over = self._emulate(play.emulator, action)
            play.real_frames.append(real)
            out["real"] = png_data_url(_tensor(real))
        out["game_over"] = play.game_over
        return out

    def play(self, play_id: str) -> Play:
        if play_id not in self.plays:
            raise NotFound(f"no play '{play_id}' (the server keeps the last {KEEP_PLAYS}): "
                           f"start a new one")
        return self.plays[play_id]

    def video(self, play_id: str) -> Path:
        """The MP4 of a play so far: the model's frames, the emulator's beside them if live."""
        play = self.play(play_id)
        frames = np.stack(play.model_frames)
        if play.real_frames:
            real = np.stack(play.real_frames)
            real = np.concatenate([real, np.repeat(real[-1:], len(frames) - len(real), 0)])
            frames = np.concatenate([frames, real], axis=2)
        path = self.workdir / f"play-{play.id}.mp4"
        return write_video(path, upscale(frames, max(1, 256 // frames.shape[1])),
                           fps=self.spec.fps)

    def _recorded(self) -> tuple[list[np.ndarray], list[int]]:
        if self.spec.start is None:
            raise UserError(f"this model has no recorded start ({START_FILE}) and the "
                            f"emulator is not installed: pip install 'canvasmar[atari]'")
        return list(self.spec.start), list(self.spec.start_actions)

    def _live_start(self, seed: int) -> tuple[object, list[np.ndarray], list[int]]:
        from canvasmar.data.record import AtariEnv

        env = AtariEnv(self.spec.game, frame_skip=self.spec.frame_skip)
        env.reset(seed)
        for _ in range(self.spec.warmup):
            env.step(self.spec.idle)
        context = max(1, len(self.spec.start) if self.spec.start is not None else 2)
        frames = [self._emulate(env, self.spec.idle)[0] for _ in range(context)]
        return env, frames, [self.spec.idle] * (context - 1)

    def _emulate(self, env: object, action: int) -> tuple[np.ndarray, bool]:
        """One emulator step -> its frame at the model's size (the recordings' resize and
        centre crop, data/frames.py) and whether the game is over."""
        from canvasmar.data.frames import array_to_rgb

        screen, done = env.step(action)
        return array_to_rgb(screen, self.pipe.frame_shape[1]), done


def _tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) in [0, 1] for png_data_url."""
    return torch.from_numpy(frame).permute(2, 0, 1).float() / 255
