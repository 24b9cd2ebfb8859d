"""Sharing like diffusers, offline: save_pretrained -> load_pipeline round trips, `org/name`
resolved through a Hugging Face cache laid out here (HF_HUB_OFFLINE=1), push_to_hub with the
Hub API mocked, and the checkpoint format version (older migrated, newer refused)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from canvasmar import checkpoint as ckpt
from canvasmar.config import FORMAT_VERSION
from canvasmar.errors import UserError
from canvasmar.pipeline import Pipeline, load_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sample(pipe: Pipeline, seed: int = 0) -> torch.Tensor:
    context = torch.rand(1, 2, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    return pipe(context, 2, steps=2, flow_steps=2, generator=torch.Generator().manual_seed(seed))


def card_data(folder: Path) -> dict:
    from huggingface_hub import ModelCard

    return ModelCard.load(folder / "README.md").data.to_dict()


def test_save_pretrained_then_load_pipeline_gives_the_same_frames(micro_pipe, tmp_path):
    before = sample(micro_pipe)
    folder = micro_pipe.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                        "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["format_version"] == FORMAT_VERSION
    meta = card_data(folder)
    assert meta["library_name"] == "canvasmar" and "video-prediction" in meta["tags"]
    loaded = Pipeline.from_pretrained(folder)
    assert loaded.source == folder and loaded.cfg == micro_pipe.cfg
    assert torch.equal(sample(loaded), before)


def test_save_pretrained_keeps_the_source_card_and_drops_stale_files(micro_pipe, tmp_path):
    folder = micro_pipe.save_pretrained(tmp_path / "a")
    (folder / "README.md").write_text("# My model\n\nHand-written notes.\n")
    again = load_pipeline(folder)
    target = tmp_path / "b"
    target.mkdir()
    shutil.copy(folder / "model.safetensors", target / ckpt.EMA_WEIGHTS)  # an earlier save's
    torch.nn.init.zeros_(next(again.model.parameters()))  # now differs from the file above
    again.save_pretrained(target)
    assert not (target / ckpt.EMA_WEIGHTS).exists()  # it would shadow the new weights
    assert "Hand-written notes." in (target / "README.md").read_text()
    assert card_data(target)["library_name"] == "canvasmar"
    assert torch.equal(sample(load_pipeline(target)), sample(again))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ckpt.LATEST).write_text("step_00000001")
    with pytest.raises(UserError, match="holds a training run"):
        micro_pipe.save_pretrained(tmp_path / "run")


def lay_out_hub_cache(cache: Path, repo_id: str, folder: Path) -> Path:
    """huggingface_hub's cache layout: blobs named by content hash, snapshots/<commit>/
    holding links to them, refs/main naming the commit."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for file in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copy(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """A fresh HF_HOME with HF_HUB_OFFLINE=1 (huggingface_hub reads both when imported, so
    its constants are patched too in case an earlier test imported it)."""
    import huggingface_hub.constants as constants

    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return home / "hub"


def test_load_pipeline_resolves_org_name_through_the_hub_cache_offline(micro_pipe, tmp_path,
                                                                       offline_hub):
    before = sample(micro_pipe)
    snapshot = lay_out_hub_cache(offline_hub, "org/name",
                                 micro_pipe.save_pretrained(tmp_path / "saved"))
    pipe = load_pipeline("org/name")
    assert pipe.source == snapshot
    assert torch.equal(sample(pipe), before)
    assert torch.equal(sample(load_pipeline("org/name", revision=COMMIT)), before)
    other = tmp_path / "other_cache"
    lay_out_hub_cache(other, "org/name", tmp_path / "saved")
    assert load_pipeline("org/name", cache_dir=other).source.is_relative_to(other)
    with pytest.raises(UserError, match="not in the Hugging Face cache"):
        load_pipeline("org/missing")
    with pytest.raises(UserError, match="does not exist"):
        load_pipeline("no/such/folder")  # not a repo id: a local path, explained as one


def test_loading_a_local_folder_does_not_import_huggingface_hub(micro_pipe, tmp_path):
    folder = micro_pipe.save_pretrained(tmp_path / "model")
    code = (f"import sys, canvasmar; canvasmar.load_pipeline({str(folder)!r}); "
            f"print('huggingface_hub' in sys.modules)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "False"


def test_push_to_hub_uploads_the_saved_folder_and_its_card(micro_pipe, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    calls, uploaded = {}, tmp_path / "uploaded"

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = (repo_id, kwargs)

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        calls["upload_folder"] = (repo_id, kwargs)
        shutil.copytree(folder_path, uploaded)  # the temporary folder goes away afterwards
        return type("CommitInfo", (), {"commit_url": f"https://hub.example/{repo_id}/c/1"})()

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    url = micro_pipe.push_to_hub("org/name", private=True, commit_message="first")
    assert url == "https://hub.example/org/name/c/1"
    assert calls["create_repo"] == ("org/name", {"private": True, "exist_ok": True,
                                                 "repo_type": "model"})
    repo_id, kwargs = calls["upload_folder"]
    assert repo_id == "org/name" and kwargs["commit_message"] == "first"
    assert sorted(p.name for p in uploaded.iterdir()) == ["README.md", "config.json",
                                                          "model.safetensors"]
    card = (uploaded / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: canvasmar" in card
    assert 'load_pipeline("org/name")' in card
    assert torch.equal(sample(load_pipeline(uploaded)), sample(micro_pipe))
    with pytest.raises(UserError, match="not a Hub repository id"):
        micro_pipe.push_to_hub("my model")


def test_a_newer_format_is_refused(micro_pipe, tmp_path):
    folder = micro_pipe.save_pretrained(tmp_path / "model")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["format_version"] = FORMAT_VERSION + 1
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match=f"format_version {FORMAT_VERSION + 1}, newer.*upgrade"):
        load_pipeline(folder)
    cfg["format_version"] = "one"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="must be a whole number"):
        load_pipeline(folder)


def test_an_unversioned_checkpoint_is_migrated_with_one_notice(micro_pipe, tmp_path, caplog):
    folder = micro_pipe.save_pretrained(tmp_path / "model")
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["format_version"], cfg["sample"]["keep_bos"]  # as written before both existed
    (folder / "config.json").write_text(json.dumps(cfg))
    with caplog.at_level(logging.WARNING, logger="canvasmar.checkpoint"):
        pipe = load_pipeline(folder)
        load_pipeline(folder)  # once per file and process, not on every load
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert "no format_version" in notices[0] and "sample.keep_bos" in notices[0]
    assert pipe.cfg == micro_pipe.cfg
    assert torch.equal(sample(pipe), sample(micro_pipe))
    resaved = pipe.save_pretrained(tmp_path / "resaved")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="canvasmar.checkpoint"):
        load_pipeline(resaved)
    assert not caplog.records


def test_the_shipped_checkpoint_loads_with_a_notice_and_the_same_frames(tmp_path, caplog):
    """checkpoints/tiny was trained before format versions and re-saved in today's format
    (every key written out): a copy without the version, as it was shipped, loads with a
    one-line notice and samples exactly what the shipped folder does, which loads silently."""
    copy = tmp_path / "tiny"
    shutil.copytree(SHIPPED, copy)
    config = json.loads((copy / "config.json").read_text())
    assert config.pop("format_version") == FORMAT_VERSION
    (copy / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="canvasmar.checkpoint"):
        load_pipeline(SHIPPED)
        assert not caplog.records
        pipe = load_pipeline(copy)
    assert [r.getMessage().count("\n") for r in caplog.records] == [0]
    clip = torch.rand(1, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    kwargs = {"flow_steps": 2, "generator": torch.Generator().manual_seed(0)}
    out = pipe(clip, 1, **kwargs)
    kwargs["generator"] = torch.Generator().manual_seed(0)
    assert torch.equal(out, load_pipeline(SHIPPED)(clip, 1, **kwargs))


def test_a_vae_tokenizer_travels_inside_the_saved_folder(micro_cfg, tmp_path):
    """tokenizer.kind=vae names a folder on this machine: save_pretrained copies the VAE into
    tokenizer/ (no training state) and the saved config points there."""
    import dataclasses

    from canvasmar.config import load_vae_config
    from canvasmar.models.factory import build_model
    from canvasmar.models.vae.model import CausalVAE
    from canvasmar.models.vae.stats import STATS

    vae_cfg = load_vae_config("vae-tiny", ["model.base_channels=4", "model.max_channels=8",
                                           "model.latent_channels=4", "data.resolution=16"])
    vae_run = tmp_path / "vae"
    step = ckpt.save_checkpoint(vae_run, 1, CausalVAE(vae_cfg.model), vae_cfg, {"step": 1})
    (step / STATS).write_text(json.dumps({"mean": [0.0] * 4, "std": [1.0] * 4}))
    tokenizer = dataclasses.replace(micro_cfg.tokenizer, kind="vae", path=str(vae_run), patch=4)
    cfg = dataclasses.replace(micro_cfg, tokenizer=tokenizer)
    pipe = Pipeline(*build_model(cfg), cfg)
    folder = pipe.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in (folder / "tokenizer").iterdir()) == [
        "config.json", "latent_stats.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["tokenizer"]["path"] == "tokenizer"
    shutil.rmtree(vae_run)  # the saved folder needs nothing outside itself
    loaded = load_pipeline(folder)
    assert Path(loaded.cfg.tokenizer.path) == (folder / "tokenizer").resolve()
    context = torch.rand(1, 1, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    kwargs = {"steps": 1, "flow_steps": 1}
    assert torch.equal(loaded(context, 1, generator=torch.Generator().manual_seed(0), **kwargs),
                       pipe(context, 1, generator=torch.Generator().manual_seed(0), **kwargs))


def test_the_shipped_model_by_hub_id_offline_saved_and_reloaded(tmp_path, offline_hub):
    """The issue's check: the shipped model loaded by hub id from an offline cache, saved with
    save_pretrained and reloaded gives identical frames; it samples in bfloat16 too."""
    snapshot = lay_out_hub_cache(offline_hub, "canvasmar/tiny", SHIPPED)
    pipe = load_pipeline("canvasmar/tiny")
    assert pipe.source == snapshot
    clip = torch.rand(1, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    def frames(p):
        return p(clip, 2, flow_steps=2, generator=torch.Generator().manual_seed(0))

    first = frames(pipe)
    assert torch.equal(first, frames(load_pipeline(SHIPPED)))
    again = load_pipeline(pipe.save_pretrained(tmp_path / "saved"))
    assert torch.equal(frames(again), first)
    half = frames(again.to(torch.bfloat16))
    assert half.dtype == torch.float32 and half.shape == first.shape
    assert (half - first).abs().mean() < 0.05  # bf16 rounding, not another model


def test_a_format_1_config_keeps_the_format_1_model():
    """Format 2 added model.residual, group and actions: a format-1 config.json gets the
    values a format-1 model had, written out, whatever today's defaults are."""
    from canvasmar.config.loading import migrate

    saved = {"format_version": 1, "model": {"dim": 64}, "sample": {"steps": 2}}
    model = migrate(saved)["model"]
    assert model == {"dim": 64, "residual": False, "group": 1, "actions": 0,
                     "motion_input": False, "history_noise_input": False, "warp": 0}
    # format 3 added model.motion_input: a format-2 model had none
    assert migrate({"format_version": 2, "model": {"dim": 64}})["model"] == {
        "dim": 64, "motion_input": False, "history_noise_input": False, "warp": 0}
    # format 4 added model.history_noise_input
    assert migrate({"format_version": 3, "model": {"dim": 64}})["model"] == {
        "dim": 64, "history_noise_input": False, "warp": 0}
    # format 5 added model.warp (the shift canvas)
    assert migrate({"format_version": 4, "model": {"dim": 64}})["model"] == {"dim": 64,
                                                                             "warp": 0}
    assert migrate({"format_version": 5, "model": {"dim": 64}})["model"] == {"dim": 64}
