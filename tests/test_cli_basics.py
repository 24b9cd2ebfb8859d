"""Command-line basics: --version, `config show`, -q, eval's short table, bench's bar, and the
versions that every results JSON and metrics.jsonl record."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import torch

import canvasmar
from canvasmar import versions as versions_module
from canvasmar.cli import main
from canvasmar.config import RunConfig, VAERunConfig
from canvasmar.versions import git_commit
from tests.conftest import micro_overrides

TRAIN = [*micro_overrides(), "train.batch_size=2", "train.eval_clips=2",
         "train.warmup_steps=1", "train.tensorboard=false", "train.diagnostics=false"]


def _assert_versions(record: dict) -> None:
    assert record["versions"] == {"canvasmar": canvasmar.__version__,
                                  "torch": torch.__version__, "commit": git_commit()}
    commit = record["versions"]["commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{4,40}(\+dirty)?", commit), commit


def test_version_names_canvasmar_and_torch(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == (f"canvasmar {canvasmar.__version__} "
                                       f"(torch {torch.__version__})\n")
    # the installed command path, and --version does not pay for importing torch
    code = ("import sys\nfrom canvasmar.cli import main\ntry:\n    main(['--version'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.splitlines() == [f"canvasmar {canvasmar.__version__} "
                                       f"(torch {torch.__version__})", "False"], run.stderr


def test_commit_is_none_outside_a_checkout(tmp_path, monkeypatch):
    # a copy of the package's files outside any git checkout (as a wheel in site-packages)
    package = tmp_path / "copy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "versions.py").write_text(Path(versions_module.__file__).read_text())
    spec = importlib.util.spec_from_file_location("copied_versions", package / "versions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above it
    assert module.git_commit() is None
    assert module.versions()["canvasmar"] == canvasmar.__version__

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert git_commit.__wrapped__() is None  # never fails


def _row(out: str, key: str) -> list[str]:
    """The `config show` line of `key` as [mark, key, value, default, meaning]."""
    for line in out.splitlines():
        mark, rest = line[:1], line[2:]
        cells = re.split(r"\s{2,}", rest.strip(), maxsplit=3)
        if cells[0] == key:
            return [mark, *cells]
    raise AssertionError(f"{key} not shown:\n{out}")


def test_config_show_lists_value_default_and_meaning(capsys):
    assert main(["config", "show", "tiny"]) == 0
    plain = capsys.readouterr().out
    assert _row(plain, "train.lr") == [" ", "train.lr", "0.001", "0.001",
                                       "peak learning rate (AdamW)"]
    assert _row(plain, "train.betas")[2:4] == ["[0.9, 0.95]", "[0.9, 0.95]"]
    assert _row(plain, "tokenizer.path")[2] == '""'
    assert _row(plain, "sample.keep_bos")[2:4] == ["true", "true"]
    assert len(plain.splitlines()[2:]) == len(_leaves(RunConfig))  # every key, one line each

    assert main(["config", "show", "tiny", "train.lr=3e-4", "model.canvas=false"]) == 0
    changed = capsys.readouterr().out
    assert _row(changed, "train.lr")[:4] == ["*", "train.lr", "0.0003", "0.001"]
    assert _row(changed, "model.canvas")[:4] == ["*", "model.canvas", "false", "true"]
    assert "2 unlike the defaults" in changed.splitlines()[0]

    assert main(["config", "show", "bair"]) == 0  # a preset's values against the defaults
    assert _row(capsys.readouterr().out, "model.dim")[:4] == ["*", "model.dim", "768", "128"]


def test_config_show_reads_vae_configs_and_reports_mistakes(tmp_path, capsys):
    assert main(["config", "show", "vae-tiny"]) == 0
    out = capsys.readouterr().out
    assert _row(out, "stats_clips")[2:] == ["64", "64", "train clips encoded for the "
                                            "per-channel latent statistics"]
    assert _row(out, "data.resolution")[2:4] == ["64", "64"]  # the VAE's own defaults
    yaml_file = tmp_path / "my-vae.yaml"
    yaml_file.write_text("preset: vae-tiny\nloss:\n  kl_weight: 1.0e-5\n")
    assert main(["config", "show", str(yaml_file)]) == 0
    assert _row(capsys.readouterr().out, "loss.kl_weight")[:4] == [
        "*", "loss.kl_weight", "1e-05", "1e-06"]
    assert main(["config", "show", "tiny", "train.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "did you mean train.lr" in err and err.count("\n") == 1


def _leaves(cls: type, prefix: str = "") -> dict[str, dataclasses.Field]:
    """Every settable key of a config class, walked from its dataclass fields."""
    hints, out = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out |= _leaves(hints[f.name], f"{prefix}{f.name}.")
        else:
            out[prefix + f.name] = f
    return out


@pytest.mark.parametrize("cls", [RunConfig, VAERunConfig])
def test_every_config_key_has_a_one_line_meaning(cls):
    leaves = _leaves(cls)
    assert len(leaves) > 20
    missing = [key for key, f in leaves.items() if not f.metadata.get("help", "").strip()]
    assert not missing, f"keys without a meaning (use config.schema.setting): {missing}"
    long = [key for key, f in leaves.items() if "\n" in f.metadata["help"]
            or len(f.metadata["help"]) > 100]
    assert not long, f"meanings longer than one line: {long}"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("basics") / "run"
    assert main(["train", "tiny", "--out", str(run), "--no-progress", *TRAIN, "train.steps=2",
                 "train.eval_every=2"]) == 0
    return run


def test_quiet_training_prints_only_results(tmp_path, capsys):
    chatty, quiet = tmp_path / "chatty", tmp_path / "quiet"
    steps = ["train.steps=2", "train.eval_every=1"]
    assert main(["train", "tiny", "--out", str(chatty), *TRAIN, *steps]) == 0
    said = capsys.readouterr()
    assert "100%" in said.err  # the bar, then what happens after it, in order
    notes = ["final validation and previews...", "saving the final checkpoint (step 2)...",
             "writing losses.png and preview.png/mp4..."]
    where = [said.err.find(note) for note in notes]
    assert -1 not in where and where == sorted(where) and where[0] > said.err.rfind("100%")
    assert "step 1: val_" in said.out  # the validation line of an earlier step

    assert main(["-q", "train", "tiny", "--out", str(quiet), *TRAIN, *steps]) == 0
    said = capsys.readouterr()
    assert said.err == ""
    assert said.out.startswith("done: ") and "step 1: val_" not in said.out
    assert "validation: val_canvas=" in said.out  # the result stays
    assert (quiet / "preview.png").is_file()

    rows = [json.loads(x) for x in (quiet / "metrics.jsonl").read_text().splitlines()]
    _assert_versions(rows[0])  # the first row of the process, and only that one
    assert rows[0]["step"] == 1 and "loss" in rows[0]
    assert not any("versions" in row for row in rows[1:])


def test_quiet_resume_and_versions_of_each_process(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "tiny", "--out", str(run), *TRAIN, "train.eval_every=100"]
    assert main([*base, "train.steps=1", "-q"]) == 0
    assert main([*base, "train.steps=2", "--resume", "-q"]) == 0  # -q after the subcommand
    assert capsys.readouterr().err == ""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "versions" in r] == [1, 2]  # one per process


def test_eval_prints_a_short_table_and_records_versions(trained_run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(trained_run), "--num-videos", "2", "--samples",
                 "2", "--sweep-steps", "1,2", "--flow-steps", "2", "--out", str(out),
                 "-q"]) == 0
    said = capsys.readouterr()
    assert said.err == ""  # -q: no bar, though --no-progress was not given
    lines = said.out.splitlines()
    assert len(lines) <= 8 and "{" not in said.out and "per_frame" not in said.out
    header = lines[1].split("  ")
    assert header[0] == "setting" and "MSE" in said.out and "PSNR best of 2" in said.out
    rows = {line.split()[0]: line.split() for line in lines[2:-1]}
    assert set(rows) == {"copy_last", "canvas_only", "model_steps_1", "model_steps_2"}
    record = json.loads(out.read_text())
    assert float(rows["model_steps_1"][1]) == pytest.approx(
        record["results"]["model_steps_1"]["mse"], rel=1e-3)
    assert lines[-1].startswith(f"wrote {out}")
    _assert_versions(record)


def test_bench_has_a_bar_and_records_versions(trained_run, tmp_path, capsys):
    args = ["bench", "--checkpoint", str(trained_run), "--batches", "1", "--sweep-steps", "1",
            "--frames", "1", "--rollout", "2"]
    assert main([*args, "--out", str(tmp_path / "speed")]) == 0
    said = capsys.readouterr()
    assert "bench: 100%" in said.err and "| batch |" in said.out
    _assert_versions(json.loads((tmp_path / "speed.json").read_text()))
    assert main([*args, "--out", str(tmp_path / "quiet"), "-q"]) == 0
    assert capsys.readouterr().err == ""

    train = ["bench", "--train", "tiny", *micro_overrides(), "--batches", "1",
             "--timed-steps", "1", "--warmup-steps", "0", "--loader", "excluded"]
    assert main([*train, "--out", str(tmp_path / "train-speed")]) == 0
    said = capsys.readouterr()
    assert "bench --train: 100%" in said.err and "batch 1 fp32 loader excluded:" in said.err
    _assert_versions(json.loads((tmp_path / "train-speed.json").read_text()))
    assert main([*train, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_diagnose_json_records_versions(trained_run, tmp_path, capsys):
    out = tmp_path / "diag.json"
    assert main(["diagnose", "--checkpoint", str(trained_run), "--clips", "2", "--samples",
                 "2", "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().err == ""
    _assert_versions(json.loads(out.read_text()))


def test_the_default_protocol_is_the_models_own_data(micro_pipe, tmp_path, capsys):
    """`eval`/`choose` without --protocol: builtin-quick for a built-in model, the folder
    protocol on a folder model's own data (said on stderr), else an error naming what to
    pass: a Pong model was once scored on the built-in shapes without a word."""
    import argparse

    from canvasmar.cli.common import default_protocol
    from canvasmar.errors import UserError

    def resolved(source: str, **given) -> argparse.Namespace:
        micro_pipe.cfg = dataclasses.replace(
            micro_pipe.cfg, data=dataclasses.replace(micro_pipe.cfg.data, source=source))
        args = argparse.Namespace(**{"protocol": None, "data_root": None, **given})
        default_protocol(args, micro_pipe)
        return args

    assert resolved("builtin").protocol == "builtin-quick"
    args = resolved(str(tmp_path))
    assert (args.protocol, args.data_root) == ("folder", str(tmp_path))
    assert "own data" in capsys.readouterr().err
    assert resolved(str(tmp_path), protocol="builtin").protocol == "builtin"  # named: kept
    for source in (str(tmp_path / "gone"), "bair"):
        with pytest.raises(UserError, match="not the built-in videos: name the protocol"):
            resolved(source)
