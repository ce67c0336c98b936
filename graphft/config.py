"""graphft's configuration dataclasses, validated when built.

Every field has a type, a default and a help text; ``__post_init__`` rejects bad values with a message that
names the value and the fix, so errors surface when the model is built rather than mid-training.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphft.config_base import ConfigBase, config_field
from graphft.errors import ConfigError

__all__ = ["AdapterConfig"]


def _check_positive_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}; set it to 1 or more.")


@dataclass
class AdapterConfig(ConfigBase):
    """The low-rank module bank injected into each target layer.

    Each target layer gets ``num_modules`` low-rank modules ``B_k A_k`` of rank ``rank``; the layer computes
    ``y = W x + (alpha / rank) * sum_k w_k B_k A_k dropout(x)``.
    """

    num_modules: int = config_field(8, "K, the number of low-rank modules in each target layer's bank.")
    rank: int = config_field(8, "r, the rank of each module.")
    alpha: float = config_field(16.0, "Scaling numerator: module outputs are multiplied by alpha / rank.")
    dropout: float = config_field(0.0, "Dropout probability on the adapter input (0 disables it).")
    target_modules: str | list[str] = config_field(
        "all-linear",
        "Layers to adapt: a list of module names (a name matches itself and any name ending in '.name'), "
        "a regular expression matched against full module names, or 'all-linear'.",
    )

    def __post_init__(self) -> None:
        _check_positive_int("AdapterConfig", "num_modules", self.num_modules)
        _check_positive_int("AdapterConfig", "rank", self.rank)
        if not isinstance(self.alpha, (int, float)) or self.alpha <= 0:
            raise ConfigError(f"AdapterConfig.alpha must be a positive number, got {self.alpha!r}.")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"AdapterConfig.dropout must lie in [0, 1), got {self.dropout!r}.")
        targets = self.target_modules
        if isinstance(targets, str):
            if not targets:
                raise ConfigError("AdapterConfig.target_modules is empty; use 'all-linear' or list layer names.")
        elif isinstance(targets, (list, tuple)):
            if not targets or not all(isinstance(t, str) and t for t in targets):
                raise ConfigError(
                    f"AdapterConfig.target_modules must be a non-empty list of layer names, got {targets!r}."
                )
            self.target_modules = list(targets)
        else:
            raise ConfigError(f"AdapterConfig.target_modules must be a string or a list of strings, got {targets!r}.")
