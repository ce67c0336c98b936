"""Injection of adapter banks into any transformers model, and the handle that manages them.

Axis legend: b batch, n tokens, k modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from torch import Tensor, nn

from graphft.adapters.layer import AdapterBank, adaptable_layer_types
from graphft.config import AdapterConfig
from graphft.errors import AdapterError, TargetModulesError

__all__ = [
    "AdapterBanks",
    "find_target_modules",
    "format_trainable_parameters",
    "inject_adapter_banks",
    "trainable_parameters",
]


def _output_layer_names(model: nn.Module) -> set[str]:
    """Names of the model's output projection (``lm_head`` and the like), which 'all-linear' leaves alone."""
    get_output = getattr(model, "get_output_embeddings", None)
    output = get_output() if callable(get_output) else None
    if output is None:
        return set()
    return {name for name, module in model.named_modules() if module is output}


def find_target_modules(model: nn.Module, target_modules: str | list[str]) -> list[str]:
    """Names of the layers ``target_modules`` selects, in module order.

    Args:
        model: any ``nn.Module`` (typically a transformers model).
        target_modules: 'all-linear'; a list of names (``"query"`` matches ``"...attention.self.query"``); or
            a regular expression matched against full module names.

    Raises:
        TargetModulesError: nothing matched (the message lists the adaptable layer names), or a match is
            not a Linear/Conv1D layer.
    """
    layer_types = adaptable_layer_types()
    named = [(name, module) for name, module in model.named_modules() if name]
    if target_modules == "all-linear":
        skip = _output_layer_names(model)
        matches = [(n, m) for n, m in named if isinstance(m, layer_types) and n not in skip]
    elif isinstance(target_modules, str):
        try:
            pattern = re.compile(target_modules)
        except re.error as exc:
            raise TargetModulesError(
                f"target_modules {target_modules!r} is not a valid regular expression ({exc}); pass a list "
                "of layer names instead."
            ) from exc
        matches = [(n, m) for n, m in named if pattern.fullmatch(n)]
    else:
        wanted = list(target_modules)
        matches = [(n, m) for n, m in named if any(n == t or n.endswith("." + t) for t in wanted)]
    adaptable = sorted({n.rsplit(".", 1)[-1] for n, m in named if isinstance(m, layer_types)})
    if not matches:
        raise TargetModulesError(
            f"target_modules={target_modules!r} matched no layer of {type(model).__name__}. "
            f"Adaptable layer names: {', '.join(adaptable) or '(none)'}; or use 'all-linear'."
        )
    wrong = [n for n, m in matches if not isinstance(m, layer_types)]
    if wrong:
        raise TargetModulesError(
            f"target_modules={target_modules!r} matched layers graphft cannot adapt: {', '.join(wrong[:5])} "
            f"(only Linear and Conv1D). Adaptable layer names: {', '.join(adaptable)}."
        )
    return [n for n, _ in matches]


def inject_adapter_banks(model: nn.Module, config: AdapterConfig) -> AdapterBanks:
    """Freeze ``model`` and wrap each target layer in an :class:`AdapterBank`, in place.

    Args:
        model: the backbone; its parameters are frozen (``requires_grad=False``).
        config: bank size, rank, scaling, dropout and targets.

    Returns:
        The handle to the injected banks, which also undoes the injection (:meth:`AdapterBanks.remove`).

    Raises:
        AdapterError: the model already carries adapter banks.
        TargetModulesError: see :func:`find_target_modules`.
    """
    if any(isinstance(m, AdapterBank) for m in model.modules()):
        raise AdapterError(
            f"{type(model).__name__} already carries adapter banks; call remove() on the existing handle first."
        )
    names = find_target_modules(model, config.target_modules)
    requires_grad = {name: p.requires_grad for name, p in model.named_parameters()}
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    banks: dict[str, AdapterBank] = {}
    for name in names:
        parent, child = _parent_of(model, name)
        bank = AdapterBank(
            getattr(parent, child), config.num_modules, config.rank, alpha=config.alpha, dropout=config.dropout
        )
        setattr(parent, child, bank)
        banks[name] = bank
    return AdapterBanks(model, banks, requires_grad)


def _parent_of(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


class AdapterBanks(Mapping[str, AdapterBank]):
    """The adapter banks injected into one model, by layer name, with the operations over all of them.

    Args:
        model: the model the banks live in.
        banks: layer name -> bank, in module order.
        requires_grad: the model's ``requires_grad`` flags before injection, restored by :meth:`remove`.
    """

    def __init__(self, model: nn.Module, banks: dict[str, AdapterBank], requires_grad: dict[str, bool]):
        self.model = model
        self._banks = banks
        self._requires_grad = requires_grad
        self._removed = False

    def __getitem__(self, name: str) -> AdapterBank:
        return self._banks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._banks)

    def __len__(self) -> int:
        return len(self._banks)

    @property
    def num_modules(self) -> int:
        """K, shared by every bank."""
        return next(iter(self._banks.values())).num_modules

    def parameters(self) -> Iterator[nn.Parameter]:
        """The trainable adapter parameters (every bank's ``lora_A`` and ``lora_B``)."""
        for bank in self._banks.values():
            yield bank.lora_A
            yield bank.lora_B

    def set_module_weights(self, weights: Tensor | Mapping[str, Tensor] | None, check: bool = True) -> None:
        """Give every bank module weights: one tensor for all, a mapping layer name -> tensor, or ``None``.

        Shapes:
            each tensor: (k), (b, k) or (b, n, k)
        """
        self._check_alive()
        if weights is None or isinstance(weights, Tensor):
            for bank in self._banks.values():
                bank.set_module_weights(weights, check=check)
            return
        missing = set(self._banks) - set(weights)
        if missing:
            raise AdapterError(f"module weights are missing for layers {sorted(missing)[:5]}; give every bank.")
        for name, bank in self._banks.items():
            bank.set_module_weights(weights[name], check=check)

    def merge(self, weights: Tensor | Mapping[str, Tensor]) -> None:
        """Fold a fixed module mix into every base layer: one (k) vector for all, or one per layer name."""
        self._check_alive()
        for name, bank in self._banks.items():
            bank.merge(weights if isinstance(weights, Tensor) else weights[name])

    def unmerge(self) -> None:
        """Undo :meth:`merge` in every bank."""
        self._check_alive()
        for bank in self._banks.values():
            bank.unmerge()

    @property
    def merged(self) -> bool:
        """Whether the banks are merged into their base layers."""
        return any(bank.merged_weights is not None for bank in self._banks.values())

    def remove(self) -> nn.Module:
        """Put the original layers back and restore the ``requires_grad`` flags; returns the model.

        Raises:
            AdapterError: a bank is still merged (call :meth:`unmerge` first), or already removed.
        """
        self._check_alive()
        if self.merged:
            raise AdapterError("cannot remove merged adapter banks; call unmerge() first.")
        for name, bank in self._banks.items():
            parent, child = _parent_of(self.model, name)
            setattr(parent, child, bank.base_layer)
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(self._requires_grad.get(name, parameter.requires_grad))
        self._removed = True
        return self.model

    def _check_alive(self) -> None:
        if self._removed:
            raise AdapterError("these adapter banks were removed; inject new ones with inject_adapter_banks.")


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts of ``model``, each shared parameter counted once."""
    seen: set[int] = set()
    trainable = total = 0
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    return trainable, total


def format_trainable_parameters(model: nn.Module) -> str:
    """PEFT-style summary line: ``trainable params: T || all params: N || trainable%: P``."""
    trainable, total = trainable_parameters(model)
    return f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {100 * trainable / total:.4f}"
