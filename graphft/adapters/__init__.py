"""The low-rank module bank and its injection into transformers models."""

from graphft.adapters.inject import (
    AdapterBanks,
    find_target_modules,
    format_trainable_parameters,
    inject_adapter_banks,
    trainable_parameters,
)
from graphft.adapters.layer import AdapterBank, adaptable_layer_types, layer_features

__all__ = [
    "AdapterBank",
    "AdapterBanks",
    "adaptable_layer_types",
    "find_target_modules",
    "format_trainable_parameters",
    "inject_adapter_banks",
    "layer_features",
    "trainable_parameters",
]
