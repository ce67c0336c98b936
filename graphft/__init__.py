"""graphft: composable multi-task fine-tuning with modular low-rank adapters routed by a learned task graph."""

from graphft.adapters import AdapterBank, AdapterBanks, inject_adapter_banks, trainable_parameters
from graphft.config import AdapterConfig
from graphft.errors import (
    AdapterError,
    CheckpointError,
    ConfigError,
    DataError,
    GraphError,
    GraphFTError,
    RoutingError,
    TargetModulesError,
    TaskError,
)

__version__ = "0.1.0"

__all__ = [
    "AdapterBank",
    "AdapterBanks",
    "AdapterConfig",
    "AdapterError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "GraphError",
    "GraphFTError",
    "RoutingError",
    "TargetModulesError",
    "TaskError",
    "__version__",
    "inject_adapter_banks",
    "trainable_parameters",
]
