"""Search spaces: defaults map onto real config keys, narrowing and extending, and typed errors with fixes."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from graphft.config import GraphFTConfig
from graphft.errors import ConfigError, TuningError
from graphft.tuning import SearchSpace, config_keys, default_search_space, set_config_value


def test_default_space_keys_are_config_keys_and_every_bound_builds_a_valid_config() -> None:
    space = default_search_space()
    assert set(space) <= set(config_keys())
    space.validate(GraphFTConfig())  # raises on a bound the config rejects


def test_sampled_values_land_in_the_config() -> None:
    space = default_search_space()
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    values = space.suggest(trial)
    config = space.apply(GraphFTConfig(), values)
    assert config.router.routing_temperature == values["router.routing_temperature"]
    assert config.router.min_temperature <= config.router.routing_temperature
    assert config.regularisation.relation == values["regularisation.relation"]
    assert config.adapter.num_modules == values["adapter.num_modules"]
    assert set(trial.params) == set(space)


def test_narrow_extend_without() -> None:
    space = default_search_space().narrow("router.gating_threshold", 0.01, 0.1)
    assert space["router.gating_threshold"] == FloatDistribution(0.01, 0.1)
    space = space.narrow("router.anneal", choices=["none", "linear"]).extend(
        "graph.conv", CategoricalDistribution(["gcn", "gatv2"])
    )
    assert "graph.conv" in space and list(space["router.anneal"].choices) == ["none", "linear"]
    assert "adapter.rank" not in space.without("adapter.rank")
    assert isinstance(space.narrow("adapter.rank", 2, 4)["adapter.rank"], IntDistribution)


def test_unknown_parameter_names_the_closest_key_and_the_fix() -> None:
    with pytest.raises(TuningError, match=r"router\.gating_threshold") as info:
        default_search_space().narrow("router.gating_treshold", 0.0, 0.1)
    assert "'router.gating_treshold'" in str(info.value) and "extend" in str(info.value)
    with pytest.raises(ConfigError, match=r"regularisation\.relation'\?"):
        SearchSpace({"regularisation.relaton": FloatDistribution(0.0, 1.0)})


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.2, 0.1), (0.1, 0.1)],
)
def test_empty_range_is_an_error(low: float, high: float) -> None:
    with pytest.raises(TuningError, match="empty"):
        default_search_space().narrow("router.gating_threshold", low, high)


def test_single_choice_and_log_range_through_zero_are_errors() -> None:
    with pytest.raises(TuningError, match="at least two"):
        SearchSpace({"router.anneal": CategoricalDistribution(["none"])})
    with pytest.raises(TuningError, match="log"):
        default_search_space().narrow("regularisation.relation", 0.0, 1.0)


def test_validate_rejects_a_range_the_config_rejects() -> None:
    space = SearchSpace({"router.gating_threshold": FloatDistribution(0.5, 1.5)})
    with pytest.raises(TuningError, match=r"router\.gating_threshold.*1\.5"):
        space.validate(GraphFTConfig())


def test_set_config_value_is_validated_and_copies() -> None:
    base = GraphFTConfig()
    changed = set_config_value(base, "training.steps", 7)
    assert changed.training.steps == 7 and base.training.steps != 7
    with pytest.raises(ConfigError):
        set_config_value(base, "training.steps", -1)
