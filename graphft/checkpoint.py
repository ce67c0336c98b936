"""Training checkpoints: everything needed to resume a run exactly, as safetensors + JSON; never pickle.

A checkpoint directory ``<checkpoint_dir>/step-00000120/`` holds

- ``model.safetensors``: every tensor outside the frozen backbone (adapters, router, graph learner, heads,
  buffers; :func:`graphft.io.model_state`);
- ``optimizer.safetensors``: the AdamW state tensors, keyed ``state.<param index>.<name>``;
- ``rng.safetensors``: the torch CPU (and CUDA) generator states as uint8 tensors, the numpy key array and
  the multi-task sampler's generator state and example orders;
- ``trainer.json``, the manifest: format version, step, router temperature, backbone identity and adapted
  layer names, the model config and tasks, the optimizer's non-tensor state (param groups), python's and
  numpy's scalar RNG state, the sampler cursors, the training history so far, and the SHA-256 of each tensor
  file.

Writes are atomic by a directory swap: files go to a hidden temporary directory, are fsynced, and the
directory is renamed to its final ``step-*`` name last. A killed process therefore leaves either a complete
checkpoint or a hidden leftover (removed by the next save), never a half-written ``step-*`` directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import Tensor

from graphft.errors import CheckpointError
from graphft.io import model_state
from graphft.model import GraphFTModel
from graphft.tasks.sampling import MultiTaskSampler

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "TrainingState",
    "backbone_identity",
    "latest_checkpoint",
    "list_checkpoints",
    "load_training_checkpoint",
    "save_training_checkpoint",
]

CHECKPOINT_FORMAT_VERSION = 1
MANIFEST = "trainer.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"
TENSOR_FILES = (MODEL_FILE, OPTIMIZER_FILE, RNG_FILE)
_STEP_DIRECTORY = re.compile(r"^step-(\d{8,})$")
_TEMPORARY_PREFIX = ".tmp-step-"
# Training settings that may change between a run and its resumption without breaking exactness of the rest.
_RESUMABLE_CHANGES = {"steps", "progress", "eval_every", "checkpoint_every", "keep_checkpoints"}


@dataclass
class TrainingState:
    """What the training loop hands to :func:`save_training_checkpoint` and gets back on resume.

    Attributes:
        step: optimizer steps completed.
        temperature: the router temperature after the last step.
        history: ``TrainResult.history`` so far; evaluations: ``TrainResult.evaluations`` so far.
    """

    step: int
    temperature: float
    history: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]


def backbone_identity(model: GraphFTModel) -> dict[str, Any]:
    """What identifies the backbone a checkpoint belongs to: class, architecture, sizes and adapted layers."""
    config = model.backbone.config
    return {
        "class": type(model.backbone).__name__,
        "model_type": getattr(config, "model_type", None),
        "name_or_path": getattr(config, "_name_or_path", None) or model.config.backbone,
        "hidden_size": getattr(config, "hidden_size", None) or getattr(config, "n_embd", None),
        "num_hidden_layers": getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None),
        "layer_names": list(model.layer_names),
    }


# ----------------------------------------------------------------------------------------------- helpers
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        handle = os.open(path, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _write_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    safetensors.torch.save_file(
        {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()},
        str(path),
        metadata={"format_version": str(CHECKPOINT_FORMAT_VERSION)},
    )
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _split_optimizer_state(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """AdamW's state_dict as (tensors for safetensors, everything else for JSON)."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = [
        {key: list(value) if isinstance(value, tuple) else value for key, value in group.items()}
        for group in state["param_groups"]
    ]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, Tensor], document: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = tensor
    for index, entries in document.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = [
        {key: tuple(value) if key == "betas" else value for key, value in group.items()}
        for group in document["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def _rng_state(sampler: MultiTaskSampler) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state(), "sampler_generator": sampler.generator.get_state()}
    sampler_state = sampler.state_dict()
    for task, order in enumerate(sampler_state["orders"]):
        tensors[f"sampler_order.{task}"] = order
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for device, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda.{device}"] = state
    numpy_state: tuple[Any, ...] = np.random.get_state(legacy=True)  # type: ignore[assignment]
    tensors["numpy_keys"] = torch.from_numpy(np.asarray(numpy_state[1], dtype=np.uint32).astype(np.int64))
    version, internal, gauss = random.getstate()
    document = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss},
        "numpy": {
            "kind": numpy_state[0],
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "sampler_cursors": list(sampler_state["cursors"]),
    }
    return tensors, document


def _restore_rng_state(tensors: dict[str, Tensor], document: dict[str, Any], sampler: MultiTaskSampler) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda_names = sorted((name for name in tensors if name.startswith("torch_cuda.")), key=lambda n: int(n[11:]))
    cuda_states = [tensors[name] for name in cuda_names]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    numpy = document["numpy"]
    keys = tensors["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy["kind"], keys, numpy["pos"], numpy["has_gauss"], numpy["cached_gaussian"]))
    python = document["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    orders = [tensors[f"sampler_order.{task}"] for task in range(len(sampler.sizes))]
    sampler.load_state_dict(
        {"generator": tensors["sampler_generator"], "orders": orders, "cursors": document["sampler_cursors"]}
    )


# ------------------------------------------------------------------------------------------------- listing
def list_checkpoints(checkpoint_dir: str | Path) -> list[Path]:
    """The complete checkpoints in ``checkpoint_dir``, oldest first (hidden leftovers are ignored)."""
    directory = Path(checkpoint_dir)
    if not directory.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in directory.iterdir() if (match := _STEP_DIRECTORY.match(path.name))]
    return [path for _, path in sorted(found)]


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The newest complete checkpoint in ``checkpoint_dir``, or None."""
    checkpoints = list_checkpoints(checkpoint_dir)
    return checkpoints[-1] if checkpoints else None


# -------------------------------------------------------------------------------------------------- saving
def save_training_checkpoint(
    checkpoint_dir: str | Path,
    model: GraphFTModel,
    optimizer: torch.optim.Optimizer,
    sampler: MultiTaskSampler,
    state: TrainingState,
    keep: int = 2,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> Path:
    """Write a checkpoint of the run at ``state.step`` atomically; keep the newest ``keep`` (0: all).

    Returns:
        The checkpoint's directory, ``checkpoint_dir/step-XXXXXXXX``.

    Raises:
        CheckpointError: the adapter banks are merged.
    """
    if model.banks.merged:
        raise CheckpointError("cannot checkpoint a model whose adapter banks are merged; call unmerge first.")
    root = Path(checkpoint_dir)
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(f"{_TEMPORARY_PREFIX}*"):  # from a process killed mid-write
        shutil.rmtree(leftover, ignore_errors=True)
    final = root / f"step-{state.step:08d}"
    temporary = Path(tempfile.mkdtemp(prefix=f"{_TEMPORARY_PREFIX}{state.step:08d}.", dir=root))
    try:
        optimizer_tensors, optimizer_document = _split_optimizer_state(optimizer.state_dict())
        rng_tensors, rng_document = _rng_state(sampler)
        _write_tensors(temporary / MODEL_FILE, model_state(model))
        _write_tensors(temporary / OPTIMIZER_FILE, optimizer_tensors)
        _write_tensors(temporary / RNG_FILE, rng_tensors)
        manifest = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "step": state.step,
            "temperature": state.temperature,
            "backbone": backbone_identity(model),
            "config": model.config.to_dict(),
            "tasks": [task.to_dict() for task in model.tasks],
            "optimizer": optimizer_document,
            "scheduler": None if scheduler is None else scheduler.state_dict(),
            "rng": rng_document,
            "history": state.history,
            "evaluations": state.evaluations,
            "sha256": {name: _sha256(temporary / name) for name in TENSOR_FILES},
        }
        with open(temporary / MANIFEST, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(manifest, indent=1) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_directory(temporary)
        if final.exists():  # the same step saved again (e.g. a rerun): swap the old one out first
            stale = root / f"{_TEMPORARY_PREFIX}{state.step:08d}.replaced"
            os.replace(final, stale)
            os.replace(temporary, final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.replace(temporary, final)
        _fsync_directory(root)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if keep > 0:
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


# ------------------------------------------------------------------------------------------------- loading
def _read_manifest(checkpoint: Path) -> dict[str, Any]:
    path = checkpoint / MANIFEST
    if not path.is_file():
        raise CheckpointError(
            f"{path} is missing; {checkpoint} is not a complete graphft training checkpoint. Delete it to resume "
            "from the previous checkpoint, or pass resume=False to start over."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}); the checkpoint is corrupted. Delete {checkpoint} to resume from the "
            "previous checkpoint."
        ) from exc
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path} does not hold a checkpoint manifest; delete {checkpoint}.")
    version = manifest.get("format_version")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, this graphft reads version "
            f"{CHECKPOINT_FORMAT_VERSION}; resume it with the graphft version that wrote it, or start a new run "
            "in another checkpoint_dir."
        )
    return manifest


def _read_tensors(checkpoint: Path, name: str, manifest: dict[str, Any]) -> dict[str, Tensor]:
    path = checkpoint / name
    if not path.is_file():
        raise CheckpointError(
            f"{path} is missing; the checkpoint is incomplete. Delete {checkpoint} to resume "
            "from the previous checkpoint."
        )
    expected = manifest.get("sha256", {}).get(name)
    actual = _sha256(path)
    if expected != actual:
        raise CheckpointError(
            f"{path} is truncated or corrupted: its SHA-256 {actual[:12]}... differs from the manifest's "
            f"{str(expected)[:12]}...; delete {checkpoint} to resume from the previous checkpoint."
        )
    try:
        return safetensors.torch.load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} cannot be read ({exc}); the file is truncated or corrupted. Delete {checkpoint} to resume "
            "from the previous checkpoint."
        ) from exc


def _check_compatible(checkpoint: Path, manifest: dict[str, Any], model: GraphFTModel) -> None:
    path = checkpoint / MANIFEST
    saved, current = manifest.get("backbone", {}), backbone_identity(model)
    for key in ("class", "model_type", "hidden_size", "num_hidden_layers", "layer_names"):
        if saved.get(key) != current[key]:
            shown = (
                (len(saved.get(key) or []), len(current[key]))
                if key == "layer_names"
                else (saved.get(key), current[key])
            )
            raise CheckpointError(
                f"{path} was written for another backbone: its {key} is {shown[0]!r}, the model's is {shown[1]!r}. "
                f"Resume with the backbone it was trained on ({saved.get('name_or_path')!r}, "
                f"{saved.get('class')}), or use another checkpoint_dir."
            )
    if manifest.get("tasks") != [task.to_dict() for task in model.tasks]:
        names = [task.get("name") for task in manifest.get("tasks", [])]
        raise CheckpointError(
            f"{path} was written for tasks {names}, the model has {model.task_names}; resume with the same tasks "
            "in the same order, or use another checkpoint_dir."
        )
    saved_config, current_config = dict(manifest.get("config", {})), model.config.to_dict()
    saved_training = dict(saved_config.pop("training", {}))
    current_training = dict(current_config.pop("training"))
    changed = [
        f"training.{key}"
        for key in sorted(set(saved_training) | set(current_training))
        if key not in _RESUMABLE_CHANGES and saved_training.get(key) != current_training.get(key)
    ]
    changed += [
        key
        for key in sorted(set(saved_config) | set(current_config))
        if saved_config.get(key) != current_config.get(key)
    ]
    if changed:
        raise CheckpointError(
            f"{path} was written with another config (differs in {', '.join(changed)}); resume with the config it "
            "was trained with, or use another checkpoint_dir."
        )


def load_training_checkpoint(
    checkpoint: str | Path,
    model: GraphFTModel,
    optimizer: torch.optim.Optimizer,
    sampler: MultiTaskSampler,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> TrainingState:
    """Restore the model, optimizer, sampler, scheduler and RNG states from ``checkpoint`` (a ``step-*`` dir).

    Every file is checked against the manifest's SHA-256 before anything is restored, so a failed load leaves
    the model and optimizer untouched.

    Raises:
        CheckpointError: a missing, truncated or corrupted file; another format version; a checkpoint of
            another backbone, task set or config.
    """
    checkpoint = Path(checkpoint)
    manifest = _read_manifest(checkpoint)
    _check_compatible(checkpoint, manifest, model)
    weights = _read_tensors(checkpoint, MODEL_FILE, manifest)
    optimizer_tensors = _read_tensors(checkpoint, OPTIMIZER_FILE, manifest)
    rng_tensors = _read_tensors(checkpoint, RNG_FILE, manifest)
    expected = model_state(model)
    mismatched = sorted(set(expected) ^ set(weights)) or sorted(
        name for name in expected if expected[name].shape != weights[name].shape
    )
    if mismatched:
        raise CheckpointError(
            f"{checkpoint / MODEL_FILE} does not match the model (first differing tensors: {mismatched[:3]}); "
            "resume with the backbone and config it was trained with, or use another checkpoint_dir."
        )
    try:
        model.load_state_dict(weights, strict=False)
        optimizer.load_state_dict(_join_optimizer_state(optimizer_tensors, manifest["optimizer"]))
        if scheduler is not None and manifest.get("scheduler") is not None:
            scheduler.load_state_dict(manifest["scheduler"])
        _restore_rng_state(rng_tensors, manifest["rng"], sampler)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"{checkpoint} cannot be restored ({type(exc).__name__}: {exc}); it was written by another run "
            "setup. Resume with the model, config and data it was trained with, or use another checkpoint_dir."
        ) from exc
    model.router.set_temperature(float(manifest["temperature"]))
    return TrainingState(
        step=int(manifest["step"]),
        temperature=float(manifest["temperature"]),
        history=list(manifest.get("history", [])),
        evaluations=list(manifest.get("evaluations", [])),
    )
