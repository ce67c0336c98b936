"""Hyperparameter search spaces: Optuna distributions keyed by dotted :class:`~graphft.config.GraphFTConfig` keys.

A space maps keys such as ``"router.routing_temperature"`` to :mod:`optuna.distributions`; a trial's sampled
values are written into a copy of a base config. Users narrow the default space (``space.narrow(key, low, high)``),
extend it with any other config key (``space.extend(key, distribution)``) or drop keys (``space.without(key)``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from graphft.config import GraphFTConfig
from graphft.config_base import ConfigBase
from graphft.errors import ConfigError, TuningError

__all__ = ["DEFAULT_SPACE", "SearchSpace", "config_keys", "default_search_space", "set_config_value"]

DEFAULT_SPACE: dict[str, BaseDistribution] = {
    "router.routing_temperature": FloatDistribution(0.3, 3.0, log=True),
    "router.anneal": CategoricalDistribution(["exponential", "linear", "none"]),
    "router.gating_threshold": FloatDistribution(0.0, 0.3),
    "router.prior_strength": FloatDistribution(0.0, 2.0),
    "regularisation.relation": FloatDistribution(1e-3, 1.0, log=True),
    "adapter.num_modules": IntDistribution(2, 16, log=True),
    "adapter.rank": IntDistribution(2, 16, log=True),
    "training.lr_adapters": FloatDistribution(1e-4, 1e-2, log=True),
    "training.lr_router": FloatDistribution(1e-3, 5e-2, log=True),
}
"""The default space: routing temperature and its schedule, gating threshold, prior strength, relation-matrix
regularisation strength, modules per bank, rank, and the adapter and router learning rates."""


def config_keys(config: ConfigBase | None = None) -> list[str]:
    """Every dotted key of a config, leaves only (``"router.gating_threshold"``, ``"backbone"``, ...)."""
    config = config if config is not None else GraphFTConfig()
    keys: list[str] = []
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        if isinstance(value, ConfigBase):
            keys.extend(f"{field.name}.{key}" for key in config_keys(value))
        else:
            keys.append(field.name)
    return keys


def _closest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def set_config_value(config: GraphFTConfig, key: str, value: Any) -> GraphFTConfig:
    """A validated copy of ``config`` with the dotted ``key`` set to ``value``.

    Raises:
        TuningError: ``key`` names no config field.
        ConfigError: ``value`` is invalid for the field (the config's own validation).
    """
    known = config_keys(config)
    if key not in known:
        raise TuningError(
            f"{key!r} is not a GraphFTConfig key.{_closest(key, known)} Use a dotted key such as "
            "'router.gating_threshold'; graphft.tuning.config_keys() lists them all."
        )
    data = config.to_dict()
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = value
    return GraphFTConfig.from_dict(data)


def _check_distribution(key: str, distribution: BaseDistribution) -> None:
    if isinstance(distribution, (FloatDistribution, IntDistribution)):
        if not distribution.low < distribution.high:
            raise TuningError(
                f"the range of {key!r} is empty or a single point: [{distribution.low}, {distribution.high}]; give "
                "low < high, or drop the key with space.without(key) and set the value in the base config."
            )
    elif isinstance(distribution, CategoricalDistribution):
        if len(distribution.choices) < 2:
            raise TuningError(
                f"the choices of {key!r} are {list(distribution.choices)!r}; give at least two, or drop the key "
                "with space.without(key) and set the value in the base config."
            )
    else:
        raise TuningError(
            f"{key!r} has an unsupported distribution {distribution!r}; use optuna's FloatDistribution, "
            "IntDistribution or CategoricalDistribution."
        )


class SearchSpace(Mapping[str, BaseDistribution]):
    """An immutable mapping from dotted config keys to Optuna distributions.

    Args:
        distributions: ``{key: distribution}``; every key must be a :class:`GraphFTConfig` leaf key.

    Raises:
        TuningError: an unknown key, an empty range, fewer than two choices.
    """

    def __init__(self, distributions: Mapping[str, BaseDistribution]) -> None:
        known = config_keys()
        for key, distribution in distributions.items():
            if key not in known:
                raise TuningError(
                    f"{key!r} is not a GraphFTConfig key.{_closest(key, known)} Use a dotted key such as "
                    "'router.gating_threshold'; graphft.tuning.config_keys() lists them all."
                )
            _check_distribution(key, distribution)
        self._distributions = dict(distributions)

    def __getitem__(self, key: str) -> BaseDistribution:
        self._check_known(key)
        return self._distributions[key]

    def __contains__(self, key: object) -> bool:
        return key in self._distributions

    def __iter__(self) -> Iterator[str]:
        return iter(self._distributions)

    def __len__(self) -> int:
        return len(self._distributions)

    def __repr__(self) -> str:
        return f"SearchSpace({self._distributions!r})"

    def _check_known(self, key: str) -> None:
        if key not in self._distributions:
            raise TuningError(
                f"{key!r} is not in this search space.{_closest(key, list(self._distributions))} Its keys are: "
                f"{', '.join(self._distributions)}; add a new key with space.extend(key, distribution)."
            )

    def narrow(
        self,
        key: str,
        low: float | None = None,
        high: float | None = None,
        *,
        choices: list[Any] | None = None,
        log: bool | None = None,
    ) -> SearchSpace:
        """A copy with ``key``'s range (or categorical ``choices``) replaced.

        Raises:
            TuningError: ``key`` is not in the space, the new range is empty, or the bounds do not fit the kind.
        """
        self._check_known(key)
        old = self._distributions[key]
        if isinstance(old, CategoricalDistribution):
            if choices is None or low is not None or high is not None:
                raise TuningError(f"{key!r} is categorical; narrow it with choices=[...], not low/high.")
            new: BaseDistribution = CategoricalDistribution(list(choices))
        else:
            if choices is not None:
                raise TuningError(f"{key!r} is a numeric range; narrow it with low=/high=, not choices.")
            assert isinstance(old, (FloatDistribution, IntDistribution))
            low = old.low if low is None else low
            high = old.high if high is None else high
            use_log = old.log if log is None else log
            if low > high or (use_log and low <= 0):
                raise TuningError(
                    f"the range of {key!r} is empty: [{low}, {high}]{' on a log scale' if use_log else ''}; give "
                    f"{'0 < ' if use_log else ''}low < high."
                )
            try:
                if isinstance(old, IntDistribution):
                    new = IntDistribution(int(low), int(high), log=use_log)
                else:
                    new = FloatDistribution(float(low), float(high), log=use_log)
            except ValueError as exc:
                raise TuningError(f"cannot narrow {key!r} to [{low}, {high}]: {exc}") from exc
        return SearchSpace({**self._distributions, key: new})

    def extend(self, key: str, distribution: BaseDistribution) -> SearchSpace:
        """A copy that also searches ``key`` (any :class:`GraphFTConfig` leaf key) over ``distribution``."""
        return SearchSpace({**self._distributions, key: distribution})

    def without(self, *keys: str) -> SearchSpace:
        """A copy without ``keys`` (they keep the base config's values)."""
        for key in keys:
            self._check_known(key)
        return SearchSpace({k: v for k, v in self._distributions.items() if k not in keys})

    def only(self, *keys: str) -> SearchSpace:
        """A copy with just ``keys``."""
        for key in keys:
            self._check_known(key)
        return SearchSpace({key: self._distributions[key] for key in keys})

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Ask ``trial`` for a value of every key (Optuna parameter names are the dotted keys)."""
        values: dict[str, Any] = {}
        for key, distribution in self._distributions.items():
            if isinstance(distribution, FloatDistribution):
                values[key] = trial.suggest_float(
                    key, distribution.low, distribution.high, log=distribution.log, step=distribution.step
                )
            elif isinstance(distribution, IntDistribution):
                values[key] = trial.suggest_int(
                    key, distribution.low, distribution.high, log=distribution.log, step=distribution.step
                )
            else:
                assert isinstance(distribution, CategoricalDistribution)
                values[key] = trial.suggest_categorical(key, distribution.choices)
        return values

    def apply(self, config: GraphFTConfig, values: Mapping[str, Any]) -> GraphFTConfig:
        """A validated copy of ``config`` with ``values`` (dotted keys) written in.

        When the routing temperature is searched but its end point is not, ``router.min_temperature`` is lowered
        to the sampled temperature where it would exceed it (annealing never raises the temperature).

        Raises:
            TuningError: a key is unknown.
            ConfigError: a value is invalid for its field.
        """
        config = copy.deepcopy(config)
        data = dict(values)
        temperature = data.get("router.routing_temperature")
        if temperature is not None and "router.min_temperature" not in data:
            data["router.min_temperature"] = min(config.router.min_temperature, float(temperature))
        for key, value in data.items():
            config = set_config_value(config, key, value)
        return config

    def validate(self, config: GraphFTConfig) -> None:
        """Check that every bound and choice gives a valid config when written into ``config``.

        Raises:
            TuningError: naming the key and the bad value.
        """
        for key, distribution in self._distributions.items():
            if isinstance(distribution, CategoricalDistribution):
                candidates = list(distribution.choices)
            else:
                assert isinstance(distribution, (FloatDistribution, IntDistribution))
                candidates = [distribution.low, distribution.high]
            for value in candidates:
                if isinstance(value, float) and not math.isfinite(value):
                    raise TuningError(f"{key!r} has a non-finite bound {value}; give finite bounds.")
                try:
                    self.apply(config, {key: value})
                except TuningError:
                    raise
                except ConfigError as exc:
                    raise TuningError(
                        f"the search space puts {key!r} at {value!r}, which the config rejects: {exc} Narrow the "
                        "range with space.narrow(...)."
                    ) from exc


def default_search_space() -> SearchSpace:
    """The default search space (:data:`DEFAULT_SPACE`)."""
    return SearchSpace(DEFAULT_SPACE)
