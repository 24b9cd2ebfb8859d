"""Pretrained folders and the Hugging Face Hub: write one, find one by path or `org/name`, push.

A pretrained folder is a checkpoint folder that `load_pipeline` reads and the Hub shows:

    config.json          the run config with its format_version (config/loading.py)
    model.safetensors    the weights the pipeline holds (the EMA ones when it loaded those)
    README.md            the model card: a YAML header (library_name: canvasmar, tags) + text
    tokenizer/           a VAE tokenizer's folder, when the model has one (tokenizer.path)

`huggingface_hub` is imported inside the functions that talk to the Hub or build the card,
so importing canvasmar (and sampling from a local folder) never loads it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from canvasmar import checkpoint as ckpt
from canvasmar.atomic import atomic_path, write_text_atomic
from canvasmar.config import FORMAT_VERSION, RunConfig, save_config_json
from canvasmar.errors import UserError, require_extra

CARD, TOKENIZER_DIR = "README.md", "tokenizer"
TAGS = ("canvasmar", "video-prediction", "masked-autoregressive", "pytorch")
# What load_pipeline needs from a repo: never pickles (train_state.pt), never sample videos.
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.md", "latest"]
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]*[A-Za-z0-9_]")


def is_repo_id(source: str | Path) -> bool:
    """`org/name` given as a string (a Path is always a local folder)."""
    return isinstance(source, str) and bool(_REPO_ID.fullmatch(source)) and ".." not in source


def resolve_pretrained(source: str | Path, *, revision: str | None = None,
                       cache_dir: str | Path | None = None, token: str | bool | None = None,
                       local_files_only: bool = False) -> Path:
    """A local folder as it is; an `org/name` that is not a local folder -> its snapshot in the
    Hugging Face cache (downloaded unless cached and offline: HF_HUB_OFFLINE=1 or
    `local_files_only`). Errors are UserErrors naming both readings of `source`."""
    if Path(source).exists() or not is_repo_id(source):
        return Path(source)  # checkpoint.resolve_checkpoint explains a missing local folder
    require_extra("huggingface_hub", "hub", f"loading '{source}' from the Hugging Face Hub")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"'{source}' is not a local folder, and the Hub model '{source}'"
    try:
        return Path(snapshot_download(str(source), revision=revision, cache_dir=cache_dir,
                                      token=token, local_files_only=local_files_only,
                                      allow_patterns=DOWNLOAD_PATTERNS, library_name="canvasmar"))
    except RevisionNotFoundError:
        raise UserError(f"the Hub model '{source}' has no revision '{revision}': give a branch, "
                        f"tag or commit it has") from None
    except GatedRepoError:
        raise UserError(f"the Hub model '{source}' is gated: accept its terms on "
                        f"huggingface.co and log in (hf auth login) or pass token=") from None
    except RepositoryNotFoundError:
        raise UserError(f"{where} does not exist (or is private: log in with 'hf auth login' "
                        f"or pass token=); check the name") from None
    except LocalEntryNotFoundError:
        raise UserError(f"{where} is not in the Hugging Face cache and cannot be downloaded "
                        f"(offline: HF_HUB_OFFLINE=1 or local_files_only=True, or no network): "
                        f"check the path, or download it once online") from None
    except (HfHubHTTPError, HFValidationError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{where} cannot be loaded ({first})") from None


def bundled_tokenizer(cfg: RunConfig, folder: Path) -> RunConfig:
    """A relative tokenizer.path that names a folder inside the checkpoint (save_pretrained's
    `tokenizer/`) -> that folder, so a downloaded model finds its VAE wherever it lies."""
    path = cfg.tokenizer.path
    if not path or Path(path).is_absolute() or not (folder / path).is_dir():
        return cfg
    tokenizer = dataclasses.replace(cfg.tokenizer, path=str((folder / path).resolve()))
    return dataclasses.replace(cfg, tokenizer=tokenizer)


def save_pretrained_folder(folder: str | Path, weights: dict[str, torch.Tensor],
                           cfg: RunConfig, card: str, tokenizer_folder: Path | None = None
                           ) -> Path:
    """Write a pretrained folder (each file atomically); files of an earlier save that would
    shadow these weights (ema.safetensors, train_state.pt) are removed."""
    folder = Path(folder)
    if (folder / ckpt.LATEST).exists():
        raise UserError(f"{folder} holds a training run: save_pretrained into another folder")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file: give save_pretrained a folder")
    folder.mkdir(parents=True, exist_ok=True)
    if cfg.tokenizer.kind != "pixel":  # ship the VAE inside the folder, found relative to it
        if tokenizer_folder is None:
            raise UserError(f"the {cfg.tokenizer.kind} tokenizer does not name its folder; "
                            f"save_pretrained cannot bundle it")
        target = folder / TOKENIZER_DIR
        if target.resolve() != Path(tokenizer_folder).resolve():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(tokenizer_folder, target,
                            ignore=shutil.ignore_patterns("*.pt", ".*", ckpt.LATEST))
        cfg = dataclasses.replace(cfg, tokenizer=dataclasses.replace(cfg.tokenizer,
                                                                     path=TOKENIZER_DIR))
    tensors = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    with atomic_path(folder / ckpt.WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format_version": str(FORMAT_VERSION)})
    write_text_atomic(folder / ckpt.CONFIG, save_config_json(cfg))
    write_text_atomic(folder / CARD, card)
    for stale in (ckpt.EMA_WEIGHTS, ckpt.STATE):
        (folder / stale).unlink(missing_ok=True)
    return folder


def model_card(cfg: RunConfig, params: int, repo_id: str | None = None,
               existing: str | None = None) -> str:
    """README.md for the Hub: `existing` (the card of the folder the model came from) with
    library_name and tags added to its YAML header, or a card written from the config."""
    require_extra("huggingface_hub", "hub", "save_pretrained (its model card)")
    from huggingface_hub import ModelCard, ModelCardData

    if existing is not None and existing.lstrip().startswith("---"):
        card = ModelCard(existing)
        card.data.library_name = card.data.library_name or "canvasmar"
        card.data.tags = list(dict.fromkeys([*(card.data.tags or []), *TAGS]))
        return str(card)
    data = ModelCardData(library_name="canvasmar", tags=list(TAGS))
    body = existing if existing is not None else _card_text(cfg, params, repo_id)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def _card_text(cfg: RunConfig, params: int, repo_id: str | None) -> str:
    c, h, w = cfg.tokenizer.channels, cfg.data.resolution, cfg.data.resolution
    tok = cfg.tokenizer
    tokenizer = (f"pixel tokenizer with {tok.patch}x{tok.patch} patches" if tok.kind == "pixel"
                 else f"{tok.kind} VAE tokenizer (in `{TOKENIZER_DIR}/`)")
    s = cfg.sample
    name = repo_id or "PATH"
    return (f"# CanvasMAR model `{cfg.name}`\n\n"
            f"A CanvasMAR video-prediction model (masked autoregression with a canvas): "
            f"{params:,} parameters, {w}x{h} frames with {c} channels, {tokenizer}, trained on "
            f"{cfg.data.frames}-frame clips of `{cfg.data.source}` data. `config.json` is the "
            f"full run config (format {FORMAT_VERSION}; the model is rebuilt from it), "
            f"`model.safetensors` the weights.\n\n"
            f"## Use\n\n```python\nimport canvasmar\n\n"
            f"pipe = canvasmar.load_pipeline(\"{name}\")  # device=, torch_dtype= optional\n"
            f"video = pipe(context, num_frames=16)  # (B, T, C, H, W) in [0, 1] -> "
            f"(B, 16, C, H, W)\n```\n\n"
            f"or `canvasmar sample --checkpoint {name} --out video.mp4`.\n\n"
            f"Sampling defaults (from `config.json`; each can be changed per call): "
            f"{s.steps} MAR steps, {s.flow_steps} flow steps, guidance canvas {s.cfg_canvas} / "
            f"temporal {s.cfg_temporal}, {s.order} order, head temperature "
            f"{s.head_temperature}.\n")


def push_folder(folder: Path, repo_id: str, *, private: bool | None = None,
                token: str | bool | None = None, commit_message: str | None = None,
                revision: str | None = None, create_pr: bool = False) -> str:
    """Create `repo_id` on the Hub if needed and upload `folder` as one commit; -> its URL."""
    if not is_repo_id(repo_id):
        raise UserError(f"'{repo_id}' is not a Hub repository id: use 'org/name'")
    require_extra("huggingface_hub", "hub", "push_to_hub")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model",
                                 commit_message=commit_message or "Upload canvasmar model",
                                 revision=revision, create_pr=create_pr)
    except OfflineModeIsEnabled:
        raise UserError("push_to_hub needs the network, but HF_HUB_OFFLINE is set: unset it"
                        ) from None
    except HfHubHTTPError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"pushing to the Hub model '{repo_id}' failed ({first}): log in with "
                        f"'hf auth login' or pass token= with write access") from None
    except (HFValidationError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"pushing to the Hub model '{repo_id}' failed ({first})") from None
    return str(getattr(info, "commit_url", info))
