"""graphft: composable multi-task fine-tuning with modular low-rank adapters routed by a learned task graph."""

from graphft.adapters import AdapterBank, AdapterBanks, inject_adapter_banks, trainable_parameters
from graphft.config import (
    AdapterConfig,
    GraphConfig,
    GraphFTConfig,
    RegularisationConfig,
    RouterConfig,
    TrainingConfig,
)
from graphft.errors import (
    AdapterError,
    CheckpointError,
    ConfigError,
    DataError,
    ExportError,
    GraphError,
    GraphFTError,
    NonFiniteLossError,
    RoutingError,
    StudyStorageError,
    TargetModulesError,
    TaskError,
    TuningError,
)
from graphft.model import GraphFTModel, GraphFTOutput
from graphft.tasks import MultiTaskData, TaskData, TaskSpec

__version__ = "0.1.0"

__all__ = [
    "AdapterBank",
    "AdapterBanks",
    "AdapterConfig",
    "AdapterError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "ExportError",
    "GraphConfig",
    "GraphError",
    "GraphFTConfig",
    "GraphFTError",
    "GraphFTModel",
    "GraphFTOutput",
    "MultiTaskData",
    "NonFiniteLossError",
    "RegularisationConfig",
    "RouterConfig",
    "RoutingError",
    "StudyStorageError",
    "TargetModulesError",
    "TaskData",
    "TaskError",
    "TaskSpec",
    "TrainingConfig",
    "TuningError",
    "__version__",
    "inject_adapter_banks",
    "trainable_parameters",
]
