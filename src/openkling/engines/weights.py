"""The weights a deployment profile names: where each model's pipelines live, whether they are on
disk in a loadable layout, and the download of a profile's hub repo into its weights directory."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from .profiles import ModelProfile, Profiles

# the files of a pipeline component that loading it reads (configs, weights, tokenizer files)
COMPONENT_FILES = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken")
# other variants and formats of the same weights: never downloaded
SKIPPED_FILES = ["*.bin", "*.pt", "*.pth", "*.ckpt", "*.msgpack", "*.onnx", "*.h5", "*.gguf"]
SKIPPED_VARIANTS = ["*.fp16.*", "*.bf16.*", "*.fp8.*"]


@dataclass(frozen=True)
class WeightsDir:
    """One pipeline directory a model uses: its role ("t2v", "i2v", "references", "audio")."""

    model: str
    role: str
    path: Path
    repo: str | None = None
    revision: str | None = None


def weights_dirs(profiles: Profiles) -> list[WeightsDir]:
    """Every pipeline directory the profile's video models name, in profile order."""
    out: list[WeightsDir] = []
    for name, model in profiles.models.items():
        out.extend(model_dirs(name, model))
    return out


def model_dirs(name: str, model: ModelProfile) -> list[WeightsDir]:
    """The pipeline directories of one model (none for the synthetic engine)."""
    out: list[WeightsDir] = []
    if model.weights is not None:
        out.append(WeightsDir(name, "t2v", model.weights, model.repo, model.revision))
    if model.i2v is not None:
        out.append(WeightsDir(name, "i2v", model.i2v.weights))
    if model.references is not None:
        out.append(WeightsDir(name, "references", model.references.weights))
    if model.audio is not None and model.audio.weights is not None:
        out.append(WeightsDir(name, "audio", model.audio.weights))
    return out


def components(path: Path) -> dict[str, str]:
    """``{folder: class name}`` of the components model_index.json lists (raises if unreadable)."""
    index = json.loads((path / "model_index.json").read_text())
    if not isinstance(index, dict):
        raise ValueError("model_index.json is not a JSON object")
    out: dict[str, str] = {}
    for key, value in index.items():
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        if value[0] is None or value[1] is None:  # an optional component left out
            continue
        out[key] = str(value[1])
    return out


def layout_problems(path: Path) -> list[str]:
    """What keeps ``path`` from loading as a diffusers pipeline; empty when it would load."""
    if not path.is_dir():
        return [f"{path}: no such directory"]
    if not (path / "model_index.json").is_file():
        return [f"{path}: no model_index.json (not a diffusers pipeline directory)"]
    try:
        parts = components(path)
    except (ValueError, OSError) as exc:
        return [f"{path}/model_index.json: unreadable: {exc}"]
    problems = []
    for folder, cls in parts.items():
        where = path / folder
        if not where.is_dir():
            problems.append(f"{where}: missing ({cls}, listed in model_index.json)")
        elif "Tokenizer" in cls or "Processor" in cls:
            if not any(where.iterdir()):
                problems.append(f"{where}: empty ({cls} needs its tokenizer files)")
        elif "Scheduler" in cls:
            if not (where / "scheduler_config.json").is_file():
                problems.append(f"{where}: no scheduler_config.json ({cls})")
        else:
            if not (where / "config.json").is_file():
                problems.append(f"{where}: no config.json ({cls})")
            if not any(where.glob("*.safetensors")) and not any(where.glob("*.bin")):
                problems.append(f"{where}: no weights file (*.safetensors) ({cls})")
    return problems


def pull(target: WeightsDir, *, progress: bool = True) -> Path:
    """Download ``target.repo`` into ``target.path``: model_index.json first, then only the files
    of the components it lists. Resumable: files already complete are skipped, partial ones
    continue (huggingface_hub's local-dir metadata in ``<path>/.cache``)."""
    if target.repo is None:
        raise ValueError(f"{target.model}: no repo in the profile")
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    (disable_progress_bars if not progress else enable_progress_bars)()
    existed = target.path.exists()
    target.path.mkdir(parents=True, exist_ok=True)
    try:
        hf_hub_download(
            target.repo, "model_index.json", revision=target.revision, local_dir=target.path
        )
    except BaseException:
        if not existed:  # nothing came: leave no empty folder behind
            shutil.rmtree(target.path, ignore_errors=True)
        raise
    patterns = ["model_index.json"]
    for folder in components(target.path):
        patterns.extend(f"{folder}/{pattern}" for pattern in COMPONENT_FILES)
    snapshot_download(
        target.repo,
        revision=target.revision,
        local_dir=target.path,
        allow_patterns=patterns,
        ignore_patterns=SKIPPED_FILES + SKIPPED_VARIANTS,
    )
    return target.path
