"""Export one task's composed adapter as a standard PEFT LoRA checkpoint.

Axis legend: l target layers, k modules, a active modules of a layer, r rank, i in features, o out features.

A task's deterministic path uses, in layer l, the active modules a (non-zero gated weights w_a). Their sum is
itself a LoRA of rank ``a * r``, exactly:

.. math::
    s \\sum_a w_a B_a A_a x = B' A' x, \\quad A' = [A_1; \\dots; A_a], \\quad B' = [s w_1 B_1, \\dots, s w_a B_a]

so each layer is written with rank ``a * r`` (``rank_pattern``) and ``lora_alpha`` equal to that rank
(``alpha_pattern``), which makes PEFT's scaling ``alpha / rank`` exactly 1: the weights and graphft's scaling
live in B'. Layers where the task uses no module are left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import safetensors.torch
from einops import rearrange
from torch import Tensor, nn
from transformers.pytorch_utils import Conv1D

from graphft.adapters import AdapterBank
from graphft.compose.paths import task_path
from graphft.errors import ExportError
from graphft.io_atomic import atomic_path
from graphft.model import GraphFTModel

__all__ = [
    "PEFT_CONFIG_FILE",
    "PEFT_WEIGHTS_FILE",
    "composed_lora",
    "export_peft",
    "load_exported_head",
    "peft_layer_kind",
]

PEFT_CONFIG_FILE = "adapter_config.json"
PEFT_WEIGHTS_FILE = "adapter_model.safetensors"
HEAD_FILE = "graphft_head.safetensors"
PEFT_PREFIX = "base_model.model."


def peft_layer_kind(layer: nn.Module) -> str:
    """How PEFT's LoRA wraps ``layer``: ``"linear"`` (``nn.Linear``) or ``"conv1d"`` (GPT-2 ``Conv1D``).

    Raises:
        ExportError: PEFT's LoRA has no exact counterpart for this layer type.
    """
    if isinstance(layer, Conv1D):
        return "conv1d"
    if isinstance(layer, nn.Linear):
        return "linear"
    raise ExportError(
        f"PEFT cannot map a {type(layer).__name__} layer to a LoRA layer; export_peft supports torch.nn.Linear "
        "and transformers Conv1D targets only."
    )


def _fan_in_fan_out(model: GraphFTModel) -> bool:
    """PEFT's ``fan_in_fan_out`` flag for the model's adapted layers (one flag for the whole config)."""
    kinds = {name: peft_layer_kind(bank.base_layer) for name, bank in model.banks.items()}
    if len(set(kinds.values())) > 1:
        conv = sorted(name for name, kind in kinds.items() if kind == "conv1d")[:3]
        linear = sorted(name for name, kind in kinds.items() if kind == "linear")[:3]
        raise ExportError(
            f"the backbone mixes Conv1D layers ({', '.join(conv)}) and Linear layers ({', '.join(linear)}) among "
            "its adapted layers; one PEFT LoraConfig has a single fan_in_fan_out flag and cannot map both. Adapt "
            "only one kind (AdapterConfig.target_modules) to export."
        )
    return next(iter(kinds.values())) == "conv1d"


def composed_lora(bank: AdapterBank, weights: Tensor) -> tuple[Tensor, Tensor] | None:
    """The exact single LoRA of a bank's weighted active modules, in PEFT's layout (None when none is active).

    Shapes:
        - weights: (k)
        - returns: lora_A (a r, i) and lora_B (o, a r), float32
    """
    active = weights.nonzero().flatten()
    if active.numel() == 0:
        return None
    lora_a = bank.lora_A.detach().float()[active]  # (a, i, r)
    lora_b = bank.lora_B.detach().float()[active]  # (a, r, o)
    scaled = weights.float()[active].to(lora_b.device) * bank.scaling
    lora_b = lora_b * rearrange(scaled, "a -> a 1 1")
    down = rearrange(lora_a, "a i r -> (a r) i").contiguous()
    up = rearrange(lora_b, "a r o -> o (a r)").contiguous()
    return down.cpu(), up.cpu()


def export_peft(model: GraphFTModel, task: str | int, directory: str | Path) -> Path:
    """Write task ``task``'s composed adapter as a PEFT LoRA checkpoint that ``PeftModel.from_pretrained`` loads.

    The files are ``adapter_config.json`` (written by PEFT's own ``LoraConfig``) and
    ``adapter_model.safetensors``; loaded onto a fresh copy of the backbone, the PEFT model reproduces graphft's
    backbone outputs for that task (see the module docstring for the exact construction). For classification
    and regression tasks the task head is written next to them as ``graphft_head.safetensors`` (``weight``
    (c, h), ``bias`` (c), the task spec in the metadata); PEFT ignores that file.

    Args:
        model: the model (merged or not: the export reads only the modules and the router).
        task: the task's name or id.
        directory: created if needed; existing adapter files are replaced atomically.

    Returns:
        The directory.

    Raises:
        RoutingError: unknown task.
        ExportError: PEFT is not installed, or it cannot map the adapted layers (layer types other than Linear
            and Conv1D, or a mix of both).
    """
    try:
        from peft import LoraConfig
    except ImportError as exc:
        raise ExportError("export_peft needs the peft package; install it with `pip install peft`.") from exc
    path = task_path(model, task)  # raises RoutingError for unknown tasks
    fan_in_fan_out = _fan_in_fan_out(model)
    rank = model.config.adapter.rank
    tensors: dict[str, Tensor] = {}
    rank_pattern: dict[str, int] = {}
    for index, (name, bank) in enumerate(model.banks.items()):
        composed = composed_lora(bank, path[index])
        if composed is None:
            continue
        down, up = composed
        tensors[f"{PEFT_PREFIX}{name}.lora_A.weight"] = down
        tensors[f"{PEFT_PREFIX}{name}.lora_B.weight"] = up
        rank_pattern[re.escape(name)] = int(down.shape[0])
    targets = [name for name in model.banks if re.escape(name) in rank_pattern]
    if not targets:  # pragma: no cover - the gate keeps at least one module per layer
        raise ExportError(f"task {task!r} uses no module in any layer; there is nothing to export.")
    config = LoraConfig(
        r=rank,
        lora_alpha=rank,
        target_modules=targets,
        rank_pattern=rank_pattern,
        alpha_pattern=dict(rank_pattern),  # alpha = rank in every layer: PEFT's scaling is 1
        lora_dropout=model.config.adapter.dropout,
        fan_in_fan_out=fan_in_fan_out,
        bias="none",
        inference_mode=True,
        base_model_name_or_path=getattr(model.backbone, "name_or_path", None) or None,
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / PEFT_WEIGHTS_FILE) as temporary:
        safetensors.torch.save_file(tensors, str(temporary), metadata={"format": "pt"})
    config.save_pretrained(str(directory))  # PEFT writes its own adapter_config.json
    if not model.language_modelling:
        _write_head(model, model.task_id(task) if isinstance(task, str) else task, directory)
    return directory


def _write_head(model: GraphFTModel, task_id: int, directory: Path) -> None:
    spec = model.tasks[task_id]
    width = spec.num_labels
    head = {
        "weight": model.heads.weight.detach()[task_id, :width].float().cpu().contiguous(),
        "bias": model.heads.bias.detach()[task_id, :width].float().cpu().contiguous(),
    }
    with atomic_path(directory / HEAD_FILE) as temporary:
        safetensors.torch.save_file(head, str(temporary), metadata={"task": json.dumps(spec.to_dict())})


def load_exported_head(directory: str | Path) -> tuple[Tensor, Tensor]:
    """The (weight (c, h), bias (c)) of a head written by :func:`export_peft`."""
    tensors = safetensors.torch.load_file(str(Path(directory) / HEAD_FILE))
    return tensors["weight"], tensors["bias"]
