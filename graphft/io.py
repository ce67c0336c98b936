"""Saving and loading GraphFTModel: safetensors for tensors, JSON for everything else; never pickle.

A checkpoint directory holds ``graphft.json`` (format version, config, tasks, adapted layer names, the
relation matrix for reading) and ``model.safetensors`` (every trainable tensor and buffer outside the frozen
backbone). The backbone itself is not saved: it is reloaded from ``config.backbone``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import safetensors.torch
from safetensors import SafetensorError
from transformers import PreTrainedModel

from graphft.backbones import load_backbone
from graphft.config import GraphFTConfig
from graphft.errors import CheckpointError, ConfigError
from graphft.io_atomic import atomic_path, atomic_write_text
from graphft.model import GraphFTModel
from graphft.tasks.spec import TaskSpec

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]

FORMAT_VERSION = 1
CONFIG_FILE = "graphft.json"
WEIGHTS_FILE = "model.safetensors"


def _is_frozen_backbone_tensor(name: str) -> bool:
    return name.startswith("backbone.") and ".lora_" not in name


def model_state(model: GraphFTModel) -> dict[str, Any]:
    """Every tensor of the model except the frozen backbone weights (contiguous copies)."""
    return {
        name: tensor.detach().contiguous().clone()
        for name, tensor in model.state_dict().items()
        if not _is_frozen_backbone_tensor(name)
    }


def save_model(model: GraphFTModel, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed); each file is written atomically.

    Raises:
        CheckpointError: the adapter banks are merged (unmerge first: a merged backbone is not saved).
    """
    if model.banks.merged:
        raise CheckpointError("cannot save a model whose adapter banks are merged; call unmerge first.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / WEIGHTS_FILE) as temporary:
        safetensors.torch.save_file(
            model_state(model), str(temporary), metadata={"format_version": str(FORMAT_VERSION)}
        )
    document = {
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "tasks": [task.to_dict() for task in model.tasks],
        "layer_names": model.layer_names,
        "backbone_class": type(model.backbone).__name__,
        "relation_matrix": model.relation_matrix().tolist(),
        # The annealed routing temperature is state too: evaluation paths depend on it.
        "routing_temperature": model.router.temperature,
    }
    atomic_write_text(directory / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
    return directory


def load_model(directory: str | Path, backbone: PreTrainedModel | None = None) -> GraphFTModel:
    """Load a model saved by :func:`save_model`.

    Args:
        directory: the checkpoint directory.
        backbone: the backbone to use; None loads ``config.backbone`` (cut to ``config.num_hidden_layers``).

    Raises:
        CheckpointError: missing or unreadable files, another format version, or a backbone whose adapted
            layers differ from the checkpoint's.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise CheckpointError(f"{path} is missing; is {directory} a graphft checkpoint (saved with save_model)?")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_path} is not valid JSON ({exc}); the checkpoint is corrupted.") from exc
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format version {version!r}, this graphft reads version {FORMAT_VERSION}; "
            "load it with the graphft version that wrote it."
        )
    try:
        config = GraphFTConfig.from_dict(document["config"])
        tasks = [TaskSpec.from_dict(task) for task in document["tasks"]]
    except (KeyError, ConfigError, TypeError) as exc:
        raise CheckpointError(f"{config_path} does not describe a valid model: {exc}") from exc
    try:
        state = safetensors.torch.load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights_path} cannot be read ({exc}); the file is truncated or corrupted.") from exc
    if backbone is None:
        backbone = load_backbone(config.backbone, config.num_hidden_layers)
    if "task_features" not in state:
        raise CheckpointError(f"{weights_path} has no task_features tensor; the checkpoint is incomplete.")
    model = GraphFTModel(backbone, tasks, config, task_features=state["task_features"])
    if model.layer_names != document.get("layer_names"):
        raise CheckpointError(
            f"the backbone's adapted layers differ from the checkpoint's ({len(model.layer_names)} vs "
            f"{len(document.get('layer_names', []))}); load it with the backbone it was trained on."
        )
    expected = set(model_state(model))
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_path} does not match the model: missing {sorted(missing)[:5]}, unexpected "
            f"{sorted(unexpected)[:5]}; load it with the backbone and config it was trained with."
        )
    model.load_state_dict(state, strict=False)
    model.router.set_temperature(document.get("routing_temperature", config.router.routing_temperature))
    return model.eval()
