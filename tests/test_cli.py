"""The command line: info, train, resume determinism, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from canvasmar.cli import main
from tests.conftest import micro_overrides

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "tiny"
TRAIN = [*micro_overrides(), "train.steps=4", "train.batch_size=2", "train.save_every=2",
         "train.eval_every=2", "train.eval_clips=2", "train.warmup_steps=2"]


def _losses(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_info_prints_modules_and_total(capsys):
    assert main(["info", "tiny"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.split()[0] == "spatial" for line in out[1:-1])
    assert out[-1].startswith("total parameters: ") and int(out[-1].split()[-1]) > 1e6


@pytest.mark.parametrize("args, message", [
    (["info", "tiny", "model.nope=1"], "unknown config key 'model.nope'"),
    (["info", "nosuchpreset"], "neither a preset"),
    (["info", "tiny", "data.resolution=30"], "not divisible"),
])
def test_errors_are_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("device", ["cuda:99", "nonsense"])
@pytest.mark.parametrize("command", [
    ["sample", "--checkpoint", str(SHIPPED)], ["eval", "--checkpoint", str(SHIPPED)],
    ["bench", "--checkpoint", str(SHIPPED)], ["diagnose", "--checkpoint", str(SHIPPED)],
    ["choose", "--checkpoint", str(SHIPPED)], ["serve", "--checkpoint", str(SHIPPED)],
])
def test_an_unusable_device_is_one_line_in_every_command(command, device, tmp_path, capsys):
    """No GPU 99 anywhere (no GPU at all on the CPU machines) and no device 'nonsense'."""
    out = [] if command[0] in ("diagnose", "serve") else ["--out", str(tmp_path / "out")]
    assert main([*command, *out, "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --device={device}") and err.count("\n") == 1, err


@pytest.mark.parametrize("device", ["cuda:99", "nonsense"])
def test_an_unusable_train_device_is_one_line(device, tmp_path, capsys):
    assert main(["train", "tiny", "--out", str(tmp_path / "run"), f"train.device={device}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: train.device=") and err.count("\n") == 1, err


def test_a_closed_pipe_ends_quietly():
    """`canvasmar config show tiny | head -1` once ended in a BrokenPipeError traceback."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "canvasmar", "config", "show", "tiny"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader leaves before the first line is written
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == 141 and not err, err


def test_train_resume_continues_the_same_loss_curve(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "tiny", "--out", str(run), "--no-progress", *TRAIN]) == 0
    for name in ("preview.png", "preview.mp4", "losses.png", "config.json",
                 "previews/step_00000002_sample.mp4", "previews/step_00000004_canvas.png",
                 "checkpoints/step_00000004/ema.safetensors"):
        assert (run / name).is_file(), name
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 1000  # scalars and the sample grid
    full = _losses(run)
    assert sorted(full) == [1, 2, 3, 4]

    # Same seed -> same curve.
    again = tmp_path / "again"
    assert main(["train", "tiny", "--out", str(again), "--no-progress", *TRAIN]) == 0
    assert _losses(again) == full

    # Interrupted after step 2: resume must reproduce steps 3 and 4 exactly.
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    shutil.rmtree(cut / "checkpoints" / "step_00000004")
    (cut / "latest").write_text("step_00000002")
    (cut / "metrics.jsonl").write_text("")
    assert main(["train", "tiny", "--out", str(cut), "--no-progress", "--resume", *TRAIN]) == 0
    resumed = _losses(cut)
    assert resumed == {3: full[3], 4: full[4]}


def test_train_refuses_to_overwrite_and_bad_resume(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "tiny", "--out", str(run), "--no-progress", *TRAIN, "train.steps=2"]
    assert main(args) == 0
    before = (run / "checkpoints" / "step_00000002" / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "checkpoints" / "step_00000002" / "model.safetensors").read_bytes() == before
    assert main([*args, "--resume", "model.dim=64"]) == 2
    assert "only train.* may change" in capsys.readouterr().err
    # requeue-safe: --resume on a folder with no run yet starts one (with a notice)
    assert main(["train", "tiny", "--out", str(tmp_path / "new"), "--resume", *TRAIN,
                 "train.steps=1"]) == 0
    assert "holds no run yet; starting one" in capsys.readouterr().err
    (run / "checkpoints" / "step_00000002" / "train_state.pt").write_bytes(b"junk")
    assert main([*args, "--resume", "train.steps=3"]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "tiny", "--out", str(run), "--no-progress", *TRAIN,
                 "train.steps=2"]) == 0
    return run


def test_sample_writes_video_and_grid(trained_run, tmp_path):
    out = tmp_path / "s.mp4"
    assert main(["sample", "--checkpoint", str(trained_run), "--out", str(out), "--frames", "3",
                 "--steps", "2", "--flow-steps", "2", "--clips", "1", "--num-samples", "2",
                 "--gif", "--no-progress"]) == 0
    for path in (out, out.with_suffix(".png"), out.with_suffix(".gif")):
        assert path.is_file() and path.stat().st_size > 1000, path
    from canvasmar.media import read_video

    video = read_video(out)
    assert video.shape[0] == 2 + 3  # context + generated frames


def test_sample_from_a_user_video_and_its_errors(trained_run, tmp_path, capsys):
    import torch

    from canvasmar.media import to_uint8, write_video

    clip = tmp_path / "clip.mp4"
    write_video(clip, to_uint8(torch.rand(6, 3, 24, 40)))
    base = ["sample", "--checkpoint", str(trained_run), "--frames", "2", "--flow-steps", "2",
            "--steps", "1", "--no-progress", "--video", str(clip)]
    assert main([*base, "--out", str(tmp_path / "a.mp4")]) == 2
    assert "add --resize" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "a.mp4"), "--resize"]) == 0
    junk = tmp_path / "junk.mp4"
    junk.write_text("this is not a video")
    assert main([*base[:-1], str(junk), "--out", str(tmp_path / "b.mp4")]) == 2
    assert "cannot be decoded" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "c.mp4"), "--resize", "--context", "9"]) == 2
    assert "needs at least 9" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(tmp_path / "none"), "--out", "x.mp4"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_eval_and_bench_report_measurements(trained_run, tmp_path, capsys):
    import json

    out = tmp_path / "eval.json"
    args = ["eval", "--checkpoint", str(trained_run), "--num-videos", "3", "--samples", "2",
            "--sweep-steps", "1,2", "--no-progress", "--protocol", "builtin-quick"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["protocol"]["num_videos"] == 3 and result["steps"] == [1, 2]
    assert set(result["results"]) == {"copy_last", "canvas_only", "model_steps_1",
                                      "model_steps_2"}
    assert result["results"]["model_steps_1"]["mse"] > 0 and out.with_suffix(".png").is_file()
    assert (tmp_path / "eval_frames.png").stat().st_size > 1000  # error against frame index
    again = tmp_path / "again.json"
    assert main([*args, "--out", str(again)]) == 0
    assert json.loads(again.read_text())["results"] == result["results"]  # repeatable
    capsys.readouterr()
    assert main([*args, "--out", str(out), "--metrics", "mse,fvd"]) == 2
    assert "needs --i3d" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--protocol", "bair"]) == 2
    assert "--data-root DIR" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--sweep-steps", "0,1"]) == 2
    assert "every value must be at least 1" in capsys.readouterr().err
    assert main(["bench", "--checkpoint", str(trained_run), "--out", str(tmp_path / "speed"),
                 "--batches", "1", "--sweep-steps", "1", "--frames", "1", "--rollout", "3"]) == 0
    bench = json.loads((tmp_path / "speed.json").read_text())
    assert len(bench["table"]) == 2 and len(bench["rollout"]["ms"]) == 3
    assert all(row["median_ms"] > 0 for row in bench["table"])


def test_eval_sampling_overrides_and_the_val_split(trained_run, tmp_path, capsys):
    import json

    base = ["eval", "--checkpoint", str(trained_run), "--num-videos", "2", "--samples", "1",
            "--steps", "1", "--no-progress", "--protocol", "builtin-quick"]
    val, test = tmp_path / "val.json", tmp_path / "test.json"
    assert main([*base, "--out", str(val), "sample.frame_noise=0.5", "--split", "val",
                 "sample.flow_steps=2"]) == 0
    assert main([*base, "--out", str(test), "sample.flow_steps=2"]) == 0
    on_val, on_test = json.loads(val.read_text()), json.loads(test.read_text())
    assert on_val["split"] == "val" and on_test["split"] == "test"
    assert on_val["sampling"]["frame_noise"] == 0.5 and on_test["sampling"]["frame_noise"] == 0.3
    assert on_val["sampling"]["flow_steps"] == 2
    assert on_test["steps"] == [1] and on_test["sampling"]["steps"] == 1  # --steps 1: sweep [1]
    # different clips: the baseline, which involves no sampling, scores differently
    assert on_val["results"]["copy_last"]["mse"] != on_test["results"]["copy_last"]["mse"]
    capsys.readouterr()
    for extra, message in ((["model.dim=8"], "only sample.KEY=VALUE"),
                           (["sample.frame_nois=1"], "did you mean sample.frame_noise"),
                           (["sample.order=zigzag"], "use 'motion' or 'random'"),
                           (["--protocol", "bair", "--data-root", str(tmp_path), "--split",
                             "val"], "--split val is for the builtin and folder")):
        assert main([*base, "--out", str(tmp_path / "x.json"), *extra]) == 2, extra
        assert message in capsys.readouterr().err


def _sample_values():
    """A value unlike the default for every SampleConfig field, as a flag's text."""
    return {"steps": "7", "flow_steps": "3", "cfg_canvas": "1.5", "cfg_temporal": "1.25",
            "order": "random", "temperature": "4", "frame_noise": "0.5", "canvas_noise": "0",
            "time_shift": "2.5", "head_temperature": "0.25", "window": "6", "keep_bos": "false",
            "cfg_action": "2", "static_temperature_scale": "0.1", "noise_share": "0.3",
            "keep_unchanged": "0.05", "history_noise": "0.2"}


def _parsed(command, *argv):
    from canvasmar.cli import build_parser

    head = ["--checkpoint", "ckpt", "--out", "x.mp4"]
    return build_parser().parse_args([command, *head, *argv])


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_every_sample_setting_has_a_flag_equal_to_its_override(command):
    import dataclasses

    from canvasmar.cli.common import sampling_overrides
    from canvasmar.config import SampleConfig, load_config, with_sample_overrides

    cfg = load_config("tiny")
    values = _sample_values()
    assert set(values) == {f.name for f in dataclasses.fields(SampleConfig)}  # a test per field
    for name, text in values.items():
        flag = "--" + name.replace("_", "-")
        argv = ["--no-keep-bos"] if name == "keep_bos" else [flag, text]
        by_flag = with_sample_overrides(cfg, sampling_overrides(_parsed(command, *argv)))
        by_key = with_sample_overrides(cfg, [f"sample.{name}={text}"])
        assert by_flag == by_key != cfg, name
        assert type(getattr(by_flag.sample, name)) is type(getattr(cfg.sample, name)), name
    unset = _parsed(command)
    assert sampling_overrides(unset) == [] and with_sample_overrides(cfg, []) == cfg
    both = _parsed(command, "--steps", "3", "--keep-bos", "sample.steps=5", "sample.window=4")
    assert with_sample_overrides(cfg, sampling_overrides(both)).sample == dataclasses.replace(
        cfg.sample, steps=3, window=4, keep_bos=True)  # the flag wins over the same key


def test_sampling_flags_reject_bad_values(capsys):
    with pytest.raises(SystemExit):
        _parsed("sample", "--order", "zigzag")
    with pytest.raises(SystemExit):  # --steps is one number everywhere; sweeps: --sweep-steps
        _parsed("eval", "--steps", "1,2")
    assert "invalid int value: '1,2'" in capsys.readouterr().err
    for argv, message in ((["--steps", "0"], "sample.steps=0 must be at least 1"),
                          (["--window", "1"], "sample.window=1 is too small")):
        assert main(["sample", "--checkpoint", str(SHIPPED), "--out", "x.mp4", *argv]) == 2
        assert message in capsys.readouterr().err


def test_sweep_steps_parsing(capsys):
    from canvasmar.cli.common import int_list
    from canvasmar.errors import UserError

    assert int_list("1,2,4,8", "--sweep-steps") == [1, 2, 4, 8]
    assert int_list("3", "--sweep-steps") == [3]
    for bad in ("1,two", "1,,2", ""):
        with pytest.raises(UserError, match="--sweep-steps .* not a comma-separated list"):
            int_list(bad, "--sweep-steps")
    assert _parsed("eval", "--sweep-steps", "1,2").sweep_steps == "1,2"
    assert _parsed("eval").sweep_steps is None  # eval's default: the sampling steps alone
    from canvasmar.cli import build_parser

    bench = build_parser().parse_args(["bench", "--checkpoint", "c", "--out", "o"])
    assert bench.sweep_steps == "1,2,4,8"
    assert main(["eval", "--checkpoint", "nowhere", "--sweep-steps", "1,x"]) == 2
    assert "--sweep-steps '1,x' is not a comma-separated list" in capsys.readouterr().err
    assert main(["bench", "--checkpoint", "nowhere", "--out", "o", "--sweep-steps", "4;8"]) == 2
    assert "--sweep-steps '4;8'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["train"], ["sample"], ["eval"], ["bench"], ["data"],
                                  ["data", "record", "atari"], ["vae"], ["vae", "cache"],
                                  ["info"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0 and "usage: canvasmar" in capsys.readouterr().out


def test_a_model_without_canvas_resumes_the_same_loss_curve(tmp_path):
    """Regression: its canvas input layer never gets a gradient, so the optimizer saves no
    state for it, and resuming once failed ("holds optimizer state this version cannot
    read"); found by scripts/reproduce.py, which trains the no-canvas baseline of Fig. 3."""
    args = ["--no-progress", *TRAIN, "model.canvas=false"]
    run = tmp_path / "run"
    assert main(["train", "tiny", "--out", str(run), *args]) == 0
    full = _losses(run)
    shutil.rmtree(run / "checkpoints" / "step_00000004")
    (run / "latest").write_text("step_00000002")
    (run / "metrics.jsonl").write_text("")
    assert main(["train", "tiny", "--out", str(run), "--resume", *args]) == 0
    assert _losses(run) == {3: full[3], 4: full[4]}
